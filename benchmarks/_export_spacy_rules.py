"""Export spaCy's English tokenizer rules to ``skulmfit/spacy_en_rules.json`` (run in the fastai venv).

    /work/fastai-venv/bin/python benchmarks/_export_spacy_rules.py [--out skulmfit/spacy_en_rules.json]

skulmfit's fastai-style tokenizer (``skulmfit/fastai_tokenizer.py``) must split words exactly as
fastai does, i.e. as ``spacy.blank("en")``'s tokenizer does, without spaCy at run time. The
splitting algorithm is reimplemented in ``skulmfit/spacy_en.py``; what it needs from spaCy is
data: the prefix, suffix, infix and URL regular expressions and the table of tokenizer
exceptions (``"don't" -> ["do", "n't"]``, ``"U.S."`` kept whole, emoticons, ...). This script
writes exactly that data, as spaCy holds it after ``spacy.blank("en")``, so a new spaCy version
is one re-run away. spaCy is MIT-licensed; the file carries its copyright notice.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path

import spacy

SPACY_NOTICE = "Data derived from spaCy (https://spacy.io), MIT License; full licence text in 'license'."


def _spacy_license() -> str:
    """spaCy's LICENSE file as installed (the MIT licence asks for it to travel with the data)."""
    dist = importlib.metadata.distribution("spacy")
    for f in dist.files or []:
        if f.name == "LICENSE":
            return f.read_text(encoding="utf-8")
    raise SystemExit("spaCy's LICENSE file is not installed; cannot export its data with its licence")


def export() -> dict:
    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    if tok.token_match is not None:  # the English defaults have none; the reimplementation relies on it
        raise SystemExit("spacy.blank('en') has a token_match; skulmfit/spacy_en.py does not support one")
    orth = spacy.symbols.ORTH
    exceptions = {}
    for key, pieces in sorted(tok.rules.items()):
        texts = [p[orth] if orth in p else p["ORTH"] for p in pieces]
        texts = [nlp.vocab.strings[t] if isinstance(t, int) else t for t in texts]
        assert "".join(texts) == key, key
        exceptions[key] = texts
    return {
        "notice": SPACY_NOTICE,
        "license": _spacy_license(),
        "spacy_version": spacy.__version__,
        "language": "en",
        "prefix_pattern": tok.prefix_search.__self__.pattern,
        "suffix_pattern": tok.suffix_search.__self__.pattern,
        "infix_pattern": tok.infix_finditer.__self__.pattern,
        "url_pattern": tok.url_match.__self__.pattern,
        "exceptions": exceptions,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "skulmfit" / "spacy_en_rules.json"
    p.add_argument("--out", type=Path, default=default)
    args = p.parse_args()
    data = export()
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: spaCy {data['spacy_version']}, {len(data['exceptions'])} exceptions")


if __name__ == "__main__":
    main()
