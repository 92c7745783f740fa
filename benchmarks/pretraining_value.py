"""What does pretraining buy? ULMFiT from the shipped model vs the identical architecture from
random initialisation, on 200 class-balanced TREC-6 training questions.

Both arms run the whole method with the same parameters (LM fine-tuning on the 200 questions,
then gradual unfreezing, discriminative rates, STLR); the only difference is
``pretrained='default'`` vs ``pretrained=None`` (random initialisation; skulmfit then builds the
shipped default model's architecture). Evaluated on the 500 TREC-6 test questions. Seed ``s``
draws the balanced subset AND is the ``random_state`` of both arms, so each seed is a paired
comparison on the same questions.

    python benchmarks/pretraining_value.py                 # 3 seeds, library default epochs
    python benchmarks/pretraining_value.py --quick         # 1 seed, fewer epochs (about a minute)
    python benchmarks/pretraining_value.py --pretrained my_fwd.pt --set drop_mult=0.5

For context only: the paper's Table 4 reports TREC-6 *validation* error with the full 5.5k
training set, 10.67% without and 5.69% with pretraining (a 400/1150 model on WikiText-103); our
setting (200 questions, a small model) is not comparable in level.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import _bench as B  # noqa: E402
import numpy as np  # noqa: E402

QUICK_EPOCHS = {"lm_epochs": 1, "epochs": 5}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_common_args(p, seeds=(0, 1, 2))
    p.add_argument("--n-train", type=int, default=200, help="labelled training questions (default: %(default)s)")
    B.add_sampling_arg(p)
    args = p.parse_args(argv)
    if args.quick or args.smoke:
        if args.seeds == [0, 1, 2]:
            args.seeds = [0]
        n_test = 100 if args.smoke else None
        if args.smoke:
            args.n_train = min(args.n_train, 60)
        epoch_params = {"lm_epochs": 1, "epochs": 1 if args.smoke else QUICK_EPOCHS["epochs"]}
    else:
        n_test = None
        epoch_params = {}
    B.setup_torch(args.threads)
    name = B.result_name("pretraining_value", args)
    t_start = time.perf_counter()

    X, y, Xt, yt = B.load_trec_split()
    if n_test is not None:
        idx = B.stratified_indices(yt, n_test, 0)
        Xt, yt = B.take(Xt, yt, idx)
    note_arch = B.pretrained_for_scratch_note(args.pretrained)
    if note_arch:
        B.log(note_arch)

    arms = {"pretrained": {"pretrained": args.pretrained}, "random init": {"pretrained": None}}
    per_seed: list[dict] = []
    for seed in args.seeds:
        sampler = B.BalancedSampler(y, seed, stratified=args.sampling == "stratified")
        idx = sampler.indices(args.n_train)
        Xs, ys = B.take(X, y, idx)
        for arm, variant in arms.items():
            params = B.ulmfit_params(args, seed, **epoch_params, **variant)
            r = B.fit_eval(B.make_ulmfit(params), Xs, ys, Xt, yt)
            est = r.pop("estimator")
            row = {"arm": arm, "seed": seed, "n_train": len(Xs), "n_test": len(Xt),
                   "class_counts": sampler.quotas(args.n_train),
                   "test_error": r["error"], "fit_s": r["fit_s"], "predict_s": r["predict_s"],
                   "train_error": 100.0 * float(np.mean(est.predict(Xs) != ys)),
                   "params": {k: (str(v) if k == "pretrained" else v) for k, v in params.items() if k != "memory"},
                   "history_last": est.history_[-1] if est.history_ else None}
            per_seed.append(row)
            B.log(f"seed {seed}  {arm:<12} test error {row['test_error']:6.2f}%  (train error "
                  f"{row['train_error']:.1f}%)  fit {row['fit_s']:.1f}s")

    rows = []
    for arm in arms:
        errs = [r["test_error"] for r in per_seed if r["arm"] == arm]
        m, s = B.mean_std(errs)
        row = {"ULMFiT from": arm, "test error % (mean ± std)": B.pm(m, s), "mean": m, "std": s,
               "n_seeds": len(errs), "fit s (mean)": float(np.mean([r["fit_s"] for r in per_seed if r["arm"] == arm]))}
        for r in per_seed:
            if r["arm"] == arm:
                row[f"seed {r['seed']}"] = B.f2(r["test_error"])
        rows.append(row)
    scratch_runs = [r for r in per_seed if r["arm"] == "random init"]
    pre_runs = [r for r in per_seed if r["arm"] == "pretrained"]
    diffs = [a["test_error"] - b["test_error"] for a, b in zip(scratch_runs, pre_runs, strict=True)]
    dm, ds = B.mean_std(diffs)
    wall = time.perf_counter() - t_start

    cols = ["ULMFiT from", "test error % (mean ± std)"] + [f"seed {s}" for s in args.seeds] + ["fit s (mean)"]
    table = markdown_table(rows, cols)
    notes = [
        (f"TREC-6: {per_seed[0]['n_train']} {args.sampling} training questions per seed (balanced: as equal per "
         f"class as the classes allow; seed {args.seeds[0]}: {per_seed[0]['class_counts']}), evaluated on {len(Xt)} "
         "test questions. "
         "Seed s draws the subset and is random_state of both arms."),
        f"Paired difference (random init - pretrained): {B.pm(dm, ds)} points of test error.",
        "std: sample standard deviation over seeds (ddof=1).",
        (f"ULMFiT parameters: {B.defaults_note(dict(B.parse_sets(args.sets), **epoch_params))}; "
         f"pretrained={args.pretrained!r} vs pretrained=None."),
        ("Paper (Table 4, TREC-6 validation error, full 5.5k training set, not comparable in level): "
         f"{B.PAPER_TREC6_VALID['table4']['without pretraining']} without vs "
         f"{B.PAPER_TREC6_VALID['table4']['with pretraining']} with pretraining."),
        f"Wall time {wall:.0f} s.",
    ]
    if note_arch:
        notes.append(note_arch)
    print()
    print(table)
    for n in notes:
        print(n)
    write_results(name, {"seeds": args.seeds, "n_train": args.n_train, "sampling": args.sampling,
                         "n_test": len(Xt), "quick": args.quick,
                         "smoke": args.smoke, "rows": rows, "per_seed": per_seed,
                         "paired_difference": {"mean": dm, "std": ds, "values": diffs},
                         "paper_table4_trec6_valid": B.PAPER_TREC6_VALID["table4"], "paper_source": B.PAPER_SOURCE,
                         "wall_seconds": wall, "notes": notes},
                  with_notes(table, notes),
                  "Value of pretraining: TREC-6, 200 labelled questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
