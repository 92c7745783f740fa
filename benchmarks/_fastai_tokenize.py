"""Tokenize texts with fastai itself (run in the fastai venv; see fastai_bridge.py for the recipe).

    /work/fastai-venv/bin/python benchmarks/_fastai_tokenize.py --rules v1|v2|spacy IN.jsonl OUT.jsonl
    /work/fastai-venv/bin/python benchmarks/_fastai_tokenize.py --rules v1 --vocab 60000 IN.jsonl ITOS.json

IN.jsonl holds one JSON string (a document) per line. OUT.jsonl gets one JSON list of tokens per
line, in the same order. With ``--vocab N`` the tokens are counted instead and the vocabulary
that fastai would build from them (at most N entries, special tokens first) is written as a
JSON list (fastai's ``itos``).

``--rules``:

* ``v2`` — fastai 2.8.12 as installed: ``TokenizeWithRules(SpacyTokenizer())``, i.e.
  ``spacy.blank("en")`` plus fastai's default rules, ``xxbos`` first; vocabulary by
  ``fastai.text.data.make_vocab(count, min_freq=3, max_vocab=N)``.
* ``v1`` — fastai 1.0.61's own code (the rules under which the WikiText-103 vocabulary was made;
  unchanged since before ``wt103-fwd`` appeared in 1.0.53): ``fastai.text.transform.Tokenizer``
  with its default pre/post rules, on ``"xxbos " + text`` as its ``TokenizeProcessor`` does
  (``include_bos=True``); vocabulary by ``Vocab.create(tokens, max_vocab=N, min_freq=3)``
  (``NumericalizeProcessor``'s default). fastai 1 is loaded from ``--fastai1-lib``, a folder
  made with ``pip install --no-deps --target /work/fastai1-lib fastai==1.0.61``; its
  ``SpacyTokenizer`` calls ``spacy.blank(lang, disable=[...])``, which spaCy 3 refuses, so a
  subclass calls ``spacy.blank(lang)`` instead (the same tokenizer), and its import-time
  ``pkg_resources.require`` version check is given a no-op stand-in if setuptools lacks it.
* ``spacy`` — ``spacy.blank("en")``'s tokenizer alone, with fastai's special tokens added as
  special cases (what ``skulmfit.spacy_en.SpacyEnSplitter`` reproduces).
"""
from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

V2_SPECIALS = "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj".split()


def _read(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _v1_tokenizer(lib: Path):
    sys.path.insert(0, str(lib))
    try:
        import pkg_resources  # noqa: F401
    except ImportError:  # setuptools >= 81 dropped it; fastai 1 only checks versions with it
        sys.modules["pkg_resources"] = types.SimpleNamespace(require=lambda *a, **k: [])
    import spacy
    from fastai.text import transform

    if not transform.__file__.startswith(str(lib)):
        raise SystemExit(f"fastai 1 not loaded from {lib}: got {transform.__file__}")

    class Spacy3Tokenizer(transform.SpacyTokenizer):
        def __init__(self, lang: str):
            self.tok = spacy.blank(lang)

    return transform, transform.Tokenizer(tok_func=Spacy3Tokenizer, lang="en", n_cpus=1)


def tokenize(rules: str, texts: list[str], lib: Path) -> Iterator[list[str]]:
    if rules == "v1":
        _, tok = _v1_tokenizer(lib)
        for start in range(0, len(texts), 1000):  # _process_all_1 builds one spaCy tokenizer per call
            yield from tok._process_all_1([f"xxbos {t}" for t in texts[start:start + 1000]])
    elif rules == "v2":
        from fastai.text.core import SpacyTokenizer, TokenizeWithRules
        yield from (list(t) for t in TokenizeWithRules(SpacyTokenizer())(texts))
    else:
        import spacy
        from spacy.symbols import ORTH
        nlp = spacy.blank("en")
        for w in V2_SPECIALS:
            nlp.tokenizer.add_special_case(w, [{ORTH: w}])
        for t in texts:
            yield [x.text for x in nlp.tokenizer(t)]


def build_vocab(rules: str, docs: Iterator[list[str]], max_vocab: int, lib: Path) -> list[str]:
    from collections import Counter
    if rules == "v1":
        transform, _ = _v1_tokenizer(lib)
        return list(transform.Vocab.create(list(docs), max_vocab=max_vocab, min_freq=3).itos)
    if rules == "v2":
        from fastai.text.data import make_vocab
        return list(make_vocab(Counter(t for d in docs for t in d), min_freq=3, max_vocab=max_vocab))
    raise SystemExit("--vocab needs --rules v1 or v2")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", choices=["v1", "v2", "spacy"], required=True)
    p.add_argument("--vocab", type=int, default=0, help="write the vocabulary (itos) instead of the tokens")
    p.add_argument("--fastai1-lib", type=Path, default=Path("/work/fastai1-lib"))
    p.add_argument("inp", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args()
    texts = _read(args.inp)
    docs = tokenize(args.rules, texts, args.fastai1_lib)
    tmp = args.out.with_name(args.out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        if args.vocab:
            json.dump(build_vocab(args.rules, docs, args.vocab, args.fastai1_lib), f, ensure_ascii=False)
        else:
            for toks in docs:
                f.write(json.dumps(toks, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    import fastai
    import spacy
    print(json.dumps({"rules": args.rules, "docs": len(texts), "fastai": fastai.__version__,
                      "spacy": spacy.__version__, "out": str(args.out)}))


if __name__ == "__main__":
    main()
