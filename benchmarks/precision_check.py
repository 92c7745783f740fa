"""Perplexity check for a cheaper training precision: fine-tune the same LM on the same IMDb text
for the same number of tokens in float32 and in bfloat16 (``precision='bf16'``), then measure the
validation perplexity of each EXACTLY (float32 evaluation), per seed.

The issue's bar: a cheaper training computation is acceptable only if its validation perplexity
stays within 2 % of exact float32 training after the same tokens. The seeds show how much two
float32 runs that differ only in their dropout masks and BPTT lengths differ, for scale.

Setup: IMDb training reviews (shuffled with seed 0) are tokenized with the pretrained model's
tokenizer; the task vocabulary holds up to ``--max-vocab`` words of the first ``--vocab-docs``
reviews (``--min-freq``, default 1, so a 60,000-word vocabulary as in fastai's IMDb fine-tuning
is reached from a few thousand reviews); the pretrained model moves onto it
(:func:`skulmfit.modelfile.transfer_vocab`); fine-tuning reads ``--tokens`` tokens of those reviews
with the estimators' LM settings (lr 0.004, discriminative rates /2.6, STLR, drop_mult 0.3,
batch 64, bptt 70); validation is the first ``--valid-tokens`` tokens of IMDb test reviews.

    python benchmarks/precision_check.py                            # shipped model, 60k words
    python benchmarks/precision_check.py --pretrained none --size 400x1152x3 --tokens 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

PASS_BAR = 0.02  # relative perplexity difference allowed


def load_texts(data: str, vocab_docs: int, valid_docs: int) -> tuple[list[str], list[str]]:
    from skulmfit.datasets import load_imdb

    X, _ = load_imdb(Path(data) / "imdb", "train", return_X_y=True)
    Xt, _ = load_imdb(Path(data) / "imdb", "test", return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    torder = np.random.default_rng(1).permutation(len(Xt))
    return [X[i] for i in order[:vocab_docs]], [Xt[i] for i in torder[:valid_docs]]


def base_model(args, vocab):
    """The model to fine-tune, on the task vocabulary (a fresh copy each call)."""
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.modelfile import load_lm, transfer_vocab
    from skulmfit.pretrained import resolve_pretrained

    if args.pretrained == "none":
        emb, hidden, layers = (int(v) for v in args.size.split("x"))
        torch.manual_seed(1234)  # the same random initialisation for every run
        return LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), pad_idx=vocab.pad_idx, emb_size=emb,
                                           hidden_size=hidden, n_layers=layers))
    return transfer_vocab(load_lm(resolve_pretrained(args.pretrained, "fwd")), vocab).model


def tokenizer_for(args):
    from skulmfit.modelfile import load_lm
    from skulmfit.pretrained import resolve_pretrained
    from skulmfit.tokenizer import Tokenizer

    if args.pretrained == "none":
        return Tokenizer()
    return load_lm(resolve_pretrained(args.pretrained, "fwd")).tokenizer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", default="default", help="'default', a skulmfit model file, or 'none' (random)")
    p.add_argument("--size", default="400x1152x3", help="EMBxHIDDENxLAYERS with --pretrained none")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--tokens", type=int, default=400_000, help="fine-tuning tokens per run")
    p.add_argument("--valid-tokens", type=int, default=100_000)
    p.add_argument("--vocab-docs", type=int, default=6000, help="IMDb training reviews read (vocabulary, text)")
    p.add_argument("--max-vocab", type=int, default=60_000)
    p.add_argument("--min-freq", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bptt", type=int, default=70)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--name", default="precision_check")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from skulmfit.corpus import numericalize_docs
    from skulmfit.devices import resolve_device, tune_cpu_allocator
    from skulmfit.lm_training import LMTrainConfig, LMTrainer, evaluate_lm
    from skulmfit.vocab import Vocab

    device = resolve_device(args.device)
    tune_cpu_allocator()
    t0 = time.perf_counter()
    train_texts, valid_texts = load_texts(args.data, args.vocab_docs, 2000)
    tok = tokenizer_for(args)
    docs = list(tok.tokenize_many(train_texts))
    vocab = Vocab.build(docs, max_size=args.max_vocab, min_freq=args.min_freq)
    train_ids = numericalize_docs(docs, vocab)
    valid_ids = numericalize_docs(tok.tokenize_many(valid_texts), vocab)[: args.valid_tokens]
    unk = float(np.mean(valid_ids == vocab.unk_idx))
    print(f"vocabulary {len(vocab):,} words; {len(train_ids):,} training tokens available, "
          f"{len(valid_ids):,} validation tokens; prepared in {time.perf_counter() - t0:.0f} s", flush=True)
    if len(train_ids) < args.tokens:
        raise SystemExit(f"only {len(train_ids):,} training tokens; raise --vocab-docs")

    rows, shape = [], ""
    for seed in args.seeds:
        for prec in args.precisions:
            model = base_model(args, vocab).to(device)
            c = model.config
            shape = f"{c.emb_size}/{c.hidden_size}/{c.n_layers}, {len(vocab):,} words"
            torch.manual_seed(seed)
            cfg = LMTrainConfig(batch_size=args.batch, bptt=args.bptt, max_tokens=args.tokens, lr=0.004,
                                lr_decay=2.6, drop_mult=0.3, seed=seed, precision=prec)
            trainer = LMTrainer(model, train_ids[: args.tokens + 1], cfg, device)
            trainer.run()
            ev = evaluate_lm(model, valid_ids, device, batch_size=16, bptt=args.bptt)
            row = {"precision": prec, "seed": seed, "valid_perplexity": ev["perplexity"], "valid_loss": ev["loss"],
                   "tokens": trainer.tokens_seen, "train_s": trainer.train_seconds,
                   "tokens_per_s": trainer.tokens_seen / trainer.train_seconds, "load_1min": os.getloadavg()[0]}
            rows.append(row)
            print(f"  seed {seed} {prec:>5}: valid perplexity {ev['perplexity']:.3f} after {trainer.tokens_seen:,} "
                  f"tokens ({row['tokens_per_s']:,.0f} tokens/s, load {row['load_1min']:.1f})", flush=True)
    ref = {r["seed"]: r["valid_perplexity"] for r in rows if r["precision"] == "fp32"}
    for r in rows:
        if r["seed"] in ref:
            r["vs_fp32_same_seed"] = r["valid_perplexity"] / ref[r["seed"]] - 1
    fp32_vals = list(ref.values())
    seed_spread = (max(fp32_vals) / min(fp32_vals) - 1) if len(fp32_vals) > 1 else None
    verdicts = {}
    for prec in args.precisions:
        if prec == "fp32":
            continue
        diffs = [r["vs_fp32_same_seed"] for r in rows if r["precision"] == prec and "vs_fp32_same_seed" in r]
        worst = max(abs(d) for d in diffs) if diffs else None
        verdicts[prec] = {"worst_relative_difference": worst, "passes_2pct": worst is not None and worst <= PASS_BAR}
    size = (f"random-init {args.size}" if args.pretrained == "none" else f"pretrained '{args.pretrained}' model")
    table = markdown_table([{**r, "valid_perplexity": f"{r['valid_perplexity']:.3f}",
                             "vs_fp32_same_seed": (f"{100 * r['vs_fp32_same_seed']:+.2f} %"
                                                   if "vs_fp32_same_seed" in r else ""),
                             "tokens_per_s": f"{r['tokens_per_s']:,.0f}", "train_s": f"{r['train_s']:.0f}"}
                            for r in rows],
                           ["precision", "seed", "valid_perplexity", "vs_fp32_same_seed", "tokens", "train_s",
                            "tokens_per_s"])
    lines = [f"**{prec}**: worst perplexity difference to float32 with the same seed "
             f"{100 * v['worst_relative_difference']:.2f} % -> "
             f"{'within' if v['passes_2pct'] else 'OUTSIDE'} the 2 % bar" for prec, v in verdicts.items()
             if v["worst_relative_difference"] is not None]
    if seed_spread is not None:
        lines.append(f"float32 seed-to-seed spread (max/min - 1): {100 * seed_spread:.2f} %")
    notes = [
        f"Model: {size} ({shape}); IMDb text: {args.vocab_docs:,} training reviews (vocabulary: top "
        f"{args.max_vocab:,} words, min_freq {args.min_freq}), {args.tokens:,} fine-tuning tokens per run, "
        f"{len(valid_ids):,} validation tokens of IMDb test reviews ({100 * unk:.2f} % unknown).",
        "Fine-tuning: lr 0.004, lr_decay 2.6, STLR, drop_mult 0.3, AR 2 / TAR 1, clip 0.4, AdamW; "
        f"batch {args.batch}, bptt {args.bptt}; device {device}, {args.threads} threads. Evaluation always float32.",
        "Same seed = same dropout masks and BPTT lengths: the difference is the training precision alone.",
        "tokens/s is over the training loop of each run, on a shared machine (load average in the JSON): "
        "speed is measured properly, interleaved, by benchmarks/speed.py and lm_throughput.py.",
    ]
    md = "\n".join(f"* {line}" for line in lines) + "\n\n" + table
    md = with_notes(md, notes)
    print(md)
    write_results(args.name, {"rows": rows, "verdicts": verdicts, "seed_spread_fp32": seed_spread,
                              "vocab_size": len(vocab), "model": shape, "source": size, "args": vars(args),
                              "pass_bar": PASS_BAR}, md,
                  f"Training-precision check: perplexity after the same fine-tuning ({shape})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
