"""Language-model training: pretraining and target-task fine-tuning share this loop.

The loop reads :class:`~skulmfit.data.LMStream` batches with variable-length BPTT, scales each
step's rate by ``seq_len / bptt``, carries the hidden state (detached) across batches, uses
Adam(0.7, 0.99) with discriminative rates per layer group and a schedule over the progress in
tokens, clips gradients, adds AR/TAR, and can checkpoint and resume exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import LMStream, sample_seq_len
from .exceptions import TrainingDivergedError
from .losses import linear_cross_entropy
from .model import LanguageModel, State
from .precision import PRECISIONS, autocast, autocast_dtype, grad_scaler, resolve_precision
from .progress import progress_bar
from .regularizers import activation_regularization, temporal_activation_regularization
from .schedules import discriminative_lrs, get_schedule


@dataclass
class LMTrainConfig:
    """Hyperparameters of LM training (defaults: the ULMFiT paper / fastai)."""

    batch_size: int = 64
    bptt: int = 70
    epochs: int = 1
    max_tokens: int | None = None
    lr: float = 0.004
    lr_decay: float = 2.6
    schedule: str = "stlr"
    cut_frac: float = 0.1
    ratio: float = 32.0
    beta1: float = 0.7
    beta2: float = 0.99
    weight_decay: float = 0.01
    clip: float = 0.4
    alpha: float = 2.0
    beta: float = 1.0
    drop_mult: float = 1.0
    seed: int = 0
    precision: str = "auto"  # see skulmfit.precision: 'auto' = bf16 autocast on CUDA, fp32 elsewhere
    amp: bool = True  # legacy switch: False makes precision='auto' mean float32 on CUDA too

    def validate(self) -> None:
        positive_int = ("batch_size", "bptt", "epochs")
        for name in positive_int:
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer or None, got {self.max_tokens!r}")
        for name in ("lr", "lr_decay", "ratio"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not 0 < self.cut_frac < 1:
            raise ValueError(f"cut_frac must be in (0, 1), got {self.cut_frac!r}")
        get_schedule(self.schedule)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"clip must be > 0 or None, got {self.clip!r}")


def decoder_cross_entropy(model: LanguageModel, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the decoder's logits for features ``h`` (B, T, D) against ``y`` (B, T).

    On a CPU the loss is computed in chunks (:func:`~skulmfit.losses.linear_cross_entropy`),
    which never forms the full logits; under a CPU autocast (``precision='bf16'``) its matrix
    products run in that dtype, otherwise it is exact float32. Elsewhere the plain computation
    is used (it runs under autocast on a GPU). An adaptive decoder computes its exact loss itself.
    """
    dec = model.decoder
    if model.adaptive:
        return dec.nll(h.reshape(-1, h.size(-1)), y.reshape(-1))
    if h.device.type == "cpu":
        return linear_cross_entropy(h.float().reshape(-1, h.size(-1)), dec.weight, dec.bias, y.reshape(-1),
                                    compute_dtype=autocast_dtype("cpu"))
    logits = dec(h)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1))


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, state: State | None,
            alpha: float, beta: float) -> tuple[torch.Tensor, torch.Tensor, State]:
    """Cross-entropy plus AR/TAR in train mode; returns ``(total, cross_entropy, new_state)``."""
    _, raw_last, dropped_last, new_state = model(x, state, decode=False)
    ce = decoder_cross_entropy(getattr(model, "module", model), dropped_last, y)
    total = ce
    if model.training:
        if alpha:
            total = total + activation_regularization(dropped_last.float(), alpha)
        if beta:
            total = total + temporal_activation_regularization(raw_last.float(), beta)
    return total, ce, new_state


