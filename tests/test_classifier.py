"""ULMFiTClassifier behaviour on a tiny pretrained model and toy data (each fit well under a second)."""

from __future__ import annotations

import ast
import pickle
import random
import re
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.special import softmax
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import skulmfit.classifier
import skulmfit.language_model
from skulmfit import ULMFiTClassifier, ULMFiTLanguageModel

from .conftest import ADJS, TOY_WORDS, VERBS, make_toy_texts


@pytest.fixture
def fast(tiny_lm_path):
    """Tiny, fast settings shared by every fit here."""
    return {"pretrained": tiny_lm_path, "device": "cpu", "lm_epochs": 1, "epochs": 2, "batch_size": 16, "bptt": 20,
            "random_state": 0}


LEARN = {"epochs": 6, "lr": 0.05, "drop_mult": 0.1}  # enough for the tiny model to learn the toy data


@pytest.fixture(scope="module")
def fitted(tiny_lm_path, toy_data):
    """A classifier that has learned the toy data."""
    X, y = toy_data
    return ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, batch_size=16, bptt=20,
                            random_state=0, **LEARN).fit(X, y)


# -- learning, labels, determinism ----------------------------------------------------------------


def test_learns_toy_data(fitted, toy_data):
    X, y = toy_data
    assert fitted.score(X, y) > 0.8
    X_new, y_new = make_toy_texts(60, seed=7)
    assert fitted.score(X_new, y_new) > 0.8
    assert list(fitted.classes_) == ["animal", "person", "thing"]
    assert fitted.n_iter_ == 6 and not fitted.multilabel_
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X))
    assert np.allclose(fitted.predict_log_proba(X), np.log(proba))


def test_string_labels_come_back_as_strings(fitted, toy_data):
    pred = fitted.predict(toy_data[0][:5])
    assert pred.dtype.kind == "U" or (pred.dtype == object and all(isinstance(p, str) for p in pred))


def test_integer_labels_and_unlabelled_rows(fast, toy_data):
    X, y = toy_data
    y_int = np.searchsorted(["animal", "person", "thing"], y)
    y_int[::4] = -1
    clf = ULMFiTClassifier(**fast).fit(X, y_int)
    assert list(clf.classes_) == [0, 1, 2] and clf.classes_.dtype.kind == "i"
    pred = clf.predict(X)
    assert pred.dtype.kind == "i" and set(pred) <= {0, 1, 2}


