"""The ``skulmfit`` command line.

Exit codes: 0 success, 1 runtime failure (message on stderr), 2 bad usage or bad input
(argparse errors, missing files, invalid values), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .adaptive import DEFAULT_CUTOFFS, DEFAULT_DIV_VALUE

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pretrain",
        help="train an AWD-LSTM language model from scratch on corpus files",
        description="Train an AWD-LSTM language model from scratch. The corpus is tokenized once into a "
        "memory-mapped cache; training checkpoints every --checkpoint-every minutes and --resume "
        "continues a killed run exactly. Writes MODEL.pt and a JSON model card MODEL.json.",
    )
    p.add_argument("corpus", nargs="+", help="plain text (one document per line, or blank-line separated) "
                   "or JSONL with a 'text' field; .xz/.gz/.bz2 allowed")
    p.add_argument("--out", required=True, help="model file to write (MODEL.pt)")
    p.add_argument("--direction", choices=("fwd", "bwd"), default="fwd",
                   help="forward or backward (reversed tokens) LM")
    p.add_argument("--emb-size", type=int, default=400, help="embedding size (default 400)")
    p.add_argument("--hidden-size", type=int, default=1150, help="LSTM hidden size (default 1150)")
    p.add_argument("--layers", type=int, default=3, help="number of LSTM layers (default 3)")
    p.add_argument("--max-vocab", type=int, default=60_000,
                   help="vocabulary size cap incl. special tokens (default 60000)")
    p.add_argument("--min-freq", type=int, default=2, help="minimum token count to enter the vocabulary (default 2)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the corpus (default 1)")
    p.add_argument("--max-tokens", type=int, default=None, help="stop after this many training tokens")
    p.add_argument("--batch-size", type=int, default=64, help="parallel streams (default 64)")
    p.add_argument("--bptt", type=int, default=70, help="mean BPTT length (default 70)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    p.add_argument("--schedule", choices=("one_cycle", "stlr", "cosine", "constant"), default="one_cycle",
                   help="learning-rate schedule (default one_cycle)")
    p.add_argument("--drop-mult", type=float, default=0.2, help="scales all five dropouts (default 0.2)")
    p.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (default 0.01)")
    p.add_argument("--clip", type=float, default=0.4, help="gradient-norm clipping (default 0.4)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--checkpoint-every", type=float, default=10.0,
                   help="minutes between checkpoints, fractions allowed (default 10)")
    p.add_argument("--resume", action="store_true", help="continue from MODEL.pt.ckpt if it exists")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="tokenizer worker processes (default 1; -1 = all cores)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--cache-dir", default=None, help="where the tokenized corpus is cached (default: beside --out)")
    p.add_argument("--exclude-ids", default="", help="comma-separated JSONL 'id' values to leave out")
    p.add_argument("--doc-sep", choices=("auto", "line", "blank"), default="auto", help="plain-text document separator")
    p.add_argument("--half", action="store_true", help="store the weights as fp16 (half the file size)")
    p.add_argument("--init", default=None, help="start from this model file's weights and vocabulary")
    p.add_argument("--init-embeddings", default=None, metavar="ppmi|FILE",
                   help="initialise the embedding from word vectors: 'ppmi' computes them from the corpus itself "
                   "(PPMI + SVD, minutes on one CPU thread, cached beside the tokenized corpus), or a word2vec / "
                   "GloVe text file of --emb-size vectors")
    p.add_argument("--decoder", choices=("full", "adaptive"), default="full",
                   help="output layer: the paper's full softmax tied to the embedding, or an adaptive softmax "
                   "(much faster with a large vocabulary; default full)")
    p.add_argument("--cutoffs", type=_int_list, default=list(DEFAULT_CUTOFFS),
                   help="adaptive softmax: comma-separated cluster boundaries in vocabulary ranks "
                   f"(default {','.join(map(str, DEFAULT_CUTOFFS))}; those above the vocabulary size are dropped)")
    p.add_argument("--div-value", type=float, default=DEFAULT_DIV_VALUE,
                   help=f"adaptive softmax: each tail cluster's projection is this many times narrower "
                   f"(default {DEFAULT_DIV_VALUE:g})")
    p.add_argument("--portable-checkpoint", action="store_true",
                   help="also write MODEL.pt.portable at each checkpoint: half precision, no optimizer state, "
                   "small enough to commit; --resume uses it when MODEL.pt.ckpt is absent (with a short warm-up)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run_pretrain)


def _int_list(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None


def _run_pretrain(args: argparse.Namespace) -> int:
    from .pretraining import PretrainOptions, pretrain

    opts = PretrainOptions(
        corpus=list(args.corpus), out=args.out, direction=args.direction, emb_size=args.emb_size,
        hidden_size=args.hidden_size, layers=args.layers, max_vocab=args.max_vocab, min_freq=args.min_freq,
        epochs=args.epochs, max_tokens=args.max_tokens, batch_size=args.batch_size, bptt=args.bptt, lr=args.lr,
        schedule=args.schedule, drop_mult=args.drop_mult, weight_decay=args.weight_decay, clip=args.clip,
        device=args.device, checkpoint_every=args.checkpoint_every, resume=args.resume, seed=args.seed,
        jobs=args.jobs, threads=args.threads, cache_dir=args.cache_dir,
        exclude_ids=[s for s in args.exclude_ids.split(",") if s], doc_sep=args.doc_sep, half=args.half,
        init=args.init, init_embeddings=args.init_embeddings, decoder=args.decoder, cutoffs=args.cutoffs,
        div_value=args.div_value,
        portable_checkpoint=args.portable_checkpoint, verbose=0 if args.quiet else 1, command=args.command_line,
    )
    card = pretrain(opts)
    if card:
        print(json.dumps({"model": args.out, "validation_perplexity": card["validation"]["perplexity"],
                          "tokens_seen": card["training"]["tokens_seen"]}))
    return EXIT_OK


def _add_evaluate_lm(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-lm",
        help="perplexity of a language-model file on a text file",
        description="Tokenize TEXTFILE with the model's own tokenizer and print a JSON object with the "
        "perplexity, the number of predicted tokens and the out-of-vocabulary rate.",
    )
    p.add_argument("model", help="model file (.pt) written by skulmfit")
    p.add_argument("textfile", help="plain text, JSONL, optionally compressed")
    p.add_argument("--doc-sep", choices=("auto", "line", "blank"), default="line",
                   help="document separator (default line)")
    p.add_argument("--batch-size", type=int, default=16, help="parallel streams (default 16)")
    p.add_argument("--bptt", type=int, default=70, help="sequence length (default 70)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("-v", "--verbose", action="store_true", help="progress bar")
    p.set_defaults(func=_run_evaluate_lm)


def _run_evaluate_lm(args: argparse.Namespace) -> int:
    from .lm_eval import evaluate_lm_file

    result = evaluate_lm_file(args.model, args.textfile, doc_sep=args.doc_sep, batch_size=args.batch_size,
                              bptt=args.bptt, device=args.device, verbose=int(args.verbose))
    print(json.dumps(result))
    return EXIT_OK


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a model file from a pretraining checkpoint, or a model file in fastai's format",
        description="--format skulmfit (default): turn MODEL.pt.ckpt (written by 'skulmfit pretrain') into a model "
        "file and a JSON card that records how far training had got. --format fastai: write the skulmfit model "
        "file SOURCE as fastai files in the folder --out: lstm_fwd.pth (or lstm_bwd.pth) and itos.pkl, which "
        "fastai loads with language_model_learner(dls, AWD_LSTM, config=..., pretrained_fnames=[...]) (the "
        "printed JSON gives the config sizes and the pretrained_fnames).",
        epilog="Example: skulmfit export my_lm.pt --format fastai --out fastai_lm/",
    )
    p.add_argument("checkpoint", metavar="SOURCE",
                   help="pretraining checkpoint (MODEL.pt.ckpt), or with --format fastai a skulmfit model file")
    p.add_argument("--out", required=True, help="model file to write (--format fastai: a folder)")
    p.add_argument("--format", choices=("skulmfit", "fastai"), default="skulmfit",
                   help="skulmfit model file from a checkpoint (default), or fastai's .pth + itos.pkl")
    p.add_argument("--half", action="store_true", help="store the weights as fp16 (skulmfit format only)")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    if args.format == "fastai":
        from .fastai_convert import export_fastai

        if args.half:
            raise ValueError("--half applies to --format skulmfit only (fastai loads float32 weights)")
        print(json.dumps(export_fastai(args.checkpoint, args.out)))
        return EXIT_OK
    from .pretraining import export_checkpoint

    card = export_checkpoint(args.checkpoint, args.out, half=args.half)
    print(json.dumps({"model": args.out, "tokens_seen": card["training"]["tokens_seen"],
                      "steps": card["training"]["steps"]}))
    return EXIT_OK


def _add_import_fastai(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-fastai",
        help="convert a fastai AWD-LSTM language model (e.g. wt103-fwd.tgz) into a skulmfit model file",
        description="Convert a fastai AWD-LSTM language model into a skulmfit model file: fastai's WikiText-103 "
        "archives (wt103-fwd.tgz / wt103-bwd.tgz, downloaded by hand), their extracted folder, or a .pth "
        "weights file with its .pkl vocabulary (beside it or --vocab). fastai v1 (19-key) and v2 (16-key) "
        "layouts are read with torch.load(weights_only=True) and the vocabulary with an unpickler that accepts "
        "only a list of strings: nothing in the files is run. Archive members are checked before extraction.",
        epilog="Example: skulmfit import-fastai wt103-fwd.tgz --out wt103_fwd.pt",
    )
    p.add_argument("source", metavar="ARCHIVE_OR_FOLDER", help="fastai model: .tgz archive, folder, or .pth file")
    p.add_argument("--out", required=True, metavar="MODEL.pt", help="skulmfit model file to write")
    p.add_argument("--vocab", default=None, metavar="ITOS.pkl", help="the vocabulary pickle, if not beside the .pth")
    p.add_argument("--direction", choices=("fwd", "bwd"), default=None,
                   help="forward or backward model (default: from the names, e.g. wt103-bwd; else fwd)")
    p.add_argument("--half", action="store_true", help="store the weights as fp16 (half the file size)")
    p.set_defaults(func=_run_import_fastai)


def _run_import_fastai(args: argparse.Namespace) -> int:
    from .fastai_convert import convert_fastai

    _check_out(args.out)
    lm = convert_fastai(args.source, args.out, vocab=args.vocab, direction=args.direction, half=args.half)
    c = lm.model.config
    print(json.dumps({"model": args.out, "direction": lm.direction, "fastai_layout": lm.meta["fastai_layout"],
                      "vocab_size": len(lm.vocab), "emb_size": c.emb_size, "hidden_size": c.hidden_size,
                      "n_layers": c.n_layers, "tokenizer": lm.meta["tokenizer_config"]}))
    return EXIT_OK


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="download, check and convert a downloadable pretrained model (e.g. wt103) into the data home",
        description="Download a downloadable pretrained model (see skulmfit.list_pretrained()) into the data home "
        "($SKULMFIT_DATA, else ~/skulmfit_data), check its size and checksum and the archive's members, and "
        "convert it once into a skulmfit model file; later runs use that file offline. Prints the model files.",
        epilog="Example: skulmfit fetch wt103 --direction both",
    )
    p.add_argument("name", help="downloadable model name, e.g. wt103")
    p.add_argument("--direction", choices=("fwd", "bwd", "both"), default="fwd", help="which model(s) (default fwd)")
    p.add_argument("--data-home", default=None,
                   help="where to keep the files (default $SKULMFIT_DATA or ~/skulmfit_data)")
    p.add_argument("--base-url", default=None,
                   help="download from this base URL (a mirror) instead of the publisher's; also "
                   "$SKULMFIT_PRETRAINED_URL")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from .pretrained import fetch_pretrained

    directions = ("fwd", "bwd") if args.direction == "both" else (args.direction,)
    paths = {d: str(fetch_pretrained(args.name, direction=d, data_home=args.data_home, base_url=args.base_url,
                                     verbose=0 if args.quiet else 1)) for d in directions}
    print(json.dumps(paths))
    return EXIT_OK


def _set_threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise ValueError(f"--threads must be at least 1, got {n}")
        import torch

        torch.set_num_threads(n)


def _pretrained_arg(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _check_out(path: str, flag: str = "--out") -> None:
    """Fail before a long run when the output path cannot be a file."""
    import os

    if os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a directory; give a file name")


def _add_format_option(p: argparse.ArgumentParser, what: str = "DATA") -> None:
    p.add_argument("--format", choices=("csv", "tsv", "jsonl"), default=None,
                   help=f"format of {what} (default: from its extension: .csv, .tsv/.tab, .jsonl/.ndjson). CSV and "
                   "TSV need a header row; JSONL is one JSON object per line")


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a ULMFiT text classifier on a CSV/TSV/JSONL file and save it with joblib",
        description="Fit ULMFiTClassifier on the texts and labels of DATA: fine-tune the pretrained language "
        "model on every text (unlabelled ones too), then train the classifier with gradual unfreezing, "
        "discriminative learning rates and slanted triangular learning rates. Rows whose label is empty, "
        "missing or -1 are unlabelled: they are used for LM fine-tuning only. The fitted estimator is "
        "written with joblib (atomically: a temporary file renamed over MODEL.joblib); load it with "
        "joblib.load or 'skulmfit predict'. Prints a JSON summary.",
        epilog="Example: skulmfit fit train.csv --text-col review --label-col sentiment --out model.joblib",
    )
    p.add_argument("data", metavar="DATA", help="training data: .csv, .tsv or .jsonl (see --format)")
    p.add_argument("--text-col", default="text", metavar="TEXT", help="column holding the documents (default 'text')")
    p.add_argument("--label-col", default="label", metavar="LABEL",
                   help="column holding the labels; empty, missing or -1 means unlabelled (default 'label')")
    p.add_argument("--out", required=True, metavar="MODEL.joblib", help="where to write the fitted classifier")
    _add_format_option(p)
    g = p.add_argument_group("classifier options (ULMFiTClassifier parameters)")
    g.add_argument("--pretrained", type=_pretrained_arg, default="default", metavar="NAME_OR_PATH",
                   help="pretrained language model: a shipped name ('default' or 'small'), 'wt103' (fastai's "
                   "WikiText-103 model, downloaded and converted once), a .pt model file, a fastai model (.tgz "
                   "archive, folder or .pth), or 'none' for random initialisation (default 'default')")
    g.add_argument("--pretrained-bwd", default=None, metavar="PATH",
                   help="backward model (file or fastai model), needed with --bidirectional when --pretrained is a "
                   "path")
    g.add_argument("--epochs", type=int, default=50,
                   help="classifier epochs in all; gradual unfreezing spends one per layer group first (default 50)")
    g.add_argument("--lm-epochs", type=int, default=2, help="LM fine-tuning epochs; 0 skips LM fine-tuning (default 2)")
    g.add_argument("--lr", type=float, default=0.01, help="peak classifier learning rate of the head (default 0.01)")
    g.add_argument("--lm-lr", type=float, default=0.004, help="peak LM fine-tuning learning rate (default 0.004)")
    g.add_argument("--batch-size", type=int, default=64, help="documents per batch (default 64)")
    g.add_argument("--bptt", type=int, default=70,
                   help="BPTT length of LM fine-tuning and classifier chunks (default 70)")
    g.add_argument("--max-len", type=int, default=1400,
                   help="the classifier pools over each document's last MAX_LEN tokens (default 1400)")
    g.add_argument("--bidirectional", action="store_true",
                   help="also train a backward model and average the two models' probabilities")
    g.add_argument("--unfreeze", choices=("gradual", "all", "last", "chain_thaw"), default="gradual",
                   help="unfreezing strategy: gradual (the paper's), all, last (head only) or chain_thaw "
                   "(default gradual)")
    g.add_argument("--class-weight", choices=("balanced",), default=None,
                   help="'balanced' weights classes inversely to their frequency (default: unweighted)")
    g.add_argument("--early-stopping", action="store_true",
                   help="hold out 10%% of the labelled rows and keep the best epoch's weights")
    g.add_argument("--max-vocab", type=int, default=60_000, help="task vocabulary size cap (default 60000)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument("--seed", type=int, default=0,
                   help="random seed: the same seed gives the same model on CPU (default 0)")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    import time

    from .classifier import ULMFiTClassifier
    from .tabular import dump_model, labels_from, plain, read_table, texts_from

    _check_out(args.out)
    table = read_table(args.data, args.format)
    texts = texts_from(table, args.text_col)
    labels = labels_from(table, args.label_col)
    n_unlabelled = sum(1 for v in labels if isinstance(v, int) and not isinstance(v, bool) and v == -1)
    _set_threads(args.threads)
    clf = ULMFiTClassifier(
        pretrained=args.pretrained, pretrained_bwd=args.pretrained_bwd, epochs=args.epochs, lm_epochs=args.lm_epochs,
        lr=args.lr, lm_lr=args.lm_lr, batch_size=args.batch_size, bptt=args.bptt, max_len=args.max_len,
        bidirectional=args.bidirectional, unfreeze=args.unfreeze, class_weight=args.class_weight,
        early_stopping=args.early_stopping, max_vocab=args.max_vocab, device=args.device, random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    t0 = time.perf_counter()
    clf.fit(texts, labels)
    seconds = time.perf_counter() - t0
    clf.set_params(verbose=0)
    dump_model(clf, args.out)
    print(json.dumps({"model": args.out, "classes": plain(clf.classes_), "labelled": len(texts) - n_unlabelled,
                      "unlabelled": n_unlabelled, "fit_seconds": round(seconds, 2)}))
    return EXIT_OK


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels (and probabilities) for a CSV/TSV/JSONL file with a saved classifier",
        description="Load a classifier written by 'skulmfit fit' and predict the texts of DATA. PREDICTIONS "
        "gets one row per input row, in input order, in the format of its extension (.csv, .tsv, .jsonl; "
        "or --out-format): a 'prediction' column, with --proba one 'proba_<class>' column per class, "
        "preceded by any --keep-columns. SECURITY: MODEL.joblib is unpickled, which can run arbitrary code: "
        "load only model files you made yourself or that come from a source you trust.",
        epilog="Example: skulmfit predict model.joblib test.csv --text-col review --out predictions.csv --proba",
    )
    p.add_argument("model", metavar="MODEL.joblib",
                   help="fitted classifier written by 'skulmfit fit' (joblib/pickle: trusted sources only)")
    p.add_argument("data", metavar="DATA", help="texts to classify: .csv, .tsv or .jsonl (see --format)")
    p.add_argument("--text-col", default="text", metavar="TEXT", help="column holding the documents (default 'text')")
    p.add_argument("--out", required=True, metavar="PREDICTIONS",
                   help="file to write (.csv, .tsv or .jsonl), written atomically")
    p.add_argument("--proba", action="store_true", help="add a proba_<class> column per class")
    p.add_argument("--keep-columns", default="", metavar="COLS",
                   help="comma-separated columns of DATA to copy into PREDICTIONS (e.g. an id column)")
    _add_format_option(p)
    p.add_argument("--out-format", choices=("csv", "tsv", "jsonl"), default=None,
                   help="format of PREDICTIONS (default: from its extension)")
    p.add_argument("--batch-size", type=int, default=None, help="documents per batch (default: the model's)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the model's setting)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .tabular import detect_format, load_model, read_table, texts_from, write_table

    _check_out(args.out)
    out_format = detect_format(args.out, args.out_format)  # fail before the slow part
    table = read_table(args.data, args.format)
    texts = texts_from(table, args.text_col)
    keep = [c.strip() for c in args.keep_columns.split(",") if c.strip()]
    kept = [table.column(c, "column") for c in keep]
    clf = load_model(args.model)
    params = clf.get_params() if hasattr(clf, "get_params") else {}
    updates = {"verbose": 0 if args.quiet else 1}
    if args.device is not None:
        updates["device"] = args.device
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
        updates["batch_size"] = args.batch_size
    clf.set_params(**{k: v for k, v in updates.items() if k in params})
    _set_threads(args.threads)
    multilabel = bool(getattr(clf, "multilabel_", False))
    columns = [*keep, "prediction"]
    if args.proba:
        if not hasattr(clf, "predict_proba"):
            raise ValueError(f"--proba: the model ({type(clf).__name__}) has no predict_proba")
        proba = np.asarray(clf.predict_proba(texts))
        classes = np.asarray(clf.classes_)
        pred = (proba >= 0.5).astype(np.int64) if multilabel else classes[np.argmax(proba, axis=1)]
        columns += [f"proba_{c}" for c in classes.tolist()]
    else:
        proba, pred = None, np.asarray(clf.predict(texts))
    if multilabel:  # the active label indices of each row
        pred = [np.flatnonzero(row).tolist() for row in pred]

    def rows() -> Iterator[list[Any]]:
        for i in range(len(texts)):
            row = [k[i] for k in kept] + [pred[i]]
            if proba is not None:
                row += [float(v) for v in proba[i]]
            yield row

    write_table(args.out, columns, rows(), out_format)
    print(json.dumps({"predictions": args.out, "rows": len(texts), "format": out_format}))
    return EXIT_OK


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="ULMFiT vs TF-IDF + logistic regression on the bundled TREC-6 questions",
        description="Fit ULMFiTClassifier (from the language model shipped in the package, unless --pretrained "
        "says otherwise) and a TF-IDF word 1-2 gram + logistic regression baseline on the TREC-6 training "
        "questions (all 5,452, or a class-stratified subset), then print both models' accuracy on the "
        "500 test questions and their fit times. Takes a few minutes on a laptop CPU with the defaults.",
    )
    p.add_argument("--subset-size", type=int, default=None, metavar="N",
                   help="train on a class-stratified random subset of N questions (default: all 5,452)")
    p.add_argument("--pretrained", type=_pretrained_arg, default="default", metavar="NAME_OR_PATH",
                   help="pretrained language model: a shipped name ('default' or 'small'), 'wt103' (fastai's "
                   "WikiText-103 model), a .pt model file, a fastai model (.tgz, folder or .pth), or 'none' (default "
                   "'default')")
    from .demo import DEFAULT_EPOCHS, DEFAULT_LM_EPOCHS

    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"classifier epochs, gradual unfreezing included (default {DEFAULT_EPOCHS})")
    p.add_argument("--lm-epochs", type=int, default=DEFAULT_LM_EPOCHS,
                   help=f"LM fine-tuning epochs on the training questions (default {DEFAULT_LM_EPOCHS})")
    p.add_argument("--seed", type=int, default=0, help="random seed of the subset and both models (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import format_results, run_demo

    _set_threads(args.threads)
    result = run_demo(subset_size=args.subset_size, pretrained=args.pretrained, epochs=args.epochs,
                      lm_epochs=args.lm_epochs, seed=args.seed, verbose=0 if args.quiet else 1, device=args.device)
    print(format_results(result))
    if args.json:
        print(json.dumps(result))
    return EXIT_OK


def _add_compare(sub: argparse._SubParsersAction) -> None:
    from .cli_compare import add_compare

    add_compare(sub)


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_pretrain, _add_evaluate_lm, _add_export, _add_import_fastai, _add_fetch, _add_fit, _add_predict,
    _add_compare, _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="skulmfit",
        description="ULMFiT as a scikit-learn toolkit: pretrain, fine-tune and use AWD-LSTM text classifiers.",
        epilog="Exit codes: 0 success, 1 failure, 2 bad usage or input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"skulmfit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skulmfit`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = "skulmfit " + " ".join(shlex.quote(a) for a in argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("skulmfit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"skulmfit {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001 - last resort: a clear message and a non-zero exit
        print(f"skulmfit {args.command}: failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
