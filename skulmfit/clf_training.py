"""Classifier fine-tuning (ULMFiT stage 3) and batched prediction.

Unfreezing strategies (the paper's Table 7):

* ``'gradual'``: train the top group for one epoch, then unfreeze the next lower group and
  repeat; once all groups are unfrozen, train the remaining epochs (at least one).
* ``'all'``: train every group for all epochs ("full").
* ``'last'``: train only the classifier head ("last layer").
* ``'chain_thaw'`` (Felbo et al., 2017): train the head, then each lower group alone from the
  bottom up, one epoch each, then everything for the remaining epochs (at least one).

Each stage runs its own learning-rate schedule; groups below the top get discriminative rates.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import pad_batch, sorted_batches, sortish_batches
from .exceptions import TrainingDivergedError
from .model import SequenceClassifier
from .precision import autocast, grad_scaler, resolve_precision
from .progress import progress_bar
from .schedules import discriminative_lrs, get_schedule

UNFREEZE = ("gradual", "all", "last", "chain_thaw")


@dataclass
class ClfSettings:
    epochs: int = 6
    lr: float = 0.01
    lr_decay: float = 1.6  # ULMFiTClassifier's default
    schedule: str = "stlr"
    cut_frac: float = 0.1
    ratio: float = 32.0
    batch_size: int = 64
    bptt: int = 70
    max_len: int = 1400
    drop_mult: float = 1.0
    weight_decay: float = 0.01
    clip: float | None = None
    unfreeze: str = "gradual"
    early_stopping: bool = False
    n_iter_no_change: int = 3
    precision: str = "auto"  # training only (skulmfit.precision); 'auto' = float32 for the classifier


def unfreeze_stages(n_groups: int, strategy: str, epochs: int) -> list[tuple[list[int], int]]:
    """``[(trainable group indices, epochs), ...]`` for a strategy; groups are bottom-to-top.

    >>> unfreeze_stages(3, "gradual", 4)
    [([2], 1), ([1, 2], 1), ([0, 1, 2], 2)]
    >>> unfreeze_stages(3, "chain_thaw", 4)
    [([2], 1), ([0], 1), ([1], 1), ([0, 1, 2], 1)]
    """
    top = n_groups - 1
    if strategy == "all":
        return [(list(range(n_groups)), epochs)]
    if strategy == "last":
        return [([top], epochs)]
    if strategy == "gradual":
        stages = [(list(range(top - k, n_groups)), 1) for k in range(n_groups - 1)]
        return stages + [(list(range(n_groups)), max(1, epochs - (n_groups - 1)))]
    if strategy == "chain_thaw":
        stages = [([top], 1)] + [([g], 1) for g in range(top)]
        return stages + [(list(range(n_groups)), max(1, epochs - n_groups))]
    raise ValueError(f"unfreeze must be one of {UNFREEZE}, got {strategy!r}")


def _loss(logits: torch.Tensor, target: torch.Tensor, multilabel: bool, weight: torch.Tensor | None,
          weight_scale: float | None = None) -> torch.Tensor:
    """Mean (class-weighted) loss of a batch.

    With ``weight`` and ``weight_scale`` the per-row losses ``w[y_i] * l_i`` are summed and divided
    by ``len(batch) * weight_scale``, where ``weight_scale`` is the mean class weight over the whole
    training set: an unbiased minibatch estimate of the training set's weighted mean loss. Without
    ``weight_scale`` the batch is normalised by its own weights (``F.cross_entropy(weight=...)``),
    which is exact for a whole set (validation) but lets a small batch that lacks the heavily
    weighted classes count as much as one full of them.
    """
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=None)
    if weight is None or weight_scale is None:
        return F.cross_entropy(logits, target, weight=weight)
    return F.cross_entropy(logits, target, weight=weight, reduction="sum") / (len(target) * weight_scale)


def train_classifier(model: SequenceClassifier, docs: Sequence[np.ndarray], target: np.ndarray, settings: ClfSettings,
                     device: torch.device, rng: np.random.Generator, multilabel: bool = False,
                     class_weight: np.ndarray | None = None,
                     valid: tuple[Sequence[np.ndarray], np.ndarray] | None = None, score_fn: Any = None,
                     verbose: int = 0, direction: str = "fwd") -> tuple[list[dict[str, Any]], int]:
    """Fine-tune ``model`` on numericalised ``docs``; returns ``(history, epochs_run)``.

    With ``settings.early_stopping`` and ``valid``, training stops after
    ``n_iter_no_change`` epochs without a better validation score and the best weights are restored.
    """
    model.to(device)
    model.set_drop_mult(settings.drop_mult)
    pad = model.encoder.config.pad_idx
    groups = model.layer_groups()
    all_lrs = discriminative_lrs(settings.lr, len(groups), settings.lr_decay)
    schedule = get_schedule(settings.schedule, settings.cut_frac, settings.ratio)
    weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32, device=device)
    # The training set's mean row weight: batches are normalised by it, not by their own weights.
    weight_scale = None if weight is None or multilabel else float(np.mean(np.asarray(class_weight)[target]))
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    amp_dtype = resolve_precision(settings.precision, device, "clf")
    scaler = grad_scaler(device, amp_dtype)
    history: list[dict[str, Any]] = []
    best_score, best_state, since_best, epochs_run, calibrated = -np.inf, None, 0, 0, False
    stages = unfreeze_stages(len(groups), settings.unfreeze, settings.epochs)
    stop = False
    for stage_idx, (trainable, n_epochs) in enumerate(stages):
        for g, params in enumerate(groups):
            for p in params:
                p.requires_grad_(g in trainable)
        optimizer = torch.optim.AdamW(
            [{"params": groups[g], "lr": all_lrs[g]} for g in trainable],
            betas=(0.7, 0.99), weight_decay=settings.weight_decay,
        )
        base_lrs = [all_lrs[g] for g in trainable]
        total = n_epochs * len(docs)
        seen = 0
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            model.train()
            batches = sortish_batches(lengths, settings.batch_size, rng)
            bar = progress_bar(total=len(batches), verbose=verbose, unit="batch",
                               desc=f"classifier {direction} stage {stage_idx + 1}/{len(stages)}")
            run_loss, n_seen = 0.0, 0
            for idx in batches:
                ids, lens = pad_batch([docs[i] for i in idx], pad)
                y = torch.as_tensor(target[idx], device=device)
                for g, base in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = schedule(seen, total, base)
                with autocast(device, amp_dtype):
                    logits = model(ids.to(device), lens.to(device), settings.bptt, settings.max_len)
                loss = _loss(logits.float(), y, multilabel, weight, weight_scale)
                if not torch.isfinite(loss):
                    raise TrainingDivergedError(
                        f"classifier loss became {float(loss.detach())} in stage {stage_idx + 1} after "
                        f"{seen} examples; try a lower learning rate (lr={settings.lr})"
                    )
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:  # float16: scaled loss, unscaled gradients before clipping
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if settings.clip:
                    nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                seen += len(idx)
                run_loss += float(loss.detach()) * len(idx)
                n_seen += len(idx)
                bar.update(1)
                if verbose:
                    bar.set_postfix(loss=f"{run_loss / n_seen:.3f}")
            epochs_run += 1
            record: dict[str, Any] = {
                "stage": "classifier", "direction": direction, "unfreeze_stage": stage_idx + 1,
                "trainable_groups": list(trainable), "epoch": epochs_run, "train_loss": run_loss / max(n_seen, 1),
                "lr": settings.lr, "seconds": time.perf_counter() - t0,
            }
            calibrated = False
            if valid is not None and score_fn is not None:
                calibrated = recalibrate_batchnorm(model, docs, device, settings.batch_size, settings.bptt,
                                                   settings.max_len)
                vlogits = predict_logits(model, valid[0], device, settings.batch_size, settings.bptt, settings.max_len)
                record["valid_loss"] = float(_loss(torch.as_tensor(vlogits), torch.as_tensor(valid[1]), multilabel,
                                                   None if weight is None else weight.cpu()))
                record["valid_score"] = float(score_fn(vlogits, valid[1]))
                if verbose:
                    bar.set_postfix(loss=f"{record['train_loss']:.3f}", valid_loss=f"{record['valid_loss']:.3f}",
                                    valid_score=f"{record['valid_score']:.3f}")
                if settings.early_stopping:
                    if record["valid_score"] > best_score:
                        best_score, since_best = record["valid_score"], 0
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        since_best += 1
                        stop = since_best >= settings.n_iter_no_change
            bar.close()
            history.append(record)
            if stop:
                break
        if stop:
            break
    for p in model.parameters():
        p.requires_grad_(True)
    if best_state is not None:
        model.load_state_dict(best_state)  # saved right after its recalibration
    elif not calibrated:
        recalibrate_batchnorm(model, docs, device, settings.batch_size, settings.bptt, settings.max_len)
    model.eval()
    return history, epochs_run


@torch.no_grad()
def recalibrate_batchnorm(model: SequenceClassifier, docs: Sequence[np.ndarray], device: torch.device,
                          batch_size: int, bptt: int, max_len: int) -> bool:
    """Recompute the head's BatchNorm statistics on ``docs`` as the model will see them at prediction.

    During training the running statistics are an exponential average (momentum 0.1) of batch
    statistics taken under dropout while the encoder changes; after the few dozen steps of a small
    dataset they are still dominated by their initial values (mean 0, variance 1) or lag behind the
    last unfreezing stage, and predictions in eval mode collapse. This pass (encoder and dropouts in
    eval mode, BatchNorm taking batch statistics, cumulative average) replaces them by the statistics
    of the trained model's features, batched by length as in training.

    Returns whether the statistics were recomputed: not when training never had a batch of two or
    more rows (the head then always used its running statistics, which must stay as they were).
    """
    bns = [m for m in model.head.modules() if isinstance(m, nn.BatchNorm1d)]
    if batch_size < 2 or len(docs) < 2 or not bns:
        return False
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    batches = sorted_batches(lengths, batch_size)
    if len(batches[-1]) == 1:  # BatchNorm needs two rows, as in training
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    was_training, momenta = model.training, [m.momentum for m in bns]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
        m.train()
    try:
        for idx in batches:
            ids, lens = pad_batch([docs[i] for i in idx], model.encoder.config.pad_idx)
            model(ids.to(device), lens.to(device), bptt, max_len)
    finally:
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
        model.train(was_training)
    return True


@torch.no_grad()
def batched_apply(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], docs: Sequence[np.ndarray], pad_idx: int,
                  device: torch.device, batch_size: int = 64, verbose: int = 0, desc: str = "predict",
                  dtype: torch.dtype | None = None) -> np.ndarray:
    """Apply ``fn(ids, lengths) -> (batch, k)`` to every document; rows come back in input order.

    Documents are batched by length (long first) and right-padded, so a document's result does
    not depend on the batch it lands in; the order is undone before returning. Memory is bounded
    by one batch plus the ``(n, k)`` output. A CUDA out-of-memory error halves the batch size for
    this and every later batch, and retries.

    With ``dtype`` (bfloat16 inference, see :func:`skulmfit.precision.inference_dtype`) ``fn``
    runs under autocast. A one-row batch then runs as two copies of the row: oneDNN computes a
    one-row bfloat16 product with another kernel (a matrix-vector one) whose rounding differs
    (measured: logits 1e-5 apart at 400/1152/3), while batches of 2 to 64 rows gave identical
    results, so a document alone gets what it gets inside a batch.
    """
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    batches = sorted_batches(lengths, batch_size)
    out: np.ndarray | None = None
    bar = progress_bar(total=len(docs), verbose=verbose, desc=desc, unit="doc")
    k = 0
    while k < len(batches):
        idx = batches[k]
        try:
            ids, lens = pad_batch([docs[i] for i in idx], pad_idx)
            if dtype is None:
                res = fn(ids.to(device), lens.to(device)).float().cpu().numpy()
            else:
                if len(idx) == 1:
                    ids, lens = ids.expand(2, -1), lens.expand(2)
                with autocast(device, dtype):
                    res = fn(ids.to(device), lens.to(device))[:len(idx)].float().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            if len(idx) == 1:
                raise
            torch.cuda.empty_cache()
            size = len(idx) // 2  # for this batch and the later ones, which hold as many rows
            batches[k:] = [b[i:i + size] for b in batches[k:] for i in range(0, len(b), size)]
            continue
        if out is None:
            out = np.empty((len(docs), res.shape[1]), dtype=np.float32)
        out[idx] = res
        bar.update(len(idx))
        k += 1
    bar.close()
    assert out is not None
    return out


def predict_logits(model: SequenceClassifier, docs: Sequence[np.ndarray], device: torch.device, batch_size: int = 64,
                   bptt: int = 70, max_len: int = 1400, verbose: int = 0,
                   dtype: torch.dtype | None = None) -> np.ndarray:
    """Classifier logits for every document, in input order (eval mode; see :func:`batched_apply`).

    The head runs in float64 (except on MPS): in float32 its matrix products round differently for
    batches of different sizes, and a document's probabilities would depend on its batch in the
    last bits. The pooled encoder features do not. With ``dtype`` (bfloat16) the encoder runs
    under autocast; the pooled features are float32 and the head float64 as before.
    """
    was_training = model.training
    model.eval()
    head = model.head if device.type == "mps" else copy.deepcopy(model.head).double()

    def logits(ids: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        pooled = model.pool(ids, lens, bptt, max_len)
        return head(pooled if device.type == "mps" else pooled.double())

    try:
        return batched_apply(logits, docs, model.encoder.config.pad_idx, device, batch_size, verbose, dtype=dtype)
    finally:
        model.train(was_training)