def test_same_random_state_gives_identical_probabilities(fast, toy_data):
    X, y = toy_data
    torch.manual_seed(1)
    np.random.seed(1)
    p1 = ULMFiTClassifier(**fast).fit(X, y).predict_proba(X)
    torch.manual_seed(2)  # the global generators play no part
    np.random.seed(2)
    p2 = ULMFiTClassifier(**fast).fit(X, y).predict_proba(X)
    assert np.array_equal(p1, p2)
    p3 = ULMFiTClassifier(**{**fast, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


def _doc(n_words: int, rng: random.Random) -> str:
    nouns = [w for words in TOY_WORDS.values() for w in words]
    words = [rng.choice(ADJS + VERBS + nouns) for _ in range(n_words)]
    return " ".join(words) + "."


def test_batch_prediction_equals_row_by_row_in_input_order(fast, toy_data):
    rng = random.Random(3)
    X, y = toy_data
    clf = ULMFiTClassifier(**{**fast, "max_len": 30, "bptt": 10, "batch_size": 4}).fit(X, y)
    lengths = [0, 1, 120, 3, 45, 9, 31, 200, 10, 2, 70, 11, 29, 5]  # words; many beyond max_len and bptt
    docs = [_doc(n, rng) for n in lengths]
    for k, label in enumerate(clf.classes_):  # one clear example of each class among them
        docs.insert(2 + 4 * k, X[list(y).index(label)])
    batch = clf.predict_proba(docs)
    rows = np.vstack([clf.predict_proba([d]) for d in docs])
    np.testing.assert_allclose(batch, rows, rtol=0, atol=1e-6)  # float32 LSTM: equal up to rounding
    order = np.argsort([len(d) for d in docs])
    np.testing.assert_allclose(clf.predict_proba([docs[i] for i in order]), batch[order], rtol=0, atol=1e-6)
    assert not np.allclose(batch, batch[order], atol=1e-3)  # the rows really differ: order matters
    assert list(clf.predict(docs)) == list(clf.classes_[batch.argmax(axis=1)])


def test_unlabelled_rows_fine_tune_the_lm_but_are_no_class(fast, toy_data):
    X, y = toy_data
    extra = [f"The {w} {w}s sees a {w}." for w in ("zebra", "yak", "gnu") for _ in range(4)]
    params = {**fast, "unfreeze": "last", "lm_epochs": 2}  # 'last': the encoder stays the fine-tuned LM's
    plain = ULMFiTClassifier(**params).fit(X, y)
    semi = ULMFiTClassifier(**params).fit(X + extra, np.array(list(y) + [-1] * len(extra), dtype=object))
    assert list(semi.classes_) == list(plain.classes_) == ["animal", "person", "thing"]
    assert "zebra" in semi.vocab_.stoi and "zebra" not in plain.vocab_.stoi
    lm_tokens = [sum(r["tokens"] for r in c.history_ if r["stage"] == "lm") for c in (plain, semi)]
    assert lm_tokens[1] > lm_tokens[0]
    w_plain = plain.models_["fwd"].encoder.rnns[0].lstm.weight_ih_l0
    w_semi = semi.models_["fwd"].encoder.rnns[0].lstm.weight_ih_l0
    assert not torch.equal(w_plain, w_semi)
    assert not np.allclose(plain.predict_proba(X), semi.predict_proba(X))
    assert set(semi.predict(X + extra)) <= {"animal", "person", "thing"}


def test_input_containers(fast, toy_data):
    pd = pytest.importorskip("pandas")
    X, y = toy_data
    base = ULMFiTClassifier(**fast)
    expected = clone(base).fit(X, y).predict_proba(X)
    for Xc, yc in [(np.asarray(X, dtype=object), list(y)), (pd.Series(X), pd.Series(y)), (np.asarray(X), y.tolist()),
                   (tuple(X), np.asarray(y, dtype=object))]:
        clf = clone(base).fit(Xc, yc)
        assert np.array_equal(clf.predict_proba(Xc), expected)
        assert np.array_equal(clf.predict(pd.Series(X, index=np.arange(len(X))[::-1])), clf.predict(X))


# -- bad input --------------------------------------------------------------------------------------

GOOD_X = ["a red cat", "a big dog", "the old car", "a new house", "the man", "a woman"]
GOOD_Y = ["animal", "animal", "thing", "thing", "person", "person"]


@pytest.mark.parametrize("X, y, error, match", [
    ("a single text", GOOD_Y, TypeError, "single str"),
    (["ok", 3, "ok", "ok", "ok", "ok"], GOOD_Y, TypeError, "only str documents; item 1 is int"),
    (["ok", None, "ok", "ok", "ok", "ok"], GOOD_Y, ValueError, "missing value.*index 1"),
    (["ok", "ok", float("nan"), "ok", "ok", "ok"], GOOD_Y, ValueError, "missing value.*index 2"),
    ([], [], ValueError, "X is empty"),
    (GOOD_X, GOOD_Y[:-1], ValueError, "inconsistent lengths: 6 documents but 5 labels"),
    (GOOD_X, ["a"] * 5 + [-1], ValueError, r"single class \('a'\)"),  # the label, not np.str_('a')
    (GOOD_X, [3] * 6, ValueError, r"single class \(3\)"),
    (GOOD_X, [-1] * 6, ValueError, "all rows are unlabelled"),
    (GOOD_X, [0.5, 1.2, 3.3, 0.1, 2.7, 1.9], ValueError, "continuous"),
    (GOOD_X, [0.0, 1.0, np.nan, 0.0, 1.0, 0.0], ValueError, "missing or non-finite value.*index 2"),
    (GOOD_X, ["a", "b", np.nan, "a", "b", "a"], ValueError, "missing or non-finite value.*index 2"),
    (GOOD_X, np.array([[0, 1], [1, 2], [0, 0], [1, 1], [0, 1], [1, 0]]), ValueError, "0/1 indicator matrix"),
    (GOOD_X, np.ones((6, 2, 2)), ValueError, "y must be 1-D"),
    (sp.csr_matrix(np.ones((6, 3))), GOOD_Y, TypeError, "sparse matrix"),
    (np.array([["a", "b"]] * 6), GOOD_Y, ValueError, "must be 1-D"),
])
def test_bad_data_raises_clear_errors(fast, X, y, error, match):
    with pytest.raises(error, match=match):
        ULMFiTClassifier(**fast).fit(X, y)


@pytest.mark.parametrize("param, value, match", [
    ("schedule", "foo", "'schedule' parameter"),
    ("lm_schedule", "foo", "'lm_schedule' parameter"),
    ("unfreeze", "sometimes", "'unfreeze' parameter"),
    ("epochs", -1, "'epochs' parameter"),
    ("epochs", 0, "'epochs' parameter"),
    ("lm_epochs", -1, "'lm_epochs' parameter"),
    ("lr", 0, "'lr' parameter"),
    ("lm_lr", -0.1, "'lm_lr' parameter"),
    ("bptt", 0, "'bptt' parameter"),
    ("batch_size", 0, "'batch_size' parameter"),
    ("max_len", 0, "'max_len' parameter"),
    ("validation_fraction", 1.0, "'validation_fraction' parameter"),
    ("class_weight", "equal", "'class_weight' parameter"),
    ("device", "tpu", "invalid 'device' parameter"),
    ("device", "cuda:99", "'device'"),
])
def test_bad_parameters_raise_clear_errors(fast, param, value, match):
    with pytest.raises(ValueError, match=match):
        ULMFiTClassifier(**{**fast, param: value}).fit(GOOD_X, GOOD_Y)


def test_bad_pretrained_and_bidirectional_without_backward_file(fast, tmp_path):
    with pytest.raises(FileNotFoundError, match="pretrained"):
        ULMFiTClassifier(**{**fast, "pretrained": str(tmp_path / "missing.pt")}).fit(GOOD_X, GOOD_Y)
    with pytest.raises(ValueError, match="pretrained_bwd"):
        ULMFiTClassifier(**fast, bidirectional=True).fit(GOOD_X, GOOD_Y)
    with pytest.raises(ValueError, match="is a fwd language model, but a bwd model is needed"):
        ULMFiTClassifier(**fast, bidirectional=True, pretrained_bwd=fast["pretrained"]).fit(GOOD_X, GOOD_Y)


def test_unfitted_predict_raises_not_fitted(fast):
    clf = ULMFiTClassifier(**fast)
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba):
        with pytest.raises(NotFittedError):
            method(GOOD_X)


def test_bad_input_at_predict_time(fitted):
    with pytest.raises(TypeError, match="single str"):
        fitted.predict("one text")
    with pytest.raises(ValueError, match="missing value"):
        fitted.predict_proba(["ok", None])
    with pytest.raises(ValueError, match="empty"):
        fitted.predict([])


# -- the paper's ablations (Tables 6 and 7) are parameter settings ------------------------------------


def _table_variants() -> list[tuple[str, dict]]:
    """The ``variant -> parameters`` table of the classifier docstring's Notes section."""
    lines = ULMFiTClassifier.__doc__.split("Notes\n")[1].splitlines()
    seps = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*=+\s+=+\s*", line)]
    col = lines[seps[0]].index(" =", lines[seps[0]].index("=")) + 1
    variants = []
    for line in lines[seps[1] + 1:seps[2]]:
        name, spec = line[:col].strip(), line[col:].strip()
        params = {}
        if spec != "defaults":
            call = ast.parse(f"dict({spec.strip('`')})", mode="eval").body
            params = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        variants.append((name, params))
    return variants


VARIANTS = _table_variants()


def test_variant_table_is_complete():
    names = [n for n, _ in VARIANTS]
    assert len(VARIANTS) == 14 and "chain-thaw" in names and "from scratch" in names
    assert dict(VARIANTS)["freez + cos"] == {"lr_decay": 1, "schedule": "cosine"}
    # the paper's discriminative factor stays explicit where the library default differs
    assert dict(VARIANTS)["ULMFiT (freez + discr + stlr)"] == {"lr_decay": 2.6}
    assert ULMFiTClassifier().get_params()["lr_decay"] == 1.6


@pytest.mark.parametrize("name, params", VARIANTS, ids=[n for n, _ in VARIANTS])
def test_table_variant_fits(fast, toy_data, tiny_lm_path, monkeypatch, name, params):
    if params.get("pretrained", "x") is None:
        # Random initialisation copies the architecture of the shipped 'default' model; make that the
        # tiny model so that this fit stays as fast as the others.
        real = skulmfit.language_model.resolve_pretrained
        monkeypatch.setattr(skulmfit.language_model, "resolve_pretrained",
                            lambda spec, direction="fwd": Path(tiny_lm_path) if spec == "default"
                            else real(spec, direction))
    X, y = toy_data
    clf = ULMFiTClassifier(**{**fast, **LEARN, **params}).fit(X, y)
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= set(clf.classes_)
    lm_records = [r for r in clf.history_ if r["stage"] == "lm"]
    assert len(lm_records) == clf.lm_epochs
    groups = [r["trainable_groups"] for r in clf.history_ if r["stage"] == "classifier"]
    assert len(clf.models_["fwd"].layer_groups()) == 4  # embedding, 2 LSTM layers, head
    expected = {
        "gradual": [[3], [2, 3], [1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]],
        "all": [[0, 1, 2, 3]] * 6,
        "last": [[3]] * 6,
        "chain_thaw": [[3], [0], [1], [2], [0, 1, 2, 3], [0, 1, 2, 3]],
    }[clf.unfreeze]
    assert groups == expected
    if clf.pretrained is None:
        assert clf.models_["fwd"].config.emb_size == 16  # the reference's architecture, random weights
    if clf.unfreeze == "last":
        # Only the head trains: the encoder is exactly the fine-tuned LM's, the one ULMFiTLanguageModel
        # gives for the same settings. (A head on frozen features of this tiny model learns little.)
        lm = ULMFiTLanguageModel(pretrained=tiny_lm_path, device="cpu", lm_epochs=clf.lm_epochs,
                                 batch_size=clf.batch_size, bptt=clf.bptt, random_state=0).fit(X)
        lm_state, clf_state = lm.model_.encoder.state_dict(), clf.models_["fwd"].encoder.state_dict()
        assert all(torch.equal(lm_state[k], clf_state[k]) for k in lm_state)
    else:
        assert clf.score(X, y) > 0.6  # chance is 1/3; most variants reach 0.95-1.0 here


# -- multi-label, bidirectional ---------------------------------------------------------------------


def _multilabel_data(n: int = 90, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    labels = list(TOY_WORDS)
    texts, Y = [], np.zeros((n, len(labels)), dtype=np.int64)
    for i in range(n):
        chosen = rng.sample(range(len(labels)), rng.choice([1, 2]))
        sents = []
        for k in chosen:
            Y[i, k] = 1
            nouns = TOY_WORDS[labels[k]]
            sents.append(f"The {rng.choice(ADJS)} {rng.choice(nouns)} {rng.choice(VERBS)} a {rng.choice(nouns)}.")
        texts.append(" ".join(sents))
    return texts, Y


def test_multilabel(fast):
    X, Y = _multilabel_data()
    Y_semi = np.vstack([Y, -np.ones((3, 3), dtype=int)])
    Y_semi[:len(Y):5] = -1  # unlabelled rows
    extra = ["The zebra sees a zebra."] * 3
    # 10 epochs: with LEARN's 6 the per-label accuracy of this tiny model depends on the seed's dropout draws
    # (0.70-0.94 over random_state 0-3, one seed below the bar); with 10 it is 0.96-1.0
    clf = ULMFiTClassifier(**{**fast, **LEARN, "epochs": 10}).fit(X + extra, Y_semi)
    assert clf.multilabel_ and list(clf.classes_) == [0, 1, 2]
    assert "zebra" in clf.vocab_.stoi  # unlabelled rows reach LM fine-tuning
    pred = clf.predict(X)
    assert pred.shape == Y.shape and pred.dtype.kind == "i" and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and np.all((proba >= 0) & (proba <= 1))
    assert np.array_equal(pred, (proba >= 0.5).astype(int))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert np.mean(pred == Y) > 0.75  # per-label accuracy
    with pytest.raises(ValueError, match="all rows are unlabelled"):
        ULMFiTClassifier(**fast).fit(X[:3], -np.ones((3, 3)))


def test_bidirectional_averages_directions(fast, toy_data, tiny_lm_bwd_path):
    X, y = toy_data
    clf = ULMFiTClassifier(**fast, bidirectional=True, pretrained_bwd=tiny_lm_bwd_path).fit(X, y)
    assert set(clf.models_) == {"fwd", "bwd"}
    assert {r["direction"] for r in clf.history_} == {"fwd", "bwd"}
    logits = clf._logits(X)
    per_direction = [softmax(logits[d].astype(np.float64), axis=1) for d in ("fwd", "bwd")]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, (per_direction[0] + per_direction[1]) / 2, rtol=1e-12)
    assert not np.allclose(per_direction[0], per_direction[1])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


# -- persistence --------------------------------------------------------------------------------------


def test_pickle_and_joblib_round_trips(fitted, toy_data, tmp_path):
    X = toy_data[0][:20]
    expected = fitted.predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same version: no warning
        restored = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(restored.predict_proba(X), expected)
    joblib.dump(fitted, tmp_path / "clf.joblib")
    assert np.array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)


