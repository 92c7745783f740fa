"""Pretrained language models: shipped inside the package, downloadable, or given as a path.

Shipped names map to files in this folder: ``NAME_fwd.pt`` / ``NAME_bwd.pt`` with model cards
``NAME_fwd.md`` / ``NAME_fwd.json`` beside them; they load offline. Downloadable names
(``'wt103'``: fastai's WikiText-103 AWD-LSTM) are fetched once into the data home by
:func:`fetch_pretrained` (see :mod:`skulmfit.pretrained.remote`). A path is a skulmfit model
file (``.pt``) or a fastai model (an archive, a folder, or a ``.pth`` with its ``.pkl``),
converted once and cached.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from ..download import get_data_home, sha256_of
from .remote import REMOTE_MODELS, describe_remote, fetch_pretrained, import_cached

DIRECTIONS = ("fwd", "bwd")


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def list_pretrained(data_home: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Shipped and downloadable language models, by name.

    Shipped models (``"kind": "shipped"``): ``{"fwd": path, "bwd": path, "card": {...}}``; only
    those whose files are in the installed package are listed.

    Downloadable models (``"kind": "downloadable"``, e.g. ``'wt103'``): ``"fwd"`` / ``"bwd"`` are
    the converted model files in the data home once fetched, else None; ``"downloads"`` gives
    each direction's ``url``, ``size`` (bytes), ``md5_first_mib`` and ``fetched``; plus
    ``"licence"``, ``"source"``, ``"description"`` and ``"card"``. Nothing is downloaded here.

    Parameters
    ----------
    data_home : path, optional
        Where to look for fetched models (default :func:`skulmfit.get_data_home`).

    Examples
    --------
    >>> import skulmfit
    >>> models = skulmfit.list_pretrained()
    >>> models["default"]["kind"], models["wt103"]["kind"], models["wt103"]["licence"]
    ('shipped', 'downloadable', 'Apache-2.0')
    >>> models["wt103"]["downloads"]["fwd"]["size"]
    105067061
    """
    found = _shipped()
    for name, entry in describe_remote(data_home).items():
        found.setdefault(name, entry)
    return found


def _shipped() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(_folder().glob("*_fwd.pt")) + sorted(_folder().glob("*_bwd.pt")):
        name, direction = path.stem.rsplit("_", 1)
        entry = found.setdefault(name, {"kind": "shipped"})
        entry[direction] = str(path)
        card = path.with_suffix(".json")
        if direction == "fwd" and card.exists():
            c = json.loads(card.read_text(encoding="utf-8"))
            entry["card"] = {k: c.get(k) for k in ("config", "vocab_size", "parameters", "validation", "wikitext103")
                             if k in c}
    return found


def named_models() -> set[str]:
    """Names :func:`resolve_pretrained` accepts: shipped and downloadable models."""
    return set(_shipped()) | set(REMOTE_MODELS)


def resolve_pretrained(spec: str | os.PathLike[str] | None, direction: str = "fwd", *,
                       data_home: str | os.PathLike[str] | None = None, verbose: int = 1) -> Path | None:
    """Path of the skulmfit model file for ``spec`` in ``direction``.

    ``spec`` is a shipped name (``'default'``), a downloadable name (``'wt103'``: fetched and
    converted on first use, see :func:`fetch_pretrained`), a path to a skulmfit model file
    (``.pt``), a fastai model (an archive such as ``wt103-fwd.tgz``, its extracted folder, or a
    ``.pth`` with its ``.pkl`` vocabulary beside it: converted once into the data home), or
    ``None`` (random init). For a path and ``direction='bwd'``, the path itself must be a
    backward model; callers pass ``pretrained_bwd`` for a separate backward file.

    Raises
    ------
    ValueError
        Unknown name, or a shipped name without a model in that direction.
    FileNotFoundError
        A path that does not exist.
    DownloadError, ArchiveError, ModelFileError, PermissionError
        See :func:`fetch_pretrained` and :func:`skulmfit.fastai_convert.import_fastai`.
    """
    if spec is None:
        return None
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'fwd' or 'bwd', got {direction!r}")
    if isinstance(spec, str) and spec in REMOTE_MODELS:
        return fetch_pretrained(spec, direction=direction, data_home=data_home, verbose=verbose)
    shipped = _shipped() if isinstance(spec, str) else {}
    if isinstance(spec, str) and spec in shipped:
        if direction not in shipped[spec]:
            raise ValueError(f"the shipped model {spec!r} has no {direction} direction")
        return Path(shipped[spec][direction])
    if isinstance(spec, str) and _looks_like_name(spec):
        raise ValueError(
            f"pretrained={spec!r} is not a shipped model ({sorted(shipped) or 'none installed'}), not a downloadable "
            f"one ({sorted(REMOTE_MODELS)}) and not a path to a .pt model file or a fastai model (.tgz archive, "
            "folder, or .pth); pass one of those or None (random initialisation)"
        )
    from ..fastai_convert import is_fastai_source

    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"pretrained model file not found: {path}")
    if is_fastai_source(path):
        return import_cached(path, direction, data_home)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model file not found: {path} is not a file")
    return path


def _looks_like_name(spec: str) -> bool:
    """A bare word (no folder separator, no model-file extension, not an existing path)."""
    from ..fastai_convert import is_archive

    return ("/" not in spec and os.sep not in spec and not spec.endswith((".pt", ".pth")) and not is_archive(spec)
            and not os.path.exists(spec))


def file_identity(path: Path | None) -> str:
    """Content hash of a model file (cache key for fine-tuned LMs); ``'none'`` for no file."""
    if path is None:
        return "none"
    return sha256_of(path)


__all__ = ["list_pretrained", "resolve_pretrained", "fetch_pretrained", "get_data_home", "named_models",
           "file_identity", "DIRECTIONS"]
