"""The shipped models ('default' and 'small') load and predict offline, from inside the installed package."""

import socket
from pathlib import Path

import numpy as np
import pytest

import skulmfit
from skulmfit import ULMFiTClassifier
from skulmfit.datasets import load_trec
from skulmfit.modelfile import load_lm
from skulmfit.pretrained import resolve_pretrained


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("skulmfit tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


SHIPPED = ["default", "small"]


@pytest.mark.parametrize("name", SHIPPED)
def test_list_pretrained_names_shipped_models(name):
    available = skulmfit.list_pretrained()
    assert available[name]["kind"] == "shipped" and {"fwd", "bwd"} <= set(available[name])
    for direction in ("fwd", "bwd"):
        path = Path(available[name][direction])
        assert path.parent == Path(skulmfit.__file__).parent / "pretrained"
        assert path.stat().st_size <= 25 * 1024 * 1024
        assert path.with_suffix(".json").exists() and path.with_suffix(".md").exists()


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_shipped_model_files_load_safely(name, direction, no_network):
    lm = load_lm(resolve_pretrained(name, direction))
    assert lm.direction == direction and len(lm.vocab) == lm.model.config.vocab_size
    assert "xxbos" in lm.vocab and "the" in lm.vocab


@pytest.mark.parametrize("name, vocab, emb, hidden, decoder", [
    ("default", 60000, 128, 256, "adaptive"),
    ("small", 8000, 64, 128, "full"),
])
def test_shipped_model_sizes(name, vocab, emb, hidden, decoder):
    for direction in ("fwd", "bwd"):
        cfg = load_lm(resolve_pretrained(name, direction)).model.config
        assert (cfg.emb_size, cfg.hidden_size, cfg.n_layers, cfg.decoder) == (emb, hidden, 3, decoder)
        assert vocab - 100 <= cfg.vocab_size <= vocab + 100  # special tokens on top of the word budget


def test_default_model_fits_and_predicts_offline(no_network):
    X, y = load_trec("train", return_X_y=True)
    idx = np.r_[0:40, 2000:2040]
    clf = ULMFiTClassifier(lm_epochs=1, epochs=2, batch_size=16, device="cpu", random_state=0)
    clf.fit([X[i] for i in idx], y[idx])
    pred = clf.predict(["How far is the Moon from the Earth ?", "Who wrote Hamlet ?"])
    assert len(pred) == 2 and set(pred) <= set(clf.classes_)


def test_unknown_pretrained_name_is_a_clear_error():
    with pytest.raises(ValueError, match="not a shipped model"):
        resolve_pretrained("klingon")
