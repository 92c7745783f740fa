"""Classifier precision check on TREC-6: does bfloat16 change what the classifier learns or predicts?

Two questions, one run, the shipped default model (64/128/3), TREC-6 train (5,452) / test (500):

1. **Training** (``precision='fp32'`` vs ``'bf16'``, same seeds): test accuracy of each fit, both
   predicting in float32, so the difference is the training precision alone. This decides
   whether ``precision='auto'`` could train in bf16 on CPUs with native bfloat16.
2. **Prediction** (one model, fitted in float32, predicting in float32 and in bfloat16 via
   ``set_params(precision=...)``): label agreement, largest and mean absolute probability
   difference, accuracy under each, and predict documents/s of each (interleaved, median of 3).

    python benchmarks/classifier_precision.py                 # 3 seeds, 15 epochs: ~10 min on 2 busy cores
    python benchmarks/classifier_precision.py --quick         # 1 seed, 3 epochs, 1,000 training questions
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402


def predict_rates(clf, X, rounds: int = 3) -> dict[str, float]:
    """Predict documents/s in float32 and bfloat16, interleaved, median over ``rounds``."""
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(rounds):
        for prec in times:
            clf.set_params(precision=prec)
            t = time.perf_counter()
            clf.predict_proba(X)
            times[prec].append(time.perf_counter() - t)
    clf.set_params(precision="fp32")
    return {prec: len(X) / statistics.median(t) for prec, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=15, help="classifier epochs (gradual unfreezing)")
    p.add_argument("--lm-epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = args.seeds[:1], 3
    torch.set_num_threads(args.threads)

    from _bench import load_trec_split

    from skulmfit import ULMFiTClassifier
    from skulmfit.precision import cpu_has_native_bf16

    X, y, Xt, yt = load_trec_split()
    if args.quick:
        X, y = X[:1000], y[:1000]
    train_rows, pred_rows = [], []
    for seed in args.seeds:
        for prec in ("fp32", "bf16"):
            clf = ULMFiTClassifier(device="cpu", lm_epochs=args.lm_epochs, epochs=args.epochs, random_state=seed,
                                   precision=prec)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # bf16 on a CPU without native support
                clf.fit(X, y)
            fit_s = time.perf_counter() - t0
            clf.set_params(precision="fp32")  # accuracy of what the training learned, read exactly
            acc = float(np.mean(clf.predict(Xt) == yt))
            train_rows.append({"training": prec, "seed": seed, "test_accuracy": acc, "fit_s": fit_s,
                               "load_1min": os.getloadavg()[0]})
            print(f"seed {seed} trained {prec}: test accuracy {acc:.4f} ({fit_s:.0f} s)", flush=True)
            if prec != "fp32":
                continue
            p32 = clf.set_params(precision="fp32").predict_proba(Xt)
            p16 = clf.set_params(precision="bf16").predict_proba(Xt)
            rates = predict_rates(clf, Xt)
            lab32, lab16 = clf.classes_[p32.argmax(1)], clf.classes_[p16.argmax(1)]
            diff = np.abs(p32 - p16)
            pred_rows.append({"seed": seed, "label_agreement": float(np.mean(lab32 == lab16)),
                              "max_abs_prob_diff": float(diff.max()), "mean_abs_prob_diff": float(diff.mean()),
                              "accuracy_fp32": float(np.mean(lab32 == yt)),
                              "accuracy_bf16": float(np.mean(lab16 == yt)),
                              "docs_per_s_fp32": rates["fp32"], "docs_per_s_bf16": rates["bf16"]})
            r = pred_rows[-1]
            print(f"  predict bf16 vs fp32: agreement {r['label_agreement']:.4f}, max |dp| {r['max_abs_prob_diff']:.2e}"
                  f", {rates['fp32']:.0f} vs {rates['bf16']:.0f} docs/s", flush=True)

    acc = {prec: [r["test_accuracy"] for r in train_rows if r["training"] == prec] for prec in ("fp32", "bf16")}
    lines = [
        f"Training precision: test accuracy fp32 {', '.join(f'{a:.3f}' for a in acc['fp32'])} (mean "
        f"{np.mean(acc['fp32']):.4f}) vs bf16 {', '.join(f'{a:.3f}' for a in acc['bf16'])} (mean "
        f"{np.mean(acc['bf16']):.4f}), seeds {args.seeds}",
        f"Prediction precision (fp32-trained models): label agreement "
        f"{min(r['label_agreement'] for r in pred_rows):.4f}-{max(r['label_agreement'] for r in pred_rows):.4f}, "
        f"largest probability difference {max(r['max_abs_prob_diff'] for r in pred_rows):.2e}",
    ]
    t1 = markdown_table([{**r, "test_accuracy": f"{r['test_accuracy']:.4f}", "fit_s": f"{r['fit_s']:.0f}"}
                         for r in train_rows], ["training", "seed", "test_accuracy", "fit_s"])
    t2 = markdown_table([{**r, **{k: f"{r[k]:.4f}" for k in ("label_agreement", "accuracy_fp32", "accuracy_bf16")},
                          "max_abs_prob_diff": f"{r['max_abs_prob_diff']:.2e}",
                          "mean_abs_prob_diff": f"{r['mean_abs_prob_diff']:.2e}",
                          "docs_per_s_fp32": f"{r['docs_per_s_fp32']:,.0f}",
                          "docs_per_s_bf16": f"{r['docs_per_s_bf16']:,.0f}"} for r in pred_rows],
                        ["seed", "label_agreement", "max_abs_prob_diff", "mean_abs_prob_diff", "accuracy_fp32",
                         "accuracy_bf16", "docs_per_s_fp32", "docs_per_s_bf16"])
    loads = [r["load_1min"] for r in train_rows]
    notes = [
        f"Model: the shipped default (64/128/3, 8,000 pretraining words; task vocabulary from TREC-6); "
        f"TREC-6 train {len(X):,} / test {len(Xt):,}; lm_epochs {args.lm_epochs}, epochs {args.epochs} (gradual "
        f"unfreezing), other parameters the estimator's defaults; device cpu, {args.threads} threads; "
        f"CPU native bfloat16: {cpu_has_native_bf16()}.",
        "Training table: each model predicts in float32 (set_params(precision='fp32')), so the accuracy "
        "difference is the training precision alone. Prediction table: the fp32-trained model of each seed, "
        "predicting the test set in float32 and in bfloat16; docs/s = predict_proba over the 500 test "
        "questions, median of 3 interleaved rounds.",
        f"1-minute load average during the fits: {min(loads):.1f}-{max(loads):.1f} (shared machine).",
    ]
    md = "\n".join(f"* {line}" for line in lines) + "\n\n## Training precision\n\n" + t1
    md += "\n\n## Prediction precision\n\n" + t2
    md = with_notes(md, notes)
    print(md)
    name = args.name or ("classifier_precision_quick" if args.quick else "classifier_precision")
    write_results(name, {"train": train_rows, "predict": pred_rows, "args": vars(args)}, md,
                  "Classifier precision on TREC-6 (shipped 64/128/3 model): bf16 vs float32 training and prediction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
