"""Errors raised by skulmfit."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite.

    The message names the stage and step and suggests a lower learning rate.
    """


class ModelFileError(ValueError):
    """A model or checkpoint file is unreadable, unsafe, of another format, or inconsistent."""


class DownloadError(OSError):
    """A download failed or gave a file that is not the one expected (size, checksum, content).

    The message names the URL and the manual route (download elsewhere, then import the file).
    """


class ArchiveError(ValueError):
    """An archive is corrupt, truncated, unsafe to extract (absolute paths, ``..``, links,
    devices, too large) or does not hold the files expected."""
