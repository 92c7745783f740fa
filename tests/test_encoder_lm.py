"""ULMFiTLanguageModel and ULMFiTEncoder on a tiny pretrained model and toy texts."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skulmfit import ULMFiTEncoder, ULMFiTLanguageModel

from .conftest import make_toy_texts


@pytest.fixture
def lm_params(tiny_lm_path):
    return {"pretrained": tiny_lm_path, "device": "cpu", "batch_size": 16, "bptt": 20, "random_state": 0}


# -- ULMFiTLanguageModel --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tuned_lm(tiny_lm_path, toy_data):
    return ULMFiTLanguageModel(pretrained=tiny_lm_path, device="cpu", batch_size=16, bptt=20, lm_epochs=3,
                               lm_lr=0.03, random_state=0).fit(toy_data[0])


def test_lm_score_is_mean_log_likelihood_and_perplexity_falls(tuned_lm, lm_params, toy_data):
    X = toy_data[0]
    held_out = make_toy_texts(40, seed=5)[0]
    base = ULMFiTLanguageModel(**lm_params, lm_epochs=0).fit(X)
    assert base.history_ == [] and base.n_iter_ == 0
    for lm in (base, tuned_lm):
        score = lm.score(held_out)
        assert np.isfinite(score) and score < 0
        assert lm.perplexity(held_out) == pytest.approx(math.exp(-score), rel=1e-12)
        assert lm.score(held_out, y=None) == score  # y is ignored; deterministic
    assert tuned_lm.perplexity(held_out) < 0.9 * base.perplexity(held_out)
    assert tuned_lm.perplexity(X) < base.perplexity(X)
    assert len(tuned_lm.history_) == 3 and tuned_lm.n_iter_ > 0
    assert 1 < tuned_lm.perplexity(held_out) < len(tuned_lm.vocab_)


def test_lm_score_reads_a_short_text_with_its_whole_context(tuned_lm):
    doc = "The big cat sees a small dog. The old man owns a red car."
    ids = torch.as_tensor(tuned_lm.vocab_.numericalize(tuned_lm.tokenizer_.tokenize(doc)), dtype=torch.long)
    with torch.no_grad():
        logits = tuned_lm.model_.eval()(ids[None, :-1])[0][0].double()
    mean_ll = torch.log_softmax(logits, dim=-1)[torch.arange(len(ids) - 1), ids[1:]].mean()
    assert tuned_lm.score([doc]) == pytest.approx(float(mean_ll), rel=1e-5)


def test_lm_score_needs_some_text(tuned_lm):
    for X in ([""], ["cat"]):
        with pytest.raises(ValueError, match="too little text"):
            tuned_lm.score(X)
    assert np.isfinite(tuned_lm.score(["a cat"]))


def test_generate_continues_the_prompt_reproducibly(tuned_lm):
    prompt = "The big cat"
    text = tuned_lm.generate(prompt, n_words=5, random_state=0)
    assert isinstance(text, str) and text.startswith(prompt) and len(text) > len(prompt)
    assert tuned_lm.generate(prompt, n_words=5, random_state=0) == text
    texts = {tuned_lm.generate(prompt, n_words=5, random_state=s) for s in range(6)}
    assert len(texts) > 1  # sampling, not argmax
    assert tuned_lm.generate(prompt, n_words=0) == prompt
    with pytest.raises(TypeError, match="prompt must be a str"):
        tuned_lm.generate(["The"])
    with pytest.raises(ValueError, match="n_words"):
        tuned_lm.generate(prompt, n_words=-1)
    with pytest.raises(ValueError, match="temperature"):
        tuned_lm.generate(prompt, temperature=0)


def test_backward_lm(lm_params, tiny_lm_bwd_path, toy_data):
    lm = ULMFiTLanguageModel(**{**lm_params, "pretrained": tiny_lm_bwd_path}, direction="bwd", lm_epochs=1)
    lm.fit(toy_data[0])
    assert lm.direction_ == "bwd" and np.isfinite(lm.score(toy_data[0][:10]))
    with pytest.raises(ValueError, match="forward"):
        lm.generate("The cat")
    with pytest.raises(ValueError, match="is a fwd language model, but a bwd model is needed"):
        clone(lm).set_params(pretrained=lm_params["pretrained"]).fit(toy_data[0])
    enc = ULMFiTEncoder(**{**lm_params, "pretrained": tiny_lm_bwd_path}, direction="bwd", lm_epochs=0)
    Z = enc.fit(toy_data[0][:20]).transform(toy_data[0][:20])
    assert Z.shape == (20, 48) and np.all(np.isfinite(Z)) and enc.direction_ == "bwd"
    # the fitted direction rules transform, not a parameter changed after fit
    assert np.array_equal(enc.set_params(direction="fwd").transform(toy_data[0][:20]), Z)


def test_lm_same_random_state_same_model_and_pickle(lm_params, toy_data):
    X = toy_data[0][:60]
    a = ULMFiTLanguageModel(**lm_params, lm_epochs=1).fit(X)
    b = clone(a).fit(X)
    assert all(torch.equal(v, b.model_.state_dict()[k]) for k, v in a.model_.state_dict().items())
    restored = pickle.loads(pickle.dumps(a))
    assert restored.score(X) == a.score(X)
    assert all(t.device.type == "cpu" for t in a.model_.parameters())


def test_lm_errors(lm_params):
    with pytest.raises(NotFittedError):
        ULMFiTLanguageModel(**lm_params).score(["a text"])
    with pytest.raises(NotFittedError):
        ULMFiTLanguageModel(**lm_params).generate("a")
    with pytest.raises(TypeError, match="single str"):
        ULMFiTLanguageModel(**lm_params).fit("one text")
    with pytest.raises(ValueError, match="'lm_schedule' parameter"):
        ULMFiTLanguageModel(**lm_params, lm_schedule="foo").fit(["a text"])
    with pytest.raises(ValueError, match="'direction' parameter"):
        ULMFiTLanguageModel(**lm_params, direction="up").fit(["a text"])
    with pytest.raises(ValueError, match="invalid 'device' parameter"):
        ULMFiTLanguageModel(**{**lm_params, "device": "tpu"}).fit(["a text"])


# -- ULMFiTEncoder ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder(tiny_lm_path, toy_data):
    return ULMFiTEncoder(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, batch_size=16, bptt=20,
                         random_state=0).fit(toy_data[0])


def test_encoder_shape_determinism_and_input_order(encoder, lm_params, toy_data):
    X = toy_data[0] + ["", "a " * 150 + "cat."]  # an empty document and a long one (beyond bptt)
    Z = encoder.transform(X)
    assert Z.shape == (len(X), 3 * 16) and Z.dtype == np.float32 and np.all(np.isfinite(Z))
    assert encoder.n_features_out_ == 48
    assert np.array_equal(encoder.transform(X), Z)
    np.testing.assert_allclose(encoder.transform(X[::-1]), Z[::-1], rtol=1e-5, atol=1e-6)
    rows = np.vstack([encoder.transform([x]) for x in X[-12:]])
    np.testing.assert_allclose(rows, Z[-12:], rtol=1e-5, atol=1e-6)
    assert not np.allclose(Z[0], Z[1])
    twin = ULMFiTEncoder(**lm_params, lm_epochs=1).fit(toy_data[0])
    assert np.array_equal(twin.transform(X), Z)


def test_encoder_max_len_limits_the_pooling_window(lm_params, toy_data):
    enc = ULMFiTEncoder(**lm_params, lm_epochs=0, max_len=5).fit(toy_data[0][:30])
    Z = enc.transform(["The cat sees a dog.", "The big old man finds a red car. The cat sees a dog."])
    k = 16
    # The window is the last five tokens; the 'last' block is the final state whatever the window.
    assert Z.shape == (2, 3 * k) and not np.allclose(Z[0, :k], Z[1, :k])


def test_encoder_feature_names_and_pandas_output(encoder, toy_data):
    pd = pytest.importorskip("pandas")
    names = encoder.get_feature_names_out()
    assert len(names) == encoder.n_features_out_ == 48 and len(set(names)) == 48
    assert names[0] == "ulmfit_last0" and names[-1] == "ulmfit_mean15"
    enc = clone(encoder).set_output(transform="pandas").fit(toy_data[0][:40])
    df = enc.transform(pd.Series(toy_data[0][:7], index=list("abcdefg")))
    assert isinstance(df, pd.DataFrame) and df.shape == (7, 48)
    assert list(df.columns) == list(enc.get_feature_names_out())
    np.testing.assert_allclose(df.to_numpy(), enc.set_output(transform="default").transform(toy_data[0][:7]))


def test_encoder_in_a_pipeline_with_logistic_regression(lm_params, toy_data):
    X, y = toy_data
    pipe = make_pipeline(ULMFiTEncoder(**lm_params, lm_epochs=1), LogisticRegression(max_iter=1000))
    pipe.fit(X, y)
    pred = pipe.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(y)
    assert pipe.predict_proba(X).shape == (len(X), 3)


def test_encoder_errors_and_persistence(encoder, lm_params, toy_data):
    with pytest.raises(NotFittedError):
        ULMFiTEncoder(**lm_params).transform(["a text"])
    with pytest.raises(NotFittedError):
        ULMFiTEncoder(**lm_params).get_feature_names_out()
    with pytest.raises(ValueError, match="missing value"):
        encoder.transform(["ok", None])
    with pytest.raises(ValueError, match="'max_len' parameter"):
        ULMFiTEncoder(**lm_params, max_len=0).fit(["a text"])
    restored = pickle.loads(pickle.dumps(encoder))
    assert np.array_equal(restored.transform(toy_data[0][:10]), encoder.transform(toy_data[0][:10]))
    assert all(t.device.type == "cpu" for t in encoder.model_.parameters())
