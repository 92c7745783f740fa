"""Shared fixtures: tiny synthetic corpora (made by the tests, never downloaded)."""

from __future__ import annotations

import os

# Before torch starts its thread pool: on a busy machine libgomp's active waiting makes small LSTMs
# up to 20x slower with 2 threads; passive waiting costs nothing when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


# -- Tiny pretrained language models and a toy labelled dataset, for the estimator tests ----------
# The model files are made lazily (once per test process) at fixed paths, so that a test-only
# estimator can name one as a default parameter value (scikit-learn's checks construct estimators
# from their defaults).
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

TINY_LM_DIR = Path(tempfile.gettempdir()) / f"skulmfit-test-lms-{os.getpid()}"
TINY_LM_PATH = str(TINY_LM_DIR / "tiny_fwd.pt")
TINY_LM_BWD_PATH = str(TINY_LM_DIR / "tiny_bwd.pt")


def build_tiny_lm(direction: str = "fwd") -> str:
    """Pretrain (once per process) a tiny AWD-LSTM (emb 16, hidden 32, 2 layers) on ``make_sentences``."""
    path = TINY_LM_PATH if direction == "fwd" else TINY_LM_BWD_PATH
    if not os.path.isfile(path):
        from skulmfit.cli import main

        TINY_LM_DIR.mkdir(parents=True, exist_ok=True)
        corpus = TINY_LM_DIR / "corpus.txt"
        if not corpus.is_file():
            corpus.write_text("\n".join(make_sentences(3000)) + "\n", encoding="utf-8")
        rc = main(["pretrain", str(corpus), "--out", path, "--direction", direction, "--emb-size", "16",
                   "--hidden-size", "32", "--layers", "2", "--max-vocab", "300", "--max-tokens", "20000",
                   "--batch-size", "8", "--bptt", "20", "--threads", "1", "-q"])
        assert rc == 0 and os.path.isfile(path), f"pretraining the tiny {direction} test model failed (exit {rc})"
    return path


@pytest.fixture(scope="session")
def _tiny_lm_dir():
    yield TINY_LM_DIR
    shutil.rmtree(TINY_LM_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_lm_path(_tiny_lm_dir) -> str:
    """A tiny forward skulmfit model file, pretrained once per test run."""
    return build_tiny_lm("fwd")


@pytest.fixture(scope="session")
def tiny_lm_bwd_path(_tiny_lm_dir) -> str:
    """The backward twin of :func:`tiny_lm_path`."""
    return build_tiny_lm("bwd")


TOY_WORDS = {"animal": ["cat", "dog", "bird"], "thing": ["car", "house", "tree"], "person": ["man", "woman"]}


def make_toy_texts(n_docs: int, seed: int = 0, labels: tuple[str, ...] = ("animal", "thing", "person")
                   ) -> tuple[list[str], np.ndarray]:
    """Labelled documents whose class decides the nouns (words the tiny model knows)."""
    rng = random.Random(seed)
    texts, y = [], []
    for i in range(n_docs):
        label = labels[i % len(labels)]
        nouns = TOY_WORDS[label]
        texts.append(" ".join(
            f"The {rng.choice(ADJS)} {rng.choice(nouns)} {rng.choice(VERBS)} a {rng.choice(nouns)}."
            for _ in range(rng.randint(1, 3))
        ))
        y.append(label)
    return texts, np.asarray(y)


@pytest.fixture(scope="session")
def toy_data() -> tuple[list[str], np.ndarray]:
    """120 documents in three classes (string labels) that a tiny model learns (> 0.8 train accuracy)."""
    return make_toy_texts(120)


@pytest.fixture
def lm_runs(monkeypatch):
    """Counts real LM fine-tuning runs (``LMTrainer.run`` calls; a ``joblib.Memory`` cache hit runs none)."""
    import skulmfit.finetune

    calls = []
    original = skulmfit.finetune.LMTrainer.run

    def run(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(skulmfit.finetune.LMTrainer, "run", run)
    return calls
