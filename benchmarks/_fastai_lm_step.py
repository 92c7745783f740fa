"""Measure fastai's ULMFiT (AWD-LSTM) training/inference throughput on random data.

This script runs ONLY inside a separate fastai virtual environment (it imports torch, fastai,
numpy and the standard library; never skulmfit). Our benchmark scripts call it through
``benchmarks/fastai_bridge.py``. Create that environment with (a looser torch pin pulls
gigabytes of CUDA wheels)::

    python3 -m venv /work/fastai-venv \
      && /work/fastai-venv/bin/pip install torch==2.13.0 \
      && /work/fastai-venv/bin/pip install --no-deps fastai==2.8.12 fastcore fastprogress \
           fastdownload fasttransform "plum-dispatch<2.10" python-fasthtml \
           beartype rich itsdangerous anyio starlette python-multipart \
      && /work/fastai-venv/bin/pip install pandas matplotlib scipy scikit-learn pyyaml requests

Modes (each measurement prints ONE JSON line on stdout; anything else goes to stderr):

* ``--mode lm`` (default): language-model training, ``get_language_model(AWD_LSTM, vocab,
  awd_lstm_lm_config | sizes)``, train mode, Adam(betas=(0.7, 0.99)), cross entropy on the
  decoder output, forward + backward + step on random (batch, bptt) int64 token batches with the
  hidden state carried (and detached by fastai) between steps. Reports tokens/s.
* ``--mode clf``: text classifier, ``get_text_classifier(AWD_LSTM, vocab, n_class, seq_len=bptt,
  config=awd_lstm_clas_config | sizes, max_len=1400)`` on random documents of ``--doc-len``
  tokens. Reports training examples/s (``"mode": "clf_train"``) and eval-mode predict
  examples/s under ``torch.no_grad`` (``"mode": "clf_predict"``; ``--predict 0`` skips it).
  ``--stages 1,2,3,4,5`` measures training once per gradual-unfreezing stage: with the top K of
  fastai's five classifier layer groups trainable (``awd_lstm_clas_split``: embedding, the
  three LSTMs, the head; the rest frozen as ``Learner.freeze_to(-K)`` does), one row each with
  ``"trainable_groups": K`` (the warm-up steps run before the first stage only).

Example::

    /work/fastai-venv/bin/python benchmarks/_fastai_lm_step.py --emb 400 --hidden 1150 \
        --layers 3 --vocab 10000 --batch 32 --bptt 70 --threads 2 --steps 8 --warmup 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings


def _import_fastai():
    """Return (AWD_LSTM, get_language_model, get_text_classifier, lm_config, clas_config, version)."""
    import fastai

    try:
        from fastai.text.all import (
            AWD_LSTM,
            awd_lstm_clas_config,
            awd_lstm_lm_config,
            get_language_model,
            get_text_classifier,
        )
    except ImportError as exc:  # e.g. an optional dependency of fastai.text.all is missing
        print(f"fastai.text.all import failed ({exc!r}); using fastai.text.models submodules",
              file=sys.stderr)
        from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_clas_config, awd_lstm_lm_config
        from fastai.text.models.core import get_language_model, get_text_classifier
    return (AWD_LSTM, get_language_model, get_text_classifier, awd_lstm_lm_config,
            awd_lstm_clas_config, fastai.__version__)


def _logits(out):
    """fastai models return (logits, raw_outputs, outputs); accept a bare tensor too."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def _random_tokens(torch, gen, vocab: int, shape):  # -> torch.Tensor
    # Token ids 0 (unk) and 1 (pad, fastai's pad_token/pad_idx) are avoided so the classifier
    # treats every document as full length.
    return torch.randint(2, vocab, shape, generator=gen, dtype=torch.int64)


_SYNC = {"fn": lambda: None}  # set to torch.cuda.synchronize for --device cuda


def _timed(step, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    _SYNC["fn"]()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _SYNC["fn"]()
    return time.perf_counter() - t0


def _peak(torch, args) -> dict:
    if args.device.startswith("cuda"):
        return {"peak_gpu_mb": torch.cuda.max_memory_allocated(args.device) / 2**20}
    return {}


def run_lm(args, torch, fa) -> list[dict]:
    AWD_LSTM, get_language_model, _, lm_config, _, _ = fa
    config = dict(lm_config)
    config.update(emb_sz=args.emb, n_hid=args.hidden, n_layers=args.layers)
    model = get_language_model(AWD_LSTM, args.vocab, config=config).to(args.device)
    model.train()
    model.reset()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.7, 0.99))
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    batch = args.batch or 32
    n = args.steps + args.warmup
    xs = [_random_tokens(torch, gen, args.vocab, (batch, args.bptt)).to(args.device) for _ in range(n)]
    ys = [_random_tokens(torch, gen, args.vocab, (batch, args.bptt)).to(args.device) for _ in range(n)]
    it = iter(range(n))

    def step():
        i = next(it)
        opt.zero_grad(set_to_none=True)
        logits = _logits(model(xs[i]))
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), ys[i].reshape(-1))
        loss.backward()
        opt.step()

    elapsed = _timed(step, args.steps, args.warmup)
    tokens = args.steps * batch * args.bptt
    return [{
        "mode": "lm",
        "tokens_per_s": tokens / elapsed,
        "seconds_per_step": elapsed / args.steps, **_peak(torch, args),
        "config": {"emb": args.emb, "hidden": args.hidden, "layers": args.layers,
                   "vocab": args.vocab, "batch": batch, "bptt": args.bptt,
                   "threads": args.threads, "steps": args.steps, "warmup": args.warmup,
                   "n_params": sum(p.numel() for p in model.parameters())},
    }]


