"""``skulmfit demo``: ULMFiT against a TF-IDF baseline on the bundled TREC-6 question data.

:func:`run_demo` fits :class:`~skulmfit.ULMFiTClassifier` (by default from the language model
shipped in the package) and TF-IDF word 1-2 grams + logistic regression on the TREC-6 training
questions (or a class-stratified subset), and scores both on the 500 test questions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

# 20 classifier epochs keep the demo under 3 minutes with the 60k-word default model: on TREC-6
# (all 5,452 questions, seed 0) it scored 3.8 % test error in 176 s wall on one free core of a
# loaded 2-core machine, against 4.40 % with the classifier's default 50 epochs.
DEFAULT_EPOCHS = 20
DEFAULT_LM_EPOCHS = 2


def stratified_subset(texts: list[str], y: np.ndarray, size: int | None, seed: int) -> tuple[list[str], np.ndarray]:
    """A class-stratified random subset of ``size`` rows (all rows when ``size`` is None or too large)."""
    if size is None or size >= len(texts):
        return list(texts), np.asarray(y)
    n_classes = len(np.unique(y))
    if size < n_classes:
        raise ValueError(f"--subset-size must be at least the number of classes ({n_classes}), got {size}")
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(texts)), train_size=size, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return [texts[i] for i in idx], np.asarray(y)[idx]


def run_demo(subset_size: int | None = None, pretrained: Any = "default", epochs: int = DEFAULT_EPOCHS,
             lm_epochs: int = DEFAULT_LM_EPOCHS, seed: int = 0, verbose: int = 1,
             device: str = "auto") -> dict[str, Any]:
    """Fit ULMFiT and TF-IDF + logistic regression on TREC-6 and score both on its test set.

    Parameters
    ----------
    subset_size : int or None, default=None
        Train on a class-stratified subset of this many training questions (None: all 5,452).
    pretrained : str or path, default='default'
        Pretrained language model for ULMFiT (a shipped name or a model file).
    epochs, lm_epochs : int
        Classifier epochs (gradual unfreezing) and LM fine-tuning epochs.
    seed : int
        Seeds the subset, ULMFiT and the logistic regression.
    verbose : int
        1: ULMFiT progress bars on stderr.
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'``, ...

    Returns
    -------
    dict
        ``n_train``, ``n_test``, ``results`` (a list of ``{"method", "accuracy", "fit_seconds"}``,
        ULMFiT first) and ``ulmfit_accuracy`` / ``tfidf_accuracy`` for convenience.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .classifier import ULMFiTClassifier
    from .datasets import load_trec

    if subset_size is not None and subset_size < 1:
        raise ValueError(f"--subset-size must be a positive number of questions, got {subset_size}")
    X_train, y_train = load_trec("train", return_X_y=True)
    X_test, y_test = load_trec("test", return_X_y=True)
    X_train, y_train = stratified_subset(X_train, y_train, subset_size, seed)
    y_train, y_test = y_train.astype(str), np.asarray(y_test).astype(str)

    clf = ULMFiTClassifier(pretrained=pretrained, epochs=epochs, lm_epochs=lm_epochs, random_state=seed,
                           verbose=verbose, device=device)
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    ulmfit_seconds = time.perf_counter() - t0
    ulmfit_acc = float(np.mean(clf.predict(X_test) == y_test))
    cfg = clf.models_["fwd"].encoder.config
    if pretrained is None:
        name = "random init"
    elif isinstance(pretrained, str) and "/" not in pretrained and os.sep not in pretrained \
            and not pretrained.endswith(".pt"):
        name = f"pretrained {pretrained!r}"
    else:
        name = Path(pretrained).name
    ulmfit_name = f"ULMFiT (AWD-LSTM {cfg.emb_size}/{cfg.hidden_size}/{cfg.n_layers}, {name})"

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(C=10.0, max_iter=2000, random_state=seed))
    t0 = time.perf_counter()
    tfidf.fit(X_train, y_train)
    tfidf_seconds = time.perf_counter() - t0
    tfidf_acc = float(np.mean(tfidf.predict(X_test) == y_test))

    return {
        "dataset": "TREC-6",
        "n_train": len(X_train),
        "n_test": len(X_test),
        "results": [
            {"method": ulmfit_name, "accuracy": ulmfit_acc, "fit_seconds": ulmfit_seconds},
            {"method": "TF-IDF word 1-2 grams + logistic regression", "accuracy": tfidf_acc,
             "fit_seconds": tfidf_seconds},
        ],
        "ulmfit_accuracy": ulmfit_acc,
        "tfidf_accuracy": tfidf_acc,
    }


def format_results(result: dict[str, Any]) -> str:
    """The table printed by ``skulmfit demo``."""
    rows = [(r["method"], f"{r['accuracy']:.3f}", f"{100 * (1 - r['accuracy']):.1f}", f"{r['fit_seconds']:.1f}")
            for r in result["results"]]
    head = ("method", "test accuracy", "error %", "fit seconds")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [f"{result['dataset']}: trained on {result['n_train']:,} questions, tested on {result['n_test']:,}",
           line(head), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)
