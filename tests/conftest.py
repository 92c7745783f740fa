"""Shared fixtures: tiny synthetic corpora (made by the tests, never downloaded)."""

from __future__ import annotations

import random

import pytest

NOUNS = ["cat", "dog", "bird", "man", "woman", "car", "house", "tree"]
VERBS = ["sees", "likes", "eats", "finds", "owns"]
ADJS = ["big", "small", "red", "old", "new"]


def make_sentences(n_docs: int, seed: int = 0) -> list[str]:
    """Documents from a tiny grammar: an LM can learn it, so perplexity must fall."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sents = [
            f"The {rng.choice(ADJS)} {rng.choice(NOUNS)} {rng.choice(VERBS)} a {rng.choice(NOUNS)}."
            for _ in range(rng.randint(1, 4))
        ]
        docs.append(" ".join(sents))
    return docs


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(make_sentences(3000)) + "\n", encoding="utf-8")
    return path
