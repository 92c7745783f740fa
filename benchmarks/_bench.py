"""Helpers shared by the accuracy and speed benchmarks (pretraining_value, accuracy, low_shot,
ablations, speed): command-line options, class-balanced subsets, the TF-IDF baseline, dataset
loading, mean ± std, result rows and optional plots.

Import it AFTER ``_common.quiet_threads()`` (it imports torch through skulmfit).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import DATA, RESULTS

# Test error rates (%) of bidirectional ULMFiT in the paper (Howard & Ruder 2018, Tables 2 and 3).
PAPER_TEST_ERROR = {"trec6": 3.6, "imdb": 4.6, "ag": 5.01}

# Validation error rates (%) on TREC-6 (10% of the training set held out), unidirectional models,
# from Howard & Ruder 2018 (arXiv:1801.06146v5), Tables 4, 6 and 7.
PAPER_TREC6_VALID = {
    "table4": {"without pretraining": 10.67, "with pretraining": 5.69},
    "table6": {"no LM fine-tuning": 6.38, "full": 6.54, "full + discr": 6.36, "full + discr + stlr": 5.69},
    "table7": {"from scratch": 13.36, "full": 6.86, "full + discr": 6.21, "last": 16.09, "chain-thaw": 6.71,
               "freez": 6.86, "freez + discr": 5.86, "freez + stlr": 6.02, "freez + cos": 6.38,
               "ULMFiT (freez + discr + stlr)": 5.69},
}
PAPER_SOURCE = ("J. Howard and S. Ruder, Universal Language Model Fine-tuning for Text Classification, "
                "ACL 2018 (arXiv:1801.06146v5)")


# -- command line ------------------------------------------------------------------------------
def add_common_args(p: argparse.ArgumentParser, seeds: Sequence[int] | None = (0, 1, 2)) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes: a few minutes on 2 CPU cores")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tiny end-to-end check
    p.add_argument("--pretrained", default="default",
                   help="pretrained model: 'default' (shipped) or a skulmfit model file (default: %(default)s)")
    if seeds is not None:
        p.add_argument("--seeds", type=int, nargs="+", default=list(seeds), help="default: %(default)s")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a ULMFiTClassifier parameter for every ULMFiT run, e.g. --set drop_mult=0.5 "
                        "(repeatable; the value is a Python literal)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: %(default)s)")
    p.add_argument("--device", default="auto", help="ULMFiT device: auto, cpu, cuda, ... (default: %(default)s)")
    p.add_argument("--data", default=str(DATA), help="folder with the datasets (default: %(default)s)")
    p.add_argument("--name", default=None, help="results file name (default: the script's, + _quick/_smoke)")
    p.add_argument("--no-plot", action="store_true", help="do not draw PNG figures")
    p.add_argument("--resume", action="store_true",
                   help="reuse the runs that an earlier, interrupted run of the same benchmark finished "
                        "(each finished run is saved under results/cells/SCRIPT/, keyed by its estimator, "
                        "model files and data); the long full runs can so be spread over several sittings")


def add_sampling_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampling", choices=("balanced", "stratified"), default="balanced",
                   help="labelled subsets: class-balanced (the paper's, default) or stratified (the training set's "
                        "class proportions). On TREC-6, balanced subsets give ABBR 1/6 of the training rows but 1.8%% "
                        "of the test set, a prior shift that costs TF-IDF + LR 15-25 points of test error")


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``['drop_mult=0.5', 'epochs=10']`` -> ``{'drop_mult': 0.5, 'epochs': 10}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects PARAM=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def defaults_note(changed: dict[str, Any]) -> str:
    """``{}`` -> ``'library defaults'``; ``{'epochs': 6}`` -> ``"library defaults except {'epochs': 6}"``."""
    return f"library defaults except {changed}" if changed else "library defaults"


def result_name(base: str, args: argparse.Namespace) -> str:
    if args.name:
        return args.name
    return base + ("_smoke" if args.smoke else "_quick" if args.quick else "")


def setup_torch(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def pretrained_for_scratch_note(pretrained: Any) -> str | None:
    """``pretrained=None`` copies the architecture of the shipped default model: say so when
    ``pretrained`` is another file with different sizes (the comparison is then not like for like)."""
    if pretrained in (None, "default"):
        return None
    from skulmfit.modelfile import load_lm
    from skulmfit.pretrained import resolve_pretrained

    try:
        mine = load_lm(resolve_pretrained(pretrained, "fwd")).model.config
        ref = load_lm(resolve_pretrained("default", "fwd")).model.config
    except Exception as e:  # noqa: BLE001 - only a note
        return f"could not compare architectures: {e}"
    a = (mine.emb_size, mine.hidden_size, mine.n_layers)
    b = (ref.emb_size, ref.hidden_size, ref.n_layers)
    if a != b:
        return (f"WARNING: pretrained=None builds the shipped default model's architecture {b} (emb, hidden, "
                f"layers), not {a} of {pretrained}; the from-scratch rows are not the identical architecture")
    return None


# -- estimators -----------------------------------------------------------------------------------
def ulmfit_params(args: argparse.Namespace, seed: int, memory: Any = None, **variant: Any) -> dict[str, Any]:
    """ULMFiTClassifier parameters: pretrained/device/seed from ``args``, then ``--set`` overrides,
    then ``variant`` (the variant's defining parameters win over ``--set``)."""
    params: dict[str, Any] = {"pretrained": args.pretrained, "device": args.device, "random_state": seed,
                              "memory": memory}
    params.update(parse_sets(args.sets))
    params.update(variant)
    return params


def make_ulmfit(params: dict[str, Any]):
    from skulmfit import ULMFiTClassifier

    return ULMFiTClassifier(**params)


def tfidf_lr(seed: int):
    """The baseline of ``skulmfit demo``: TF-IDF word 1-2 grams (sublinear tf) + logistic regression (C=10)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(C=10.0, max_iter=2000, random_state=seed))


TFIDF_DESCRIPTION = ("TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) + "
                     "LogisticRegression(C=10, max_iter=2000), as in `skulmfit demo`; run with one BLAS thread")


def one_blas_thread():
    """Context: OpenBLAS (numpy/scipy) on one thread (see :func:`skulmfit.runtime_estimate.one_blas_thread`)."""
    from skulmfit.runtime_estimate import one_blas_thread as one

    return one()


def is_baseline(est: Any) -> bool:
    return type(est).__module__.startswith("sklearn")


# -- resumable runs -------------------------------------------------------------------------------
def _sha256_file(path: str | os.PathLike[str], _memo: dict[str, str] = {}) -> str:  # noqa: B006 - per-process memo
    """:func:`skulmfit.corpus.file_sha256`, computed once per file and process."""
    from skulmfit.corpus import file_sha256

    key = str(Path(path).resolve())
    if key not in _memo:
        _memo[key] = file_sha256(path)
    return _memo[key]


def data_digest(*parts: Any) -> str:
    """sha256 of texts / label arrays (their order matters)."""
    h = hashlib.sha256()
    for part in parts:
        for item in ([] if part is None else list(part)):
            h.update(repr(item).encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        h.update(b"\x1e")
    return h.hexdigest()


def describe_estimator(est: Any) -> dict[str, Any]:
    """What decides a run's result: the class, its parameters (``memory`` aside), and the sha256 of
    every pretrained model file it reads."""
    if is_baseline(est):
        return {"class": type(est).__name__, "repr": repr(est)}
    from skulmfit.pretrained import resolve_pretrained

    params = {k: v for k, v in est.get_params(deep=False).items() if k != "memory"}
    files = {}
    spec = params.get("pretrained")
    if spec is not None:
        files["fwd"] = _sha256_file(resolve_pretrained(spec, "fwd"))
        if params.get("bidirectional"):
            bwd = params.get("pretrained_bwd") or spec
            files["bwd"] = _sha256_file(resolve_pretrained(bwd, "bwd"))
    return {"class": type(est).__name__, "params": {k: repr(v) for k, v in sorted(params.items())},
            "model_files": files}


class Cells:
    """Finished runs of one benchmark script, one small JSON file each under ``results/cells/SCRIPT/``.

    The folder is tracked by git (unlike the LM caches under ``results/.cells/``), so a run of many
    hours spread over several sittings on different machines keeps every finished run once it is
    committed. Every run is saved when it finishes. With ``resume=True`` a run whose key (estimator, model
    files, data and label) was already saved is read back instead of run again, so a benchmark
    killed after hours continues where it stopped. Without ``resume`` every run is done afresh
    (and saved again).
    """

    def __init__(self, name: str, resume: bool, root: str | os.PathLike[str] = RESULTS) -> None:
        self.directory = Path(root) / "cells" / name
        self.resume = resume
        self.reused = 0
        self.ran = 0

    def run(self, key: dict[str, Any], fn: Any) -> dict[str, Any]:
        """``fn()`` -> result dict (without estimator objects), or the saved result for ``key``."""
        blob = json.dumps(key, sort_keys=True, default=str)
        path = self.directory / (hashlib.sha256(blob.encode()).hexdigest()[:24] + ".json")
        if self.resume and path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("key") == json.loads(blob):
                self.reused += 1
                return {**saved["result"], "resumed": True}
        result = fn()
        self.ran += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"key": json.loads(blob), "result": clean_rows([result])[0]}, default=str),
                       encoding="utf-8")
        os.replace(tmp, path)
        return result

    def summary(self) -> dict[str, Any]:
        return {"runs_done_now": self.ran, "runs_reused_from_earlier_sitting": self.reused}


def fit_eval(est: Any, X_train: Sequence[str], y_train: Any, X_test: Sequence[str], y_test: Any,
             cells: Cells | None = None, label: str = "") -> dict[str, Any]:
    """Fit, predict, return ``{"error": %, "fit_s", "predict_s"}`` (``est`` kept in ``"estimator"``,
    except for a run read back from ``cells``).

    scikit-learn baselines run with one BLAS thread (see :func:`one_blas_thread`)."""
    if cells is not None:
        key = {"label": label, "estimator": describe_estimator(est),
               "data": data_digest(X_train, y_train, X_test, y_test)}
        return cells.run(key, lambda: fit_eval(est, X_train, y_train, X_test, y_test))
    import contextlib

    with one_blas_thread() if is_baseline(est) else contextlib.nullcontext():
        t0 = time.perf_counter()
        est.fit(list(X_train), y_train)
        t1 = time.perf_counter()
        pred = est.predict(list(X_test))
        t2 = time.perf_counter()
    err = 100.0 * float(np.mean(np.asarray(pred, dtype=object) != np.asarray(y_test, dtype=object)))
    return {"error": err, "fit_s": t1 - t0, "predict_s": t2 - t1, "estimator": est}


def with_unlabelled(X: Sequence[str], y: Any, X_unlab: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Labelled rows then unlabelled rows with the label -1 (object array: str labels and int -1)."""
    yy = np.empty(len(X) + len(X_unlab), dtype=object)
    yy[: len(X)] = list(y)
    yy[len(X):] = -1
    return list(X) + list(X_unlab), yy


# -- subsets ------------------------------------------------------------------------------------
def balanced_quotas(counts: dict[Any, int], n: int) -> dict[Any, int]:
    """Per-class numbers summing to ``min(n, total)``, as equal as the class sizes allow.

    Classes too small for an equal share give all they have; the rest is shared by the others.
    Quotas only grow with ``n`` (so subsets drawn from fixed per-class orders are nested).
    Leftover units go to the classes in sorted order.
    """
    classes = sorted(counts, key=str)
    n = min(n, sum(counts.values()))
    quota = {c: 0 for c in classes}
    remaining = n
    while remaining > 0:
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


def proportional_quotas(counts: dict[Any, int], n: int) -> dict[Any, int]:
    """Per-class numbers proportional to the class sizes (largest remainder), summing to ``min(n, total)``."""
    classes = sorted(counts, key=str)
    total = sum(counts.values())
    n = min(n, total)
    exact = {c: n * counts[c] / total for c in classes}
    quota = {c: int(exact[c]) for c in classes}
    for c in sorted(classes, key=lambda c: (-(exact[c] - quota[c]), str(c)))[: n - sum(quota.values())]:
        quota[c] += 1
    return quota


class BalancedSampler:
    """Nested class-balanced subsets: one random order per class (fixed by ``seed``); the subset
    of size ``n`` takes each class's first ``quota`` rows, so a smaller subset is inside a larger one
    (``stratified=True``: quotas proportional to the class sizes instead of equal)."""

    def __init__(self, y: Any, seed: int, exclude: Iterable[int] = (), stratified: bool = False) -> None:
        self.quota_fn = proportional_quotas if stratified else balanced_quotas
        y = np.asarray(y, dtype=object)
        rng = np.random.default_rng(seed)
        ex = {int(i) for i in exclude}
        self.order = {}
        for c in sorted(set(y.tolist()), key=str):
            idx = np.array([i for i in np.flatnonzero(y == c) if i not in ex], dtype=np.int64)
            self.order[c] = idx[rng.permutation(len(idx))]
        self.seed = seed

    def indices(self, n: int) -> np.ndarray:
        quota = self.quota_fn({c: len(v) for c, v in self.order.items()}, n)
        idx = np.concatenate([self.order[c][: quota[c]] for c in self.order])
        rng = np.random.default_rng(self.seed + 7919 * n)  # shuffled so classes are mixed
        return idx[rng.permutation(len(idx))]

    def quotas(self, n: int) -> dict[str, int]:
        return {str(c): int(q) for c, q in self.quota_fn({c: len(v) for c, v in self.order.items()}, n).items()}


def stratified_indices(y: Any, n: int | None, seed: int) -> np.ndarray:
    """A stratified random subset of ``n`` rows (all rows, shuffled, when ``n`` is None or too big)."""
    y = np.asarray(y, dtype=object)
    rng = np.random.default_rng(seed)
    if n is None or n >= len(y):
        return rng.permutation(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.asarray(idx)


def take(X: Sequence[str], y: Any, idx: Iterable[int]) -> tuple[list[str], np.ndarray]:
    idx = list(idx)
    y = np.asarray(y, dtype=object)
    return [X[i] for i in idx], y[idx]


def class_counts(y: Any) -> dict[str, int]:
    vals, counts = np.unique(np.asarray(y, dtype=object).astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(vals, counts, strict=False)}


# -- datasets -----------------------------------------------------------------------------------
def load_trec_split() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    from skulmfit.datasets import load_trec

    X, y = load_trec("train", return_X_y=True)
    Xt, yt = load_trec("test", return_X_y=True)
    return list(X), np.asarray(y, dtype=object), list(Xt), np.asarray(yt, dtype=object)


def load_imdb_split(data: str | os.PathLike[str], unsup: bool = False):
    """``(X_train, y_train, X_test, y_test, X_unsup)``; ``X_unsup`` is None unless ``unsup``."""
    from skulmfit.datasets import load_imdb

    path = Path(data) / "imdb"
    X, y = load_imdb(path, "train", return_X_y=True)
    Xt, yt = load_imdb(path, "test", return_X_y=True)
    Xu = None
    if unsup:
        Xu, _ = load_imdb(path, "unsup", return_X_y=True)
        Xu = list(Xu)
    return list(X), np.asarray(y, dtype=object), list(Xt), np.asarray(yt, dtype=object), Xu


def load_ag_split(data: str | os.PathLike[str]):
    from skulmfit.datasets import load_ag_news_split

    X, Xt, y, yt = load_ag_news_split(Path(data) / "ag_news", random_state=0)
    return list(X), np.asarray(y, dtype=object), list(Xt), np.asarray(yt, dtype=object)


def load_mr_all(data: str | os.PathLike[str]):
    from skulmfit.datasets import load_mr

    X, y = load_mr(Path(data) / "mr", return_X_y=True)
    return list(X), np.asarray(y, dtype=object)


# -- statistics and formatting --------------------------------------------------------------------
def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1; None for fewer than two values)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    m = float(np.mean(vals))
    s = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return m, s


def pm(mean: float | None, std: float | None, digits: int = 2) -> str:
    if mean is None:
        return ""
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def f2(v: float | None, digits: int = 2) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def epoch_params(mode: str) -> dict[str, int]:
    """Epoch overrides per mode: smoke 1/1; quick 20 classifier epochs (the default 50 would not
    fit its time budget); full: none (library defaults)."""
    return {"smoke": {"lm_epochs": 1, "epochs": 1}, "quick": {"epochs": 20}}.get(mode, {})


def compute_note(runs: Sequence[dict[str, Any]], cells: Cells) -> str:
    """One line: the summed fit + predict time of ``runs`` and how many were read back with ``--resume``.

    Rows without a ``fit_s`` (skipped methods) are not runs and are left out. The wall time of a
    sitting that reads earlier runs back says nothing about the cost of the whole benchmark; this
    sum does (each run's own time, measured when it ran)."""
    runs = [r for r in runs if "fit_s" in r]
    secs = sum(float(r["fit_s"]) + float(r.get("predict_s") or 0.0) for r in runs)
    return (f"Compute: {len(runs)} runs, summed fit + predict time {secs / 60:.1f} min; "
            f"{cells.reused} of them read back from an earlier sitting (--resume), {cells.ran} run in this one.")


def clean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without estimator objects (for JSON)."""
    return [{k: v for k, v in r.items() if k != "estimator"} for r in rows]


def temp_memory(tag: str, resume: bool = False):
    """A joblib cache folder for the LM fine-tuning shared by the runs of one script: temporary,
    or with ``resume`` kept under ``results/.cells/TAG/lm-cache`` so a later sitting reuses it."""
    import contextlib
    import tempfile

    if resume:
        folder = RESULTS / ".cells" / tag / "lm-cache"
        folder.mkdir(parents=True, exist_ok=True)
        return contextlib.nullcontext(str(folder))
    return tempfile.TemporaryDirectory(prefix=f"skulmfit-bench-{tag}-")


def pyplot():
    """matplotlib.pyplot with the Agg backend, or None (with a note) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no PNG (pip install matplotlib)", file=sys.stderr)
        return None
    return plt


def png_path(name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS / f"{name}.png"


def log(msg: str) -> None:
    print(msg, flush=True)
