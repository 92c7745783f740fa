"""Throughput measurements shared by ``lm_throughput.py`` and ``speed.py --paper``.

Every measurement runs in a fresh child process (``python benchmarks/_throughput.py lm|clf ...``,
one JSON line on stdout), fastai's in its own venv through ``fastai_bridge``. :func:`interleave`
runs a list of measurements round-robin for several rounds (A, B, C, A, B, C, ...) so that the
load of a shared machine falls on every implementation alike, and keeps every round's value; the
tables quote medians and the 1-minute load average seen by each child.

Implementations (same random token batches, train mode, forward + backward + optimizer step):

* LM: ``skulmfit`` (our AWD-LSTM with all regularisers, AR/TAR, clip 0.4, AdamW; CPU: chunked
  exact loss), ``skulmfit-bf16`` (the same with ``precision='bf16'``), ``bare-plain`` (embedding,
  ``nn.LSTM`` layers, tied decoder, no regularisation, ``F.cross_entropy`` over the full logits),
  ``bare-chunked`` (that stack with skulmfit's chunked exact loss: the bound for our float32 step).
* classifier: ``skulmfit`` / ``skulmfit-bf16`` / ``skulmfit-fp16`` (CUDA) (``SequenceClassifier``,
  BPT3C, concat pooling, AdamW over the trainable groups); ``stages`` = numbers of trainable top layer groups (of 5:
  embedding, 3 LSTMs, head), measured one after the other in one process (gradual unfreezing;
  the warm-up steps run before the first stage only);
  ``predict`` = eval mode under ``torch.no_grad``, the encoder in bfloat16 for ``skulmfit-bf16``
  (as the estimators predict with ``precision='bf16'``), else float32.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LM_IMPLS = ("skulmfit", "skulmfit-bf16", "bare-plain", "bare-chunked")
CLF_IMPLS = ("skulmfit", "skulmfit-bf16")


# -- measurements (run inside the child) -----------------------------------------------------------
def _timed(step: Callable[[], None], steps: int, warmup: int, sync: Callable[[], None]) -> float:
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps


def _sync(device):
    import torch

    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def lm_seconds_per_step(impl: str, emb: int, hidden: int, layers: int, vocab: int, batch: int, bptt: int,
                        steps: int, warmup: int, device: str = "cpu") -> dict[str, Any]:
    """Seconds per LM training step of ``impl`` (see the module docstring), plus peak GPU memory."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from skulmfit.devices import resolve_device
    from skulmfit.lm_training import lm_loss
    from skulmfit.losses import linear_cross_entropy
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.precision import autocast, grad_scaler, resolve_precision

    dev = resolve_device(device)
    torch.manual_seed(0)
    n = steps + warmup
    xs = [torch.randint(2, vocab, (batch, bptt), device=dev) for _ in range(n)]
    ys = [torch.randint(2, vocab, (batch, bptt), device=dev) for _ in range(n)]
    it = iter(range(n))
    if impl.startswith("skulmfit"):
        precision = impl.split("-", 1)[1] if "-" in impl else ("auto" if dev.type == "cuda" else "fp32")
        amp = resolve_precision(precision, dev, "lm")
        scaler = grad_scaler(dev, amp)
        model = LanguageModel(AWDLSTMConfig(vocab_size=vocab, emb_size=emb, hidden_size=hidden,
                                            n_layers=layers)).to(dev)
        model.set_drop_mult(1.0)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.7, 0.99))
        state: dict[str, Any] = {"h": None}

        def step() -> None:
            i = next(it)
            with autocast(dev, amp):
                loss, _, new = lm_loss(model, xs[i], ys[i], state["h"], 2.0, 1.0)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.4)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            state["h"] = [(h.detach().float(), c.detach().float()) for h, c in new]
    elif impl in ("bare-plain", "bare-chunked"):
        embedding = nn.Embedding(vocab, emb).to(dev)
        sizes = [emb] + [hidden] * (layers - 1) + [emb]
        rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(layers)).to(dev)
        bias = nn.Parameter(torch.zeros(vocab, device=dev))
        params = [embedding.weight, bias, *rnns.parameters()]
        opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.7, 0.99))

        def step() -> None:
            i = next(it)
            h = embedding(xs[i])
            for rnn in rnns:
                h, _ = rnn(h)
            h, y = h.reshape(-1, emb), ys[i].reshape(-1)
            if impl == "bare-chunked":
                loss = linear_cross_entropy(h, embedding.weight, bias, y)
            else:
                loss = F.cross_entropy(F.linear(h, embedding.weight, bias), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    else:
        raise ValueError(f"unknown LM implementation {impl!r}; expected one of {LM_IMPLS}")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    sec = _timed(step, steps, warmup, _sync(dev))
    out: dict[str, Any] = {"s_per_step": sec, "tokens_per_s": batch * bptt / sec}
    if dev.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return out


def clf_rates(impl: str, emb: int, hidden: int, layers: int, vocab: int, batch: int, doc_len: int, bptt: int,
              stages: list[int], predict: bool, steps: int, warmup: int, n_class: int = 6,
              device: str = "cpu") -> list[dict[str, Any]]:
    """Classifier training examples/s per unfreezing stage, and predict examples/s."""
    import torch
    import torch.nn.functional as F

    from skulmfit.devices import resolve_device
    from skulmfit.model import AWDLSTMConfig, SequenceClassifier
    from skulmfit.precision import autocast, grad_scaler, inference_dtype, resolve_precision

    if impl != "skulmfit" and not impl.startswith("skulmfit-"):
        raise ValueError(f"unknown classifier implementation {impl!r}; expected 'skulmfit' or 'skulmfit-PRECISION'")
    dev = resolve_device(device)
    precision = impl.split("-", 1)[1] if "-" in impl else "fp32"
    amp = resolve_precision(precision, dev, "clf")
    torch.manual_seed(0)
    model = SequenceClassifier(AWDLSTMConfig(vocab_size=vocab, emb_size=emb, hidden_size=hidden, n_layers=layers),
                               n_class).to(dev)
    model.set_drop_mult(1.0)
    groups = model.layer_groups()
    n = steps + warmup
    xs = [torch.randint(2, vocab, (batch, doc_len), device=dev) for _ in range(n)]
    ys = [torch.randint(0, n_class, (batch,), device=dev) for _ in range(n)]
    lens = torch.full((batch,), doc_len, dtype=torch.int64, device=dev)
    rows = []
    sync = _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    for k in stages:
        trainable = list(range(len(groups) - k, len(groups)))
        for g, params in enumerate(groups):
            for p in params:
                p.requires_grad_(g in trainable)
        opt = torch.optim.AdamW([{"params": groups[g]} for g in trainable], lr=1e-3, betas=(0.7, 0.99))
        scaler = grad_scaler(dev, amp)
        model.train()
        it = iter(range(n))

        def step(it=it, opt=opt, scaler=scaler) -> None:
            i = next(it)
            with autocast(dev, amp):
                logits = model(xs[i], lens, bptt, 1400)
            loss = F.cross_entropy(logits.float(), ys[i])
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()

        # the process is warm after the first stage: later stages time their steps right away
        sec = _timed(step, steps, warmup if k == stages[0] else 0, sync)
        rows.append({"mode": "clf_train", "trainable_groups": k, "examples_per_s": batch / sec, "s_per_step": sec})
    if predict:
        model.eval()
        it = iter(range(n))

        pdt = inference_dtype(precision, dev)  # what the estimators predict in: bf16 only for 'bf16'

        def pstep() -> None:
            with torch.no_grad():
                with autocast(dev, pdt):
                    pooled = model.pool(xs[next(it)], lens, bptt, 1400)
                model.head(pooled).argmax(-1)

        sec = _timed(pstep, steps, warmup, sync)
        rows.append({"mode": "clf_predict", "examples_per_s": batch / sec, "s_per_step": sec})
    if dev.type == "cuda":
        for r in rows:
            r["peak_gpu_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return rows


# -- running children and interleaving ----------------------------------------------------------------
def run_child(kind: str, timeout: float = 1800.0, **kwargs: Any) -> list[dict[str, Any]]:
    """Run one measurement in a fresh process of this interpreter; its JSON rows (``[]`` on failure)."""
    args = [sys.executable, str(Path(__file__).resolve()), kind]
    for k, v in kwargs.items():
        if v is None:
            continue
        args += [f"--{k.replace('_', '-')}", ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)]
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"measurement timed out: {' '.join(args)}", file=sys.stderr)
        return []
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not rows:
        print(f"measurement failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-3000:]}", file=sys.stderr)
        return []
    return rows


