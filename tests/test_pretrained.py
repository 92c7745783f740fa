"""The shipped default models load and predict offline, from inside the installed package."""

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


def test_list_pretrained_names_shipped_models():
    available = skulmfit.list_pretrained()
    assert {"fwd", "bwd"} <= set(available["default"])
    for direction in ("fwd", "bwd"):
        path = Path(available["default"][direction])
        assert path.parent == Path(skulmfit.__file__).parent / "pretrained"
        assert path.stat().st_size <= 25 * 1024 * 1024
        assert path.with_suffix(".json").exists() and path.with_suffix(".md").exists()


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_default_model_files_load_safely(direction, no_network):
    lm = load_lm(resolve_pretrained("default", direction))
    assert lm.direction == direction and len(lm.vocab) == lm.model.config.vocab_size
    assert "xxbos" in lm.vocab and "the" in lm.vocab


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