def run_clf(args, torch, fa) -> list[dict]:
    AWD_LSTM, _, get_text_classifier, _, clas_config, _ = fa
    config = dict(clas_config)
    config.update(emb_sz=args.emb, n_hid=args.hidden, n_layers=args.layers)
    model = get_text_classifier(AWD_LSTM, args.vocab, n_class=args.n_class, seq_len=args.bptt,
                                config=config, max_len=args.max_len).to(args.device)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    batch = args.batch or 64
    n = args.steps + args.warmup
    xs = [_random_tokens(torch, gen, args.vocab, (batch, args.doc_len)).to(args.device) for _ in range(n)]
    ys = [torch.randint(0, args.n_class, (batch,), generator=gen).to(args.device) for _ in range(n)]
    base = {"emb": args.emb, "hidden": args.hidden, "layers": args.layers, "vocab": args.vocab,
            "batch": batch, "doc_len": args.doc_len, "bptt": args.bptt, "max_len": args.max_len,
            "n_class": args.n_class, "threads": args.threads, "steps": args.steps,
            "warmup": args.warmup, "n_params": sum(p.numel() for p in model.parameters())}

    encoder = model[0].module
    groups = ([[*encoder.encoder.parameters()]] + [[*rnn.parameters()] for rnn in encoder.rnns]
              + [[*model[1].parameters()]])  # awd_lstm_clas_split
    rows = []
    for k in args.stages:
        for g, params in enumerate(groups):
            for prm in params:
                prm.requires_grad_(g >= len(groups) - k)
        opt = torch.optim.Adam([prm for prm in model.parameters() if prm.requires_grad], lr=1e-3,
                               betas=(0.7, 0.99))
        model.train()
        model.reset()
        it = iter(range(n))

        def train_step(it=it, opt=opt):
            i = next(it)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(_logits(model(xs[i])), ys[i])
            loss.backward()
            opt.step()

        t_train = _timed(train_step, args.steps, args.warmup if k == args.stages[0] else 0)
        rows.append({"mode": "clf_train", "trainable_groups": k, "examples_per_s": args.steps * batch / t_train,
                     "seconds_per_step": t_train / args.steps, **_peak(torch, args), "config": dict(base)})
    if not args.predict:
        return rows

    model.eval()
    it2 = iter(range(n))

    def predict_step():
        i = next(it2)
        with torch.no_grad():
            _logits(model(xs[i])).argmax(-1)

    t_pred = _timed(predict_step, args.steps, args.warmup)
    ex = args.steps * batch
    return rows + [
        {"mode": "clf_predict", "examples_per_s": ex / t_pred,
         "seconds_per_step": t_pred / args.steps, **_peak(torch, args), "config": dict(base)},
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("lm", "clf"), default="lm")
    p.add_argument("--emb", type=int, default=400)
    p.add_argument("--hidden", type=int, default=1150)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--batch", type=int, default=None, help="default 32 (lm) / 64 (clf)")
    p.add_argument("--bptt", type=int, default=70, help="lm sequence length / clf seq_len")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--doc-len", type=int, default=30, help="clf document length")
    p.add_argument("--n-class", type=int, default=6)
    p.add_argument("--max-len", type=int, default=1400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stages", default="5",
                   help="clf: comma-separated numbers of trainable top layer groups (of 5), one row each")
    p.add_argument("--predict", type=int, default=1, help="clf: 0 skips the predict measurement")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (timed with torch.cuda.synchronize)")
    args = p.parse_args(argv)
    args.stages = [int(v) for v in args.stages.split(",") if v]
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")

    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        _SYNC["fn"] = lambda: torch.cuda.synchronize(args.device)
    torch.manual_seed(args.seed)
    fa = _import_fastai()
    common = {"impl": "fastai", "fastai_version": fa[5], "torch_version": torch.__version__}
    # libgomp's wait policy changes small-op LSTM speed by up to ~100x on an oversubscribed
    # machine (active spinning threads get descheduled at every barrier); record it.
    env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    rows = run_lm(args, torch, fa) if args.mode == "lm" else run_clf(args, torch, fa)
    for row in rows:
        row["config"]["env"] = env
        print(json.dumps({**common, **row}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
