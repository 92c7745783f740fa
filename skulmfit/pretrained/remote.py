"""Downloadable pretrained models (fastai's WikiText-103 AWD-LSTM) and the cache of converted files.

:func:`fetch_pretrained` works like scikit-learn's ``fetch_*`` functions: the first call
downloads the archive into the data home (:func:`skulmfit.get_data_home`), checks its size and
the MD5 of its first MiB, checks every archive member, and converts the model once into a
skulmfit model file beside the archive, recording the file's SHA-256. Every later call finds
that file, checks its SHA-256 and loads it offline with ``weights_only``.

Layout of the data home::

    DATA_HOME/wt103/wt103-fwd.tgz     the archive as published
    DATA_HOME/wt103/wt103-fwd.pt      the converted skulmfit model file
    DATA_HOME/wt103/wt103-fwd.json    its record: source URL, archive checks, the model's SHA-256
    DATA_HOME/imported/<sha>-fwd.pt   conversions of fastai files passed as pretrained=PATH
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..download import check_file, download, ensure_writable_folder, get_data_home, sha256_of
from ..exceptions import ArchiveError, DownloadError, ModelFileError
from ..modelfile import atomic_write

BASE_URL_ENV = "SKULMFIT_PRETRAINED_URL"


@dataclass(frozen=True)
class RemoteArchive:
    """One published archive: file name under the base URL, size in bytes, MD5 of its first MiB."""

    filename: str
    size: int | None
    md5_first_mib: str | None


@dataclass(frozen=True)
class RemoteModel:
    """A downloadable language model: where it comes from and what it is."""

    name: str
    description: str
    base_url: str
    fwd: RemoteArchive
    bwd: RemoteArchive
    licence: str
    source: str
    config: tuple[tuple[str, int], ...]
    vocab_size: int

    def archive(self, direction: str) -> RemoteArchive:
        if direction not in ("fwd", "bwd"):
            raise ValueError(f"direction must be 'fwd' or 'bwd', got {direction!r}")
        return self.fwd if direction == "fwd" else self.bwd


# Sizes and first-MiB MD5s as fastai v1 records them (fastai/datasets.py, ``_checks``).
REMOTE_MODELS: dict[str, RemoteModel] = {
    "wt103": RemoteModel(
        name="wt103",
        description="fastai's AWD-LSTM pretrained on WikiText-103 (the ULMFiT paper's language model)",
        base_url="https://s3.amazonaws.com/fast-ai-modelzoo/",
        fwd=RemoteArchive("wt103-fwd.tgz", 105_067_061, "7d1114cd9684bf9d1ca3c9f6a54da6f9"),
        bwd=RemoteArchive("wt103-bwd.tgz", 105_205_312, "20b06f5830fd5a891d21044c28d3097f"),
        licence="Apache-2.0",
        source="fastai model zoo (https://github.com/fastai/fastai, URLs.WT103_FWD / URLs.WT103_BWD)",
        config=(("emb_size", 400), ("hidden_size", 1152), ("n_layers", 3)),
        vocab_size=60_000,
    ),
}


def _remote(name: str) -> RemoteModel:
    if name not in REMOTE_MODELS:
        raise ValueError(f"unknown downloadable model {name!r}; available: {sorted(REMOTE_MODELS)}")
    return REMOTE_MODELS[name]


def model_url(name: str, direction: str = "fwd", base_url: str | None = None) -> str:
    """Download URL of a model archive: ``base_url``, else ``$SKULMFIT_PRETRAINED_URL``, else the publisher's."""
    remote = _remote(name)
    base = base_url or os.environ.get(BASE_URL_ENV) or remote.base_url
    return base.rstrip("/") + "/" + remote.archive(direction).filename