@torch.no_grad()
def evaluate_lm(model: LanguageModel, ids: np.ndarray, device: torch.device | str = "cpu",
                batch_size: int = 16, bptt: int = 70, verbose: int = 0) -> dict[str, float]:
    """Mean cross-entropy and perplexity of ``model`` on a token stream (eval mode).

    The stream is read as ``batch_size`` rows with a fixed ``bptt`` and carried state. Returns
    ``{"loss", "perplexity", "tokens"}`` where ``tokens`` is the number of predicted tokens.
    """
    device = torch.device(device)
    ids = np.asarray(ids)
    batch_size = max(1, min(batch_size, (len(ids) - 1) // 2))
    stream = LMStream(ids, batch_size)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        cols = range(0, stream.n_cols, bptt)
        for col in progress_bar(cols, verbose, desc="evaluate", unit="batch"):
            x, y = stream.batch(col, bptt)
            _, _, h, state = model(x.to(device), state, decode=False)
            total += float(decoder_cross_entropy(model, h, y.to(device))) * y.numel()
            count += y.numel()
    finally:
        model.train(was_training)
    mean = total / max(count, 1)
    return {"loss": mean, "perplexity": float(math.exp(min(mean, 700))), "tokens": int(count)}


class LMTrainer:
    """Trains a :class:`LanguageModel` on a token stream; checkpointable and resumable.

    Parameters
    ----------
    model : LanguageModel
        The model, already on ``device``.
    train_ids : 1-D integer array
        Training token stream (documents concatenated, each starting with ``xxbos``).
    config : LMTrainConfig
    device : torch.device
    valid_ids : 1-D integer array, optional
        Held-out stream; its perplexity is measured after each epoch.
    verbose : int
        0 silent, 1 progress bar with loss.
    rank, world_size : int
        Distributed data parallel position (the model must already be wrapped by the caller
        via :attr:`ddp_model`); 0 / 1 when training in one process.
    """

    WARMUP_STEPS = 100  # rate ramp after resuming without optimizer state

    def __init__(self, model: LanguageModel, train_ids: np.ndarray, config: LMTrainConfig,
                 device: torch.device, valid_ids: np.ndarray | None = None, verbose: int = 0,
                 rank: int = 0, world_size: int = 1, ddp_model: nn.Module | None = None) -> None:
        config.validate()
        self.model = model
        self.net = ddp_model if ddp_model is not None else model
        self.config = config
        self.device = torch.device(device)
        self.valid_ids = valid_ids
        self.verbose = verbose
        self.rank, self.world_size = rank, world_size
        self.stop_requested = False  # set (e.g. by a signal handler) to stop after the current step
        self.stream = LMStream(train_ids, config.batch_size, rank, world_size)
        model.set_drop_mult(config.drop_mult)
        groups = model.layer_groups()
        self.base_lrs = discriminative_lrs(config.lr, len(groups), config.lr_decay)
        self.optimizer = torch.optim.AdamW(
            [{"params": g, "lr": lr} for g, lr in zip(groups, self.base_lrs)],
            betas=(config.beta1, config.beta2), weight_decay=config.weight_decay,
        )
        self.schedule = get_schedule(config.schedule, config.cut_frac, config.ratio)
        precision = config.precision if config.amp or config.precision != "auto" else "fp32"
        self.amp_dtype = resolve_precision(precision, self.device, "lm")
        self.scaler = grad_scaler(self.device, self.amp_dtype)
        total_cols = config.epochs * self.stream.n_cols
        if config.max_tokens is not None:
            total_cols = min(total_cols, max(1, config.max_tokens // (config.batch_size * world_size)))
        self.total_cols = total_cols
        # Progress state (everything needed to resume exactly).
        self.progress = 0  # columns consumed over all epochs
        self.step = 0
        self.rng = np.random.default_rng(config.seed)
        self.hidden: State | None = None
        self.history: list[dict[str, Any]] = []
        self.tokens_seen = 0
        self.train_seconds = 0.0
        self.warmup_start: int | None = None  # step at which a rebuilt optimizer started

    # -- checkpointing -------------------------------------------------------------------
    def state_dict(self, portable: bool = False) -> dict[str, Any]:
        """Everything needed to continue: model, optimizer, position, RNGs, hidden state.

        ``portable=True`` leaves out the optimizer state and stores the weights and hidden state
        in half precision: a small file that can travel (e.g. through git) between machines.
        Resuming from it rebuilds the optimizer with a short warm-up (:attr:`WARMUP_STEPS`).
        """
        def conv(t: torch.Tensor) -> torch.Tensor:
            t = t.detach().cpu()
            return t.half() if portable and t.is_floating_point() else t

        state = {
            "model": {k: conv(v) for k, v in self.model.state_dict().items()},
            "optimizer": None if portable else _to_cpu(self.optimizer.state_dict()),
            "warmup_start": self.warmup_start,
            "progress": self.progress,
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "train_seconds": self.train_seconds,
            "rng": _encode_rng(self.rng),
            "torch_rng": torch.get_rng_state(),
            "hidden": None if self.hidden is None else [(conv(h), conv(c)) for h, c in self.hidden],
            "history": self.history,
            "config": asdict(self.config),
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the model must have the same architecture).

        A state without optimizer (``portable=True``) starts a fresh optimizer whose rates ramp
        up linearly over :attr:`WARMUP_STEPS` steps, so Adam's moment estimates settle before
        full-size steps are taken.
        """
        self.model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.warmup_start = state.get("warmup_start")
        else:
            self.warmup_start = int(state["step"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.progress = int(state["progress"])
        self.step = int(state["step"])
        self.tokens_seen = int(state["tokens_seen"])
        self.train_seconds = float(state["train_seconds"])
        self.rng = _decode_rng(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        hidden = state.get("hidden")
        self.hidden = None if hidden is None else [(h.float().to(self.device), c.float().to(self.device))
                                                   for h, c in hidden]
        self.history = list(state["history"])

    # -- training --------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.progress >= self.total_cols

    def train_step(self) -> float:
        """One BPTT step; returns the cross-entropy of the batch."""
        cfg = self.config
        n_cols = self.stream.n_cols
        col = self.progress % n_cols
        if col == 0:
            self.hidden = None  # a new epoch starts a new read of the streams
        seq_len = sample_seq_len(self.rng, cfg.bptt)
        seq_len = min(seq_len, n_cols - col, self.total_cols - self.progress)
        x, y = self.stream.batch(col, seq_len)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.schedule(self.progress, self.total_cols, base) * seq_len / cfg.bptt * self._warmup_factor()
        self.net.train()
        with autocast(self.device, self.amp_dtype):
            loss, ce, new_hidden = lm_loss(self.net, x, y, self.hidden, cfg.alpha, cfg.beta)
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"language-model loss became {float(loss.detach())} at step {self.step} "
                f"(token {self.tokens_seen}); try a lower learning rate (lr={cfg.lr}) or stronger "
                "gradient clipping"
            )
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:  # float16: scaled loss, unscaled gradients before clipping
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if cfg.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        # The carried state stays float32 whatever the autocast dtype of this step.
        self.hidden = [(h.detach().float(), c.detach().float()) for h, c in new_hidden]
        self.progress += seq_len
        self.step += 1
        self.tokens_seen += x.numel() * self.world_size
        return float(ce.detach())

    def _warmup_factor(self) -> float:
        if self.warmup_start is None:
            return 1.0
        done = self.step - self.warmup_start
        if done >= self.WARMUP_STEPS:
            self.warmup_start = None
            return 1.0
        return (done + 1) / self.WARMUP_STEPS

    def run(self, checkpoint: Callable[[LMTrainer], None] | None = None,
            checkpoint_every: float | None = None) -> list[dict[str, Any]]:
        """Train until the configured epochs / ``max_tokens`` are done.

        Parameters
        ----------
        checkpoint : callable, optional
            Called with the trainer every ``checkpoint_every`` seconds, at each epoch end, and
            when :attr:`stop_requested` is set; training then stops with ``KeyboardInterrupt``
            after the checkpoint, so an interrupted run loses no finished step.
        checkpoint_every : float, optional
            Seconds between checkpoints.

        Returns
        -------
        history : list of dict
            One record per epoch (and a final one if stopped by ``max_tokens``):
            ``epoch, step, tokens, train_loss, valid_loss, valid_perplexity, seconds``.
        """
        n_cols = self.stream.n_cols
        bar = progress_bar(total=self.total_cols, initial=self.progress, verbose=self.verbose,
                           desc="LM training", unit="col")
        last_ckpt = time.monotonic()
        running, n_run = 0.0, 0
        try:
            while not self.done:
                t0 = time.perf_counter()
                before = self.progress
                ce = self.train_step()
                self.train_seconds += time.perf_counter() - t0
                running, n_run = running + ce, n_run + 1
                bar.update(self.progress - before)
                if self.verbose and self.step % 10 == 0:
                    bar.set_postfix(loss=f"{running / n_run:.3f}")
                epoch_end = self.progress % n_cols == 0 or self.done
                if epoch_end:
                    self._end_epoch(running / max(n_run, 1))
                    running, n_run = 0.0, 0
                now = time.monotonic()
                due = checkpoint is not None and checkpoint_every is not None and now - last_ckpt >= checkpoint_every
                due, stop = self._agree(due, self.stop_requested)
                if checkpoint is not None and (epoch_end or due or stop):
                    checkpoint(self)
                    last_ckpt = now
                if stop and not self.done:
                    raise KeyboardInterrupt(f"training stopped on request after step {self.step}")
        finally:
            bar.close()
        return self.history

    def _agree(self, due: bool, stop: bool) -> tuple[bool, bool]:
        """Whether every rank checkpoints now, and whether every rank stops. Ranks run identical
        step counts (same BPTT draws), so under DDP they vote every 10 steps (all-reduce MAX)
        instead of each reading its own clock: one rank asked to stop stops them all."""
        if self.world_size == 1:
            return due, stop
        if self.step % 10:
            return False, False
        import torch.distributed as dist

        flags = torch.tensor([float(due), float(stop)], device=self.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return bool(flags[0].item()), bool(flags[1].item())

    def _end_epoch(self, train_loss: float) -> None:
        record: dict[str, Any] = {
            "epoch": math.ceil(self.progress / self.stream.n_cols),
            "step": self.step,
            "tokens": self.tokens_seen,
            "train_loss": train_loss,
            "seconds": self.train_seconds,
        }
        if self.valid_ids is not None and len(self.valid_ids) > 2:
            ev = evaluate_lm(self.model, self.valid_ids, self.device, batch_size=16, bptt=self.config.bptt)
            record["valid_loss"], record["valid_perplexity"] = ev["loss"], ev["perplexity"]
        self.history.append(record)


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _encode_rng(rng: np.random.Generator) -> dict[str, Any]:
    """numpy Generator state as strings (safe for ``weights_only`` loading)."""
    s = rng.bit_generator.state
    return {"bit_generator": s["bit_generator"], "state": str(s["state"]["state"]),
            "inc": str(s["state"]["inc"]), "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}


def _decode_rng(d: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = {
        "bit_generator": d["bit_generator"],
        "state": {"state": int(d["state"]), "inc": int(d["inc"])},
        "has_uint32": int(d["has_uint32"]), "uinteger": int(d["uinteger"]),
    }
    return rng
