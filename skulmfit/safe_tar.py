"""Extract tar archives from untrusted sources without letting them write outside one folder.

Every member is checked *before* anything is written: only regular files and folders, no
absolute paths, no ``..`` components, no links, no devices or FIFOs, and a cap on the number of
members and on the total unpacked size. A truncated or corrupt archive is an
:class:`~skulmfit.exceptions.ArchiveError`, never a half-extracted folder that looks complete:
extraction goes to a temporary folder that the caller owns.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from .exceptions import ArchiveError

DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB unpacked: the WikiText-103 archives unpack to about 0.25 GiB
DEFAULT_MAX_MEMBERS = 1000

_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


def _member_problem(m: tarfile.TarInfo) -> str | None:
    """Why ``m`` may not be extracted, or None."""
    name = m.name
    path = PurePosixPath(name)
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    if name.startswith(("/", "\\")) or path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in path.parts or ".." in name.replace("\\", "/").split("/"):
        return "a '..' component"
    if m.issym() or m.islnk():
        return f"a {'symbolic' if m.issym() else 'hard'} link (to {m.linkname!r})"
    if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
        return "a device or FIFO"
    if not (m.isfile() or m.isdir()):
        return f"an unsupported member type {m.type!r}"
    return None


def _check_compressed_stream(archive: Path) -> None:
    """Decompress a gzip archive to its end: gzip's own length and CRC-32 check catch truncation."""
    with open(archive, "rb") as f:
        magic = f.read(2)
    if magic != b"\x1f\x8b":
        return
    with gzip.open(archive, "rb") as g:
        while g.read(1 << 22):
            pass


def check_members(archive: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES,
                  max_members: int = DEFAULT_MAX_MEMBERS) -> list[tarfile.TarInfo]:
    """Read the member list of ``archive`` and check every member (see the module docstring).

    A gzip archive is decompressed to its end first, so that truncation and corruption anywhere
    (gzip checks the length and CRC-32 of the data) are found before anything is written.

    Raises
    ------
    ArchiveError
        Corrupt or truncated archive, an unsafe member, too many members or too many bytes.
    """
    archive = Path(archive)
    try:
        _check_compressed_stream(archive)
        with tarfile.open(archive, "r:*") as tf:
            members = []
            for m in tf:  # iterating reads every header: a truncated stream fails here
                members.append(m)
                if len(members) > max_members:
                    raise ArchiveError(f"{archive}: more than {max_members} members; refusing to extract it")
    except ArchiveError:
        raise
    except _READ_ERRORS as e:
        raise ArchiveError(
            f"{archive} is not a readable tar archive, or it is truncated ({type(e).__name__}: {e})"
        ) from e
    if not members:
        raise ArchiveError(f"{archive} is an empty archive")
    total = 0
    for m in members:
        problem = _member_problem(m)
        if problem:
            raise ArchiveError(f"{archive}: refusing to extract member {m.name!r}: it has {problem}")
        total += m.size
        if total > max_bytes:
            raise ArchiveError(f"{archive}: unpacks to more than {max_bytes:,} bytes; refusing to extract it")
    return members


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str],
                 max_bytes: int = DEFAULT_MAX_BYTES, max_members: int = DEFAULT_MAX_MEMBERS) -> list[Path]:
    """Check every member of ``archive`` (:func:`check_members`), then extract the regular files into ``dest``.

    ``dest`` should be a fresh folder: on any error it may hold part of the archive, and the
    caller removes it. Returns the extracted files' paths.

    Raises
    ------
    ArchiveError
        As :func:`check_members`, or the data of a member ends early.
    """
    archive, dest = Path(archive), Path(dest)
    members = check_members(archive, max_bytes, max_members)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    files: list[Path] = []
    try:
        with tarfile.open(archive, "r:*") as tf:
            for m in members:
                target = (dest / m.name).resolve()
                if root not in target.parents and target != root:
                    raise ArchiveError(f"{archive}: member {m.name!r} would be written outside {dest}")
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                if src is None:  # pragma: no cover - regular files always have data
                    raise ArchiveError(f"{archive}: member {m.name!r} has no data")
                with src, open(target, "xb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                    if out.tell() != m.size:
                        raise ArchiveError(f"{archive}: member {m.name!r} is truncated")
                files.append(target)
    except ArchiveError:
        raise
    except FileExistsError as e:
        raise ArchiveError(f"{archive}: member {e.filename} appears twice") from e
    except _READ_ERRORS as e:
        raise ArchiveError(f"{archive} is truncated or corrupt ({type(e).__name__}: {e})") from e
    return files