def manual_route(name: str, direction: str, url: str) -> str:
    """How to get the model without skulmfit downloading it."""
    filename = _remote(name).archive(direction).filename
    return (f"To install it by hand: download {url} (on any machine with access to it), then run "
            f"'skulmfit import-fastai {filename} --out MODEL.pt' and pass pretrained='MODEL.pt', or pass "
            f"pretrained='path/to/{filename}' directly (the archive, its extracted folder, or its .pth with the "
            ".pkl vocabulary beside it)")


def _paths(name: str, direction: str, data_home: str | os.PathLike[str] | None) -> dict[str, Path]:
    folder = get_data_home(data_home) / name
    archive = folder / _remote(name).archive(direction).filename
    stem = archive.name[: -len(".tgz")] if archive.name.endswith(".tgz") else archive.stem
    return {"folder": folder, "archive": archive, "model": folder / f"{stem}.pt", "record": folder / f"{stem}.json"}


def _write_json(obj: Any, path: Path) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)


def trusted_model(model: Path, record: Path) -> bool:
    """Whether ``model`` exists and its SHA-256 is the one recorded when it was converted."""
    if not (model.is_file() and record.is_file()):
        return False
    try:
        expected = json.loads(record.read_text(encoding="utf-8")).get("model_sha256")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(expected, str) and sha256_of(model) == expected


def _convert(source: Path, model: Path, record: Path, direction: str, extra: dict[str, Any]) -> None:
    """Convert a fastai source into ``model`` (atomically), then write its record."""
    from ..fastai_convert import import_fastai
    from ..modelfile import save_lm

    lm = import_fastai(source, direction=direction)
    lm.meta.update(extra)
    save_lm(lm, model, tokenizer_config=lm.meta["tokenizer_config"])
    _write_json({**extra, "direction": direction, "model": model.name, "model_sha256": sha256_of(model),
                 "fastai_layout": lm.meta["fastai_layout"], "skulmfit_version": __version__}, record)


def fetch_pretrained(name: str, *, direction: str = "fwd", data_home: str | os.PathLike[str] | None = None,
                     download_if_missing: bool = True, base_url: str | None = None, timeout: float = 60.0,
                     verbose: int = 1) -> Path:
    """Download (once), check and convert a downloadable language model; return its model file.

    Parameters
    ----------
    name : {'wt103'}
        See :func:`skulmfit.list_pretrained`.
    direction : {'fwd', 'bwd'}, default='fwd'
    data_home : path, optional
        Default :func:`skulmfit.get_data_home` (``$SKULMFIT_DATA``, else ``~/skulmfit_data``).
    download_if_missing : bool, default=True
        If False and the model is not in the data home, raise instead of downloading.
    base_url : str, optional
        Download from this base URL instead of the publisher's (or ``$SKULMFIT_PRETRAINED_URL``):
        a mirror, or a local server in tests.
    timeout : float, default=60
        Seconds without data before a download gives up.
    verbose : int, default=1
        A progress bar while downloading.

    Returns
    -------
    Path
        The converted skulmfit model file (``DATA_HOME/NAME/ARCHIVE.pt``), for ``pretrained=``.

    Raises
    ------
    DownloadError
        No connection, an HTTP error, a cut-off download, a web page instead of the archive, a
        wrong size or checksum. The message names the URL and the manual route.
    ArchiveError, ModelFileError
        The archive is truncated, unsafe or not a fastai model (it is deleted).
    FileNotFoundError
        Not present and ``download_if_missing=False``.
    PermissionError
        The data home cannot be written.
    """
    remote = _remote(name)
    arch = remote.archive(direction)
    paths = _paths(name, direction, data_home)
    url = model_url(name, direction, base_url)
    manual = manual_route(name, direction, url)
    if trusted_model(paths["model"], paths["record"]):
        return paths["model"]
    archive = paths["archive"]
    if archive.is_file() and check_file(archive) != (arch.size, arch.md5_first_mib):
        _remove(archive)  # incomplete or another file: never trusted
    if not archive.is_file():
        if not download_if_missing:
            raise FileNotFoundError(f"the pretrained model {name!r} ({direction}) is not in {paths['folder']} and "
                                    f"download_if_missing=False. {manual}")
        ensure_writable_folder(paths["folder"])
        download(url, archive, size=arch.size, md5_first_mib=arch.md5_first_mib, timeout=timeout,
                 verbose=verbose, manual=manual)
    else:
        ensure_writable_folder(paths["folder"])
    extra = {"name": name, "source_url": url, "licence": remote.licence, "archive": archive.name,
             "archive_size": arch.size, "archive_md5_first_mib": arch.md5_first_mib}
    try:
        _convert(archive, paths["model"], paths["record"], direction, extra)
    except (ArchiveError, ModelFileError) as e:
        _remove(archive)
        raise type(e)(f"{e}. The archive from {url} was deleted; the next call downloads it again. {manual}") from e
    return paths["model"]


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        raise PermissionError(f"{path} is not the expected file and cannot be deleted ({e}); delete it by hand "
                              f"or choose another data home") from e