def interleave(jobs: list[tuple[str, Callable[[], list[dict[str, Any]]]]], rounds: int,
               log: Callable[[str], None] = print) -> dict[str, list[list[dict[str, Any]]]]:
    """Run ``jobs`` (name, callable returning rows) round-robin ``rounds`` times.

    Returns ``{name: [rows of round 1, rows of round 2, ...]}``; each row gets ``load_1min``
    (the 1-minute load average just after it ran) and ``round``.
    """
    out: dict[str, list[list[dict[str, Any]]]] = {name: [] for name, _ in jobs}
    for r in range(rounds):
        for name, fn in jobs:
            t0 = time.perf_counter()
            rows = fn()
            load = os.getloadavg()[0]
            for row in rows:
                row.update(load_1min=load, round=r + 1)
            out[name].append(rows)
            log(f"  round {r + 1}/{rounds} {name}: {time.perf_counter() - t0:.0f} s, load {load:.2f}")
    return out


def median_of(samples: list[float]) -> float | None:
    return statistics.median(samples) if samples else None


def spread(samples: list[float]) -> str:
    """``min-max`` of the samples, for the tables."""
    if not samples:
        return ""
    return f"{min(samples):,.4g}-{max(samples):,.4g}" if len(samples) > 1 else f"{samples[0]:,.4g}"


# -- child entry point -----------------------------------------------------------------------------------
def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v]


def child_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one throughput measurement (prints JSON lines)")
    p.add_argument("kind", choices=("lm", "clf"))
    p.add_argument("--impl", required=True)
    p.add_argument("--emb", type=int, default=400)
    p.add_argument("--hidden", type=int, default=1152)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bptt", type=int, default=70)
    p.add_argument("--doc-len", type=int, default=30)
    p.add_argument("--stages", type=_ints, default=[5])
    p.add_argument("--predict", type=int, default=1)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import torch

    from skulmfit.devices import tune_cpu_allocator

    torch.set_num_threads(a.threads)
    tuned = tune_cpu_allocator()
    common = {"impl": a.impl, "threads": a.threads, "malloc_tuning": tuned, "device": a.device,
              "emb": a.emb, "hidden": a.hidden, "layers": a.layers, "vocab": a.vocab, "batch": a.batch}
    if a.kind == "lm":
        rows = [{"mode": "lm", "bptt": a.bptt,
                 **lm_seconds_per_step(a.impl, a.emb, a.hidden, a.layers, a.vocab, a.batch, a.bptt, a.steps,
                                       a.warmup, a.device)}]
    else:
        rows = [{"doc_len": a.doc_len, **r}
                for r in clf_rates(a.impl, a.emb, a.hidden, a.layers, a.vocab, a.batch, a.doc_len, a.bptt,
                                   a.stages, bool(a.predict), a.steps, a.warmup, device=a.device)]
    for r in rows:
        print(json.dumps({**common, **r}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
