"""Plots of a :class:`~skulmfit.ULMFiTClassifier` (learning-rate schedule, training history) and of a comparison.

matplotlib is optional (``pip install skulmfit[plot]``) and imported only when a plot is drawn.

* :func:`lr_schedule` draws the learning rate of every layer group over the unfreezing stages
  (slanted triangular rates with discriminative fine-tuning, as in the paper's Figure 2) from the
  estimator's parameters alone: no training is needed. :func:`lr_schedule_data` returns the same
  numbers without plotting.
* :func:`history` draws the per-epoch losses recorded in ``history_`` by ``fit``.
* :func:`learning_curve` draws a :func:`skulmfit.compare` result: score against training size.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .clf_training import unfreeze_stages
from .schedules import discriminative_lrs, get_schedule

__all__ = ["history", "learning_curve", "lr_schedule", "lr_schedule_data"]

PAPER_N_LAYERS = 3


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skulmfit.plot needs matplotlib, which is not installed: pip install skulmfit[plot] "
            "(or pip install matplotlib)"
        ) from e
    return plt


# -- learning-rate schedule -----------------------------------------------------------------------
def _params(estimator_or_params: Any) -> dict[str, Any]:
    from .classifier import ULMFiTClassifier

    defaults = ULMFiTClassifier().get_params(deep=False)
    if hasattr(estimator_or_params, "get_params"):
        return {**defaults, **estimator_or_params.get_params(deep=False)}
    if isinstance(estimator_or_params, Mapping):
        unknown = sorted(set(estimator_or_params) - set(defaults))
        if unknown:
            raise ValueError(f"unknown ULMFiTClassifier parameters {unknown}; valid ones: {sorted(defaults)}")
        return {**defaults, **estimator_or_params}
    raise TypeError("expected a ULMFiTClassifier (fitted or not) or a dict of its parameters, got "
                    f"{type(estimator_or_params).__name__}")


def _n_layers_of(pretrained: Any) -> int:
    """LSTM layers of the pretrained model named by ``pretrained`` (its JSON card, else the file itself)."""
    from .pretrained import resolve_pretrained
    from .pretrained.remote import REMOTE_MODELS

    spec = "default" if pretrained is None else pretrained  # random init copies the default's architecture
    if isinstance(spec, str) and spec in REMOTE_MODELS:  # from the registry: a plot never downloads
        return int(dict(REMOTE_MODELS[spec].config)["n_layers"])
    try:
        path = resolve_pretrained(spec, "fwd")
        card = Path(path).with_suffix(".json")
        if card.is_file():
            return int(json.loads(card.read_text(encoding="utf-8"))["config"]["n_layers"])
        from .modelfile import load_lm

        return int(load_lm(path).model.config.n_layers)
    except Exception as e:  # noqa: BLE001 - a plot should still be drawn
        if pretrained is not None:
            warnings.warn(f"cannot read the number of LSTM layers of pretrained={pretrained!r} ({e}); "
                          f"assuming {PAPER_N_LAYERS}; pass n_layers=", UserWarning, stacklevel=3)
        return PAPER_N_LAYERS


def lr_schedule_data(estimator_or_params: Any, n_steps: int = 200, which: str = "classifier",
                     n_layers: int | None = None) -> dict[str, Any]:
    """The learning rate of every layer group over training, as arrays (what :func:`lr_schedule` draws).

    Parameters
    ----------
    estimator_or_params : ULMFiTClassifier or dict
        A classifier, fitted or not, or a dict of some of its parameters (the others take their
        defaults).
    n_steps : int, default=200
        Points per epoch. The schedules depend only on the fraction of the stage done, so this
        sets the resolution, not the shape.
    which : {'classifier', 'lm'}, default='classifier'
        Classifier fine-tuning (layer groups: embedding, each LSTM layer, head; one cycle per
        unfreezing stage) or target-task LM fine-tuning (each LSTM layer, then embedding +
        decoder; one cycle over ``lm_epochs``).
    n_layers : int, optional
        LSTM layers. Default: the fitted model's, else read from the ``pretrained`` model's card.

    Returns
    -------
    dict
        ``x`` (epochs of training progress, shape ``(m,)``), ``lrs`` (shape ``(n_groups, m)``,
        NaN where a group is frozen), ``groups`` (names, bottom first), ``stages`` (a list of
        ``{"start", "end", "trainable"}`` in epochs).
    """
    if which not in ("classifier", "lm"):
        raise ValueError(f"which must be 'classifier' or 'lm', got {which!r}")
    if int(n_steps) < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    n_steps = int(n_steps)
    p = _params(estimator_or_params)
    if n_layers is None:
        models = getattr(estimator_or_params, "models_", None)
        if models:
            n_layers = int(next(iter(models.values())).encoder.config.n_layers)
        else:
            n_layers = _n_layers_of(p["pretrained"])
    if which == "classifier":
        names = ["embedding"] + [f"LSTM {k + 1}" for k in range(n_layers)] + ["head"]
        lr, decay, sched, epochs = p["lr"], p["lr_decay"], p["schedule"], p["epochs"]
        stages = unfreeze_stages(len(names), p["unfreeze"], epochs)
    else:
        names = [f"LSTM {k + 1}" for k in range(n_layers)] + ["embedding + decoder"]
        lr, decay, sched, epochs = p["lm_lr"], p["lm_lr_decay"], p["lm_schedule"], p["lm_epochs"]
        if epochs < 1:
            raise ValueError("lm_epochs=0: there is no LM fine-tuning to plot")
        stages = [(list(range(len(names))), epochs)]
    base = discriminative_lrs(lr, len(names), decay)
    schedule = get_schedule(sched, p["cut_frac"], p["ratio"])
    xs, cols, spans = [], [], []
    start = 0.0
    for trainable, n_epochs in stages:
        total = n_epochs * n_steps
        t = np.arange(total + 1)  # the training loop's progress counter, plus the end point
        xs.append(start + t / n_steps)
        col = np.full((len(names), len(t)), np.nan)
        for g in trainable:
            col[g] = [schedule(float(s), float(total), base[g]) for s in t]
        cols.append(col)
        spans.append({"start": start, "end": start + n_epochs, "trainable": [names[g] for g in trainable]})
        start += n_epochs
    return {"x": np.concatenate(xs), "lrs": np.concatenate(cols, axis=1), "groups": names, "stages": spans,
            "which": which, "lr": lr}


def lr_schedule(estimator_or_params: Any, n_steps: int = 200, ax: Any = None, which: str = "classifier",
                n_layers: int | None = None) -> Any:
    """Draw the learning rate of each layer group over the unfreezing stages (cf. ULMFiT's Figure 2).

    Nothing is trained: the curves come from :mod:`skulmfit.schedules` and
    :func:`skulmfit.clf_training.unfreeze_stages` applied to the classifier's parameters (``lr``,
    ``lr_decay``, ``schedule``, ``cut_frac``, ``ratio``, ``unfreeze``, ``epochs``; for
    ``which='lm'`` the ``lm_*`` ones). The x-axis is training progress in epochs across all stages
    (each stage runs its own cycle; dotted lines mark the stage boundaries); there is one line per
    layer group, absent while the group is frozen.

    Parameters
    ----------
    estimator_or_params : ULMFiTClassifier or dict
        A classifier (fitted or not) or a dict of its parameters.
    n_steps : int, default=200
        Points per epoch.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    which : {'classifier', 'lm'}, default='classifier'
    n_layers : int, optional
        LSTM layers (default: the fitted model's, else the pretrained model's).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Each group's line is labelled with its name (``'head'``,
        ``'LSTM 3'``, ..., ``'embedding'``); ``line.get_ydata()`` holds the rates (NaN while frozen).
    """
    data = lr_schedule_data(estimator_or_params, n_steps=n_steps, which=which, n_layers=n_layers)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    x, lrs, names = data["x"], data["lrs"], data["groups"]
    for g in reversed(range(len(names))):  # top group first in the legend
        ax.plot(x, lrs[g], label=names[g], linewidth=1.6)
    stages = data["stages"]
    for k, st in enumerate(stages):
        if k:
            ax.axvline(st["start"], color="0.6", linestyle=":", linewidth=1)
        if len(stages) > 1:
            ax.text((st["start"] + st["end"]) / 2, 1.01, f"stage {k + 1}", transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="0.35")
    ax.set_xlabel("training progress (epochs)")
    ax.set_ylabel("learning rate")
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(bottom=0)
    title = "classifier fine-tuning" if which == "classifier" else "LM fine-tuning"
    ax.set_title(f"{title}: learning rate per layer group", pad=16 if len(stages) > 1 else 6)
    ax.legend(title="layer group", fontsize=8, title_fontsize=8, loc="upper right")
    return ax


# -- training history ------------------------------------------------------------------------------
def history(estimator: Any, ax: Any = None) -> Any:
    """Plot the per-epoch losses recorded by ``fit`` in ``estimator.history_``.

    LM fine-tuning: training loss (and validation loss when recorded) per epoch and direction.
    Classifier: training loss, and validation loss with ``early_stopping=True``, per epoch, with
    the unfreezing stages shaded.

    Parameters
    ----------
    estimator : fitted ULMFiTClassifier (or any estimator with ``history_``)
    ax : None, one Axes, or a pair of Axes, optional
        None: a new figure with two panels (LM fine-tuning, classifier). A pair: those two panels.
        One Axes: everything on it, the classifier epochs following the LM epochs.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``fig.axes`` holds the panels).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "history_")
    plt = _pyplot()
    if ax is None:
        fig, (ax_lm, ax_clf) = plt.subplots(1, 2, figsize=(11, 4))
    elif isinstance(ax, (Sequence, np.ndarray)):
        axes = list(np.ravel(ax))
        if len(axes) != 2:
            raise ValueError(f"ax must be one Axes or a pair of Axes, got {len(axes)}")
        ax_lm, ax_clf = axes
        fig = ax_lm.figure
    else:
        ax_lm = ax_clf = ax
        fig = ax.figure
    records = list(estimator.history_)
    lm = [r for r in records if r.get("stage") == "lm"]
    clf = [r for r in records if r.get("stage") == "classifier"]
    shared = ax_lm is ax_clf
    offset = max((r["epoch"] for r in lm), default=0) if shared else 0
    styles = {"fwd": "-", "bwd": "--"}

    for d in _directions(lm):
        rs = [r for r in lm if r.get("direction", "fwd") == d]
        x = [r["epoch"] for r in rs]
        ax_lm.plot(x, [r["train_loss"] for r in rs], marker="o", linestyle=styles.get(d, "-"), color="C0",
                   label=f"LM {d} train")
        if any("valid_loss" in r for r in rs):
            ax_lm.plot(x, [r.get("valid_loss", np.nan) for r in rs], marker="s", linestyle=styles.get(d, "-"),
                       color="C1", label=f"LM {d} valid")
    if shared and lm:
        ax_lm.axvspan(0.5, offset + 0.5, color="C0", alpha=0.06, linewidth=0)
        ax_lm.text((offset + 1) / 2, 1.01, "LM", transform=ax_lm.get_xaxis_transform(), ha="center", va="bottom",
                   fontsize=8, color="0.35")
    if not shared:
        ax_lm.set_title("LM fine-tuning")
        ax_lm.set_xlabel("epoch")
        ax_lm.set_ylabel("loss (cross-entropy, nats)")
        if lm:
            ax_lm.legend(fontsize=8)
        else:
            ax_lm.text(0.5, 0.5, "no LM fine-tuning recorded\n(lm_epochs=0, too little text, or warm start)",
                       transform=ax_lm.transAxes, ha="center", va="center", color="0.4")

    first = _directions(clf)[:1]
    stage_rows = [r for r in clf if r.get("direction", "fwd") in first]
    for k, stage in enumerate(sorted({r["unfreeze_stage"] for r in stage_rows})):
        eps = [r["epoch"] for r in stage_rows if r["unfreeze_stage"] == stage]
        lo, hi = offset + min(eps) - 0.5, offset + max(eps) + 0.5
        if k % 2 == 0:
            ax_clf.axvspan(lo, hi, color="0.5", alpha=0.08, linewidth=0)
        ax_clf.text((lo + hi) / 2, 1.01, f"S{stage}", transform=ax_clf.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=8, color="0.35")
    for d in _directions(clf):
        rs = [r for r in clf if r.get("direction", "fwd") == d]
        x = [offset + r["epoch"] for r in rs]
        ax_clf.plot(x, [r["train_loss"] for r in rs], marker="o", linestyle=styles.get(d, "-"), color="C2",
                    label=f"classifier {d} train")
        if any("valid_loss" in r for r in rs):
            ax_clf.plot(x, [r.get("valid_loss", np.nan) for r in rs], marker="s", linestyle=styles.get(d, "-"),
                        color="C3", label=f"classifier {d} valid")
    ax_clf.set_title("classifier fine-tuning (S = unfreezing stage)" if not shared else
                     "training history (LM fine-tuning, then classifier stages S1, S2, ...)", pad=14)
    ax_clf.set_xlabel("epoch" if not shared else "epoch (LM fine-tuning, then classifier)")
    ax_clf.set_ylabel("loss (cross-entropy, nats)")
    if clf or lm:
        ax_clf.legend(fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for a in {id(ax_lm): ax_lm, id(ax_clf): ax_clf}.values():
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def _directions(records: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        seen.setdefault(r.get("direction", "fwd"), None)
    return list(seen)


# -- learning curve of a comparison ----------------------------------------------------------------
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def learning_curve(result: Any, metric: str | None = None, ax: Any = None) -> Any:
    """Draw a :func:`skulmfit.compare` result: score against training size (log x axis), one line
    per method with a band of ± one standard deviation over the folds (cf. the paper's Figure 3).

    Parameters
    ----------
    result : ComparisonResult
    metric : str, optional
        One of ``result.metrics`` (default: the first).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        One line per method (labelled with its name); ``line.get_xdata()`` holds the mean
        training sizes, ``line.get_ydata()`` the mean scores.
    """
    metric = metric or result.metrics[0]
    if metric not in result.metrics:
        raise ValueError(f"unknown metric {metric!r}; the comparison scored {result.metrics}")
    summary = result.summary
    if not summary:
        raise ValueError("the comparison has no finished fits to plot")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    xs_all: dict[Any, float] = {}
    folds = max(r["n_folds"] for r in summary)
    for k, method in enumerate(result.methods):
        recs = [r for r in summary if r["method"] == method]
        if not recs:
            continue
        x = np.array([r["n_train"] for r in recs], dtype=float)
        m = np.array([r[f"{metric}_mean"] for r in recs], dtype=float)
        s = np.array([np.nan if r[f"{metric}_std"] is None else r[f"{metric}_std"] for r in recs], dtype=float)
        for r in recs:
            xs_all.setdefault(r["size"], r["n_train"])
        (line,) = ax.plot(x, m, marker=_MARKERS[k % len(_MARKERS)], linewidth=1.6, label=method)
        band = np.nan_to_num(s)
        ax.fill_between(x, m - band, m + band, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xscale("log")
    from matplotlib.ticker import NullLocator

    ax.xaxis.set_minor_locator(NullLocator())
    ticks = sorted(xs_all.items(), key=lambda kv: kv[1])
    ax.set_xticks([v for _, v in ticks])
    ax.set_xticklabels([f"all\n({v:.0f})" if size == "all" else str(size) for size, v in ticks])
    ax.set_xlabel("labelled training examples (log scale)")
    ax.set_ylabel(f"{metric} on the held-out folds")
    ax.set_title(f"learning curve: mean ± std over {folds} fold{'s' if folds != 1 else ''}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax
