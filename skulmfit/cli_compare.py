"""``skulmfit compare``: the command-line face of :func:`skulmfit.compare`.

Reads DATA (CSV, TSV or JSONL, like ``skulmfit fit``), prints the run-time estimate and a progress
bar (stderr), then the table of the first metric, the run time against the estimate, the files
written, and last a one-line verdict. Ctrl-C keeps and writes the finished fits (exit 130).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

METHOD_KEYS = {"semi": "ULMFiT semi-supervised", "supervised": "ULMFiT supervised", "tfidf": "TF-IDF + LR",
               "scratch": "ULMFiT from scratch"}


def add_compare(sub: argparse._SubParsersAction) -> None:
    """Register the ``compare`` subcommand."""
    from .cli import _add_format_option, _pretrained_arg

    p = sub.add_parser(
        "compare",
        help="is ULMFiT worth it on my data? ULMFiT vs TF-IDF + LR vs from scratch, per training size",
        description="Fit ULMFiT semi-supervised (the other texts passed with the label -1), ULMFiT supervised, "
        "TF-IDF 1-2 grams + logistic regression and ULMFiT from scratch on class-balanced subsamples of the "
        "labelled rows of DATA at each --sizes, score each on the held-out part of every fold (stratified "
        "--cv folds, the same for every method and size), and print the mean and spread per method and size, "
        "ending with a verdict that names a winner at a size only where its lead exceeds the fold spread. "
        "Rows whose label is empty, missing or -1 are unlabelled. Before starting, the run time is estimated "
        "from the data and the model (the costs are measured on this machine for a few seconds). With --out, "
        "compare.json, compare.md (rewritten after every size) and compare.png (the learning curve; needs "
        "matplotlib) are written there. Ctrl-C keeps and writes the finished fits.",
        epilog="Example: skulmfit compare train.csv --text-col text --label-col label --sizes 50 100 200 all "
        "--cv 3 --out compare/",
    )
    p.add_argument("data", metavar="DATA", help="labelled (and unlabelled) texts: .csv, .tsv or .jsonl (see --format)")
    p.add_argument("--text-col", default="text", metavar="TEXT", help="column holding the documents (default 'text')")
    p.add_argument("--label-col", default="label", metavar="LABEL",
                   help="column holding the labels; empty, missing or -1 means unlabelled (default 'label')")
    _add_format_option(p)
    p.add_argument("--unlabelled", default=None, metavar="FILE",
                   help="more unlabelled texts (CSV/TSV/JSONL with the --text-col column) for the semi-supervised "
                   "LM fine-tuning")
    p.add_argument("--unlabelled-format", choices=("csv", "tsv", "jsonl"), default=None,
                   help="format of --unlabelled (default: from its extension)")
    p.add_argument("--sizes", nargs="+", default=None, metavar="N",
                   help="labelled training sizes, 'all' = a fold's whole training part (default: those of 50 100 "
                   "200 500 1000 that fit, and all)")
    p.add_argument("--cv", type=int, default=3, help="stratified folds; each holds out 1/CV for testing (default 3)")
    p.add_argument("--scoring", nargs="+", default=["accuracy", "f1_macro"], metavar="METRIC",
                   help="scikit-learn scorer names; the first decides the verdict (default accuracy f1_macro)")
    p.add_argument("--methods", nargs="+", choices=tuple(METHOD_KEYS), default=list(METHOD_KEYS),
                   help="which methods to run (default: all four)")
    p.add_argument("--sampling", choices=("balanced", "stratified"), default="balanced",
                   help="training subsamples: equal rows per class as far as the classes allow (the paper's, "
                   "default) or the labelled rows' class proportions")
    p.add_argument("--out", default=None, metavar="DIR", help="folder for compare.json, compare.md and compare.png")
    p.add_argument("--max-minutes", type=float, default=None, metavar="M",
                   help="time budget: sizes that would end past it are not started, and the run stops after the "
                   "fit in progress once it is spent; finished fits are kept")
    p.add_argument("--estimate-only", action="store_true", help="print the run-time estimate and stop")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="keep fine-tuned LMs in this folder, so a rerun skips LM fine-tuning (default: a temporary "
                   "folder)")
    p.add_argument("--jobs", type=int, default=None,
                   help="fits of one size run in this many processes (default: one at a time)")
    g = p.add_argument_group("ULMFiT options (for the three ULMFiT methods)")
    g.add_argument("--pretrained", type=_pretrained_arg, default="default", metavar="NAME_OR_PATH",
                   help="pretrained language model: a shipped name ('default' or 'small') or a .pt model file (default "
                   "'default')")
    g.add_argument("--epochs", type=int, default=50, help="classifier epochs, gradual unfreezing included (default 50)")
    g.add_argument("--lm-epochs", type=int, default=2, help="LM fine-tuning epochs (default 2)")
    g.add_argument("--batch-size", type=int, default=64, help="documents per batch (default 64)")
    g.add_argument("--bptt", type=int, default=70, help="BPTT length (default 70)")
    g.add_argument("--max-len", type=int, default=1400, help="the classifier pools over the last MAX_LEN tokens "
                   "(default 1400)")
    g.add_argument("--unfreeze", choices=("gradual", "all", "last", "chain_thaw"), default="gradual",
                   help="unfreezing strategy (default gradual)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument("--seed", type=int, default=0, help="seeds the folds, the subsamples and every method (default 0)")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    g.add_argument("-q", "--quiet", action="store_true", help="no estimate line and no progress bars")
    p.set_defaults(func=run_compare)


def _sizes(values: list[str] | None) -> list[Any] | None:
    if values is None:
        return None
    out: list[Any] = []
    for v in values:
        s = v.strip().lower()
        if s == "all":
            out.append("all")
        elif s.isdigit() and int(s) > 0:
            out.append(int(s))
        else:
            raise ValueError(f"--sizes takes positive integers or 'all', got {v!r}")
    return out


def run_compare(args: argparse.Namespace) -> int:
    """Run ``skulmfit compare`` (see :func:`add_compare`)."""
    from .cli import EXIT_INTERRUPTED, EXIT_OK, _set_threads
    from .comparison import CompareInterrupted, compare, default_estimators, estimate
    from .tabular import labels_from, read_table, texts_from

    if args.out is not None:
        import os

        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out} is a file; give a folder for compare.json, compare.md, compare.png")
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size), ("--bptt", args.bptt),
                        ("--max-len", args.max_len)):
        if value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    if args.lm_epochs < 0:
        raise ValueError(f"--lm-epochs must be 0 or more, got {args.lm_epochs}")
    sizes = _sizes(args.sizes)
    table = read_table(args.data, args.format)
    texts = texts_from(table, args.text_col)
    labels = labels_from(table, args.label_col)
    unlabelled = None
    if args.unlabelled is not None:
        extra = read_table(args.unlabelled, args.unlabelled_format)
        unlabelled = texts_from(extra, args.text_col)
    _set_threads(args.threads)
    verbose = 0 if args.quiet else 1
    every = default_estimators(pretrained=args.pretrained, random_state=args.seed, verbose=0, epochs=args.epochs,
                               lm_epochs=args.lm_epochs, batch_size=args.batch_size, bptt=args.bptt,
                               max_len=args.max_len, unfreeze=args.unfreeze, device=args.device)
    estimators = {METHOD_KEYS[k]: every[METHOD_KEYS[k]] for k in dict.fromkeys(args.methods)}
    kwargs = {"sizes": sizes, "cv": args.cv, "estimators": estimators, "unlabelled": unlabelled,
              "sampling": args.sampling, "random_state": args.seed, "memory": args.cache}
    if args.estimate_only:
        est = estimate(texts, labels, **kwargs)
        print(est.describe(args.jobs))
        return EXIT_OK
    try:
        result = compare(texts, labels, scoring=args.scoring, n_jobs=args.jobs, max_minutes=args.max_minutes,
                         out=args.out, verbose=verbose, **kwargs)
        code = EXIT_OK
    except CompareInterrupted as e:
        result, code = e.result, EXIT_INTERRUPTED
    _report(result, args.out)
    return code


def _report(result: Any, out: str | None) -> None:
    print(f"{result.metrics[0]} (mean ± std over the folds' test parts):")
    print(result.format_table() if result.rows else "(no fit finished)")
    print(result.timing_line())
    if result.stopped:
        print(f"Stopped early: {result.stop_reason}.")
    if out is not None:
        from pathlib import Path

        written = [f for f in ("compare.json", "compare.md", "compare.png") if (Path(out) / f).exists()]
        print(f"Wrote {', '.join(written)} to {out}")
    print(result.verdict_line())
    sys.stdout.flush()
