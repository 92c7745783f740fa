"""LM training throughput at the paper's size: skulmfit vs a bare nn.LSTM stack vs fastai's AWD_LSTM.

All implementations train the same sizes on the same random batches (forward + backward +
optimizer step), each measurement in a fresh process, interleaved round by round (A, B, C, A,
B, C, ...) so that a shared machine's load falls on all alike; the table gives each one's median
over the rounds, its range, the 1-minute load average during the run, and ratios to fastai and to
skulmfit's exact float32 step. Rows (see ``_throughput.py``):

* ``skulmfit``: the AWD-LSTM with all regularisers (embedding, locked and weight dropout, AR/TAR),
  clip 0.4, AdamW, exact float32 (on CPU the chunked loss of ``skulmfit.losses``);
* ``skulmfit-bf16``: the same with ``precision='bf16'`` (CPU with AVX-512 BF16/AMX, or CUDA);
  a cheaper training computation, see ``precision_check.py`` for its perplexity check;
* ``bare-plain``: embedding, ``nn.LSTM`` layers, tied decoder, ``F.cross_entropy`` over the full
  logits, no regularisation (what most code does);
* ``bare-chunked``: that stack with skulmfit's exact chunked loss: the bound for skulmfit's float32
  step, so ``1 - skulmfit / bare-chunked`` is the cost of the regularisers;
* ``fastai``: ``get_language_model(AWD_LSTM)`` (fastai 2.8.12 in its own venv, ``fastai_bridge``),
  cross entropy over the full logits, Adam.

    python benchmarks/lm_throughput.py                 # 400x1152x3 at 10k and 60k words, batch 64
    python benchmarks/lm_throughput.py --sizes 64x128x3x8000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import _throughput as T  # noqa: E402

PAPER_SIZES = ["400x1152x3x10000", "400x1152x3x60000"]


def default_impls(device: str) -> list[str]:
    """The rows to measure: bf16 only where it runs natively, fastai only on CPU (its venv is CPU-only)."""
    import torch

    from skulmfit.precision import cpu_has_native_bf16

    impls = ["skulmfit"]
    if (device == "cpu" and cpu_has_native_bf16()) or (device.startswith("cuda") and torch.cuda.is_bf16_supported()):
        impls.append("skulmfit-bf16")
    impls += ["bare-plain", "bare-chunked"]
    if device == "cpu":
        impls.append("fastai")
    return impls


def lm_jobs(sizes: list[str], impls: list[str], batch: int, bptt: int, steps: int, warmup: int, threads: int,
            device: str) -> list[tuple[str, Any]]:
    """(name, callable) per size and implementation, for :func:`_throughput.interleave`."""
    from fastai_bridge import run_fastai

    jobs = []
    for size in sizes:
        emb, hidden, layers, vocab = (int(v) for v in size.split("x"))
        for impl in impls:
            if impl == "fastai":
                def fn(emb=emb, hidden=hidden, layers=layers, vocab=vocab) -> list[dict]:
                    rows = run_fastai("lm", emb=emb, hidden=hidden, layers=layers, vocab=vocab, batch=batch,
                                      bptt=bptt, threads=threads, steps=steps, warmup=warmup,
                                      env={"OMP_WAIT_POLICY": "PASSIVE"})
                    return [{"impl": f"fastai {r.get('fastai_version')}", "tokens_per_s": r["tokens_per_s"],
                             "s_per_step": r["seconds_per_step"]} for r in rows]
            else:
                def fn(emb=emb, hidden=hidden, layers=layers, vocab=vocab, impl=impl) -> list[dict]:
                    return T.run_child("lm", impl=impl, emb=emb, hidden=hidden, layers=layers, vocab=vocab,
                                       batch=batch, bptt=bptt, steps=steps, warmup=warmup, threads=threads,
                                       device=device)
            jobs.append((f"{size}|{impl}", fn))
    return jobs


def summarize_lm(results: dict[str, list[list[dict]]]) -> list[dict[str, Any]]:
    """One row per (size, implementation): median tokens/s over the rounds, range, ratios."""
    rows = []
    for name, rounds in results.items():
        size, impl = name.split("|")
        samples = [r["tokens_per_s"] for rows_ in rounds for r in rows_]
        label = next((r["impl"] for rows_ in rounds for r in rows_ if r["impl"].startswith("fastai")), impl)
        peak = [r["peak_gpu_mb"] for rows_ in rounds for r in rows_ if "peak_gpu_mb" in r]
        rows.append({"size": size, "impl": label, "key": impl, "tokens_per_s": T.median_of(samples),
                     "range": T.spread(samples), "n": len(samples),
                     "loads": [r["load_1min"] for rows_ in rounds for r in rows_],
                     **({"peak_gpu_mb": max(peak)} if peak else {})})
    for size in {r["size"] for r in rows}:
        by = {r["key"]: r for r in rows if r["size"] == size}
        for r in by.values():
            for ref, col in (("fastai", "x fastai"), ("skulmfit", "x skulmfit fp32")):
                base = by.get(ref, {}).get("tokens_per_s")
                r[col] = r["tokens_per_s"] / base if base and r["tokens_per_s"] else None
    return rows


def overhead_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The regularisation overhead (skulmfit fp32 vs the bare stack with the same chunked loss) per size."""
    out = []
    for size in dict.fromkeys(r["size"] for r in rows):
        by = {r["key"]: r for r in rows if r["size"] == size}
        ours, bound = by.get("skulmfit", {}).get("tokens_per_s"), by.get("bare-chunked", {}).get("tokens_per_s")
        if ours and bound:
            out.append(f"{size}: regularisation overhead (1 - skulmfit / bare-chunked, same exact loss) "
                       f"{100 * (1 - ours / bound):.1f} %")
    return out


