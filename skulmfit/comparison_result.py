"""The result of :func:`skulmfit.compare`: tidy table, summary, verdict, files and learning curve."""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ComparisonResult"]

FILES = ("compare.json", "compare.md", "compare.png")


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = float(np.mean(values))
    return mean, (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def _size_label(size: Any) -> str:
    return str(size)


@dataclass
class ComparisonResult:
    """What :func:`skulmfit.compare` measured.

    Read it through :attr:`table` (the tidy table), :attr:`summary` (mean and std per method x
    size), :meth:`verdict` / :meth:`verdict_line`, :meth:`format_table`, :meth:`to_frame`
    (pandas), :meth:`plot` (the learning curve) and :meth:`save` (``compare.json``,
    ``compare.md``, ``compare.png``); :meth:`from_dict` reads a ``compare.json`` back.

    Attributes
    ----------
    rows : list of dict
        The tidy table (also :attr:`table`): one row per method x training size x fold with
        ``method, size, fold, n_train, n_unlabelled, n_test``, one column per metric,
        ``fit_seconds, predict_seconds`` (predicting and scoring the test part) and
        ``train_digest, test_digest`` (hashes of the labelled texts and labels the method was
        fitted and scored on: equal digests, equal data).
    methods, sizes, metrics : list
        In run order; ``metrics[0]`` decides the verdict and the plot.
    setup : dict
        Data and settings (rows, classes, folds, sampling, seed, the estimators).
    splits : dict
        ``test``: each fold's test rows; ``train``: per size, each fold's training rows
        (0-based positions in ``X``).
    estimate : RuntimeEstimate or dict or None
        The run-time estimate made before the first fit.
    seconds : float
        Measured time of the fits (after the estimate).
    stopped : {None, 'max_minutes', 'interrupted'}
    stop_reason : str
    """

    rows: list[dict[str, Any]]
    methods: list[str]
    sizes: list[Any]
    metrics: list[str]
    setup: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, Any] = field(default_factory=dict)
    estimate: Any = None
    seconds: float = 0.0
    stopped: str | None = None
    stop_reason: str = ""

    # -- tables ----------------------------------------------------------------------------------
    @property
    def table(self) -> list[dict[str, Any]]:
        """The tidy table: one dict per method x size x fold (see the class docstring)."""
        return self.rows

    @property
    def summary(self) -> list[dict[str, Any]]:
        """Per method x size: ``n_folds``, mean ``n_train``, ``<metric>_mean`` and ``<metric>_std``
        (sample standard deviation over folds; None with one fold) for every metric, and the
        mean ``fit_seconds`` and ``predict_seconds``. Sizes and methods without a finished fit
        are left out."""
        out = []
        for size in self.sizes:
            for method in self.methods:
                rows = [r for r in self.rows if r["size"] == size and r["method"] == method]
                if not rows:
                    continue
                rec: dict[str, Any] = {"method": method, "size": size, "n_folds": len(rows),
                                       "n_train": float(np.mean([r["n_train"] for r in rows]))}
                for m in self.metrics:
                    rec[f"{m}_mean"], rec[f"{m}_std"] = _mean_std([r[m] for r in rows])
                rec["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in rows]))
                rec["predict_seconds"] = float(np.mean([r["predict_seconds"] for r in rows]))
                out.append(rec)
        return out

    def to_frame(self, which: str = "table") -> Any:
        """The table (or ``which='summary'``) as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        if which not in ("table", "summary"):
            raise ValueError(f"which must be 'table' or 'summary', got {which!r}")
        return pd.DataFrame(self.rows if which == "table" else self.summary)

    def sort_rows(self) -> None:
        """Put the table in run order: size, fold, method."""
        pos_s = {s: i for i, s in enumerate(self.sizes)}
        pos_m = {m: i for i, m in enumerate(self.methods)}
        self.rows.sort(key=lambda r: (pos_s.get(r["size"], len(pos_s)), r["fold"], pos_m.get(r["method"], 0)))

    # -- verdict ---------------------------------------------------------------------------------
    def verdict(self, metric: str | None = None) -> list[dict[str, Any]]:
        """The winner at each size, where there is one.

        At each size, on the folds that every method finished, the methods are ranked by their
        mean score (higher is better, as for every scikit-learn scorer). The best one is the
        **winner** only if its lead over the second exceeds the fold spread: the larger of the
        two methods' standard deviations over the folds. Otherwise ``winner`` is None.

        Returns
        -------
        list of dict
            Per size: ``size, metric, n_folds, best, runner_up, best_mean, runner_up_mean,
            difference, spread, winner``.
        """
        metric = metric or self.metrics[0]
        if metric not in self.metrics:
            raise ValueError(f"unknown metric {metric!r}; this comparison scored {self.metrics}")
        out = []
        for size in self.sizes:
            rows = [r for r in self.rows if r["size"] == size]
            methods = [m for m in self.methods if any(r["method"] == m for r in rows)]
            if not methods:
                continue
            folds = sorted(set.intersection(*({r["fold"] for r in rows if r["method"] == m} for m in methods)))
            ranked = []
            for m in methods:
                vals = [r[metric] for r in rows if r["method"] == m and r["fold"] in folds]
                mean, std = _mean_std(vals)
                if mean is not None:
                    ranked.append((mean, std, m))
            ranked.sort(key=lambda t: -t[0])
            rec: dict[str, Any] = {"size": size, "metric": metric, "n_folds": len(folds), "best": None,
                                   "runner_up": None, "best_mean": None, "runner_up_mean": None,
                                   "difference": None, "spread": None, "winner": None}
            if ranked:
                rec.update(best=ranked[0][2], best_mean=ranked[0][0])
            if len(ranked) > 1:
                (m1, s1, n1), (m2, s2, n2) = ranked[0], ranked[1]
                rec.update(runner_up=n2, runner_up_mean=m2, difference=m1 - m2)
                if s1 is not None and s2 is not None:
                    rec["spread"] = max(s1, s2)
                    if m1 - m2 > rec["spread"]:
                        rec["winner"] = n1
            out.append(rec)
        return out

    def verdict_line(self, metric: str | None = None) -> str:
        """The verdict in one line: per size the winner (with its lead and the spread) or "no clear winner"."""
        metric = metric or self.metrics[0]
        parts = []
        for v in self.verdict(metric):
            if v["winner"]:
                parts.append(f"{v['size']}: {v['winner']} (+{v['difference']:.3f} over {v['runner_up']}, "
                             f"spread {v['spread']:.3f})")
            elif v["runner_up"] is None:
                parts.append(f"{v['size']}: only {v['best']} finished")
            elif v["spread"] is None:
                parts.append(f"{v['size']}: no verdict ({v['n_folds']} fold{'s' if v['n_folds'] != 1 else ''} "
                             "finished by every method; a spread needs 2)")
            else:
                parts.append(f"{v['size']}: no clear winner ({v['best']} leads {v['runner_up']} by "
                             f"{v['difference']:.3f}, within the fold spread {v['spread']:.3f})")
        head = f"Verdict ({metric}, mean over folds; a winner only where its lead exceeds the fold spread)"
        return f"{head}: " + ("; ".join(parts) if parts else "no finished fits") + "."

    # -- text ------------------------------------------------------------------------------------
    def _grid(self, key: str, fmt: str) -> tuple[list[str], list[list[str]]]:
        """Rows: sizes; columns: methods; cells from the summary (``key`` in it, ``fmt`` 'score' or 'seconds')."""
        summary = self.summary
        head = ["size", "n_train"] + self.methods
        body = []
        for size in self.sizes:
            recs = {r["method"]: r for r in summary if r["size"] == size}
            if not recs:
                continue
            n_train = np.mean([r["n_train"] for r in recs.values()])
            line = [_size_label(size), f"{n_train:.0f}" if size != "all" else f"{n_train:.1f}"]
            for m in self.methods:
                r = recs.get(m)
                if r is None:
                    line.append("")
                elif fmt == "score":
                    mean, std = r[f"{key}_mean"], r[f"{key}_std"]
                    line.append(f"{mean:.3f}" + (f" ± {std:.3f}" if std is not None else "")
                                + ("" if r["n_folds"] == self.setup.get("n_folds", r["n_folds"])
                                   else f" ({r['n_folds']} fold{'s' if r['n_folds'] != 1 else ''})"))
                else:
                    line.append(f"{r[key]:.1f}")
            body.append(line)
        return head, body

    def format_table(self, metric: str | None = None) -> str:
        """Plain-text table of ``metric`` (mean ± std over folds) per size and method."""
        metric = metric or self.metrics[0]
        head, body = self._grid(metric, "score")
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(b, widths)))
                  for b in body]
        return "\n".join(lines)

    def timing_line(self) -> str:
        """Estimated against measured run time (the estimate was made before the first fit)."""
        est = self.estimate
        if est is None:
            return f"Run time: {self.seconds / 60:.1f} min."
        seconds = est.seconds if hasattr(est, "seconds") else est["seconds"]
        calib = est.calibration_seconds if hasattr(est, "calibration_seconds") else est["calibration_seconds"]
        n_fits = len(est.cells) if hasattr(est, "cells") else len(est["cells"])
        line = (f"Run time: {self.seconds / 60:.1f} min for {len(self.rows)} of {n_fits} fits; estimated before "
                f"starting: {seconds / 60:.1f} min for all (measuring the costs took {calib:.0f} s)")
        if len(self.rows) == n_fits and seconds > 0:
            line += f"; measured / estimated = {self.seconds / seconds:.2f}"
        return line + "."

    def to_markdown(self, plot_name: str | None = "compare.png") -> str:
        """``compare.md``: setup, one table per metric, fit seconds, verdict, run time."""
        s = self.setup
        lines = ["# skulmfit compare", ""]
        if s:
            lines += [f"{s.get('n_labelled', '?'):,} labelled rows ({len(s.get('classes', []))} classes), "
                      f"{s.get('n_unlabelled', 0):,} unlabelled; {s.get('n_folds', '?')} folds (cv={s.get('cv')}); "
                      f"{s.get('sampling', '?')} training subsamples; random_state={s.get('random_state')!r} "
                      f"(seed {s.get('seed')}).", ""]
        for m in self.metrics:
            head, body = self._grid(m, "score")
            lines += [f"## {m} (mean ± std over the folds' test parts)", "", _md(head, body), ""]
        head, body = self._grid("fit_seconds", "seconds")
        lines += ["## fit seconds (mean per fit)", "", _md(head, body), "", self.verdict_line(), "",
                  self.timing_line()]
        if self.stopped:
            lines += ["", f"**Stopped early:** {self.stop_reason}."]
        if plot_name:
            lines += ["", f"![learning curve]({plot_name})"]
        methods = s.get("methods") or {}
        if methods:
            lines += ["", "Methods:", ""]
            semi = " (semi-supervised: also gets the unlabelled rows, y = -1)"
            lines += [f"* {name}{semi if d['semi_supervised'] else ''}: `{d['estimator']}`"
                      for name, d in methods.items()]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.format_table() + "\n" + self.verdict_line()

    # -- files -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (what ``compare.json`` holds)."""
        from ._version import __version__

        est = self.estimate
        return {
            "skulmfit_version": __version__, "setup": self.setup, "methods": self.methods, "sizes": self.sizes,
            "metrics": self.metrics, "table": self.rows, "summary": self.summary, "verdict": self.verdict(),
            "verdict_line": self.verdict_line(), "seconds": self.seconds,
            "estimate": est.to_dict() if hasattr(est, "to_dict") else est, "stopped": self.stopped,
            "stop_reason": self.stop_reason, "splits": self.splits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComparisonResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a ``compare.json``)."""
        return cls(rows=list(data["table"]), methods=list(data["methods"]), sizes=list(data["sizes"]),
                   metrics=list(data["metrics"]), setup=dict(data.get("setup") or {}),
                   splits=dict(data.get("splits") or {}), estimate=data.get("estimate"),
                   seconds=float(data.get("seconds") or 0.0), stopped=data.get("stopped"),
                   stop_reason=data.get("stop_reason") or "")

    def save(self, out: str | os.PathLike[str], plot: bool = True) -> dict[str, Path]:
        """Write ``compare.json`` and ``compare.md`` (atomically) and, with ``plot``, ``compare.png``
        into the folder ``out`` (created if missing).

        The plot needs matplotlib; without it a warning says so and no PNG is written.

        Returns
        -------
        dict
            ``{"json": path, "markdown": path, "png": path}`` (``png`` only when written).
        """
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"out={os.fspath(out)!r} is a file; give a folder for {', '.join(FILES)}")
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"json": folder / FILES[0], "markdown": folder / FILES[1]}
        png = None
        if plot and self.rows:
            try:
                png = self.plot(folder / FILES[2])
            except ImportError as e:
                warnings.warn(f"{FILES[2]} not written: {e}", UserWarning, stacklevel=2)
        _atomic_write(paths["json"], json.dumps(_jsonable(self.to_dict()), indent=1) + "\n")
        _atomic_write(paths["markdown"], self.to_markdown(FILES[2] if png is not None else None))
        if png is not None:
            paths["png"] = png
        return paths

    # -- plot ------------------------------------------------------------------------------------
    def plot(self, path: str | os.PathLike[str] | None = None, metric: str | None = None, ax: Any = None) -> Any:
        """Learning curve: ``metric`` (default the first) against the training size on a log x axis,
        one line per method with a band of ± one standard deviation over the folds (cf. Figure 3
        of the ULMFiT paper). Needs matplotlib.

        Parameters
        ----------
        path : path, optional
            Save the figure there (PNG, 120 dpi) and close it.
        metric : str, optional
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib Axes, or the path written when ``path`` is given.
        """
        from .plot import _pyplot, learning_curve

        ax = learning_curve(self, metric=metric, ax=ax)
        if path is None:
            return ax
        fig = ax.figure
        fig.tight_layout()
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".png", dir=p.parent)
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=120)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
            _pyplot().close(fig)
        return p


def _md(head: list[str], body: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(b) + " |" for b in body])


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
