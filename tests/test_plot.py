"""``skulmfit.plot``: the learning-rate schedule (no training) and the training history."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skulmfit import ULMFiTClassifier, plot  # noqa: E402
from skulmfit.schedules import stlr  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(tiny_lm_path, toy_data):
    X, y = toy_data
    return ULMFiTClassifier(pretrained=tiny_lm_path, lm_epochs=1, epochs=4, batch_size=16, bptt=20,
                            random_state=0).fit(X[:45], y[:45])


def _lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def _y_at(line, x):
    xs, ys = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    i = int(np.flatnonzero(np.isclose(xs, x))[0])  # first point at x (stage ends repeat their boundary)
    return ys[i]


DECAY = ULMFiTClassifier().lr_decay  # the classifier's default discriminative factor


def test_lr_schedule_from_params(tiny_lm_path):
    lr = 0.02
    ax = plot.lr_schedule({"lr": lr, "epochs": 5, "pretrained": tiny_lm_path}, n_steps=200)
    lines = _lines(ax)
    assert list(lines) == ["head", "LSTM 2", "LSTM 1", "embedding"]  # 2 LSTM layers: 4 groups, top first
    head, below = lines["head"], lines["LSTM 2"]
    assert np.nanmax(head.get_ydata()) == pytest.approx(lr)
    assert np.nanmax(below.get_ydata()) == pytest.approx(lr / DECAY)
    assert np.nanmax(lines["embedding"].get_ydata()) == pytest.approx(lr / DECAY**3)
    # gradual unfreezing: stages of 1, 1, 1 and 2 epochs; each runs its own STLR cycle
    assert _y_at(head, 0.0) == pytest.approx(lr / 32)
    assert _y_at(head, 0.1) == pytest.approx(lr)  # the peak at cut_frac of the first stage
    assert _y_at(head, 0.5) == pytest.approx(stlr(100, 200, lr))
    assert math.isnan(_y_at(below, 0.5))  # frozen in stage 1
    assert _y_at(below, 1.1) == pytest.approx(lr / DECAY)
    assert _y_at(below, 3.0 + 0.2) == pytest.approx(lr / DECAY)  # last stage: 2 epochs, peak at 0.1 * 2
    assert _y_at(below, 3.5) == pytest.approx(stlr(100, 400, lr / DECAY))
    assert math.isnan(_y_at(lines["embedding"], 2.5)) and not math.isnan(_y_at(lines["embedding"], 3.5))
    xs = np.asarray(head.get_xdata())
    assert xs[0] == 0 and xs[-1] == pytest.approx(5.0) and len(xs) == 3 * 201 + 401


def test_lr_schedule_other_settings_and_axes(tiny_lm_path):
    _, ax = plt.subplots()
    out = plot.lr_schedule({"unfreeze": "all", "schedule": "constant", "lr_decay": 1.0, "epochs": 2,
                            "pretrained": tiny_lm_path}, n_steps=10, ax=ax)
    assert out is ax
    for ln in _lines(ax).values():
        assert np.allclose(ln.get_ydata(), 0.01)
    ax = plot.lr_schedule({"lm_lr": 0.004, "lm_epochs": 2, "pretrained": tiny_lm_path}, which="lm", n_steps=50)
    lines = _lines(ax)
    assert list(lines) == ["embedding + decoder", "LSTM 2", "LSTM 1"]
    assert np.max(lines["embedding + decoder"].get_ydata()) == pytest.approx(0.004)
    assert np.max(lines["LSTM 2"].get_ydata()) == pytest.approx(0.004 / 2.6)
    with pytest.raises(ValueError, match="unknown ULMFiTClassifier parameters"):
        plot.lr_schedule({"learning_rate": 0.1})
    with pytest.raises(TypeError):
        plot.lr_schedule(42)


def test_lr_schedule_of_estimators(fitted):
    ax = plot.lr_schedule(fitted)  # fitted: the layers come from the model
    lines = _lines(ax)
    assert len(lines) == 2 + 2
    data = plot.lr_schedule_data(fitted)
    for g, name in enumerate(data["groups"]):
        np.testing.assert_array_equal(lines[name].get_ydata(), data["lrs"][g])
    assert np.nanmax(lines["head"].get_ydata()) == pytest.approx(fitted.lr)
    ax = plot.lr_schedule(ULMFiTClassifier(pretrained=fitted.pretrained, lr=0.05))  # unfitted
    assert np.nanmax(_lines(ax)["LSTM 2"].get_ydata()) == pytest.approx(0.05 / DECAY)


def test_history(fitted):
    fig = plot.history(fitted)
    ax_lm, ax_clf = fig.axes
    clf_records = [r for r in fitted.history_ if r["stage"] == "classifier"]
    lm_records = [r for r in fitted.history_ if r["stage"] == "lm"]
    assert lm_records and len(clf_records) == fitted.n_iter_ == 4
    lm_line = _lines(ax_lm)["LM fwd train"]
    assert list(lm_line.get_xdata()) == [r["epoch"] for r in lm_records]
    assert list(lm_line.get_ydata()) == [r["train_loss"] for r in lm_records]
    clf_line = _lines(ax_clf)["classifier fwd train"]
    assert list(clf_line.get_xdata()) == [1, 2, 3, 4]
    assert list(clf_line.get_ydata()) == [r["train_loss"] for r in clf_records]
    texts = [t.get_text() for t in ax_clf.texts]
    assert texts == ["S1", "S2", "S3", "S4"]  # one label per unfreezing stage

    fig, ax = plt.subplots()
    assert plot.history(fitted, ax=ax) is fig  # one Axes: classifier epochs follow the LM epochs
    assert list(_lines(ax)["classifier fwd train"].get_xdata()) == [2, 3, 4, 5]


def test_history_needs_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot.history(ULMFiTClassifier())


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skulmfit\[plot\]"):
        plot.lr_schedule({"lr": 0.01}, n_layers=3)
