"""Errors raised by skulmfit."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite.

    The message names the stage and step and suggests a lower learning rate.
    """


class ModelFileError(ValueError):
    """A model or checkpoint file is unreadable, unsafe, of another format, or inconsistent."""
