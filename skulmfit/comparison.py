"""``skulmfit.compare``: is ULMFiT worth it on my data?

:func:`compare` fits ULMFiT (semi-supervised and supervised), TF-IDF + logistic regression and
ULMFiT from scratch — or any scikit-learn estimators — on class-balanced subsamples of the
user's labelled rows at several training sizes, scores each on held-out folds with
scikit-learn's scorers, and returns a :class:`~skulmfit.comparison_result.ComparisonResult`:
the tidy table, mean and standard deviation per method and size, the learning curve and a
verdict per size.

The splits (scikit-learn's :class:`~sklearn.model_selection.StratifiedKFold` by default):

* each fold's **test part** holds about ``1 / cv`` of the labelled rows, stratified by class, and
  is the same for every training size and every method;
* each training size takes that many rows from the fold's **training part** — class-balanced
  (``sampling='balanced'``: equal numbers per class as far as the classes allow) or stratified
  (the labelled rows' class proportions, at least one per class) — and the subsamples are nested
  (the 50 rows are among the 100). ``'all'`` is the whole training part;
* every method gets exactly the same rows at each size and fold.

A semi-supervised method (the default ULMFiT one, or any estimator wrapped in
:func:`semi_supervised`) also gets, with the label ``-1``, the rows of the fold's training part
that the size leaves out and every unlabelled text (``unlabelled=`` and rows of ``y`` equal to
-1). It never sees the test part. Those texts are passed in the same order at every size, so the
LM fine-tuned on them is computed once per fold and read back from the ``memory=`` cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_targets, check_texts
from .comparison_result import ComparisonResult
from .progress import progress_bar
from .runtime_estimate import RuntimeEstimate, estimate_runtime, one_blas_thread

__all__ = ["CompareInterrupted", "SemiSupervised", "compare", "default_estimators", "estimate", "load_result", "plan",
           "semi_supervised"]

SEMI, SUPERVISED, TFIDF, SCRATCH = ("ULMFiT semi-supervised", "ULMFiT supervised", "TF-IDF + LR",
                                    "ULMFiT from scratch")
DEFAULT_SIZES = (50, 100, 200, 500, 1000)
SAMPLINGS = ("balanced", "stratified")


@dataclass(frozen=True)
class SemiSupervised:
    """Marks an estimator that also gets the unlabelled rows (label ``-1``); see :func:`semi_supervised`."""

    estimator: Any


def semi_supervised(estimator: Any) -> SemiSupervised:
    """Mark ``estimator`` for :func:`compare` as semi-supervised.

    Its ``fit`` then also receives, with the label ``-1``, every unlabelled text and the rows of
    the fold's training part that the training size leaves out (never the test part), as
    scikit-learn's semi-supervised estimators and :class:`~skulmfit.ULMFiTClassifier` expect.
    (scikit-learn's own semi-supervised estimators need integer class labels for that.)

    Examples
    --------
    >>> from skulmfit import ULMFiTClassifier
    >>> from skulmfit.comparison import semi_supervised
    >>> methods = {"ULMFiT, 5 LM epochs": semi_supervised(ULMFiTClassifier(lm_epochs=5))}
    """
    if isinstance(estimator, SemiSupervised):
        return estimator
    if not hasattr(estimator, "fit"):
        raise TypeError(f"semi_supervised() needs an estimator with fit, got {type(estimator).__name__}")
    return SemiSupervised(estimator)


def default_estimators(*, pretrained: Any = "default", random_state: int | None = 0, verbose: int = 0,
                       **ulmfit_params: Any) -> dict[str, Any]:
    """The four methods :func:`compare` runs by default.

    * ``'ULMFiT semi-supervised'``: :class:`~skulmfit.ULMFiTClassifier` marked with
      :func:`semi_supervised` (LM fine-tuning also reads the unlabelled texts);
    * ``'ULMFiT supervised'``: the same classifier on the labelled rows only;
    * ``'TF-IDF + LR'``: ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` +
      ``LogisticRegression(C=10, max_iter=2000)``, as in ``skulmfit demo``;
    * ``'ULMFiT from scratch'``: ``pretrained=None, lm_epochs=0`` (no pretraining, no LM
      fine-tuning: the paper's "from scratch").

    Parameters
    ----------
    pretrained : str, path or None, default='default'
        Pretrained model of the two ULMFiT methods (``None`` makes them train from random weights too).
    random_state : int, default=0
        Seeds every method (a fixed seed also lets ``memory=`` reuse fine-tuned LMs).
    verbose : int, default=0
        The ULMFiT classifiers' own progress bars.
    **ulmfit_params
        Any other :class:`~skulmfit.ULMFiTClassifier` parameters (``epochs``, ``lm_epochs``,
        ``batch_size``, ``device``, ...), for the three ULMFiT methods.

    Returns
    -------
    dict
        ``name -> estimator`` (the semi-supervised one wrapped in :class:`SemiSupervised`).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .classifier import ULMFiTClassifier

    params = {"random_state": random_state, "verbose": verbose, **ulmfit_params}
    scratch = {**params, "pretrained": None, "lm_epochs": 0}
    return {
        SEMI: semi_supervised(ULMFiTClassifier(pretrained=pretrained, **params)),
        SUPERVISED: ULMFiTClassifier(pretrained=pretrained, **params),
        TFIDF: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                             LogisticRegression(C=10.0, max_iter=2000, random_state=random_state)),
        SCRATCH: ULMFiTClassifier(**scratch),
    }


class CompareInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`compare`; ``.result`` holds the fits that finished."""

    def __init__(self, result: ComparisonResult) -> None:
        super().__init__("comparison interrupted; the finished fits are in .result")
        self.result = result


# -- the plan: data, folds, sizes, fits ------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One fit: a method at a training size on a fold (positions index the comparison's texts)."""

    size: int | str
    fold: int
    method: str
    train: np.ndarray  # labelled training rows, sorted
    fit_rows: np.ndarray  # every row passed to fit, in order (semi-supervised: + unlabelled)
    test: np.ndarray  # the fold's test rows, sorted


@dataclass
class Plan:
    """Everything :func:`compare` will fit, decided before the first fit."""

    texts: list[str]
    y: np.ndarray  # object array aligned with texts; -1 marks unlabelled rows
    labelled: np.ndarray
    unlabelled: np.ndarray
    classes: list[Any]
    sizes: list[int | str]
    folds: list[tuple[np.ndarray, np.ndarray]]  # (training part, test part) per fold
    train: dict[Any, list[np.ndarray]]  # size -> training rows per fold
    methods: dict[str, tuple[Any, bool]]  # name -> (estimator, semi-supervised)
    cells: list[Cell]
    seed: int
    n_x: int  # rows of X (the texts after them came from ``unlabelled=``)


def _check_X(X: Any, name: str = "X") -> list[str]:
    texts = check_texts(X, name)
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        shown = ", ".join(map(str, blank[:5])) + (", ..." if len(blank) > 5 else "")
        raise ValueError(f"{name} has {len(blank)} empty text(s) (row {shown}); drop or fill them before comparing")
    return texts


def _as_labels(y: Any, n: int) -> np.ndarray:
    """Labels as an object array of Python values (the user's labels), -1 on unlabelled rows."""
    targets = check_targets(y, n)
    if targets.kind != "multiclass":
        raise ValueError("compare needs one class label per row; multi-label y (a 2-D indicator matrix) is not "
                         "supported")
    out = np.empty(n, dtype=object)
    out[:] = -1
    lab = np.flatnonzero(targets.labelled)
    values = targets.classes[targets.encoded].tolist()
    for i, v in zip(lab, values):
        out[i] = v
    return out


def _is_unlabelled(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == -1


def _label_array(values: Sequence[Any]) -> np.ndarray:
    """Labels for ``fit``: a str or numeric array, or an object array when -1 marks unlabelled rows."""
    values = list(values)
    if not any(_is_unlabelled(v) for v in values):
        return np.asarray(values, dtype=str) if all(isinstance(v, str) for v in values) else np.asarray(values)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _resolve_sizes(sizes: Any, pool_min: int, n_labelled: int, cv_desc: str, n_classes: int) -> list[int | str]:
    if sizes is None:
        sizes = [s for s in DEFAULT_SIZES if s < pool_min] + ["all"]
    if isinstance(sizes, (str, Integral)):
        sizes = [sizes]
    out: list[int | str] = []
    for s in sizes:
        if isinstance(s, str) and s.strip().lower() == "all":
            s = "all"
        elif isinstance(s, str) and s.strip().isdigit():
            s = int(s)
        elif isinstance(s, bool) or not isinstance(s, Integral):
            raise ValueError(f"sizes must be positive integers or 'all', got {s!r}")
        if s != "all":
            s = int(s)
            if s < n_classes:
                raise ValueError(f"training size {s} is smaller than the number of classes ({n_classes}): every "
                                 "class needs at least one labelled training row")
            if s > pool_min:
                raise ValueError(
                    f"training size {s} is larger than the labelled rows available for training: with {cv_desc}, "
                    f"each fold trains on at most {pool_min} of the {n_labelled} labelled rows (the rest is its test "
                    "part); use a smaller size or 'all'")
        if s not in out:
            out.append(s)
    if not out:
        raise ValueError("sizes is empty: give at least one training size (or 'all')")
    return sorted(out, key=lambda s: (s == "all", s if s != "all" else 0))


def _quotas(counts: dict[Any, int], n: int, sampling: str) -> dict[Any, int]:
    """Rows per class for a subsample of ``n`` (``n`` <= the rows available); quotas grow with ``n``."""
    classes = list(counts)
    quota = {c: 0 for c in classes}
    if sampling == "stratified":
        quota = {c: 1 for c in classes}  # every class at least once
        total = sum(counts.values())
        extra = n - len(classes)
        exact = {c: extra * counts[c] / total for c in classes}
        for c in classes:
            quota[c] += min(counts[c] - 1, int(exact[c]))
        left = n - sum(quota.values())
        order = sorted(classes, key=lambda c: -(exact[c] - int(exact[c])))
        while left > 0:
            for c in order:
                if left and quota[c] < counts[c]:
                    quota[c] += 1
                    left -= 1
        return quota
    remaining = n
    while remaining > 0:  # equal shares; a class too small gives what it has and the others share the rest
        open_ = [c for c in classes if quota[c] < counts[c]]
        share, extra = divmod(remaining, len(open_))
        if share == 0:
            for c in open_[:extra]:
                quota[c] += 1
            break
        for c in open_:
            add = min(share, counts[c] - quota[c])
            quota[c] += add
            remaining -= add
    return quota


def _subsamples(pool: np.ndarray, y: np.ndarray, sizes: Sequence[int | str], sampling: str,
                rng: np.random.Generator) -> dict[Any, np.ndarray]:
    """Nested subsamples of ``pool`` per size: one random order per class, each size taking the
    first rows of every class's order."""
    labels = np.asarray([str(v) for v in y[pool]])
    classes = sorted(set(labels))
    order = {c: pool[labels == c][rng.permutation(int((labels == c).sum()))] for c in classes}
    counts = {c: len(order[c]) for c in classes}
    out = {}
    for s in sizes:
        if s == "all":
            out[s] = np.sort(pool)
            continue
        quota = _quotas(counts, int(s), sampling)
        out[s] = np.sort(np.concatenate([order[c][: quota[c]] for c in classes]))
    return out


def _splitter(cv: Any, seed: int) -> tuple[Any, str]:
    from sklearn.model_selection import StratifiedKFold

    if isinstance(cv, bool) or cv is None:
        raise ValueError(f"cv must be an integer >= 2 or a scikit-learn splitter, got {cv!r}")
    if isinstance(cv, Integral):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 (folds), got {cv}")
        return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=seed % (2**32)), f"cv={int(cv)}"
    if not hasattr(cv, "split"):
        raise ValueError(f"cv must be an integer >= 2 or a scikit-learn splitter (with split()), got "
                         f"{type(cv).__name__}")
    return cv, f"cv={cv!r}"


def _methods(estimators: Any, memory: Any, seed: int, verbose: int) -> dict[str, tuple[Any, bool]]:
    from sklearn.base import clone

    if estimators is None:
        estimators = default_estimators(random_state=seed, verbose=max(0, verbose - 1))
    if not isinstance(estimators, Mapping) or not estimators:
        raise ValueError("estimators must be a non-empty dict {name: estimator}")
    out: dict[str, tuple[Any, bool]] = {}
    for name, est in estimators.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"estimator names must be non-empty strings, got {name!r}")
        semi = isinstance(est, SemiSupervised)
        est = est.estimator if semi else est
        if not hasattr(est, "fit") or not hasattr(est, "predict"):
            raise TypeError(f"estimators[{name!r}] must be an estimator with fit and predict, got {type(est).__name__}")
        est = clone(est)
        _set_ulmfit_memory(est, memory)
        out[name] = (est, semi)
    return out


def _set_ulmfit_memory(est: Any, memory: Any) -> None:
    """Give every ULMFiTClassifier inside ``est`` (itself, or a pipeline step) the comparison's
    cache of fine-tuned LMs, unless it has its own."""
    from .classifier import ULMFiTClassifier

    if isinstance(est, ULMFiTClassifier):
        if est.memory is None:
            est.set_params(memory=memory)
        return
    if hasattr(est, "get_params"):
        params = est.get_params(deep=True)
        for key, value in params.items():
            if isinstance(value, ULMFiTClassifier) and params.get(f"{key}__memory", 0) is None:
                est.set_params(**{f"{key}__memory": memory})


def plan(X: Any, y: Any, *, sizes: Any = None, cv: Any = 3, estimators: Any = None, unlabelled: Any = None,
         sampling: str = "balanced", random_state: Any = None, memory: Any = None, verbose: int = 0) -> Plan:
    """Validate the inputs and decide every fit of :func:`compare` (no fitting); see :func:`compare`."""
    from .language_model import derive_seed

    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    texts = _check_X(X)
    labels = _as_labels(y, len(texts))
    seed = derive_seed(random_state)
    methods = _methods(estimators, memory, seed, verbose)
    n_x = len(texts)
    if unlabelled is not None:
        extra = _check_X(unlabelled, "unlabelled")
        texts = texts + extra
        labels = np.concatenate([labels, np.full(len(extra), -1, dtype=object)])
    is_lab = np.array([not _is_unlabelled(v) for v in labels], dtype=bool)
    labelled, unl = np.flatnonzero(is_lab), np.flatnonzero(~is_lab)
    names, counts = np.unique(np.asarray([str(v) for v in labels[labelled]]), return_counts=True)
    names = np.asarray(names.tolist(), dtype=object)  # Python str: messages read 'a', not np.str_('a')
    splitter, cv_desc = _splitter(cv, seed)
    n_splits = splitter.get_n_splits() if hasattr(splitter, "get_n_splits") else None
    if n_splits is not None and counts.min() < n_splits:
        few = ", ".join(f"{n!r} ({c})" for n, c in zip(names, counts) if c < n_splits)
        verb = "has" if (counts < n_splits).sum() == 1 else "have"
        raise ValueError(f"too few labelled rows per class for {cv_desc}: every class needs at least {n_splits} "
                         f"(one in each fold's test part), but {few} {verb} fewer; label more rows of those "
                         "classes, drop them, or lower cv")
    folds = []
    for train_idx, test_idx in splitter.split(np.zeros(len(labelled)), np.asarray([str(v) for v in labels[labelled]])):
        pool, test = np.sort(labelled[train_idx]), np.sort(labelled[test_idx])
        missing = sorted(set(names) - {str(v) for v in labels[pool]})
        if missing:
            raise ValueError(f"fold {len(folds) + 1} of {cv_desc} leaves classes {missing} out of its training part; "
                             "use a stratified splitter or label more rows of those classes")
        folds.append((pool, test))
    if not folds:
        raise ValueError(f"{cv_desc} produced no folds")
    size_list = _resolve_sizes(sizes, min(len(p) for p, _ in folds), len(labelled), cv_desc, len(names))
    train: dict[Any, list[np.ndarray]] = {s: [] for s in size_list}
    for f, (pool, _) in enumerate(folds):
        subs = _subsamples(pool, labels, size_list, sampling, np.random.default_rng([seed, f]))
        for s in size_list:
            train[s].append(subs[s])
    cells = []
    for s in size_list:
        for f, (pool, test) in enumerate(folds):
            for name, (_, semi) in methods.items():
                fit_rows = np.concatenate([pool, unl]) if semi else train[s][f]
                cells.append(Cell(s, f, name, train[s][f], fit_rows, test))
    return Plan(texts, labels, labelled, unl, [v.item() if hasattr(v, "item") else v for v in names], size_list,
                folds, train, methods, cells, seed, n_x)


# -- running --------------------------------------------------------------------------------------
def _fit_labels(plan_: Plan, cell: Cell) -> np.ndarray:
    """Labels passed to fit: the user's labels on the cell's training rows, -1 elsewhere."""
    chosen = np.isin(cell.fit_rows, cell.train)
    return _label_array([plan_.y[i] if c else -1 for i, c in zip(cell.fit_rows, chosen)])


def _digest(texts: Sequence[str], labels: Sequence[Any]) -> str:
    h = hashlib.sha1()
    for t, v in zip(texts, labels):
        h.update(t.encode("utf-8", "surrogatepass") + b"\x00" + str(v).encode() + b"\x01")
    return h.hexdigest()[:16]


def _run_cell(plan_: Plan, cell: Cell, scorer: Any, metric_names: list[str]) -> dict[str, Any]:
    from sklearn.base import clone

    est = clone(plan_.methods[cell.method][0])
    X_fit = [plan_.texts[i] for i in cell.fit_rows]
    y_fit = _fit_labels(plan_, cell)
    X_test = [plan_.texts[i] for i in cell.test]
    y_test = _label_array([plan_.y[i] for i in cell.test])
    seen = [k for k, v in enumerate(y_fit) if not _is_unlabelled(v)]
    with one_blas_thread():
        t0 = time.perf_counter()
        est.fit(X_fit, y_fit)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = scorer(est, X_test, y_test)
        predict_s = time.perf_counter() - t0
    if not isinstance(scores, Mapping):
        scores = {metric_names[0]: scores}
    row: dict[str, Any] = {
        "method": cell.method, "size": cell.size, "fold": cell.fold, "n_train": len(seen),
        "n_unlabelled": len(y_fit) - len(seen), "n_test": len(X_test),
    }
    row.update({m: float(scores[m]) for m in metric_names})
    row.update({
        "fit_seconds": fit_s, "predict_seconds": predict_s,
        "train_digest": _digest([X_fit[k] for k in seen], [y_fit[k] for k in seen]),
        "test_digest": _digest(X_test, y_test),
    })
    return row


def _scorer(scoring: Any) -> tuple[Any, list[str]]:
    from sklearn.metrics import check_scoring

    if isinstance(scoring, str) or callable(scoring):
        scoring = [scoring] if isinstance(scoring, str) else {"score": scoring}
    if isinstance(scoring, Mapping):
        names = list(scoring)
    else:
        scoring = list(scoring)
        if not scoring or not all(isinstance(s, str) for s in scoring):
            raise ValueError(f"scoring must be a metric name, a list of names or a dict name -> scorer, "
                             f"got {scoring!r}")
        names = list(dict.fromkeys(scoring))
        scoring = names
    try:
        scorer = check_scoring(None, scoring=scoring)
    except (ValueError, TypeError) as e:
        raise ValueError(f"invalid scoring {scoring!r}: {e}") from None
    return scorer, names


@contextlib.contextmanager
def _cache_dir(memory: Any) -> Iterator[Any]:
    """The user's ``memory``, or a temporary folder removed at the end."""
    if memory is not None:
        yield memory
        return
    with tempfile.TemporaryDirectory(prefix="skulmfit-compare-") as tmp:
        yield tmp


def compare(X: Any, y: Any, *, sizes: Any = None, cv: Any = 3, estimators: Mapping[str, Any] | None = None,
            unlabelled: Any = None, scoring: Any = ("accuracy", "f1_macro"), sampling: str = "balanced",
            random_state: Any = None, memory: Any = None, n_jobs: int | None = None,
            max_minutes: float | None = None, out: str | os.PathLike[str] | None = None,
            verbose: int = 1) -> ComparisonResult:
    """Compare ULMFiT with TF-IDF + LR and training from scratch on your data, at several training sizes.

    Parameters
    ----------
    X : list, array or Series of str
        The texts. Rows whose ``y`` is -1 are unlabelled.
    y : array-like of shape (n,)
        Class labels; -1 marks an unlabelled row.
    sizes : sequence of int or 'all', default=None
        Numbers of labelled training rows; ``'all'`` is each fold's whole training part.
        Default: those of 50, 100, 200, 500, 1000 below the training part's size, and ``'all'``.
    cv : int or scikit-learn splitter, default=3
        Folds. An int ``k`` means ``StratifiedKFold(k, shuffle=True)`` seeded by ``random_state``;
        each fold's test part is ``1/k`` of the labelled rows.
    estimators : dict {name: estimator}, default=None
        The methods (any scikit-learn classifiers on raw text, e.g. pipelines); wrap one in
        :func:`semi_supervised` to give it the unlabelled rows too. Default:
        :func:`default_estimators` (ULMFiT semi-supervised, ULMFiT supervised, TF-IDF + LR,
        ULMFiT from scratch) with ``random_state``'s seed. The estimators are cloned.
    unlabelled : list of str, optional
        More unlabelled texts (for the semi-supervised methods' LM fine-tuning).
    scoring : str, list of str or dict, default=('accuracy', 'f1_macro')
        scikit-learn scorer names (or a dict name -> scorer). The first one decides the verdict and the plot.
    sampling : {'balanced', 'stratified'}, default='balanced'
        Training subsamples with equal rows per class as far as the classes allow (the paper's
        low-shot setting), or with the labelled rows' class proportions (what labelling a random
        sample gives). The test parts always keep the labelled rows' proportions, so with skewed
        classes a balanced subsample shifts the class prior (see the guide).
    random_state : int, RandomState or None, default=None
        Seeds the folds, the subsamples and the default estimators.
    memory : str, path, joblib.Memory or None, default=None
        Cache of fine-tuned LMs for the ULMFiT estimators that have none (default: a temporary
        folder for this call). A folder kept between calls lets a rerun skip LM fine-tuning.
    n_jobs : int or None, default=None
        Fits of one size run in this many processes (joblib); each ULMFiT fit also uses torch's
        threads, so on a CPU keep ``n_jobs`` times the threads within the cores.
    max_minutes : float, optional
        Time budget: a size that the estimate (corrected by the sizes done) says would end past
        it is not started, and the run stops after the current fit once the budget is spent.
        The result keeps every finished fit.
    out : path, optional
        Folder for ``compare.json``, ``compare.md`` (rewritten after every finished size) and
        ``compare.png`` (at the end; needs matplotlib).
    verbose : int, default=1
        1: the run-time estimate and a progress bar (stderr); 2: also the ULMFiT progress bars.

    Returns
    -------
    ComparisonResult
        ``table`` (one row per method x size x fold), ``summary`` (mean and std per method x
        size), ``verdict()``, ``plot()``, ``save()``.

    Raises
    ------
    ValueError
        Bad input: empty or missing texts, one class, multi-label y, too few labelled rows per
        class for ``cv``, a size larger than a fold's training part or smaller than the number of
        classes, unknown scoring.
    CompareInterrupted
        Ctrl-C (a ``KeyboardInterrupt``); its ``.result`` holds the finished fits (also written
        to ``out``).

    Examples
    --------
    >>> import skulmfit
    >>> from skulmfit.datasets import load_trec
    >>> X, y = load_trec(return_X_y=True)
    >>> result = skulmfit.compare(X, y, sizes=[50, 200], cv=2)  # doctest: +SKIP
    >>> print(result.verdict_line())  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    if max_minutes is not None and (isinstance(max_minutes, bool) or not isinstance(max_minutes, Real)
                                    or not max_minutes > 0):
        raise ValueError(f"max_minutes must be a positive number of minutes, got {max_minutes!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0):
        raise ValueError(f"n_jobs must be a non-zero integer or None, got {n_jobs!r}")
    scorer, metric_names = _scorer(scoring)
    with _cache_dir(memory) as cache:
        p = plan(X, y, sizes=sizes, cv=cv, estimators=estimators, unlabelled=unlabelled, sampling=sampling,
                 random_state=random_state, memory=cache, verbose=verbose)
        result = ComparisonResult(rows=[], methods=list(p.methods), sizes=list(p.sizes), metrics=metric_names,
                                  setup=_setup(p, cv, sampling, random_state, scoring), splits=_splits(p))
        if verbose:
            print(f"skulmfit compare: {len(p.labelled):,} labelled rows ({len(p.classes)} classes), "
                  f"{len(p.unlabelled):,} unlabelled; {len(p.folds)} folds; sizes {p.sizes}; "
                  f"{len(p.methods)} methods: {len(p.cells)} fits. Measuring the costs ...", file=sys.stderr)
        estimate = estimate_runtime(p.cells, p.methods, p.texts, p.y, p.labelled, seed=p.seed)
        result.estimate = estimate
        if verbose:
            print(f"skulmfit compare: {estimate.describe(n_jobs)}", file=sys.stderr)
        _run(p, result, estimate, scorer, metric_names, n_jobs, max_minutes, out, verbose, t_start)
    return result


def estimate(X: Any, y: Any, *, sizes: Any = None, cv: Any = 3, estimators: Mapping[str, Any] | None = None,
             unlabelled: Any = None, sampling: str = "balanced", random_state: Any = None,
             memory: Any = None) -> RuntimeEstimate:
    """The run-time estimate :func:`compare` makes with the same arguments, without comparing.

    The costs are measured on this machine (a few seconds: short LM and classifier steps of each
    architecture, a small real fit, each other estimator on a sample); see
    :mod:`skulmfit.runtime_estimate`.

    Returns
    -------
    RuntimeEstimate
        ``seconds`` (all fits, one at a time), ``by_size``, ``by_method``, ``describe()``.
    """
    with _cache_dir(memory) as cache:
        p = plan(X, y, sizes=sizes, cv=cv, estimators=estimators, unlabelled=unlabelled, sampling=sampling,
                 random_state=random_state, memory=cache)
        return estimate_runtime(p.cells, p.methods, p.texts, p.y, p.labelled, seed=p.seed)


def _setup(p: Plan, cv: Any, sampling: str, random_state: Any, scoring: Any) -> dict[str, Any]:
    counts = {str(c): int(sum(1 for i in p.labelled if str(p.y[i]) == str(c))) for c in p.classes}
    return {
        "n_labelled": int(len(p.labelled)), "n_unlabelled": int(len(p.unlabelled)),
        "n_unlabelled_from_y": int(np.sum(p.unlabelled < p.n_x)), "classes": [str(c) for c in p.classes],
        "class_counts": counts, "cv": cv if isinstance(cv, Integral) else repr(cv), "n_folds": len(p.folds),
        "sampling": sampling, "random_state": random_state if isinstance(random_state, (Integral, type(None)))
        else repr(random_state), "seed": p.seed,
        "scoring": list(scoring) if not isinstance(scoring, (str, Mapping)) else
        (scoring if isinstance(scoring, str) else list(scoring)),
        "methods": {name: {"estimator": _describe(est), "semi_supervised": semi}
                    for name, (est, semi) in p.methods.items()},
    }


def _describe(est: Any) -> str:
    """The estimator's repr without a temporary cache folder (it is gone after the call)."""
    text = repr(est)
    tmp = tempfile.gettempdir()
    if tmp in text:
        import re

        text = re.sub(rf"memory='{re.escape(tmp)}[^']*'", "memory=<temporary cache>", text)
    return " ".join(text.split())


def _splits(p: Plan) -> dict[str, Any]:
    """Row numbers (0-based positions in X; ``unlabelled=`` texts are not part of any split)."""
    return {"test": [t.tolist() for _, t in p.folds],
            "train": {str(s): [r.tolist() for r in rows] for s, rows in p.train.items()}}


def _run(p: Plan, result: ComparisonResult, estimate: RuntimeEstimate, scorer: Any, metric_names: list[str],
         n_jobs: int | None, max_minutes: float | None, out: Any, verbose: int, t_start: float) -> None:
    budget = None if max_minutes is None else 60.0 * float(max_minutes)
    predicted = dict(zip(range(len(p.cells)), estimate.cells))
    total = max(round(estimate.seconds, 1), 0.1)  # the bar counts estimated seconds, so its ETA weighs the fits
    bar = progress_bar(total=total, verbose=verbose, desc="compare", leave=True,
                       bar_format="{l_bar}{bar}| [{elapsed}<{remaining}]")
    shown = 0.0
    t_run = time.perf_counter()
    done_pred = done_real = 0.0
    try:
        for size in p.sizes:
            idx = [k for k, c in enumerate(p.cells) if c.size == size]
            ratio = min(3.0, max(0.5, done_real / done_pred)) if done_pred > 1.0 else 1.0
            need = ratio * sum(predicted[k] for k in idx)
            spent = time.perf_counter() - t_start
            if budget is not None and spent + need > budget:
                result.stopped = "max_minutes"
                result.stop_reason = (f"stopped before size {size}: it would need about {need / 60:.1f} min and "
                                      f"{max(budget - spent, 0) / 60:.1f} of the {max_minutes:g} min remain")
                break
            for k, row in _iter_cells(p, idx, scorer, metric_names, n_jobs, bar, size):
                result.rows.append(row)
                done_pred += predicted[k]
                done_real += row["fit_seconds"] + row["predict_seconds"]
                step = min(round(predicted[k], 1), round(total - shown, 1))
                shown += step
                bar.update(step)
                if budget is not None and time.perf_counter() - t_start > budget and k != idx[-1]:
                    result.stopped = "max_minutes"
                    result.stop_reason = (f"stopped during size {size}: the {max_minutes:g} min budget was spent "
                                          "(that size's finished fits are kept)")
                    break
            result.seconds = time.perf_counter() - t_run
            result.sort_rows()
            if out is not None:
                result.save(out, plot=False)
            if result.stopped:
                break
    except KeyboardInterrupt:
        result.stopped = "interrupted"
        result.stop_reason = f"interrupted (Ctrl-C) after {len(result.rows)} of {len(p.cells)} fits"
        result.seconds = time.perf_counter() - t_run
        result.sort_rows()
        bar.close()
        if out is not None:
            result.save(out)
        raise CompareInterrupted(result) from None
    bar.close()
    result.seconds = time.perf_counter() - t_run
    if out is not None:
        result.save(out)


def _iter_cells(p: Plan, idx: list[int], scorer: Any, metric_names: list[str], n_jobs: int | None, bar: Any,
                size: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(cell index, table row)`` as the fits of one size finish (in plan order when run one at a
    time; :meth:`ComparisonResult.sort_rows` restores it after parallel runs)."""
    if n_jobs in (None, 1) or len(idx) == 1:
        for k in idx:
            c = p.cells[k]
            bar.set_description(f"size {size}, fold {c.fold + 1}/{len(p.folds)}: {c.method}")
            yield k, _run_cell(p, c, scorer, metric_names)
        return
    from joblib import Parallel, delayed

    bar.set_description(f"size {size}: {len(idx)} fits, {n_jobs} at a time")
    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_indexed_cell)(p, k, scorer, metric_names) for k in idx)


def _indexed_cell(p: Plan, k: int, scorer: Any, metric_names: list[str]) -> tuple[int, dict[str, Any]]:
    return k, _run_cell(p, p.cells[k], scorer, metric_names)


def load_result(path: str | os.PathLike[str]) -> ComparisonResult:
    """Read a ``compare.json`` written by :meth:`ComparisonResult.save` (plain JSON; nothing is unpickled)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return ComparisonResult.from_dict(data)

