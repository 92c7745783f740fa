"""Token-level agreement of skulmfit's tokenizers with fastai's, on TREC-6, IMDb, AG News and MR.

    python benchmarks/tokenizer_agreement.py [--imdb 2000] [--mr 4000] [--ag 4000] [--vocab-articles 6514]
    python benchmarks/tokenizer_agreement.py --quick        # small samples, for a check of the script

fastai's tokens come from fastai itself, run in the fastai side environment by
``_fastai_tokenize.py`` (see ``fastai_bridge.py`` for how to create it): fastai 1.0.61's own
tokenizer and rules (the v1 rules, under which fastai's WikiText-103 vocabulary was built) and
fastai 2.8.12's (v2), both on ``spacy.blank("en")``. Compared with them, per dataset:

* ``nltk`` — skulmfit's default :class:`skulmfit.tokenizer.Tokenizer` (nltk Treebank + ULMFiT rules);
* ``fastai-spacy`` — :class:`skulmfit.fastai_tokenizer.FastaiTokenizer` with the same rule version.

Measures (summed over documents; each document aligned with ``difflib.SequenceMatcher``,
``autojunk=False``):

* ``token_agree`` — 2 x matched tokens / (fastai's tokens + ours): 100 % means identical;
* ``docs_identical`` — documents whose token lists are identical;
* ``id_agree`` — the same after mapping every token through the 60k vocabulary (out-of-vocabulary
  tokens become ``xxunk``): what the model would be fed;
* ``in_vocab_agree`` — agreement on whether a token is in the 60k vocabulary: aligned tokens are
  paired (equal runs one to one; inside a differing run, the i-th token of fastai's with the i-th of
  ours), a pair agrees when both or neither are in the vocabulary, and tokens left without a
  partner in a differing run count as disagreements;
* ``oov_fastai`` / ``oov_ours`` — out-of-vocabulary rates.

The vocabulary: fastai's ``itos_wt103.pkl`` is not available here, so a stand-in is built the
same way, with fastai's own tokenizer and vocabulary code (v1: ``Vocab.create(max_vocab=60000,
min_freq=3)``; v2: ``make_vocab``), from the first ``--vocab-articles`` articles of the
Wikipedia shard ``enwiki_AA`` (plain Wikipedia text, not WikiText-103's tokenized text; about
a sixth of WikiText-103's size for the whole shard). Each rule version gets its own vocabulary.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, markdown_table, with_notes, write_results  # noqa: E402
from fastai_bridge import _child_env, find_fastai_python  # noqa: E402

from skulmfit.corpus import iter_documents  # noqa: E402
from skulmfit.datasets import load_ag_news, load_imdb, load_mr, load_trec  # noqa: E402
from skulmfit.fastai_tokenizer import FastaiTokenizer  # noqa: E402
from skulmfit.spacy_en import load_rules  # noqa: E402
from skulmfit.tokenizer import UNK, Tokenizer  # noqa: E402

SIDE_SCRIPT = Path(__file__).resolve().with_name("_fastai_tokenize.py")
VOCAB_SIZE = 60000
RULES = ("v1", "v2")


def load_texts(name: str, n: int | None, seed: int) -> tuple[list[str], str]:
    """Up to ``n`` texts of a dataset (a seeded random sample when there are more) and where they came from."""
    if name == "trec6":
        texts, source = list(load_trec("all").data), "TREC-6 train + test"
    elif name == "imdb":
        texts, source = list(load_imdb(DATA / "imdb", "train").data), "IMDb train"
    elif name == "ag_news":
        texts, source = list(load_ag_news(DATA / "ag_news").data), "AG News test (title. description)"
    elif name == "mr":
        texts, source = list(load_mr(DATA / "mr").data), "MR"
    else:
        raise ValueError(name)
    total = len(texts)
    if n is not None and n < total:
        texts = random.Random(seed).sample(texts, n)
    return texts, f"{source}: {len(texts)} of {total}"


def fastai_side(rules: str, texts: Sequence[str], work: Path, tag: str, vocab: int = 0) -> list:
    """fastai's tokens for ``texts`` (or, with ``vocab``, its vocabulary built from them), cached in ``work``."""
    python = find_fastai_python()
    if python is None:
        raise SystemExit("no fastai venv (see benchmarks/fastai_bridge.py for the recipe)")
    key = hashlib.sha256(json.dumps([rules, vocab, list(texts)]).encode()).hexdigest()[:16]
    out = work / f"{tag}_{rules}{'_vocab' if vocab else ''}_{key}.json"
    if not out.exists():
        inp = work / f"{tag}_{key}_in.jsonl"
        inp.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
        cmd = [python, str(SIDE_SCRIPT), "--rules", rules, str(inp), str(out)]
        if vocab:
            cmd[4:4] = ["--vocab", str(vocab)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env({"OMP_NUM_THREADS": 1}),
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        print(f"  fastai {rules} {'vocabulary' if vocab else 'tokens'} for {tag}: "
              f"{time.perf_counter() - t0:.0f} s  {proc.stdout.strip()}", flush=True)
        inp.unlink()
    with open(out, encoding="utf-8") as f:
        return json.load(f) if vocab else [json.loads(line) for line in f]


def side_versions() -> dict[str, str]:
    python = find_fastai_python()
    code = ("import json, fastai, spacy, sys; print(json.dumps({'fastai2': fastai.__version__, "
            "'spacy': spacy.__version__, 'python': sys.version.split()[0]}))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=_child_env(None), check=True)
    return json.loads(out.stdout)


def compare(ref: Sequence[list[str]], ours: Sequence[list[str]], vocab: set[str]) -> dict[str, float]:
    """Agreement measures of ``ours`` against fastai's ``ref`` (see the module docstring)."""
    matched = total = id_matched = identical = 0
    iv_agree = iv_total = oov_ref = oov_ours = n_ref = n_ours = 0
    for a, b in zip(ref, ours, strict=True):
        total += len(a) + len(b)
        n_ref += len(a)
        n_ours += len(b)
        oov_ref += sum(t not in vocab for t in a)
        oov_ours += sum(t not in vocab for t in b)
        if a == b:
            identical += 1
            matched += len(a)
            id_matched += len(a)
            iv_agree += len(a)
            iv_total += len(a)
            continue
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                matched += i2 - i1
                iv_agree += i2 - i1
                iv_total += i2 - i1
            else:
                pairs = min(i2 - i1, j2 - j1)
                iv_agree += sum((a[i1 + k] in vocab) == (b[j1 + k] in vocab) for k in range(pairs))
                iv_total += max(i2 - i1, j2 - j1)
        ia = [t if t in vocab else UNK for t in a]
        ib = [t if t in vocab else UNK for t in b]
        id_matched += sum(m.size for m in difflib.SequenceMatcher(None, ia, ib, autojunk=False).get_matching_blocks())
    return {
        "token_agree": 100 * 2 * matched / max(total, 1),
        "docs_identical": 100 * identical / max(len(ref), 1),
        "id_agree": 100 * 2 * id_matched / max(total, 1),
        "in_vocab_agree": 100 * iv_agree / max(iv_total, 1),
        "oov_fastai": 100 * oov_ref / max(n_ref, 1),
        "oov_ours": 100 * oov_ours / max(n_ours, 1),
        "tokens_fastai": n_ref,
        "tokens_ours": n_ours,
    }


def top_differences(ref: Sequence[list[str]], ours: Sequence[list[str]], k: int = 12) -> list[dict]:
    """The most frequent differing runs, as (fastai's tokens, ours, count)."""
    diffs: Counter[tuple[str, str]] = Counter()
    for a, b in zip(ref, ours):
        if a != b:
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
                if op != "equal":
                    diffs[(" ".join(a[i1:i2]), " ".join(b[j1:j2]))] += 1
    return [{"fastai": f, "ours": o, "count": c} for (f, o), c in diffs.most_common(k)]


def timed(fn: Callable[[str], list[str]], texts: Sequence[str]) -> tuple[list[list[str]], float]:
    t0 = time.perf_counter()
    out = [fn(t) for t in texts]
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trec", type=int, default=None, help="TREC-6 questions (default: all 5952)")
    p.add_argument("--imdb", type=int, default=2000, help="IMDb train reviews")
    p.add_argument("--ag", type=int, default=4000, help="AG News test articles")
    p.add_argument("--mr", type=int, default=4000, help="MR sentences")
    p.add_argument("--vocab-articles", type=int, default=6514,
                   help="Wikipedia articles (from enwiki_AA, 6514 in all) for the 60k vocabulary stand-in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "skulmfit_tokenizer_agreement",
                   help="cache of fastai's tokens and vocabularies")
    p.add_argument("--quick", action="store_true", help="200 texts per dataset, 200 articles: checks the script")
    p.add_argument("--name", default=None, help="results name (default tokenizer_agreement[_quick])")
    args = p.parse_args(argv)
    if args.quick:
        args.trec = args.imdb = args.ag = args.mr = 200
        args.vocab_articles = 200
    args.work_dir.mkdir(parents=True, exist_ok=True)
    name = args.name or ("tokenizer_agreement_quick" if args.quick else "tokenizer_agreement")

    print(f"vocabulary stand-in: {args.vocab_articles} Wikipedia articles, fastai v1 and v2", flush=True)
    articles = list(islice(iter_documents(DATA / "wikipedia" / "enwiki_AA.jsonl.xz"), args.vocab_articles))
    vocabs = {r: fastai_side(r, articles, args.work_dir, f"wiki{len(articles)}", vocab=VOCAB_SIZE) for r in RULES}
    vocab_info = {"source": f"first {len(articles)} articles of wikipedia/enwiki_AA.jsonl.xz",
                  "words": sum(len(a.split()) for a in articles),
                  "sizes": {r: len(v) for r, v in vocabs.items()}}
    vocab_sets = {r: set(v) for r, v in vocabs.items()}

    ours = {"nltk": Tokenizer(), "fastai-spacy v1": FastaiTokenizer("v1"), "fastai-spacy v2": FastaiTokenizer("v2")}
    sizes = {"trec6": args.trec, "imdb": args.imdb, "ag_news": args.ag, "mr": args.mr}
    rows, samples, differences, speed = [], {}, {}, []
    for ds, n in sizes.items():
        texts, samples[ds] = load_texts(ds, n, args.seed)
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        print(f"{samples[ds]} ({mb:.2f} MB)", flush=True)
        refs = {r: fastai_side(r, texts, args.work_dir, ds) for r in RULES}
        toks = {}
        for label, tok in ours.items():
            toks[label], secs = timed(tok.tokenize, texts)
            speed.append({"dataset": ds, "tokenizer": label, "mb_per_s": mb / secs, "mb": mb})
        for r in RULES:
            for label in ("nltk", f"fastai-spacy {r}"):
                row = {"dataset": ds, "fastai_rules": r, "tokenizer": label, "docs": len(texts),
                       **compare(refs[r], toks[label], vocab_sets[r])}
                rows.append(row)
                print(f"  vs fastai {r}: {label:16s} tokens {row['token_agree']:7.3f} %  "
                      f"ids {row['id_agree']:7.3f} %  in-vocab {row['in_vocab_agree']:7.3f} %  "
                      f"identical docs {row['docs_identical']:6.2f} %", flush=True)
            differences[f"{ds} nltk vs fastai {r}"] = top_differences(refs[r], toks["nltk"])
            differences[f"{ds} fastai-spacy {r} vs fastai {r}"] = top_differences(refs[r], toks[f"fastai-spacy {r}"])

    versions = side_versions()
    versions["fastai1"] = "1.0.61"
    versions["spacy_rules_in_skulmfit"] = load_rules()["spacy_version"]
    spacy = versions["spacy"]
    notes = [
        f"fastai's tokens: fastai {versions['fastai1']} (v1 rules) and fastai {versions['fastai2']} (v2 rules), both "
        f"with spaCy {spacy} `blank(\"en\")`, run by `benchmarks/_fastai_tokenize.py` in the side venv "
        f"(python {versions['python']}).",
        "`nltk` is skulmfit's default `Tokenizer` (config `nltk-treebank-ulmfit`); `fastai-spacy vN` is "
        "`FastaiTokenizer(rules=\"vN\")`, config `{\"name\": \"fastai-spacy\", \"rules\": \"vN\", "
        f"\"add_bos\": true}}`: pure Python, with spaCy {versions['spacy_rules_in_skulmfit']}'s rule data in "
        "`skulmfit/spacy_en_rules.json`.",
        f"Samples (seed {args.seed}): " + "; ".join(samples.values()) + ".",
        "60k vocabulary: a stand-in for fastai's `itos_wt103.pkl` (not available here), built by fastai's own "
        f"tokenizer and vocabulary code from the {vocab_info['source']} ({vocab_info['words'] / 1e6:.1f}M words; "
        "plain Wikipedia text, not WikiText-103's), one per rule version "
        f"({vocab_info['sizes']['v1']} / {vocab_info['sizes']['v2']} entries with specials; v2 pads with `xxfake`).",
        "token_agree = 2 x aligned equal tokens / (fastai's + ours), difflib alignment per document; id_agree: the "
        "same after the 60k vocabulary (OOV -> xxunk); in_vocab_agree: aligned tokens paired, agreement on "
        "in/out of the vocabulary, unpaired tokens count as disagreement (see the script's docstring).",
        "In 2019, when fastai built the WikiText-103 vocabulary, spaCy was at 2.x; its rules may differ from "
        f"spaCy {spacy}'s in rare cases. This table compares with spaCy {spacy}.",
    ]
    table = markdown_table(rows, ["dataset", "fastai_rules", "tokenizer", "docs", "token_agree", "docs_identical",
                                  "id_agree", "in_vocab_agree", "oov_fastai", "oov_ours"])
    common = Counter()
    for key, diffs in differences.items():
        if key.endswith("nltk vs fastai v1"):
            for d in diffs:
                common[(d["fastai"], d["ours"])] += d["count"]
    diff_rows = [{"fastai v1": repr(f).replace("|", "\\|"), "nltk": repr(o).replace("|", "\\|"), "count": c}
                 for (f, o), c in common.most_common(15)]
    speed_rows = [{"dataset": r["dataset"], "tokenizer": r["tokenizer"], "mb_per_s": r["mb_per_s"]} for r in speed]
    md = (with_notes(table, notes)
          + "\n## Most frequent differences, nltk vs fastai v1 (all four datasets, from each one's top 12)\n\n"
          + markdown_table(diff_rows, ["fastai v1", "nltk", "count"])
          + "\n## Tokenizer speed here (MB/s of UTF-8 text, one process)\n\n"
          + markdown_table(speed_rows, ["dataset", "tokenizer", "mb_per_s"]))
    write_results(name, {"rows": rows, "samples": samples, "vocabulary": vocab_info, "versions": versions,
                         "speed": speed, "top_differences": differences, "seed": args.seed},
                  md, "Tokenizer agreement with fastai (token level)")
    print(f"wrote benchmarks/results/{name}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
