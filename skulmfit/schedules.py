"""Learning-rate schedules and discriminative learning rates, as pure functions.

Each schedule maps progress ``t`` in ``[0, T]`` to a learning rate. The training loops count
``t`` in tokens (LM) or examples (classifier) consumed, so variable-length BPTT does not
distort the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

SCHEDULES = ("stlr", "one_cycle", "cosine", "constant")


def stlr(t: float, T: float, lr_max: float, cut_frac: float = 0.1, ratio: float = 32.0) -> float:
    """Slanted triangular learning rate (ULMFiT, Eq. 3).

    ``cut = floor(T * cut_frac)``; ``p = t / cut`` before the cut, else
    ``1 - (t - cut) / (cut * (1 / cut_frac - 1))``; ``lr = lr_max * (1 + p * (ratio - 1)) / ratio``.
    """
    cut = math.floor(T * cut_frac)
    if cut <= 0:
        p = 1.0 - t / T if T > 0 else 1.0
    elif t < cut:
        p = t / cut
    else:
        p = 1.0 - (t - cut) / (cut * (1.0 / cut_frac - 1.0))
    p = min(max(p, 0.0), 1.0)
    return lr_max * (1.0 + p * (ratio - 1.0)) / ratio


def one_cycle(t: float, T: float, lr_max: float, pct_start: float = 0.25, div: float = 25.0,
              final_div: float = 1e4) -> float:
    """fastai/Smith one-cycle: cosine warm-up from ``lr_max/div`` then cosine annealing."""
    if T <= 0:
        return lr_max
    cut = T * pct_start
    if t < cut:
        return _cos_interp(lr_max / div, lr_max, t / cut)
    return _cos_interp(lr_max, lr_max / final_div, (t - cut) / max(T - cut, 1e-12))


def cosine(t: float, T: float, lr_max: float) -> float:
    """Cosine annealing from ``lr_max`` to 0 (the paper's 'cos' ablation)."""
    if T <= 0:
        return lr_max
    return _cos_interp(lr_max, 0.0, t / T)


def constant(t: float, T: float, lr_max: float) -> float:
    """The same rate throughout."""
    return lr_max


def _cos_interp(start: float, end: float, frac: float) -> float:
    frac = min(max(frac, 0.0), 1.0)
    return end + (start - end) * (1 + math.cos(math.pi * frac)) / 2


def get_schedule(name: str, cut_frac: float = 0.1, ratio: float = 32.0) -> Callable[[float, float, float], float]:
    """The schedule function ``f(t, T, lr_max)`` named ``name`` (one of :data:`SCHEDULES`)."""
    if name == "stlr":
        return lambda t, T, lr: stlr(t, T, lr, cut_frac, ratio)
    if name == "one_cycle":
        return one_cycle
    if name == "cosine":
        return cosine
    if name == "constant":
        return constant
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {name!r}")


def discriminative_lrs(lr: float, n_groups: int, decay: float = 2.6) -> list[float]:
    """Per-group rates, bottom group first: the top group gets ``lr``, each lower ``/ decay``.

    >>> [round(x, 4) for x in discriminative_lrs(0.01, 3)]
    [0.0015, 0.0038, 0.01]
    """
    if decay <= 0:
        raise ValueError(f"lr_decay must be > 0, got {decay}")
    return [lr / decay ** (n_groups - 1 - k) for k in range(n_groups)]
