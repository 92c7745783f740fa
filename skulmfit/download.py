"""Downloading files for users, in the style of scikit-learn's ``fetch_*`` functions.

Standard library only (:mod:`urllib`). A download goes to a temporary file beside its target;
its size and the MD5 of its first MiB (the check fastai v1 records for its archives) are
verified on that temporary file, and only then is it renamed into place. An interrupted or
failed download therefore never leaves a file under the target's name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ._version import __version__
from .exceptions import DownloadError
from .progress import progress_bar

DATA_HOME_ENV = "SKULMFIT_DATA"
CHUNK = 1 << 16
CHECK_BYTES = 1 << 20  # fastai v1 checks the MD5 of the first 2**20 bytes


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """The folder where skulmfit keeps downloaded and converted models.

    ``data_home`` if given, else the ``SKULMFIT_DATA`` environment variable, else
    ``~/skulmfit_data``. ``~`` is expanded. The folder is not created here.

    Examples
    --------
    >>> import skulmfit
    >>> skulmfit.get_data_home("/tmp/models").as_posix()
    '/tmp/models'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or os.path.join("~", "skulmfit_data")
    return Path(os.path.expanduser(os.fspath(data_home)))


def check_file(path: str | os.PathLike[str]) -> tuple[int, str]:
    """``(size in bytes, MD5 hex digest of the first MiB)`` of a file, as fastai v1 checks archives."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(CHECK_BYTES)
    return path.stat().st_size, hashlib.md5(head).hexdigest()


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a whole file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def ensure_writable_folder(folder: Path, what: str = "data home") -> None:
    """Create ``folder`` and prove that a file can be written in it (before a long download).

    Raises
    ------
    PermissionError
        The folder cannot be created or written, with the way to choose another one.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PermissionError(
            f"cannot write to the skulmfit {what} {folder} ({type(e).__name__}: {e.strerror or e}); "
            f"set the {DATA_HOME_ENV} environment variable or pass data_home= to a writable folder"
        ) from e


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:256].lower()
    return start.startswith((b"<!doctype", b"<html", b"<?xml", b"<error", b"<head", b"<body"))


def _check_download(tmp: Path, url: str, size: int | None, md5_first_mib: str | None, manual: str) -> None:
    got_size, got_md5 = check_file(tmp)
    with open(tmp, "rb") as f:
        head = f.read(1024)
    if _looks_like_html(head) and (size is None or got_size != size or got_md5 != md5_first_mib):
        raise DownloadError(
            f"{url} returned a web page (HTML/XML, {got_size:,} bytes) instead of the file: the server may "
            f"be down, the link moved, or a proxy or captive portal answered. {manual}"
        )
    if size is not None and got_size != size:
        raise DownloadError(
            f"the download of {url} has {got_size:,} bytes, expected {size:,}: it is incomplete or not the "
            f"published file. Nothing was kept; try again. {manual}"
        )
    if md5_first_mib is not None and got_md5 != md5_first_mib:
        raise DownloadError(
            f"the download of {url} has the right size but the wrong checksum (MD5 of the first MiB "
            f"{got_md5}, expected {md5_first_mib}): it is not the published file. Nothing was kept. {manual}"
        )


def download(url: str, dest: str | os.PathLike[str], *, size: int | None = None,
             md5_first_mib: str | None = None, timeout: float = 60.0, verbose: int = 1,
             manual: str = "") -> Path:
    """Download ``url`` to ``dest`` through a temporary file, checking it before the rename.

    Parameters
    ----------
    url : str
        ``http://``, ``https://`` or ``file://`` URL.
    dest : path
        Final file name; its folder must exist and be writable.
    size, md5_first_mib : optional
        Expected size in bytes and MD5 hex digest of the first MiB; checked on the temporary
        file before it is renamed to ``dest``.
    timeout : float, default=60
        Seconds without data before giving up.
    verbose : int, default=1
        A progress bar on stderr when > 0.
    manual : str
        Appended to every error message (how to get the file by hand).

    Raises
    ------
    DownloadError
        Network failure, HTTP error, a download cut short, a web page instead of the file,
        or a file whose size or checksum differs. Nothing is left under ``dest``'s name.
    """
    dest = Path(dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch_into(url, out, size, timeout, verbose, manual)
            out.flush()
            os.fsync(out.fileno())
        _check_download(tmp, url, size, md5_first_mib, manual)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _fetch_into(url: str, out, size: int | None, timeout: float, verbose: int, manual: str) -> None:  # noqa: ANN001
    request = urllib.request.Request(url, headers={"User-Agent": f"skulmfit/{__version__} (Python urllib)"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s)/file URLs by design
    except urllib.error.HTTPError as e:
        raise DownloadError(f"downloading {url} failed: HTTP {e.code} {e.reason}. {manual}") from e
    except (http.client.HTTPException, OSError) as e:  # URLError, timeouts and refused connections are OSErrors
        reason = getattr(e, "reason", e)
        raise DownloadError(f"cannot download {url}: no connection ({reason}). {manual}") from e
    with response:
        length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        total = int(length) if length and length.isdigit() else size
        bar = progress_bar(verbose=verbose, total=total, unit="B", unit_scale=True, unit_divisor=1024,
                           desc=f"downloading {url.rsplit('/', 1)[-1]}")
        received = 0
        try:
            while True:
                try:
                    block = response.read(CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    raise DownloadError(
                        f"the download of {url} was cut off after {received:,} bytes ({type(e).__name__}: {e}). "
                        f"Nothing was kept; try again. {manual}"
                    ) from e
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
        finally:
            bar.close()
        if total is not None and length and received != int(length):
            raise DownloadError(
                f"the download of {url} ended after {received:,} of {int(length):,} bytes. Nothing was kept; "
                f"try again. {manual}"
            )
