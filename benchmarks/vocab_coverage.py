"""How much of each benchmark dataset's text the pretrained model's vocabulary covers.

Task words outside the pretrained vocabulary start at the mean embedding (``transfer_vocab``) and
must be learned during LM fine-tuning from the task's own text alone. This script measures, per
dataset: the share of tokens outside the pretrained vocabulary, the share of the task vocabulary
(types with frequency >= 2, as ``Vocab.build`` keeps them) outside it, and which of a fixed list
of common sentiment words the pretrained vocabulary lacks.

With ``--finetune N`` it also fine-tunes the default LM on N IMDb training reviews
(``ULMFiTLanguageModel`` with the library defaults) and measures how far the new words have moved
apart: the mean distance of the new words' embeddings to their centroid next to that of the
pretrained words, and the cosine similarity of opposite sentiment words.

    python benchmarks/vocab_coverage.py                    # the shipped default model
    python benchmarks/vocab_coverage.py --finetune 1000    # + the fine-tuning check (a few minutes)
    python benchmarks/vocab_coverage.py --pretrained path/to/model_fwd.pt
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import _bench as B  # noqa: E402
import numpy as np  # noqa: E402

SENTIMENT_WORDS = ("good bad great worst best excellent terrible awful boring wonderful masterpiece brilliant "
                   "mediocre dull enjoyable stupid funny poorly horrible beautiful loved hated disappointing "
                   "recommend fun annoying waste").split()


def coverage(tokenizer, itos: set[str], texts: list[str], min_freq: int = 2) -> dict:
    """Token and type coverage of ``texts`` by the vocabulary ``itos``."""
    counts = collections.Counter(t for doc in tokenizer.tokenize_many(texts) for t in doc)
    n_tokens = sum(counts.values())
    types = [w for w, c in counts.items() if c >= min_freq]
    return {
        "docs": len(texts),
        "tokens_per_doc": n_tokens / max(len(texts), 1),
        "tokens_outside_pct": 100.0 * sum(c for w, c in counts.items() if w not in itos) / max(n_tokens, 1),
        "task_types": len(types),
        "task_types_outside_pct": 100.0 * sum(w not in itos for w in types) / max(len(types), 1),
    }


PAIRS = (("terrible", "wonderful"), ("boring", "brilliant"), ("awful", "enjoyable"), ("bad", "good"),
         ("worst", "best"))


def spread(emb, rows: list[int]) -> float:
    """Mean Euclidean distance of the embedding rows ``rows`` to their centroid."""
    e = emb[rows]
    return float((e - e.mean(0)).norm(dim=1).mean())


def finetune_check(texts: list[str], pretrained: str, pre_itos: set[str], seed: int = 0,
                   lm_epochs: int | None = None) -> dict:
    """Fine-tune the LM on ``texts`` (library defaults; ``lm_epochs`` if given) and measure how
    distinct the new words became."""
    import torch

    from skulmfit import ULMFiTLanguageModel

    extra = {} if lm_epochs is None else {"lm_epochs": lm_epochs}
    lm = ULMFiTLanguageModel(pretrained=pretrained, random_state=seed, **extra).fit(texts)
    itos = list(lm.vocab_.itos)
    emb = lm.model_.encoder.embedding.weight.detach().float()
    new = [i for i, w in enumerate(itos) if w not in pre_itos]
    old = [i for i, w in enumerate(itos) if w in pre_itos]
    cos = {f"{a}/{b}": float(torch.nn.functional.cosine_similarity(emb[itos.index(a)], emb[itos.index(b)], dim=0))
           for a, b in PAIRS if a in itos and b in itos}
    tokens = max((h.get("tokens", 0) for h in lm.history_ if h.get("stage") == "lm"), default=0)  # cumulative
    return {"texts": len(texts), "lm_epochs": lm.lm_epochs, "training_tokens": tokens, "task_vocab": len(itos),
            "new_words": len(new), "spread_new": spread(emb, new), "spread_pretrained": spread(emb, old),
            "cosine": cos}


def training_texts(ds: str, data: str, imdb_docs: int) -> list[str]:
    """The training texts the accuracy benchmark uses for ``ds`` (IMDb: ``imdb_docs`` random reviews)."""
    if ds == "trec6":
        return list(B.load_trec_split()[0])
    if ds == "ag":
        return list(B.load_ag_split(data)[0])
    if ds == "mr":
        return list(B.load_mr_all(data)[0])
    X = B.load_imdb_split(data)[0]
    return [X[i] for i in np.random.default_rng(0).permutation(len(X))[:imdb_docs]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", default="default", help="'default' (shipped) or a model file")
    p.add_argument("--data", default=str(B.DATA))
    p.add_argument("--imdb-docs", type=int, default=2000, help="random IMDb training reviews (default %(default)s)")
    p.add_argument("--finetune", type=int, default=0, metavar="N",
                   help="also fine-tune the LM on N IMDb training reviews and measure the new words (default: off)")
    p.add_argument("--lm-epochs", type=int, default=None, help="LM epochs of that check (default: the library's)")
    p.add_argument("--name", default="vocab_coverage", help="results file name (default: %(default)s)")
    args = p.parse_args(argv)
    from skulmfit.modelfile import load_lm
    from skulmfit.pretrained import resolve_pretrained

    lm = load_lm(resolve_pretrained(args.pretrained, "fwd"))
    itos = set(lm.vocab.itos)
    rows = []
    for ds in ("trec6", "ag", "imdb", "mr"):
        try:
            texts = training_texts(ds, args.data, args.imdb_docs)
        except FileNotFoundError as e:
            print(f"{ds}: skipped ({e})")
            continue
        row = {"dataset": ds, **coverage(lm.tokenizer, itos, texts)}
        rows.append(row)
        print(f"{ds}: {row['tokens_outside_pct']:.1f} % of tokens and {row['task_types_outside_pct']:.1f} % of "
              f"{row['task_types']:,} task types outside the pretrained vocabulary")
    missing = [w for w in SENTIMENT_WORDS if w not in itos]
    table = markdown_table(rows, ["dataset", "docs", "tokens_per_doc", "tokens_outside_pct", "task_types",
                                  "task_types_outside_pct"])
    notes = [
        f"Pretrained vocabulary: {len(itos):,} entries ({args.pretrained!r}, forward model).",
        "Training texts (AG: the 5,000-article training part of load_ag_news_split; IMDb: "
        f"{args.imdb_docs:,} random training reviews; MR: all 10,662 sentences); task types: frequency >= 2.",
        f"Common sentiment words outside the pretrained vocabulary: {len(missing)} of {len(SENTIMENT_WORDS)} "
        f"({', '.join(missing) or 'none'}).",
    ]
    check = None
    if args.finetune:
        import torch

        torch.set_num_threads(2)
        check = finetune_check(training_texts("imdb", args.data, args.finetune), args.pretrained, itos,
                               lm_epochs=args.lm_epochs)
        notes.append(
            f"After LM fine-tuning on {check['texts']:,} IMDb reviews ({check['lm_epochs']} epochs, "
            f"{check['training_tokens']:,} tokens, otherwise library defaults): {check['new_words']:,} of the "
            f"{check['task_vocab']:,} task words are new; their embeddings lie {check['spread_new']:.2f} from their "
            f"centroid on average, the pretrained words' {check['spread_pretrained']:.2f}. Cosine similarity: "
            + ", ".join(f"{k} {v:.3f}" for k, v in check["cosine"].items()) + ".")
    print("\n".join(notes))
    write_results(args.name, {"pretrained": args.pretrained, "vocab_size": len(itos), "rows": rows,
                              "sentiment_words": SENTIMENT_WORDS, "sentiment_words_missing": missing,
                              "finetune_check": check, "notes": notes},
                  with_notes(table, notes),
                  "Coverage of the datasets by the pretrained vocabulary")
    return 0


if __name__ == "__main__":
    sys.exit(main())
