"""Run-time estimate of a comparison, from a cost model calibrated on this machine.

Before :func:`skulmfit.compare` starts, :func:`estimate_runtime` predicts how long each of its
fits (one method, one training size, one fold) will take:

* **ULMFiT** (:class:`~skulmfit.ULMFiTClassifier`): the fit is split into what it does —
  tokenizing every text passed to ``fit``; LM fine-tuning (``lm_epochs`` passes over those
  texts' tokens, once per distinct corpus: a fine-tuned LM found in the ``memory`` cache costs
  nothing); classifier fine-tuning (each unfreezing stage's epochs over the labelled documents,
  batched as ``fit`` batches them); the BatchNorm pass; prediction of the test fold. Each part is
  priced by a small measured model: seconds per LM column (one time step of the batch),
  ``a + c * batch_rows`` with the decoder's share of ``c`` scaled to the task vocabulary; seconds
  per padded classifier time step, again ``a + c * batch_rows``, trained and forward-only;
  seconds per character tokenized; and a fixed cost per fit (model file, vocabulary transfer,
  cache). :func:`measure_ulmfit_costs` measures these numbers with the model's own architecture
  (random weights and token ids: the cost does not depend on their values) at two batch sizes,
  so a bigger pretrained model or another machine is priced by its own measurement.
* **Any other estimator**: timed fitting a sample of the labelled rows and predicting a sample,
  then scaled linearly with the number of rows.

The estimate is an estimate: on a machine shared with other work it moves with the load. A
fine-tuned LM already in a cache kept from an earlier run (``memory=``) is priced as if it had to
be computed, and ``early_stopping=True`` is priced as if every epoch ran.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["RuntimeEstimate", "UlmfitCosts", "estimate_runtime", "measure_ulmfit_costs", "one_blas_thread"]

TOKENIZE_ALL_CHARS = 1_000_000  # tokenize every text below this many characters; a sample above
GENERIC_FIT_ROWS = 500
GENERIC_PREDICT_ROWS = 1000


@dataclass
class UlmfitCosts:
    """Measured costs of one AWD-LSTM architecture at one batch size on this machine (seconds).

    Attributes
    ----------
    lm_col : (float, float)
        LM fine-tuning: seconds per column (one time step of every row) = ``a + c * rows``,
        measured at vocabulary size ``lm_vocab``.
    lm_vocab : int
    lm_decoder_share : float
        Share of ``c`` spent in the decoder at ``lm_vocab`` (multiply-adds of the decoder over
        those of the LSTMs and decoder); the decoder's part scales with the task vocabulary.
    train_step, forward_step : (float, float)
        Classifier: seconds per padded time step of a batch = ``a + c * rows``, training every
        layer group and forward only (eval mode).
    tokenize_char : float
        Seconds per character tokenized.
    fit_overhead : float
        Seconds per ``fit`` outside the loops above.
    calibration_seconds : float
        How long the measurement took.
    """

    lm_col: tuple[float, float]
    lm_vocab: int
    lm_decoder_share: float
    train_step: tuple[float, float]
    forward_step: tuple[float, float]
    tokenize_char: float
    fit_overhead: float
    calibration_seconds: float = 0.0

    def lm_col_seconds(self, rows: int, vocab: int) -> float:
        a, c = self.lm_col
        scale = (1 - self.lm_decoder_share) + self.lm_decoder_share * vocab / max(self.lm_vocab, 1)
        return a + c * scale * rows


@dataclass
class RuntimeEstimate:
    """Predicted seconds of a comparison, per fit and in all.

    Attributes
    ----------
    cells : list of float
        Predicted seconds (fit + predict) of each fit, in run order.
    seconds : float
        Their sum: the predicted run time after the calibration (one fit at a time).
    by_size, by_method : dict
        The same sums per training size and per method.
    calibration_seconds : float
        Time spent measuring the costs (already spent when the estimate is shown).
    details : dict
        The measured costs per architecture and per other estimator (for the record).
    """

    cells: list[float]
    seconds: float
    by_size: dict[Any, float]
    by_method: dict[str, float]
    calibration_seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self, n_jobs: int | None = None) -> str:
        """One line: the total, then per size and per method."""
        sizes = ", ".join(f"{s}: {_fmt(v)}" for s, v in self.by_size.items())
        methods = ", ".join(f"{m} {_fmt(v)}" for m, v in self.by_method.items())
        line = (f"estimated run time {_fmt(self.seconds)} ({len(self.cells)} fits; per size {sizes}; "
                f"per method {methods})")
        if n_jobs not in (None, 1):
            line += f"; with n_jobs={n_jobs} at best about 1/{n_jobs} of that"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "calibration_seconds": self.calibration_seconds,
                "by_size": {str(k): v for k, v in self.by_size.items()}, "by_method": dict(self.by_method),
                "cells": list(self.cells), "details": self.details}


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


# -- text statistics -------------------------------------------------------------------------------
@dataclass
class _TextStats:
    """Token counts per text (measured, or predicted from the characters) and vocabulary sizes."""

    chars: np.ndarray
    lengths: np.ndarray  # tokens per text (with xxbos)
    tokenized: dict[int, list[str]]  # the texts actually tokenized
    all_tokenized: bool
    heaps: tuple[float, float] | None  # (log k, beta) of V(tokens) when only a sample was tokenized

    def vocab_size(self, positions: np.ndarray, max_vocab: int, min_freq: int) -> int:
        from .tokenizer import SPECIAL_TOKENS

        if self.all_tokenized:
            counts: Counter[str] = Counter()
            for i in positions:
                counts.update(self.tokenized[int(i)])
            n = sum(1 for w, c in counts.items() if c >= min_freq and w not in SPECIAL_TOKENS)
            return min(max_vocab, n + len(SPECIAL_TOKENS))
        assert self.heaps is not None
        tokens = float(self.lengths[positions].sum())
        logk, beta = self.heaps
        return int(min(max_vocab, math.exp(logk) * max(tokens, 1.0) ** beta + len(SPECIAL_TOKENS)))


def _text_stats(texts: Sequence[str], tokenizer: Any, seed: int, min_freq: int) -> tuple[_TextStats, float]:
    """Tokenize every text (or a random sample of about :data:`TOKENIZE_ALL_CHARS` characters);
    returns the statistics and the measured seconds per character."""
    chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    total = int(chars.sum())
    if total <= TOKENIZE_ALL_CHARS:
        sample = np.arange(len(texts))
    else:
        order = np.random.default_rng(seed).permutation(len(texts))
        stop = int(np.searchsorted(np.cumsum(chars[order]), TOKENIZE_ALL_CHARS)) + 1
        sample = np.sort(order[:max(stop, min(len(texts), 50))])
    t0 = time.perf_counter()
    tokenized = {int(i): tokenizer.tokenize(texts[int(i)]) for i in sample}
    seconds = time.perf_counter() - t0
    per_char = seconds / max(int(chars[sample].sum()), 1)
    lengths = np.empty(len(texts), dtype=np.int64)
    measured = np.array([len(tokenized[int(i)]) for i in sample], dtype=np.int64)
    lengths[sample] = measured
    all_tokenized = len(sample) == len(texts)
    heaps = None
    if not all_tokenized:
        ratio = float((measured - 1).sum()) / max(int(chars[sample].sum()), 1)
        rest = np.setdiff1d(np.arange(len(texts)), sample)
        lengths[rest] = 1 + np.maximum(1, np.round(chars[rest] * ratio)).astype(np.int64)
        heaps = _fit_heaps([tokenized[int(i)] for i in sample], min_freq)
    return _TextStats(chars, lengths, tokenized, all_tokenized, heaps), per_char


def _fit_heaps(docs: list[list[str]], min_freq: int) -> tuple[float, float]:
    """Heaps' law ``V = k * tokens ** beta`` for the vocabulary (tokens seen ``min_freq`` times),
    fitted on the first quarter, half and all of ``docs``."""
    points = []
    for frac in (0.25, 0.5, 1.0):
        part = docs[: max(1, int(len(docs) * frac))]
        counts: Counter[str] = Counter()
        for d in part:
            counts.update(d)
        v = sum(1 for c in counts.values() if c >= min_freq)
        points.append((math.log(max(sum(len(d) for d in part), 2)), math.log(max(v, 1))))
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    beta = float(np.clip(np.polyfit(xs, ys, 1)[0], 0.3, 1.0)) if np.ptp(xs) > 0 else 0.7
    return float(ys[-1] - beta * xs[-1]), beta


# -- ULMFiT costs ----------------------------------------------------------------------------------
def _solve(totals: Sequence[float], s1: Sequence[float], s2: Sequence[float]) -> tuple[float, float]:
    """``(a, c)`` with ``total = a * s1 + c * s2`` from two measurements, both >= 0."""
    if len(totals) == 1 or abs(s1[0] * s2[1] - s1[1] * s2[0]) < 1e-12:
        return totals[0] / max(s1[0], 1e-12), 0.0
    a, c = np.linalg.solve(np.array([[s1[0], s2[0]], [s1[1], s2[1]]]), np.array(totals))
    if a < 0:
        return 0.0, totals[0] / s2[0]
    if c < 0:
        return totals[0] / s1[0], 0.0
    return float(a), float(c)


def _batch_sums(batches: Sequence[np.ndarray], lengths: np.ndarray) -> tuple[float, float]:
    """``(sum of padded lengths, sum of padded lengths * rows)`` over the batches."""
    s1 = s2 = 0.0
    for b in batches:
        pad = float(lengths[b].max())
        s1 += pad
        s2 += pad * len(b)
    return s1, s2


def _lstm_macs(emb: int, hidden: int, n_layers: int) -> float:
    sizes = [emb] + [hidden] * (n_layers - 1) + [emb]
    return float(sum(4 * sizes[i + 1] * (sizes[i] + sizes[i + 1]) for i in range(n_layers)))


def measure_ulmfit_costs(config: Mapping[str, Any], vocab_size: int, lengths: np.ndarray, *, batch_size: int = 64,
                         bptt: int = 70, max_len: int = 1400, device: Any = "cpu", seed: int = 0) -> UlmfitCosts:
    """Measure LM and classifier step costs of an AWD-LSTM architecture on this machine.

    Parameters
    ----------
    config : mapping
        ``emb_size``, ``hidden_size``, ``n_layers`` (and optionally the dropouts) of the model.
    vocab_size : int
        Task vocabulary size for the LM measurement (the decoder's cost grows with it).
    lengths : array of int
        Token counts of typical documents (the classifier is timed on documents of these lengths).
    batch_size, bptt, max_len, device, seed
        As in :class:`~skulmfit.ULMFiTClassifier`.

    Returns
    -------
    UlmfitCosts
        ``tokenize_char`` and ``fit_overhead`` are left at 0 (measured by the caller).
    """
    import torch

    from .clf_training import ClfSettings, predict_logits, train_classifier
    from .data import sorted_batches, sortish_batches
    from .devices import resolve_device
    from .lm_training import LMTrainConfig, LMTrainer
    from .model import AWDLSTMConfig, LanguageModel, SequenceClassifier

    t_start = time.perf_counter()
    dev = resolve_device(device)
    keys = ("emb_size", "hidden_size", "n_layers", "embed_p", "input_p", "hidden_p", "weight_p", "output_p")
    cfg = AWDLSTMConfig(vocab_size=int(vocab_size), pad_idx=1, **{k: config[k] for k in keys if k in config})
    rng = np.random.default_rng(seed)
    sizes = sorted({int(batch_size), max(1, int(batch_size) // 8)}, reverse=True)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        lm = LanguageModel(cfg).to(dev)
        # LM: seconds per column at two batch sizes (after one warm-up step each)
        col_seconds = []
        for rows in sizes:
            ids = rng.integers(2, vocab_size, size=rows * bptt * 8 + 2)
            trainer = LMTrainer(lm, ids, LMTrainConfig(batch_size=rows, bptt=bptt, epochs=1, seed=seed), dev)
            trainer.train_step()
            _sync(dev)
            t0, before, steps = time.perf_counter(), trainer.progress, 0
            while steps < 2 or (time.perf_counter() - t0 < 0.5 and steps < 6 and not trainer.done):
                trainer.train_step()
                steps += 1
            _sync(dev)
            col_seconds.append((time.perf_counter() - t0) / max(trainer.progress - before, 1))
        lm_col = _solve(col_seconds, [1.0] * len(sizes), [float(r) for r in sizes])
        macs_lstm = _lstm_macs(cfg.emb_size, cfg.hidden_size, cfg.n_layers)
        macs_dec = float(cfg.emb_size * vocab_size)
        # classifier: an epoch of training (every group trainable) and a forward pass, at two batch sizes
        clf = SequenceClassifier(cfg, 2)
        clf.encoder.load_state_dict(lm.encoder.state_dict())
        n_docs = max(2 * sizes[0], 16)
        lens = np.maximum(2, rng.choice(np.asarray(lengths), size=n_docs, replace=True))
        docs = [rng.integers(2, vocab_size, size=int(n)).astype(np.int64) for n in lens]
        target = np.arange(n_docs) % 2
        train_totals, train_s1, train_s2, fwd_totals, fwd_s1, fwd_s2 = [], [], [], [], [], []
        warm = ClfSettings(epochs=1, unfreeze="all", batch_size=sizes[-1], bptt=bptt, max_len=max_len)
        train_classifier(clf, docs[: 2 * sizes[-1] + 1], target[: 2 * sizes[-1] + 1], warm, dev,
                         np.random.default_rng(seed))
        for rows in sizes:
            settings = ClfSettings(epochs=1, unfreeze="all", batch_size=rows, bptt=bptt, max_len=max_len)
            hist, _ = train_classifier(clf, docs, target, settings, dev, np.random.default_rng(seed + rows))
            s1, s2 = _batch_sums(sortish_batches(lens, rows, np.random.default_rng(seed + rows)), lens)
            train_totals.append(float(hist[0]["seconds"]))
            train_s1.append(s1)
            train_s2.append(s2)
            _sync(dev)
            t0 = time.perf_counter()
            predict_logits(clf, docs, dev, rows, bptt, max_len)
            _sync(dev)
            fwd_totals.append(time.perf_counter() - t0)
            s1, s2 = _batch_sums(sorted_batches(lens, rows), lens)
            fwd_s1.append(s1)
            fwd_s2.append(s2)
    return UlmfitCosts(
        lm_col=lm_col, lm_vocab=int(vocab_size), lm_decoder_share=macs_dec / (macs_dec + macs_lstm),
        train_step=_solve(train_totals, train_s1, train_s2), forward_step=_solve(fwd_totals, fwd_s1, fwd_s2),
        tokenize_char=0.0, fit_overhead=0.0, calibration_seconds=time.perf_counter() - t_start,
    )


def _sync(dev: Any) -> None:
    if getattr(dev, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(dev)


def _architecture(params: Mapping[str, Any]) -> dict[str, Any]:
    """The AWD-LSTM config a ULMFiTClassifier with ``params`` trains (the shipped default's
    for ``pretrained=None``, as :func:`skulmfit.finetune.scratch_config` does)."""
    from .modelfile import load_lm
    from .pretrained import resolve_pretrained

    spec = params["pretrained"]
    try:
        path = resolve_pretrained("default" if spec is None else spec, "fwd")
    except ValueError:
        if spec is not None:
            raise
        return {"emb_size": 400, "hidden_size": 1150, "n_layers": 3}  # the paper's, as scratch_config
    return load_lm(path).model.config.to_dict()


class _UlmfitModel:
    """Prices the fits of one ULMFiTClassifier configuration."""

    def __init__(self, params: Mapping[str, Any], costs: UlmfitCosts, n_layers: int) -> None:
        self.p = dict(params)
        self.costs = costs
        self.n_groups = n_layers + 2
        self.directions = 2 if params["bidirectional"] else 1

    def lm_seconds(self, stats: _TextStats, rows: np.ndarray) -> float:
        p = self.p
        if p["lm_epochs"] < 1:
            return 0.0
        total = int(stats.lengths[rows].sum())
        b = max(1, min(p["batch_size"], (total - 1) // max(2 * p["bptt"], 4)))
        cols = (total - 1) // b
        if cols < 2:
            return 0.0
        vocab = stats.vocab_size(rows, p["max_vocab"], p["min_freq"])
        return self.directions * p["lm_epochs"] * cols * self.costs.lm_col_seconds(b, vocab)

    def classifier_seconds(self, lengths: np.ndarray, seed: int) -> float:
        from .clf_training import unfreeze_stages
        from .data import sorted_batches, sortish_batches

        p = self.p
        if len(lengths) == 0:
            return 0.0
        s1, s2 = _batch_sums(sortish_batches(lengths, p["batch_size"], np.random.default_rng(seed)), lengths)
        ta, tc = self.costs.train_step
        fa, fc = self.costs.forward_step
        full, fwd = ta * s1 + tc * s2, fa * s1 + fc * s2
        total = 0.0
        for trainable, n_epochs in unfreeze_stages(self.n_groups, p["unfreeze"], p["epochs"]):
            frac = (self.n_groups - 1 - min(trainable)) / (self.n_groups - 1)
            total += n_epochs * (fwd + (full - fwd) * frac)
        b1, b2 = _batch_sums(sorted_batches(lengths, p["batch_size"]), lengths)
        return self.directions * (total + fa * b1 + fc * b2)  # + the BatchNorm pass

    def predict_seconds(self, stats: _TextStats, rows: np.ndarray) -> float:
        from .data import sorted_batches

        lengths = stats.lengths[rows]
        fa, fc = self.costs.forward_step
        s1, s2 = _batch_sums(sorted_batches(lengths, self.p["batch_size"]), lengths)
        return self.costs.tokenize_char * float(stats.chars[rows].sum()) + self.directions * (fa * s1 + fc * s2)


def _lm_key(params: Mapping[str, Any], rows: np.ndarray, n_unique: int) -> tuple[Any, ...]:
    """Identity of an LM fine-tuning run as the ``memory`` cache sees it (a unique key when the
    estimator has no fixed ``random_state`` or no cache)."""
    if params.get("memory") is None or not isinstance(params.get("random_state"), (int, np.integer)):
        return ("unique", n_unique)
    lm = tuple((k, repr(params[k])) for k in ("pretrained", "pretrained_bwd", "lm_epochs", "lm_lr", "lm_lr_decay",
                                               "lm_schedule", "lm_drop_mult", "batch_size", "bptt", "cut_frac",
                                               "ratio", "max_vocab", "min_freq", "random_state", "bidirectional"))
    return lm, hashlib.sha1(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()


def _time_generic(estimator: Any, texts: Sequence[str], y: np.ndarray, labelled: np.ndarray,
                  seed: int) -> tuple[float, float]:
    """Seconds per training row and per predicted row of ``estimator``, on samples of the labelled rows."""
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    order = labelled[rng.permutation(len(labelled))]
    # a sample holding every class (the first row of each class first)
    _, first = np.unique(np.asarray([str(v) for v in y[order]]), return_index=True)
    rest = np.setdiff1d(np.arange(len(order)), first)
    fit_rows = order[np.concatenate([first, rest])[: max(GENERIC_FIT_ROWS, len(first))]]
    pred_rows = order[:GENERIC_PREDICT_ROWS]
    est = clone(estimator)
    t0 = time.perf_counter()
    est.fit([texts[i] for i in fit_rows], _labels(y, fit_rows))
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    est.predict([texts[i] for i in pred_rows])
    t_pred = time.perf_counter() - t0
    return t_fit / len(fit_rows), t_pred / len(pred_rows)


def one_blas_thread() -> Any:
    """Context: numpy's and scipy's BLAS (OpenBLAS) on one thread, as every fit of a comparison runs.

    OpenBLAS's spinning worker threads made TF-IDF + LogisticRegression 30-100x slower on a busy
    2-core machine (200 TREC-6 questions: 3.6-9.5 s against 0.06-0.13 s; 1,000: 7-17 s against
    0.4 s); one thread costs little on text features. torch's own threads are not affected.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _labels(y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    vals = [y[i] for i in rows]
    if all(isinstance(v, str) for v in vals):
        return np.asarray(vals, dtype=str)
    return np.asarray(vals)


def _measure_overhead(params: Mapping[str, Any], costs: UlmfitCosts, stats: _TextStats, texts: Sequence[str],
                      positions: np.ndarray, n_layers: int, seed: int) -> float:
    """Seconds of a small real ``fit`` that the loops do not explain (model file, vocabulary, cache)."""
    from .classifier import ULMFiTClassifier

    small = dict(params)
    small.update(lm_epochs=min(1, params["lm_epochs"]), epochs=1, unfreeze="all", verbose=0, random_state=seed,
                 early_stopping=False, warm_start=False, bidirectional=False)
    rows = positions[: max(16, 2 * params["batch_size"])]
    labels = np.asarray(["a", "b"])[np.arange(len(rows)) % 2]
    with tempfile.TemporaryDirectory(prefix="skulmfit-estimate-") as tmp:
        small["memory"] = tmp
        clf = ULMFiTClassifier(**small)
        t0 = time.perf_counter()
        clf.fit([texts[i] for i in rows], labels)
        total = time.perf_counter() - t0
    model = _UlmfitModel(small, costs, n_layers)
    explained = (costs.tokenize_char * float(stats.chars[rows].sum()) + model.lm_seconds(stats, rows)
                 + model.classifier_seconds(stats.lengths[rows], seed))
    return max(0.0, total - explained)


def estimate_runtime(cells: Sequence[Any], methods: Mapping[str, tuple[Any, bool]], texts: Sequence[str],
                     y: np.ndarray, labelled: np.ndarray, *, seed: int = 0) -> RuntimeEstimate:
    """Predict the seconds of each fit of a comparison.

    Parameters
    ----------
    cells : sequence
        The fits, in run order: objects with ``size``, ``method`` (a name in ``methods``),
        ``train`` (labelled positions), ``fit_rows`` (all positions passed to ``fit``, in order)
        and ``test`` (positions predicted).
    methods : mapping
        ``name -> (estimator, semi_supervised)``.
    texts : sequence of str
        Every text; the positions index into it.
    y : array
        Labels aligned with ``texts`` (-1 for unlabelled rows).
    labelled : array of int
        Positions of the labelled rows.
    seed : int

    Returns
    -------
    RuntimeEstimate
    """
    with one_blas_thread():  # as the fits will run
        return _estimate(cells, methods, texts, y, labelled, seed)


def _estimate(cells: Sequence[Any], methods: Mapping[str, tuple[Any, bool]], texts: Sequence[str], y: np.ndarray,
              labelled: np.ndarray, seed: int) -> RuntimeEstimate:
    from .classifier import ULMFiTClassifier
    from .modelfile import load_lm
    from .pretrained import resolve_pretrained

    t_start = time.perf_counter()
    ulmfit = {name: est for name, (est, _) in methods.items() if isinstance(est, ULMFiTClassifier)}
    stats = None
    details: dict[str, Any] = {}
    models: dict[str, _UlmfitModel] = {}
    if ulmfit:
        from .tokenizer import Tokenizer

        tokenizer = Tokenizer()
        for est in ulmfit.values():
            if est.pretrained is not None:
                tokenizer = load_lm(resolve_pretrained(est.pretrained, "fwd")).tokenizer
                break
        min_freq = min(est.min_freq for est in ulmfit.values())
        stats, per_char = _text_stats(texts, tokenizer, seed, min_freq)
        every = np.unique(np.concatenate([np.asarray(c.fit_rows) for c in cells]))
        by_arch: dict[tuple[Any, ...], UlmfitCosts] = {}
        for name, est in ulmfit.items():
            p = est.get_params(deep=False)
            arch = _architecture(p)
            key = (arch["emb_size"], arch["hidden_size"], arch["n_layers"], p["batch_size"], p["bptt"],
                   p["max_len"], str(p["device"]))
            if key not in by_arch:
                vocab = stats.vocab_size(every, p["max_vocab"], p["min_freq"])
                costs = measure_ulmfit_costs(arch, vocab, stats.lengths[every], batch_size=p["batch_size"],
                                             bptt=p["bptt"], max_len=p["max_len"], device=p["device"], seed=seed)
                costs.tokenize_char = per_char
                costs.fit_overhead = _measure_overhead(p, costs, stats, texts, labelled, arch["n_layers"], seed)
                by_arch[key] = costs
                details[f"AWD-LSTM {arch['emb_size']}/{arch['hidden_size']}/{arch['n_layers']}, batch "
                        f"{p['batch_size']}"] = {
                    "lm_seconds_per_column": list(costs.lm_col), "lm_vocab": costs.lm_vocab,
                    "lm_decoder_share": costs.lm_decoder_share, "train_seconds_per_step": list(costs.train_step),
                    "forward_seconds_per_step": list(costs.forward_step),
                    "tokenize_seconds_per_char": costs.tokenize_char, "fit_overhead_seconds": costs.fit_overhead,
                }
            models[name] = _UlmfitModel(p, by_arch[key], arch["n_layers"])
    generic: dict[str, tuple[float, float]] = {}
    for name, (est, _) in methods.items():
        if name not in models:
            generic[name] = _time_generic(est, texts, y, labelled, seed)
            details[name] = {"fit_seconds_per_row": generic[name][0], "predict_seconds_per_row": generic[name][1]}
    seconds: list[float] = []
    seen_lm: set[tuple[Any, ...]] = set()
    for k, cell in enumerate(cells):
        fit_rows, train, test = np.asarray(cell.fit_rows), np.asarray(cell.train), np.asarray(cell.test)
        if cell.method in models:
            assert stats is not None
            m = models[cell.method]
            key = _lm_key(m.p, fit_rows, k)
            lm = 0.0 if key in seen_lm else m.lm_seconds(stats, fit_rows)
            seen_lm.add(key)
            s = (m.costs.fit_overhead * m.directions + m.costs.tokenize_char * float(stats.chars[fit_rows].sum())
                 + lm + m.classifier_seconds(stats.lengths[train], seed + k) + m.predict_seconds(stats, test))
        else:
            fit_rate, pred_rate = generic[cell.method]
            s = fit_rate * len(fit_rows) + pred_rate * len(test)
        seconds.append(float(s))
    by_size: dict[Any, float] = {}
    by_method: dict[str, float] = {}
    for cell, s in zip(cells, seconds):
        by_size[cell.size] = by_size.get(cell.size, 0.0) + s
        by_method[cell.method] = by_method.get(cell.method, 0.0) + s
    return RuntimeEstimate(seconds, float(sum(seconds)), by_size, by_method, time.perf_counter() - t_start, details)
