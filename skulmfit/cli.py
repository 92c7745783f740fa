"""The ``skulmfit`` command line.

Exit codes: 0 success, 1 runtime failure (message on stderr), 2 bad usage or bad input
(argparse errors, missing files, invalid values), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence

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
    p.add_argument("--direction", choices=("fwd", "bwd"), default="fwd", help="forward or backward (reversed tokens) LM")
    p.add_argument("--emb-size", type=int, default=400, help="embedding size (default 400)")
    p.add_argument("--hidden-size", type=int, default=1150, help="LSTM hidden size (default 1150)")
    p.add_argument("--layers", type=int, default=3, help="number of LSTM layers (default 3)")
    p.add_argument("--max-vocab", type=int, default=60_000, help="vocabulary size cap incl. special tokens (default 60000)")
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
    p.add_argument("--checkpoint-every", type=float, default=10.0, help="minutes between checkpoints, fractions allowed (default 10)")
    p.add_argument("--resume", action="store_true", help="continue from MODEL.pt.ckpt if it exists")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="tokenizer worker processes (default 1; -1 = all cores)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--cache-dir", default=None, help="where the tokenized corpus is cached (default: beside --out)")
    p.add_argument("--exclude-ids", default="", help="comma-separated JSONL 'id' values to leave out")
    p.add_argument("--doc-sep", choices=("auto", "line", "blank"), default="auto", help="plain-text document separator")
    p.add_argument("--half", action="store_true", help="store the weights as fp16 (half the file size)")
    p.add_argument("--init", default=None, help="start from this model file's weights and vocabulary")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run_pretrain)


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
        init=args.init, verbose=0 if args.quiet else 1, command=args.command_line,
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
    p.add_argument("--doc-sep", choices=("auto", "line", "blank"), default="line", help="document separator (default line)")
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
        help="write a model file from a pretraining checkpoint (e.g. of a run still going)",
        description="Turn MODEL.pt.ckpt (written by 'skulmfit pretrain') into a model file and a JSON card "
        "that records how far training had got.",
    )
    p.add_argument("checkpoint", help="pretraining checkpoint (MODEL.pt.ckpt)")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--half", action="store_true", help="store the weights as fp16")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from .pretraining import export_checkpoint

    card = export_checkpoint(args.checkpoint, args.out, half=args.half)
    print(json.dumps({"model": args.out, "tokens_seen": card["training"]["tokens_seen"],
                      "steps": card["training"]["steps"]}))
    return EXIT_OK


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_pretrain, _add_evaluate_lm, _add_export)


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
