"""Low-shot learning curves (the paper's Figure 3): test error vs number of labelled examples on
TREC-6, IMDb and AG News for supervised ULMFiT, semi-supervised ULMFiT, training from scratch and
TF-IDF + logistic regression.

* supervised ULMFiT: the LM is fine-tuned on the labelled texts only;
* semi-supervised ULMFiT: the same ``fit`` call also gets unlabelled texts with ``y=-1`` (LM
  fine-tuning only). TREC-6 and AG: the rest of the training set. IMDb: a random subset of the
  ``unsup`` reviews (``--imdb-unsup``, default 5,000 of 50,000) plus the unused reviews of the
  labelled pool. For each seed the unlabelled corpus is the same for every size (the labelled
  subsets are nested: the 50 are among the 100, ...), so its LM fine-tuning runs once per seed
  and is reused from a ``memory=`` cache;
* from scratch: ``pretrained=None, lm_epochs=0``; TF-IDF + LR on the labelled texts.

Labelled subsets are class-balanced (equal per class as far as the classes allow; TREC-6's ABBR
has 86 training questions) and drawn by the seed. Evaluated on the TREC-6 test set (500), the AG
split's 2,600 test articles (``load_ag_news_split``: only AG's 7,600-article test file exists
here, so the "training set" is its 5,000-article part) and a stratified subset of the IMDb test
set (``--imdb-test``, default 2,000 of 25,000). The paper reports validation error.

    python benchmarks/low_shot.py --resume         # 3 datasets x 5 sizes x 3 seeds (TREC+AG 39 min, IMDb 3.6 h)
    python benchmarks/low_shot.py --datasets imdb --name low_shot_imdb --resume   # IMDb alone (72 min a seed)
    python benchmarks/low_shot.py --quick          # TREC-6, 50 and 200 labels, 1 seed, 1,000 unlabelled
    python benchmarks/low_shot.py --datasets trec6 ag --sizes 100 1000
    python benchmarks/low_shot.py --datasets imdb --sizes 100 --methods "ULMFiT (semi-supervised)" --resume
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

DATASETS = ("trec6", "imdb", "ag")
METHODS = ("ULMFiT (supervised)", "ULMFiT (semi-supervised)", "from scratch", "TF-IDF + LR")
TITLES = {"trec6": "TREC-6", "imdb": "IMDb", "ag": "AG News"}


def plot(name: str, ds: str, sizes: list[int], table: dict, note: str) -> str | None:
    plt = B.pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.8))
    styles = {"ULMFiT (supervised)": "o-", "ULMFiT (semi-supervised)": "s-", "from scratch": "^--",
              "TF-IDF + LR": "x:"}
    for method in METHODS:
        pts = [(n, *table[(ds, n, method)]) for n in sizes if table.get((ds, n, method), (None,))[0] is not None]
        if not pts:
            continue
        xs, ms, ss = zip(*pts, strict=False)
        ax.errorbar(xs, ms, yerr=[s or 0.0 for s in ss], fmt=styles[method], capsize=3, label=method)
    ax.set_xscale("log")
    from matplotlib.ticker import NullLocator

    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.set_xlabel("number of labelled training examples")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{TITLES[ds]}: {note}", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = B.png_path(f"{name}_{ds}")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def rare_class_note(ds: str, y, Xte: list[str], yte, seeds: list[int], sizes: list[int], X: list[str],
                    stratified: bool) -> str | None:
    """Where a dataset's test set is skewed, how often TF-IDF + LR (refitted here on the same labelled
    subsets; under a second per fit) predicts the rarest test class: class-balanced subsets give that
    class an equal share of the labels, which a linear model turns into a prior. None for a test set
    whose rarest class has at least half its even share."""
    yte = np.asarray(yte, dtype=object)
    classes, counts = np.unique(yte, return_counts=True)
    rare, k = classes[int(np.argmin(counts))], int(counts.min())
    if k >= 0.5 * len(yte) / len(classes):
        return None
    n_train = int((np.asarray(y, dtype=object) == rare).sum())
    means = []
    for n in sizes:
        preds = []
        for seed in seeds:
            Xl, yl = B.take(X, y, B.BalancedSampler(y, seed, stratified=stratified).indices(n))
            preds.append(int((B.tfidf_lr(seed).fit(Xl, yl).predict(Xte) == rare).sum()))
        means.append(f"{np.mean(preds):.0f} at {n}")
    return (f"{ds}: the rarest test class, {rare}, is {k} of {len(yte):,} test texts ({n_train} training texts), "
            f"but a class-balanced subset gives it 1/{len(classes)} of the labels until its training texts run out; "
            f"TF-IDF + LR, refitted on the same subsets, labels as {rare} on average " + ", ".join(means)
            + " test texts (mean over seeds): a prior toward a class the test set rarely holds.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_common_args(p, seeds=(0, 1, 2))
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=None, help="default: all (quick: trec6)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="default: 50 100 200 500 1000 (quick: 50 200)")
    p.add_argument("--unlabelled", type=int, default=None,
                   help="TREC-6/AG: cap on the unlabelled rest of the training set (default: all; quick: 1000)")
    p.add_argument("--imdb-unsup", type=int, default=5000, help="IMDb unsup reviews (of 50,000; default %(default)s)")
    p.add_argument("--imdb-test", type=int, default=2000, help="IMDb test reviews (of 25,000; default %(default)s)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                   help="which of %(choices)s to run (default: all; the runs of a later full run with --resume "
                   "are read back)")
    B.add_sampling_arg(p)
    args = p.parse_args(argv)
    args.methods = [m for m in METHODS if m in args.methods]
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if mode != "full":
        args.datasets = args.datasets or ["trec6"]
        args.sizes = args.sizes or ([30, 60] if mode == "smoke" else [50, 200])
        if args.seeds == [0, 1, 2]:
            args.seeds = [0]
        if args.unlabelled is None:
            args.unlabelled = 100 if mode == "smoke" else 1000
    args.datasets = args.datasets or list(DATASETS)
    args.sizes = sorted(args.sizes or [50, 100, 200, 500, 1000])
    epoch_params = B.epoch_params(mode)
    n_test_cap = 100 if mode == "smoke" else None
    B.setup_torch(args.threads)
    name = B.result_name("low_shot", args)
    t_start = time.perf_counter()

    import joblib

    runs: list[dict] = []
    setups: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    cells = B.Cells("low_shot", args.resume)  # one folder per script: keys tell runs apart
    with B.temp_memory(name, args.resume) as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)
        for ds in args.datasets:
            t_ds = time.perf_counter()
            try:
                if ds == "trec6":
                    X, y, Xt, yt = B.load_trec_split()
                    Xu_all = None
                elif ds == "ag":
                    X, y, Xt, yt = B.load_ag_split(args.data)
                    Xu_all = None
                else:
                    X, y, Xt, yt, Xu_all = B.load_imdb_split(args.data, unsup=args.imdb_unsup > 0)
            except FileNotFoundError as e:
                skipped[ds] = f"data not found: {e}"
                B.log(f"{ds}: SKIPPED ({skipped[ds]})")
                continue
            n_test = args.imdb_test if ds == "imdb" else None
            if n_test_cap:
                n_test = min(n_test or n_test_cap, n_test_cap)
            ite = B.stratified_indices(yt, n_test, 0)
            Xte, yte = B.take(Xt, yt, ite)
            for seed in args.seeds:
                sampler = B.BalancedSampler(y, seed, stratified=args.sampling == "stratified")
                pool = list(sampler.indices(max(args.sizes)).tolist())
                for n in args.sizes:  # subsets are nested; this only guards against rounding exceptions
                    pool += [i for i in sampler.indices(n).tolist() if i not in set(pool)]
                pool = np.asarray(pool, dtype=np.int64)
                pool_set = set(pool.tolist())
                rng = np.random.default_rng(seed + 1)
                if ds == "imdb":
                    extra = [Xu_all[i] for i in rng.permutation(len(Xu_all))[: args.imdb_unsup]] if Xu_all else []
                    source = f"{len(extra):,} unsup reviews + the labelled pool's {len(pool):,} reviews"
                else:
                    rest = np.array([i for i in range(len(X)) if i not in pool_set], dtype=np.int64)
                    rest = rest[rng.permutation(len(rest))]
                    if args.unlabelled is not None:
                        rest = rest[: args.unlabelled]
                    extra = [X[i] for i in rest]
                    source = (f"the rest of the training set ({len(extra):,} texts) + the labelled pool's "
                              f"{len(pool):,}")
                semi_X = [X[i] for i in pool] + extra  # same texts, same order for every size of this seed
                setups[ds] = {"n_train_total": len(X), "n_test": len(Xte), "semi_lm_corpus": source,
                              "semi_lm_texts": len(semi_X)}
                B.log(f"{ds} seed {seed}: test {len(Xte):,}; semi-supervised LM corpus: {source}")
                for n in args.sizes:
                    lab = sampler.indices(n)
                    lab_set = set(lab.tolist())
                    Xl, yl = B.take(X, y, lab)
                    semi_y = np.empty(len(semi_X), dtype=object)
                    semi_y[:] = -1
                    for k, i in enumerate(pool):
                        if int(i) in lab_set:
                            semi_y[k] = y[i]
                    B.log(f"  {n} labelled {sampler.quotas(n)}")
                    for method in args.methods:
                        if method == "TF-IDF + LR":
                            r = B.fit_eval(B.tfidf_lr(seed), Xl, yl, Xte, yte, cells, method)
                        elif method == "from scratch":
                            params = B.ulmfit_params(args, seed, memory,
                                                     **{**epoch_params, "pretrained": None, "lm_epochs": 0})
                            r = B.fit_eval(B.make_ulmfit(params), Xl, yl, Xte, yte, cells, method)
                        elif method == "ULMFiT (supervised)":
                            r = B.fit_eval(B.make_ulmfit(B.ulmfit_params(args, seed, memory, **epoch_params)),
                                           Xl, yl, Xte, yte, cells, method)
                        else:
                            r = B.fit_eval(B.make_ulmfit(B.ulmfit_params(args, seed, memory, **epoch_params)),
                                           semi_X, semi_y, Xte, yte, cells, method)
                        r.pop("estimator", None)
                        runs.append({"dataset": ds, "seed": seed, "n_labelled": len(Xl), "method": method,
                                     "class_counts": sampler.quotas(n),
                                     "n_unlabelled": len(semi_X) - len(Xl) if "semi" in method else 0, **r})
                        B.log(f"    {method:<26} test error {r['error']:6.2f}%  fit {r['fit_s']:7.1f}s")
            setups.setdefault(ds, {})["wall_seconds"] = time.perf_counter() - t_ds
            rare = rare_class_note(ds, y, Xte, yte, args.seeds, args.sizes, X, args.sampling == "stratified")
            if rare:
                setups[ds]["rare_class_note"] = rare

    agg: dict = {}
    rows = []
    for ds in args.datasets:
        if ds in skipped:
            continue
        for n in args.sizes:
            row = {"dataset": ds, "labels": n}
            for method in args.methods:
                errs = [r["error"] for r in runs if r["dataset"] == ds and r["n_labelled"] == n
                        and r["method"] == method]
                m, s = B.mean_std(errs)
                agg[(ds, n, method)] = (m, s)
                row[method] = B.pm(m, s)
            rows.append(row)
    pngs = {}
    if not args.no_plot:
        for ds in args.datasets:
            if ds in skipped:
                continue
            note = f"{len(args.seeds)} seed(s), test n={setups[ds]['n_test']:,}"
            path = plot(name, ds, args.sizes, agg, note)
            if path:
                pngs[ds] = path
    wall = time.perf_counter() - t_start
    table = markdown_table(rows, ["dataset", "labels"] + args.methods)
    notes = [
        (f"Mode: {mode}; seeds {args.seeds}; {args.sampling} labelled subsets; test error % (mean ± sample std "
         f"over seeds); wall time {wall:.0f} s."),
        "Semi-supervised LM corpus: " + "; ".join(f"{ds}: {s['semi_lm_corpus']}" for ds, s in setups.items()) + ".",
        f"TF-IDF + LR: {B.TFIDF_DESCRIPTION}. From scratch: pretrained=None, lm_epochs=0.",
        (f"ULMFiT parameters: {B.defaults_note(dict(B.parse_sets(args.sets), **epoch_params))}; "
         f"pretrained={args.pretrained!r}."),
        ("The paper's Figure 3 shows validation error with a 400/1150 model pretrained on WikiText-103, "
         "and 50k (IMDb) / 100k (AG) unlabelled texts; no numbers are given in the text."),
    ]
    if "ag" in setups:
        notes.insert(2, "AG: the 'training set' is the 5,000-article part of load_ag_news_split (AG's 120k training "
                     "file is missing); its 2,600 articles are the test set.")
    if "imdb" in setups:
        notes.insert(2, f"IMDb: labelled subsets of the 25,000 training reviews; test: a stratified "
                     f"{setups['imdb']['n_test']:,} of the 25,000 test reviews (--imdb-test); the paper uses "
                     "all 25,000 and 50,000 unsup reviews.")
    notes += [s["rare_class_note"] for s in setups.values() if s.get("rare_class_note")]
    notes.append(B.compute_note(runs, cells))
    if skipped:
        notes.append(f"Skipped: {skipped}")
    if pngs:
        notes.append("Figures: " + ", ".join(Path(p).name for p in pngs.values()))
    print()
    print(table)
    for n in notes:
        print(n)
    write_results(name, {"mode": mode, "seeds": args.seeds, "sizes": args.sizes, "datasets": args.datasets,
                         "methods": args.methods, "sampling": args.sampling,
                         "setups": setups, "skipped": skipped, "rows": rows, "runs": B.clean_rows(runs),
                         "figures": pngs, "paper_source": B.PAPER_SOURCE, "wall_seconds": wall, "notes": notes,
                         "resume": cells.summary()},
                  with_notes(table, notes)
                  + "".join(f"\n![{ds}]({Path(p).name})\n" for ds, p in pngs.items()),
                  "Low-shot learning: test error vs number of labelled examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
