"""Test error of ULMFiT on TREC-6, IMDb, AG News and MR, next to TF-IDF + logistic regression,
training from scratch and the paper's numbers.

Methods (all fitted on the same data in the same run):

* ULMFiT: ``ULMFiTClassifier(pretrained='default')`` with the library defaults (unlabelled IMDb
  ``unsup`` reviews join LM fine-tuning as ``y=-1`` rows);
* ULMFiT bidirectional: the same with ``bidirectional=True`` (forward and backward models
  averaged). Its forward LM fine-tuning is the unidirectional run's, reused through a shared
  ``memory=`` cache, so its fit time does NOT include the forward LM fine-tuning;
* TF-IDF + LR: word 1-2 gram TF-IDF and logistic regression (labelled rows only);
* from scratch: ``pretrained=None, lm_epochs=0`` (random init, no LM training; labelled rows only).

Data (all local, see shared/data/README.md):

* TREC-6: the 5,452 / 500 standard split (bundled).
* IMDb: 25,000 / 25,000 + 50,000 unsup exist; by default a stratified random SUBSET is used
  (``--imdb-train 1000 --imdb-test 2000 --imdb-unsup 2000``), sized from measured throughput
  (about 17 ms per review per classifier epoch on 2 cores; 4 classifier trainings of 50 epochs:
  ULMFiT, the two of the bidirectional model, from scratch) to take about an hour. ``--imdb-train
  25000 --imdb-test 25000 --imdb-unsup 50000`` is the paper's setting (days on CPU).
* AG News: only the 7,600-article TEST file exists here (the 120k training file is missing), so
  ``load_ag_news_split`` gives 5,000 training / 2,600 test articles of it; the paper trains on 120k.
* MR: 10,662 sentences, stratified 10-fold cross-validation (the paper does not report MR).

    python benchmarks/accuracy.py --resume            # full: TREC-6 7 min, AG 19, IMDb 31, MR 3.6 h (22 min a fold)
    python benchmarks/accuracy.py --datasets mr --name accuracy_mr --resume   # MR alone, on its own page
    python benchmarks/accuracy.py --quick             # 500/200 per dataset (IMDb 100/200), MR 2 folds
    python benchmarks/accuracy.py --datasets trec6 ag --set drop_mult=0.5
    python benchmarks/accuracy.py --datasets imdb --methods ULMFiT --set lm_epochs=10 --name accuracy_imdb_lm10
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

DATASETS = ("trec6", "imdb", "ag", "mr")
METHODS = ("ULMFiT", "ULMFiT bidirectional", "TF-IDF + LR", "from scratch")
PAPER = {**{ds: str(e) for ds, e in B.PAPER_TEST_ERROR.items()}, "mr": "not reported"}  # as the tables show it

SIZES = {  # (n_train, n_test) per dataset; None = all. imdb adds unsup; mr: (subset, folds)
    "full": {"trec6": (None, None), "ag": (None, None), "mr": (None, 10)},
    "quick": {"trec6": (500, 200), "ag": (500, 200), "mr": (1000, 2), "imdb": (100, 200, 0)},
    "smoke": {"trec6": (100, 50), "ag": (60, 40), "mr": (100, 2), "imdb": (30, 30, 0)},
}


def run_methods(args, seed: int, Xtr, ytr, Xte, yte, Xun, memory, epoch_params, bidi_note, cells) -> list[dict]:
    rows = []
    X_lm, y_lm = B.with_unlabelled(Xtr, ytr, Xun or [])
    for method in args.methods:
        if method == "TF-IDF + LR":
            r = B.fit_eval(B.tfidf_lr(seed), Xtr, ytr, Xte, yte, cells, method)
        elif method == "from scratch":
            params = B.ulmfit_params(args, seed, memory, **{**epoch_params, "pretrained": None, "lm_epochs": 0})
            r = B.fit_eval(B.make_ulmfit(params), Xtr, ytr, Xte, yte, cells, method)
        else:
            bidi = method == "ULMFiT bidirectional"
            if bidi and bidi_note:
                rows.append({"method": method, "error": None, "skipped": bidi_note})
                continue
            extra = {"bidirectional": True} if bidi else {}
            if bidi and args.pretrained_bwd:
                extra["pretrained_bwd"] = args.pretrained_bwd
            params = B.ulmfit_params(args, seed, memory, **{**epoch_params, **extra})
            r = B.fit_eval(B.make_ulmfit(params), X_lm, y_lm, Xte, yte, cells, method)
        r.pop("estimator", None)
        r["method"] = method
        rows.append(r)
        B.log(f"    {method:<22} test error {r['error']:6.2f}%  fit {r['fit_s']:7.1f}s  predict {r['predict_s']:6.1f}s")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_common_args(p, seeds=(0,))
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--pretrained-bwd", default=None, help="backward model file when --pretrained is a file")
    p.add_argument("--imdb-train", type=int, default=1000,
                   help="IMDb training reviews (of 25,000; default %(default)s)")
    p.add_argument("--imdb-test", type=int, default=2000, help="IMDb test reviews (of 25,000; default %(default)s)")
    p.add_argument("--imdb-unsup", type=int, default=2000,
                   help="IMDb unsup reviews for LM fine-tuning (of 50,000; 0: none; default %(default)s)")
    p.add_argument("--mr-folds", type=int, default=10)
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                   help="which of %(choices)s to run (default: all)")
    args = p.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    if mode == "full":
        sizes["imdb"] = (args.imdb_train, args.imdb_test, args.imdb_unsup)
        sizes["mr"] = (None, args.mr_folds)
    epoch_params = B.epoch_params(mode)
    B.setup_torch(args.threads)
    name = B.result_name("accuracy", args)
    bidi_note = None
    if args.pretrained != "default" and not args.pretrained_bwd:
        bidi_note = "skipped: --pretrained is a file and no --pretrained-bwd was given"
    t_start = time.perf_counter()

    import joblib

    all_rows: list[dict] = []
    setups: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    cells = B.Cells("accuracy", args.resume)  # one folder per script: keys tell runs apart
    with B.temp_memory(name, args.resume) as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)
        for ds in args.datasets:
            t_ds = time.perf_counter()
            try:
                if ds == "trec6":
                    data = B.load_trec_split()
                elif ds == "ag":
                    data = B.load_ag_split(args.data)
                elif ds == "imdb":
                    data = B.load_imdb_split(args.data, unsup=sizes["imdb"][2] > 0)
                else:
                    data = B.load_mr_all(args.data)
            except FileNotFoundError as e:
                skipped[ds] = f"data not found: {e}"
                B.log(f"{ds}: SKIPPED ({skipped[ds]})")
                continue
            for seed in args.seeds:
                if ds == "mr":
                    from sklearn.model_selection import StratifiedKFold

                    X, y = data
                    n_sub, folds = sizes["mr"]
                    idx = B.stratified_indices(y, n_sub, seed)
                    X, y = B.take(X, y, idx)
                    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
                    setups[ds] = {"n": len(X), "of": 10662, "folds": folds, "cv": "StratifiedKFold(shuffle=True)"}
                    B.log(f"MR: {len(X)} of 10,662 sentences, {folds}-fold CV, seed {seed}")
                    for k, (tr, te) in enumerate(skf.split(np.zeros(len(y)), y.astype(str))):
                        B.log(f"  fold {k + 1}/{folds}: {len(tr)} train / {len(te)} test")
                        Xtr, ytr = B.take(X, y, tr)
                        Xte, yte = B.take(X, y, te)
                        for r in run_methods(args, seed, Xtr, ytr, Xte, yte, None, memory, epoch_params,
                                             bidi_note, cells):
                            all_rows.append({"dataset": ds, "seed": seed, "fold": k, "n_train": len(Xtr),
                                             "n_test": len(Xte), "n_unlabelled": 0, **r})
                    continue
                Xun = None
                if ds == "imdb":
                    X, y, Xt, yt, Xu = data
                    n_tr, n_te, n_un = sizes["imdb"]
                    if n_un and Xu is not None:
                        rng = np.random.default_rng(seed)
                        Xun = [Xu[i] for i in rng.permutation(len(Xu))[:n_un]]
                    full = (25000, 25000, 50000)
                else:
                    X, y, Xt, yt = data
                    n_tr, n_te = sizes[ds]
                    full = (len(X), len(Xt), 0)
                itr = B.stratified_indices(y, n_tr, seed)
                ite = B.stratified_indices(yt, n_te, seed)
                Xtr, ytr = B.take(X, y, itr)
                Xte, yte = B.take(Xt, yt, ite)
                setups[ds] = {"n_train": len(Xtr), "of_train": full[0], "n_test": len(Xte), "of_test": full[1],
                              "n_unlabelled": len(Xun or []), "of_unlabelled": full[2]}
                msg = f"{ds}: {len(Xtr):,} of {full[0]:,} training, {len(Xte):,} of {full[1]:,} test"
                if ds == "imdb":
                    msg += f", {len(Xun or []):,} of 50,000 unsup (for LM fine-tuning)"
                if ds == "ag":
                    msg += " (load_ag_news_split of the 7,600-article AG test file: the 120k training file is missing)"
                B.log(msg + f", seed {seed}")
                for r in run_methods(args, seed, Xtr, ytr, Xte, yte, Xun, memory, epoch_params, bidi_note,
                                     cells):
                    all_rows.append({"dataset": ds, "seed": seed, "fold": None, "n_train": len(Xtr),
                                     "n_test": len(Xte), "n_unlabelled": len(Xun or []), **r})
            setups.setdefault(ds, {})["wall_seconds"] = time.perf_counter() - t_ds

    table_rows = []
    for ds in args.datasets:
        if ds in skipped:
            table_rows.append({"dataset": ds, "method": "—", "test error %": skipped[ds]})
            continue
        s = setups[ds]
        if ds == "mr":
            setup = f"{s['n']:,}" + (f" of {s['of']:,}" if s["n"] < s["of"] else "") + f", {s['folds']}-fold CV"
        else:
            setup = f"{s['n_train']:,}/{s['n_test']:,}"
            if s["n_train"] < s["of_train"] or s["n_test"] < s["of_test"]:
                setup += f" of {s['of_train']:,}/{s['of_test']:,}"
            if ds == "imdb":
                setup += f" + {s['n_unlabelled']:,} unsup"
            if ds == "ag":
                setup += " (split of AG test file)"
        for method in args.methods:
            rs = [r for r in all_rows if r["dataset"] == ds and r["method"] == method]
            errs = [r["error"] for r in rs if r.get("error") is not None]
            m, sd = B.mean_std(errs)
            row = {"dataset": ds, "train/test": setup, "method": method, "test error %": B.pm(m, sd) if errs else
                   rs[0].get("skipped", "") if rs else "", "mean": m, "std": sd, "n_runs": len(errs),
                   "paper test error %": PAPER[ds] if method == "ULMFiT bidirectional" else "",
                   "fit s": float(np.mean([r["fit_s"] for r in rs if "fit_s" in r])) if errs else None,
                   "predict s": float(np.mean([r["predict_s"] for r in rs if "predict_s" in r])) if errs else None}
            table_rows.append(row)
    wall = time.perf_counter() - t_start
    cols = ["dataset", "train/test", "method", "test error %", "paper test error %", "fit s", "predict s"]
    table = markdown_table(table_rows, cols)
    notes = [
        (f"Mode: {mode}; seeds {args.seeds}; wall time {wall:.0f} s. Test error is mean ± sample std over "
         "folds (MR) or seeds when there are several."),
        ("Paper numbers (Tables 2 and 3) are bidirectional ULMFiT with a 400/1150 AWD-LSTM pretrained on "
         "WikiText-103, trained on the full training sets (AG: 120k articles; here 5,000 of its test file)."),
        "IMDb: the default run uses a stratified SUBSET (see train/test); the paper uses 25k/25k + 50k unsup.",
        f"TF-IDF + LR: {B.TFIDF_DESCRIPTION}. From scratch: pretrained=None, lm_epochs=0.",
        (f"ULMFiT parameters: {B.defaults_note(dict(B.parse_sets(args.sets), **epoch_params))}; "
         f"pretrained={args.pretrained!r}."),
        "Subsets: stratified random (seeded); MR folds: StratifiedKFold(shuffle=True, random_state=seed).",
        B.compute_note(all_rows, cells),
    ]
    if {"ULMFiT", "ULMFiT bidirectional"} <= set(args.methods):
        notes.insert(3, "Bidirectional fit times exclude the forward LM fine-tuning when the unidirectional run of "
                     "the same sitting cached it (a shared memory= cache); a bidirectional run read back from a "
                     "sitting of its own includes it. The forward classifier is trained again.")
    if mode == "quick":
        notes.append("QUICK mode: 500 train / 200 test per dataset (IMDb 100/200, no unsup), MR 1,000 sentences "
                     "2-fold: a smoke-scale check, not an accuracy result.")
    note_arch = B.pretrained_for_scratch_note(args.pretrained)
    if note_arch:
        notes.append(note_arch)
    print()
    print(table)
    for n in notes:
        print(n)
    write_results(name, {"mode": mode, "seeds": args.seeds, "datasets": args.datasets, "methods": args.methods,
                         "setups": setups,
                         "skipped": skipped, "rows": table_rows, "runs": B.clean_rows(all_rows),
                         "paper_test_error": B.PAPER_TEST_ERROR, "paper_source": B.PAPER_SOURCE,
                         "wall_seconds": wall, "notes": notes, "resume": cells.summary()},
                  with_notes(table, notes),
                  "Test error: ULMFiT vs baselines on TREC-6, IMDb, AG News and MR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
