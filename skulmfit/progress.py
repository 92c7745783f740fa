"""Progress bars: tqdm (installed with nltk) when verbose, a silent stand-in otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


class _Silent:
    """The subset of tqdm's interface the training loops use, doing nothing."""

    def __init__(self, iterable: Iterable[Any] | None = None) -> None:
        self._iterable = iterable

    def __iter__(self):  # noqa: ANN204
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(iterable: Iterable[Any] | None = None, verbose: int = 0, **kwargs: Any) -> Any:
    """A tqdm bar on stderr when ``verbose > 0``, else a silent object with the same methods."""
    if not verbose:
        return _Silent(iterable)
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", verbose > 1)
    return tqdm(iterable, **kwargs)