def test_unpickling_another_version_warns(fitted, monkeypatch):
    monkeypatch.setattr(skulmfit.language_model, "__version__", "0.0.1-old")
    data = pickle.dumps(fitted)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match=r"pickled with skulmfit 0\.0\.1-old .*Refit"):
        pickle.loads(data)
    state = fitted.__getstate__()
    state["_skulmfit_version"] = "9.9"
    clone = ULMFiTClassifier.__new__(ULMFiTClassifier)
    with pytest.warns(UserWarning, match="skulmfit 9.9"):
        clone.__setstate__(state)
    assert "_skulmfit_version" not in clone.__dict__


def test_tensors_on_cpu_after_fit(fitted):
    for model in fitted.models_.values():
        assert not model.training
        assert all(t.device.type == "cpu" for t in [*model.parameters(), *model.buffers()])


# -- training options ---------------------------------------------------------------------------------


def test_warm_start_refits_from_current_weights_without_lm(fast, toy_data, lm_runs, monkeypatch):
    X, y = toy_data
    clf = ULMFiTClassifier(**fast).fit(X, y)
    assert len(lm_runs) == 1
    before = {k: v.clone() for k, v in clf.models_["fwd"].state_dict().items()}
    vocab, n_history = clf.vocab_, len(clf.history_)
    starts = []
    real_train = skulmfit.classifier.train_classifier

    def spy(model, *args, **kwargs):
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(skulmfit.classifier, "train_classifier", spy)
    clf.set_params(warm_start=True, unfreeze="all", epochs=1).fit(X, y)
    assert len(lm_runs) == 1  # no LM fine-tuning
    assert clf.vocab_ is vocab and len(clf.history_) == n_history + 1
    assert all(torch.equal(starts[0][k], before[k]) for k in before)  # started from the fitted weights
    assert not all(torch.equal(clf.models_["fwd"].state_dict()[k], before[k]) for k in before)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[:30], np.where(y[:30] == "person", "human", y[:30]))
    clf.set_params(warm_start=False).fit(X, y)  # a cold fit fine-tunes the LM again
    assert len(lm_runs) == 2 and len(starts) == 2


