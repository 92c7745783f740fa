"""Reliability matrix (issue 6): bad input, interruptions, numerical faults, untrusted files,
large inputs and determinism. Every case either works or raises a ValueError/TypeError whose
message names the argument and the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError

from skulmfit import ULMFiTClassifier, ULMFiTEncoder, ULMFiTLanguageModel
from skulmfit.clf_training import batched_apply
from skulmfit.exceptions import ModelFileError, TrainingDivergedError
from skulmfit.modelfile import atomic_save, safe_load

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "the car is red and fast", "a bus came late today",
         "my cat likes fish", "the dog eats a bone", "this car is old", "that bus is big"] * 3
LABELS = ["animal", "animal", "vehicle", "vehicle"] * 6

KW = dict(device="cpu", lm_epochs=1, batch_size=8, random_state=0)


def _make(kind, tiny_lm_path):
    if kind == "clf":
        return ULMFiTClassifier(pretrained=tiny_lm_path, epochs=2, **KW)
    if kind == "enc":
        return ULMFiTEncoder(pretrained=tiny_lm_path, **KW)
    return ULMFiTLanguageModel(pretrained=tiny_lm_path, **KW)


@pytest.fixture(scope="module")
def fitted(tiny_lm_path):
    return {k: _make(k, tiny_lm_path).fit(TEXTS, LABELS if k == "clf" else None) for k in ("clf", "enc", "lm")}


def _methods(kind):
    return {"clf": ["predict", "predict_proba", "score"], "enc": ["transform"], "lm": ["score"]}[kind]


def _call(est, method, X):
    if method == "score" and isinstance(est, ULMFiTClassifier):
        return est.score(X, ["animal"] * (len(X) if hasattr(X, "__len__") and not isinstance(X, (str, bytes)) else 1))
    return getattr(est, method)(X)


BAD_X = [
    ("bare str", "a single document", TypeError, "single str"),
    ("bytes", b"some bytes", TypeError, "single bytes"),
    ("int item", ["ok", 3], TypeError, "item 1 is int"),
    ("float item", ["ok", 2.5], TypeError, "item 1 is float"),
    ("dict item", ["ok", {"a": 1}], TypeError, "item 1 is dict"),
    ("None item", ["ok", None], ValueError, "missing value"),
    ("NaN item", ["ok", float("nan")], ValueError, "missing value"),
    ("empty X", [], ValueError, "empty"),
    ("sparse X", sp.csr_matrix(np.eye(3)), TypeError, "sparse"),
    ("2-D array", np.array([["a", "b"], ["c", "d"]], dtype=object), ValueError, "1-D"),
]


@pytest.mark.parametrize("kind", ["clf", "enc", "lm"])
@pytest.mark.parametrize("case,X,exc,match", BAD_X, ids=[c[0] for c in BAD_X])
def test_bad_X_in_fit(kind, case, X, exc, match, tiny_lm_path):
    est = _make(kind, tiny_lm_path)
    y = None
    if kind == "clf":
        n = X.shape[0] if hasattr(X, "shape") else (len(X) if isinstance(X, list) else 2)
        y = (["a", "b"] * n)[:n] if n else []
    with pytest.raises(exc, match=match):
        est.fit(X, y)


@pytest.mark.parametrize("kind", ["clf", "enc", "lm"])
@pytest.mark.parametrize("case,X,exc,match", BAD_X, ids=[c[0] for c in BAD_X])
def test_bad_X_in_predict_transform_score(kind, case, X, exc, match, fitted):
    for method in _methods(kind):
        with pytest.raises(exc, match=match):
            _call(fitted[kind], method, X)


ODD_BUT_VALID = {
    "empty strings": ["", ""],
    "whitespace only": ["   ", "\t\n "],
    "control characters only": ["\x00\x01\x02", "\x1b[0m\x7f"],
    "emoji and mixed scripts": ["I love it 😍🔥", "Это хорошо, 很好, とても良い, جيد جدا"],
}


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_texts_predict(case, fitted):
    X = ODD_BUT_VALID[case]
    pred = fitted["clf"].predict(X)
    assert len(pred) == 2 and set(pred) <= {"animal", "vehicle"}
    proba = fitted["clf"].predict_proba(X)
    assert np.allclose(proba.sum(1), 1)
    assert fitted["enc"].transform(X).shape[0] == 2
    assert np.isfinite(fitted["lm"].score(X + ["the cat"]))


def test_odd_texts_in_fit(tiny_lm_path):
    X = TEXTS + ["", "   ", "\x00\x01", "😍 Это 很好"]
    y = LABELS + ["animal", "vehicle", "animal", "vehicle"]
    clf = _make("clf", tiny_lm_path).fit(X, y)
    assert set(clf.classes_) == {"animal", "vehicle"}


def test_single_200k_token_document(fitted):
    doc = " ".join(["the cat sat on the mat ."] * 28_600)  # ~200,000 tokens
    tokens = fitted["clf"].tokenizer_.tokenize(doc)
    assert len(tokens) > 190_000
    proba = fitted["clf"].predict_proba([doc, "a short one"])
    assert proba.shape == (2, 2) and np.all(np.isfinite(proba))
    assert np.allclose(proba[1], fitted["clf"].predict_proba(["a short one"])[0], atol=1e-6)


BAD_Y = [
    ("mismatched lengths", LABELS[:-1], ValueError, "inconsistent lengths"),
    ("single labelled class", ["a"] * 20 + [-1] * 4, ValueError, "single class"),
    ("all unlabelled", [-1] * 24, ValueError, "all rows are unlabelled"),
    ("continuous", list(np.linspace(0.1, 0.9, 24)), ValueError, "continuous"),
    ("NaN in y", [0, 1] * 11 + [0, float("nan")], ValueError, "non-finite"),
    ("None in y", ["a", "b"] * 11 + ["a", None], ValueError, "missing"),
    ("2-D not indicator", np.full((24, 3), 2), ValueError, "0/1 indicator"),
    ("y missing", None, ValueError, "y is required"),
]


@pytest.mark.parametrize("case,y,exc,match", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_bad_y(case, y, exc, match, tiny_lm_path):
    with pytest.raises(exc, match=match):
        _make("clf", tiny_lm_path).fit(TEXTS, y)


BAD_PARAMS = [
    ({"schedule": "foo"}, "schedule"),
    ({"epochs": -1}, "epochs"),
    ({"lm_epochs": -1}, "lm_epochs"),
    ({"lr": 0}, "'lr'"),
    ({"bptt": 0}, "bptt"),
    ({"batch_size": 0}, "batch_size"),
    ({"unfreeze": "sometimes"}, "unfreeze"),
    ({"device": "tpu"}, "device"),
    ({"pretrained": "no-such-model"}, "pretrained"),
    ({"drop_mult": -1.0}, "drop_mult"),
]


@pytest.mark.parametrize("params,match", BAD_PARAMS, ids=[next(iter(p)) for p, _ in BAD_PARAMS])
def test_bad_parameters_are_rejected_in_fit_not_init(params, match, tiny_lm_path):
    clf = ULMFiTClassifier(**{**dict(pretrained=tiny_lm_path, device="cpu"), **params})  # init never validates
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(TEXTS, LABELS)


def test_unfitted_methods_raise_not_fitted():
    for est, methods in [(ULMFiTClassifier(), ["predict", "predict_proba"]), (ULMFiTEncoder(), ["transform"]),
                         (ULMFiTLanguageModel(), ["score", "perplexity"])]:
        for m in methods:
            with pytest.raises(NotFittedError):
                getattr(est, m)(["text"])


# -- interruptions -------------------------------------------------------------------------------
class _Interrupt:
    """Patch AdamW.step to raise KeyboardInterrupt after ``n`` steps (a Ctrl-C mid-training)."""

    def __init__(self, monkeypatch, n):
        self.calls, self.n = 0, n
        orig = torch.optim.AdamW.step

        def step(opt, *a, **k):
            self.calls += 1
            if self.calls > self.n:
                raise KeyboardInterrupt
            return orig(opt, *a, **k)

        monkeypatch.setattr(torch.optim.AdamW, "step", step)


@pytest.mark.parametrize("after_steps", [0, 3, 12])
def test_ctrl_c_during_first_fit_leaves_estimator_unfitted(after_steps, tiny_lm_path, monkeypatch):
    clf = _make("clf", tiny_lm_path)
    _Interrupt(monkeypatch, after_steps)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(TEXTS, LABELS)
    assert not [k for k in vars(clf) if k.endswith("_") and not k.startswith("_")]
    with pytest.raises(NotFittedError):
        clf.predict(["x"])


def test_ctrl_c_during_refit_keeps_previous_fit(tiny_lm_path, monkeypatch):
    clf = _make("clf", tiny_lm_path).fit(TEXTS, LABELS)
    before = clf.predict_proba(TEXTS)
    history = list(clf.history_)
    _Interrupt(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        clf.set_params(lr=0.05).fit(TEXTS[::-1], LABELS[::-1])
    monkeypatch.undo()
    assert np.array_equal(clf.predict_proba(TEXTS), before) and clf.history_ == history


def test_interrupted_checkpoint_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "state.ckpt"
    atomic_save({"step": 1, "w": torch.ones(3)}, path)
    real_save = torch.save

    def broken_save(obj, f, *a, **k):
        f.write(b"PARTIAL")  # half a file reaches the disk, then the process is interrupted
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    data = safe_load(path)
    assert data["step"] == 1 and torch.equal(data["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.ckpt"]  # no temp files left


# -- numerical faults ----------------------------------------------------------------------------
def test_nan_classifier_loss_stops_with_clear_error(tiny_lm_path, monkeypatch):
    import skulmfit.clf_training as ct

    real = ct._loss
    calls = {"n": 0}

    def nan_loss(*a, **k):
        calls["n"] += 1
        out = real(*a, **k)
        return out * float("nan") if calls["n"] == 3 else out

    monkeypatch.setattr(ct, "_loss", nan_loss)
    with pytest.raises(TrainingDivergedError, match="lower learning rate"):
        _make("clf", tiny_lm_path).fit(TEXTS, LABELS)


def test_cuda_oom_in_predict_retries_with_smaller_batches():
    docs = [np.arange(2, 2 + n) for n in (5, 3, 9, 1, 4, 7, 2, 6)]
    seen = []

    def fn(ids, lens):
        seen.append(len(lens))
        if len(lens) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return lens[:, None].float()

    out = batched_apply(fn, docs, pad_idx=1, device=torch.device("cpu"), batch_size=8)
    assert out[:, 0].tolist() == [5, 3, 9, 1, 4, 7, 2, 6]  # every row, input order
    assert max(seen[-4:]) <= 2


# -- untrusted files -----------------------------------------------------------------------------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_classifier_refuses_pickled_pretrained_file(tmp_path):
    bad = tmp_path / "evil.pt"
    torch.save({"format": "skulmfit-lm", "x": _Evil()}, bad)
    with pytest.raises(ModelFileError, match="pickled"):
        ULMFiTClassifier(pretrained=str(bad), device="cpu").fit(TEXTS, LABELS)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ModelFileError, match="truncated"):
        ULMFiTClassifier(pretrained=str(trunc), device="cpu").fit(TEXTS, LABELS)


# -- large inputs and determinism (subprocesses) -------------------------------------------------
def _run_py(code: str, timeout: int = 600) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_predict_200k_texts_with_bounded_memory(fitted, tmp_path):
    import joblib

    path = tmp_path / "clf.joblib"
    joblib.dump(fitted["clf"], path)
    out = _run_py(f"""
        import json, resource, joblib, numpy as np
        clf = joblib.load({str(path)!r})
        def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        base = [f"the cat number {{i}}" for i in range(20_000)]
        clf.predict_proba(base)
        p20 = peak()
        big = [f"a bus number {{i}}" for i in range(200_000)]
        after_input = peak()
        proba = clf.predict_proba(big)
        p200 = peak()
        print(json.dumps({{"p20": p20, "input": after_input, "p200": p200, "n": len(proba)}}))
    """)
    assert out["n"] == 200_000
    print(f"peak RSS MB: after 20k texts {out['p20']:.0f}, with the 200k input list {out['input']:.0f}, "
          f"after predicting 200k {out['p200']:.0f}")
    growth = out["p200"] - max(out["p20"], out["input"])
    assert growth < 64, out  # MB beyond the input list itself: bounded by the batch, not by 200k


def test_same_random_state_identical_across_processes(tiny_lm_path):
    code = f"""
        import json, hashlib
        from skulmfit import ULMFiTClassifier
        X = {TEXTS!r}; y = {LABELS!r}
        clf = ULMFiTClassifier(pretrained={str(tiny_lm_path)!r}, device="cpu", lm_epochs=1, epochs=2,
                               batch_size=8, random_state=7).fit(X, y)
        print(json.dumps({{"h": hashlib.sha256(clf.predict_proba(X).tobytes()).hexdigest()}}))
    """
    assert _run_py(code)["h"] == _run_py(code)["h"]