def is_fetched(name: str, direction: str = "fwd", data_home: str | os.PathLike[str] | None = None) -> bool:
    """Whether the converted model file is present (not checked against its SHA-256 here)."""
    p = _paths(name, direction, data_home)
    return p["model"].is_file() and p["record"].is_file()


def import_cached(source: str | os.PathLike[str], direction: str,
                  data_home: str | os.PathLike[str] | None = None) -> Path:
    """Model file for a fastai archive, folder or ``.pth`` passed as ``pretrained=PATH``.

    The conversion is done once and kept in ``DATA_HOME/imported/``, keyed by the SHA-256 of the
    source files, so later fits load it offline.
    """
    from ..fastai_convert import find_fastai_files, is_archive

    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"pretrained fastai model not found: {source}")
    if source.is_dir():
        files = list(find_fastai_files(source))
    elif is_archive(source):
        files = [source]
    else:
        files = [source, *sorted(source.parent.glob("*.pkl"))]
    key = sha256_of_many(files)
    folder = get_data_home(data_home) / "imported"
    model = folder / f"{key[:24]}-{direction}.pt"
    record = model.with_suffix(".json")
    if trusted_model(model, record):
        return model
    try:
        ensure_writable_folder(folder)
    except PermissionError as e:
        raise PermissionError(f"{e}. Or convert the model once with 'skulmfit import-fastai {source} --out MODEL.pt' "
                              "and pass pretrained='MODEL.pt'") from None
    _convert(source, model, record, direction, {"source": str(source), "source_sha256": key})
    return model


def sha256_of_many(files: list[Path]) -> str:
    """One SHA-256 over several files' names and SHA-256s."""
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode("utf-8") + b"\0" + sha256_of(f).encode("ascii") + b"\n")
    return h.hexdigest()


def describe_remote(data_home: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """The downloadable models for :func:`skulmfit.list_pretrained`."""
    out: dict[str, dict[str, Any]] = {}
    for name, r in REMOTE_MODELS.items():
        entry: dict[str, Any] = {"kind": "downloadable", "description": r.description, "licence": r.licence,
                                 "source": r.source, "card": {"config": dict(r.config), "vocab_size": r.vocab_size},
                                 "downloads": {}}
        for d in ("fwd", "bwd"):
            a = r.archive(d)
            p = _paths(name, d, data_home)
            fetched = is_fetched(name, d, data_home)
            entry[d] = str(p["model"]) if fetched else None
            entry["downloads"][d] = {"url": model_url(name, d), "size": a.size, "md5_first_mib": a.md5_first_mib,
                                     "fetched": fetched}
        out[name] = entry
    return out


__all__ = ["REMOTE_MODELS", "BASE_URL_ENV", "RemoteArchive", "RemoteModel", "fetch_pretrained", "import_cached",
           "describe_remote", "is_fetched", "model_url", "manual_route", "trusted_model", "DownloadError"]