def test_class_weight_balanced(fast, monkeypatch):
    X, y = make_toy_texts(80, seed=4, labels=("animal", "animal", "animal", "thing"))
    weights = []
    real_train = skulmfit.classifier.train_classifier

    def spy(*args, **kwargs):
        weights.append(kwargs["class_weight"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(skulmfit.classifier, "train_classifier", spy)
    clf = ULMFiTClassifier(**{**fast, **LEARN}, unfreeze="all", class_weight="balanced")
    clf.fit(X + ["The zebra."] * 4, list(y) + [-1] * 4)
    np.testing.assert_allclose(weights[-1], [80 / (2 * 60), 80 / (2 * 20)])  # unlabelled rows do not count
    assert set(clf.predict(X)) <= {"animal", "thing"} and clf.predict_proba(X).shape == (80, 2)
    assert clf.score(X, y) > 0.75
    ULMFiTClassifier(**fast, class_weight={"animal": 1.0, "thing": 3.0}).fit(X, y)
    np.testing.assert_allclose(weights[-1], [1.0, 3.0])


def test_early_stopping_records_validation_scores(fast, toy_data):
    X, y = toy_data
    clf = ULMFiTClassifier(**{**fast, "epochs": 8}, early_stopping=True, validation_fraction=0.25, n_iter_no_change=1,
                           unfreeze="all").fit(X, y)
    records = [r for r in clf.history_ if r["stage"] == "classifier"]
    assert len(records) == clf.n_iter_ <= 8
    assert all(0 <= r["valid_score"] <= 1 and np.isfinite(r["valid_loss"]) for r in records)


@pytest.mark.parametrize("n_docs, batch_size", [(3, 2), (5, 1), (9, 4)])
def test_single_row_batches_do_not_break_batchnorm(fast, n_docs, batch_size):
    X = GOOD_X * 2
    y = GOOD_Y * 2
    clf = ULMFiTClassifier(**{**fast, "batch_size": batch_size, "unfreeze": "all"}).fit(X[:n_docs], y[:n_docs])
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_single_labelled_row_multilabel_trains_with_batch_of_one(fast):
    Y = -np.ones((6, 2), dtype=int)
    Y[0] = [1, 0]
    clf = ULMFiTClassifier(**fast).fit(GOOD_X, Y)
    assert clf.predict(GOOD_X).shape == (6, 2)


def test_score_ignores_unlabelled_rows_and_string_minus_one(fast, toy_data):
    X, y = toy_data
    clf = ULMFiTClassifier(**fast).fit(list(X) + ["an extra text"], list(y) + ["-1"])  # "-1" is unlabelled too
    assert "-1" not in list(clf.classes_)
    base = clf.score(X, y)
    assert clf.score(list(X) + ["x", "y"], list(y) + [-1, -1]) == base
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(ULMFiTClassifier(**fast), list(X) + ["u1", "u2"], list(y) + [-1, -1], cv=2)
    assert np.all((scores >= 0) & (scores <= 1))


def test_class_weighted_batches_are_scaled_by_the_training_sets_mean_weight():
    from skulmfit.clf_training import _loss

    torch.manual_seed(0)
    weight = torch.tensor([1000.0, 1e-4, 1e-4])
    target = torch.tensor([0, 1, 2, 1, 0, 2, 2, 1])
    logits = torch.randn(len(target), 3)
    scale = float(weight[target].mean())
    # over the whole set: the weighted mean loss, as F.cross_entropy(weight=...) gives it
    torch.testing.assert_close(_loss(logits, target, False, weight, scale),
                               F.cross_entropy(logits, target, weight=weight))
    # a small batch without the heavily weighted class counts by its weights, not as a plain mean
    rows = target != 0
    small = _loss(logits[rows], target[rows], False, weight, scale)
    assert float(small) < 1e-5 * float(F.cross_entropy(logits[rows], target[rows]))
    assert float(F.cross_entropy(logits[rows], target[rows], weight=weight)) > 0.1  # what a batch's own weights give
