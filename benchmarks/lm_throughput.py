"""LM training throughput: our regularised AWD-LSTM vs a bare nn.LSTM stack vs fastai's AWD_LSTM.

All train the same sizes on the same random batches (forward + backward + Adam step) in one
run, so the ratios are meaningful on a noisy shared machine. The bare stack (embedding,
``nn.LSTM`` layers, tied decoder, no dropout or AR/TAR) runs twice: with the plain
``F.cross_entropy`` over full logits (what fastai and most code do) and, on CPU, with skulmfit's
chunked loss (``skulmfit.losses``, which skulmfit itself uses on CPU) -- the latter is the bound
that shows what our regularisation costs. fastai runs in its own venv through ``fastai_bridge``
(skipped with a note if absent).

    python benchmarks/lm_throughput.py                      # paper size, 10k vocab, batch 32
    python benchmarks/lm_throughput.py --sizes 64x128x3x8000 128x256x3x10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, write_results  # noqa: E402

quiet_threads()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from skulmfit.devices import resolve_device, tune_cpu_allocator  # noqa: E402
from skulmfit.lm_training import lm_loss  # noqa: E402
from skulmfit.losses import linear_cross_entropy  # noqa: E402
from skulmfit.model import AWDLSTMConfig, LanguageModel  # noqa: E402


class BareLM(nn.Module):
    """Embedding -> nn.LSTM layers -> tied decoder; no regularisation."""

    def __init__(self, vocab: int, emb: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        sizes = [emb] + [hidden] * (layers - 1) + [emb]
        self.rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(layers))
        self.decoder = nn.Linear(emb, vocab)
        self.decoder.weight = self.embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embedding(x)
        for rnn in self.rnns:
            h, _ = rnn(h)
        return self.decoder(h)


def _time(step, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def measure(emb: int, hidden: int, layers: int, vocab: int, batch: int, bptt: int, steps: int, warmup: int,
            device: torch.device) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randint(2, vocab, (batch, bptt), device=device)
    y = torch.randint(2, vocab, (batch, bptt), device=device)
    rows = []
    ours = LanguageModel(AWDLSTMConfig(vocab_size=vocab, emb_size=emb, hidden_size=hidden, n_layers=layers)).to(device)
    ours.set_drop_mult(1.0)
    ours.train()
    opt = torch.optim.AdamW(ours.parameters(), lr=1e-3, betas=(0.7, 0.99))
    state = {"h": None}
    amp = device.type == "cuda"

    def step_ours() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _, new = lm_loss(ours, x, y, state["h"], 2.0, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(ours.parameters(), 0.4)
        opt.step()
        state["h"] = [(h.detach(), c.detach()) for h, c in new]

    sec = _time(step_ours, steps, warmup, device)
    rows.append({"impl": "skulmfit AWD-LSTM (all regularisers)", "tokens_per_s": batch * bptt / sec, "s_per_step": sec})
    bare = BareLM(vocab, emb, hidden, layers).to(device)
    opt2 = torch.optim.AdamW(bare.parameters(), lr=1e-3, betas=(0.7, 0.99))

    def step_bare() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = bare(x)
            loss = F.cross_entropy(logits.reshape(-1, vocab).float(), y.reshape(-1))
        opt2.zero_grad(set_to_none=True)
        loss.backward()
        opt2.step()

    sec = _time(step_bare, steps, warmup, device)
    rows.append({"impl": "bare nn.LSTM stack, plain loss", "tokens_per_s": batch * bptt / sec, "s_per_step": sec})
    if device.type == "cpu":  # the same stack with skulmfit's chunked loss: the bound for our CPU step
        def step_bare_chunked() -> None:
            h = bare.embedding(x)
            for rnn in bare.rnns:
                h, _ = rnn(h)
            loss = linear_cross_entropy(h.reshape(-1, emb), bare.decoder.weight, bare.decoder.bias, y.reshape(-1))
            opt2.zero_grad(set_to_none=True)
            loss.backward()
            opt2.step()

        sec = _time(step_bare_chunked, steps, warmup, device)
        rows.append({"impl": "bare nn.LSTM stack, chunked loss (bound)", "tokens_per_s": batch * bptt / sec,
                     "s_per_step": sec})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["400x1150x3x10000"], help="EMBxHIDDENxLAYERSxVOCAB ...")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bptt", type=int, default=70)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; each implementation's best is kept")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-fastai", action="store_true")
    p.add_argument("--no-malloc-tuning", action="store_true")
    p.add_argument("--name", default="lm_throughput")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    tuned = False if args.no_malloc_tuning else tune_cpu_allocator()
    from fastai_bridge import run_fastai

    rows = []
    for size in args.sizes:
        emb, hidden, layers, vocab = (int(v) for v in size.split("x"))
        best: dict[str, dict] = {}
        for _ in range(args.rounds):  # alternate the implementations; keep each one's best round
            res = measure(emb, hidden, layers, vocab, args.batch, args.bptt, args.steps, args.warmup, device)
            if not args.no_fastai and device.type == "cpu":
                fa = run_fastai("lm", emb=emb, hidden=hidden, layers=layers, vocab=vocab, batch=args.batch,
                                bptt=args.bptt, threads=args.threads, steps=args.steps, warmup=args.warmup,
                                env={"OMP_WAIT_POLICY": "PASSIVE"})
                for r in fa:
                    res.append({"impl": f"fastai {r.get('fastai_version')} AWD_LSTM",
                                "tokens_per_s": r["tokens_per_s"], "s_per_step": r["seconds_per_step"]})
            for r in res:
                r["rounds"] = args.rounds
                if r["impl"] not in best or r["tokens_per_s"] > best[r["impl"]]["tokens_per_s"]:
                    best[r["impl"]] = r
        res = list(best.values())
        ours = res[0]["tokens_per_s"]
        for r in res:
            r.update(size=size, device=str(device), ratio_to_skulmfit=r["tokens_per_s"] / ours)
            print(f"{size:>18} {r['impl']:<40} {r['tokens_per_s']:>10,.0f} tokens/s  x{r['ratio_to_skulmfit']:.2f}")
        rows += res
    table = markdown_table(rows, ["size", "device", "impl", "tokens_per_s", "s_per_step", "ratio_to_skulmfit"])
    note = (f"\nbatch {args.batch}, bptt {args.bptt}, {args.threads} threads, forward+backward+AdamW step, "
            f"glibc malloc tuning {'on' if tuned else 'off'}; OMP_WAIT_POLICY=PASSIVE for all; best of "
            f"{args.rounds} alternating rounds per implementation (shared, noisy machine). "
            "size = emb x hidden x layers x vocab.\n")
    write_results(args.name, {"rows": rows, "batch": args.batch, "bptt": args.bptt, "threads": args.threads,
                              "malloc_tuning": tuned}, table + note, "LM training throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