def lm_table(rows: list[dict[str, Any]]) -> str:
    def x(v: float | None) -> str:
        return f"{v:.2f}" if v else ""

    shown = [{**r, "tokens/s (median)": r["tokens_per_s"], "range over rounds": r["range"],
              "x fastai": x(r.get("x fastai")), "x skulmfit fp32": x(r.get("x skulmfit fp32"))} for r in rows]
    return markdown_table(shown, ["size", "impl", "tokens/s (median)", "range over rounds", "n", "x fastai",
                                  "x skulmfit fp32"])


def load_note(rows: list[dict[str, Any]]) -> str:
    loads = [v for r in rows for v in r.get("loads", [])]
    if not loads:
        return ""
    return (f"1-minute load average on the {os.cpu_count()} cores during the measurements: {min(loads):.1f}-"
            f"{max(loads):.1f} (the machine was shared: background pretraining and other work were running, so "
            "absolute numbers are low and noisy; compare rows of this run, by their ratios)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=PAPER_SIZES, help="EMBxHIDDENxLAYERSxVOCAB ...")
    p.add_argument("--impls", nargs="+", default=None,
                   help=f"subset of {list(T.LM_IMPLS) + ['fastai']} (default: all that run here)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bptt", type=int, default=70)
    p.add_argument("--steps", type=int, default=2, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--device", default="cpu")
    p.add_argument("--name", default="lm_throughput")
    args = p.parse_args(argv)
    impls = args.impls or default_impls(args.device)
    results = T.interleave(lm_jobs(args.sizes, impls, args.batch, args.bptt, args.steps, args.warmup, args.threads,
                                   args.device), args.rounds)
    rows = summarize_lm(results)
    for r in rows:
        print(f"{r['size']:>18} {r['impl']:<22} {r['tokens_per_s'] or 0:>10,.0f} tokens/s  "
              f"x fastai {r.get('x fastai') or float('nan'):.2f}")
    notes = overhead_lines(rows) + [
        f"batch {args.batch}, bptt {args.bptt}, {args.threads} threads, device {args.device}; forward + backward + "
        f"optimizer step on random tokens; {args.steps} timed steps after {args.warmup} warm-up per measurement, "
        f"each in a fresh process; {args.rounds} interleaved rounds, median reported. size = emb x hidden x "
        "layers x vocabulary.",
        load_note(rows),
    ]
    md = with_notes(lm_table(rows), [n for n in notes if n])
    write_results(args.name, {"rows": rows, "batch": args.batch, "bptt": args.bptt, "threads": args.threads,
                              "rounds": args.rounds, "raw": results}, md, "LM training throughput")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
