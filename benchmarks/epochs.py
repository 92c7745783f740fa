"""How long to fine-tune? TREC-6 test error against the classifier's and the LM's epochs.

The paper tunes the number of epochs on each task's validation set and names 50 classifier epochs
"a good default" (Howard & Ruder 2018, Section 4 and footnote 7; 15 LM fine-tuning epochs on
TREC-6). This script measures what the epoch counts do with the shipped default model, on a
small (200 class-balanced questions, several seeds) and on the full (5,452 questions) TREC-6
training set, each evaluated on the 500 test questions; it is the evidence behind the
``epochs`` / ``lm_epochs`` defaults of ``ULMFiTClassifier``.

    python benchmarks/epochs.py                      # grid below, 3 seeds on 200, 1 seed on 5,452
    python benchmarks/epochs.py --quick              # 200 questions, 1 seed, 3 settings
    python benchmarks/epochs.py --grid 6:2 50:2 50:15 --sizes 200

Each setting is ``EPOCHS:LM_EPOCHS``; everything else is the library default.
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

GRID = ("6:2", "20:2", "50:2", "50:15")
QUICK_GRID = ("6:2", "20:2", "50:2")


def parse_setting(text: str) -> tuple[int, int]:
    try:
        e, lm = text.split(":")
        return int(e), int(lm)
    except ValueError:
        raise SystemExit(f"a setting is EPOCHS:LM_EPOCHS, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_common_args(p, seeds=(0, 1, 2))
    p.add_argument("--grid", nargs="+", default=None, help=f"EPOCHS:LM_EPOCHS settings (default: {' '.join(GRID)})")
    p.add_argument("--sizes", nargs="+", type=int, default=None,
                   help="training-set sizes; 0 = all 5,452 (default: 200 0)")
    p.add_argument("--full-seeds", type=int, nargs="+", default=[0], help="seeds for the full training set")
    args = p.parse_args(argv)
    grid = [parse_setting(s) for s in (args.grid or (QUICK_GRID if args.quick or args.smoke else GRID))]
    sizes = args.sizes or ([200] if args.quick or args.smoke else [200, 0])
    if (args.quick or args.smoke) and args.seeds == [0, 1, 2]:
        args.seeds = [0]
    if args.smoke:
        grid = [(1, 1), (2, 1)]
        sizes = [60]
    B.setup_torch(args.threads)
    name = B.result_name("epochs", args)
    t_start = time.perf_counter()
    X, y, Xt, yt = B.load_trec_split()
    if args.smoke:
        Xt, yt = B.take(Xt, yt, B.stratified_indices(yt, 100, 0))

    import joblib

    cells = B.Cells("epochs", args.resume)  # one folder per script: keys tell runs apart
    runs: list[dict] = []
    with B.temp_memory(name, args.resume) as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)  # one LM fine-tuning per (subset, seed, lm_epochs)
        for n in sizes:
            seeds = args.seeds if n else args.full_seeds
            for seed in seeds:
                if n:
                    idx = B.BalancedSampler(y, seed).indices(n)
                    Xs, ys = B.take(X, y, idx)
                else:
                    Xs, ys = list(X), y
                for epochs, lm_epochs in grid:
                    est = B.make_ulmfit(B.ulmfit_params(args, seed, memory, epochs=epochs, lm_epochs=lm_epochs))

                    def run_one(est=est, Xs=Xs, ys=ys) -> dict:
                        r = B.fit_eval(est, Xs, ys, Xt, yt)
                        r["train_error"] = 100.0 * float(np.mean(r.pop("estimator").predict(Xs) != ys))
                        return r

                    key = {"estimator": B.describe_estimator(est), "data": B.data_digest(Xs, ys, Xt, yt)}
                    r = cells.run(key, run_one)
                    train_err = r["train_error"]
                    row = {"n_train": len(Xs), "seed": seed, "epochs": epochs, "lm_epochs": lm_epochs,
                           "test_error": r["error"], "train_error": train_err, "fit_s": r["fit_s"]}
                    runs.append(row)
                    B.log(f"n={len(Xs):>5} seed {seed} epochs {epochs:>3} lm_epochs {lm_epochs:>3}: test error "
                          f"{r['error']:6.2f}%  train error {train_err:5.1f}%  "
                          f"fit {r['fit_s']:6.1f}s")

    rows = []
    for n in sorted({r["n_train"] for r in runs}):
        for epochs, lm_epochs in grid:
            rs = [r for r in runs if r["n_train"] == n and r["epochs"] == epochs and r["lm_epochs"] == lm_epochs]
            m, s = B.mean_std([r["test_error"] for r in rs])
            tm, ts = B.mean_std([r["train_error"] for r in rs])
            rows.append({"training questions": n, "epochs": epochs, "lm_epochs": lm_epochs, "seeds": len(rs),
                         "test error %": B.pm(m, s), "train error %": B.pm(tm, ts),
                         "fit s": float(np.mean([r["fit_s"] for r in rs])), "test_mean": m, "test_std": s})
    wall = time.perf_counter() - t_start
    table = markdown_table(rows, ["training questions", "epochs", "lm_epochs", "seeds", "test error %",
                                  "train error %", "fit s"])
    notes = [
        ("TREC-6 test set (500 questions). Subsets of 200 are class-balanced and drawn per seed; the full set is "
         "all 5,452 training questions. Seed s is also the random_state."),
        f"All other parameters are the library defaults; pretrained={args.pretrained!r}.",
        "Paper: 50 classifier epochs as a good default, 15 LM epochs on TREC-6 (footnote 7).",
        "std: sample standard deviation over seeds (ddof=1).",
        f"Wall time {wall:.0f} s ({cells.reused} of {len(runs)} runs read back from an earlier sitting).",
    ]
    print()
    print(table)
    for n in notes:
        print(n)
    write_results(name, {"grid": grid, "sizes": sizes, "seeds": args.seeds, "full_seeds": args.full_seeds,
                         "rows": rows, "runs": runs, "wall_seconds": wall, "notes": notes,
                         "resume": cells.summary(), "paper_source": B.PAPER_SOURCE},
                  with_notes(table, notes),
                  "Classifier and LM epochs on TREC-6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
