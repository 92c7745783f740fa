"""Training precision (skulmfit.precision): resolution per device, bf16 training on CPU, the
float16 gradient-scaler path, and prediction (bfloat16 with 'bf16', else float32) that does not depend
on the batch a document lands in."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import skulmfit.clf_training as clf_training
import skulmfit.lm_training as lm_training
from skulmfit import ULMFiTClassifier, ULMFiTEncoder, ULMFiTLanguageModel
from skulmfit.lm_training import LMTrainConfig, LMTrainer, decoder_cross_entropy
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.precision import autocast, autocast_dtype, grad_scaler, inference_dtype, resolve_precision

CPU = torch.device("cpu")


def test_resolution_per_device_and_stage():
    assert resolve_precision("auto", CPU, "lm") is None
    assert resolve_precision("auto", CPU, "clf") is None
    assert resolve_precision("fp32", "cpu") is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU without native bf16 warns that it is slow
        assert resolve_precision("bf16", CPU, "clf") is torch.bfloat16
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("half", CPU)
    with pytest.raises(ValueError, match="stage"):
        resolve_precision("fp32", CPU, "pretrain")
    with pytest.raises(ValueError, match="not on device 'mps'"):
        resolve_precision("bf16", "mps")
    assert grad_scaler(CPU, torch.bfloat16) is None and grad_scaler("cuda", torch.bfloat16) is None


def test_autocast_helpers():
    assert autocast_dtype("cpu") is None
    with autocast(CPU, torch.bfloat16):
        assert autocast_dtype("cpu") is torch.bfloat16
    with autocast(CPU, None):
        assert autocast_dtype("cpu") is None


def _lm(vocab=60, seed=0):
    torch.manual_seed(seed)
    return LanguageModel(AWDLSTMConfig(vocab_size=vocab, emb_size=8, hidden_size=16, n_layers=2))


def test_cpu_autocast_makes_the_chunked_decoder_loss_use_bf16_products():
    model = _lm().eval()
    h = torch.randn(3, 7, 8)
    y = torch.randint(0, 60, (3, 7))
    exact = decoder_cross_entropy(model, h, y).detach()
    with autocast(CPU, torch.bfloat16):
        low = decoder_cross_entropy(model, h, y).detach()
    assert low.dtype == torch.float32
    assert float(low) != float(exact) and abs(float(low) - float(exact)) < 0.02 * float(exact)


def _ids(n=3000, vocab=60, seed=0):
    return np.random.default_rng(seed).integers(2, vocab, n)


def test_bf16_lm_training_on_cpu_trains_and_keeps_a_float32_state():
    model = _lm()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = LMTrainConfig(batch_size=4, bptt=10, max_tokens=400, precision="bf16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = LMTrainer(model, _ids(), cfg, CPU)
    assert trainer.amp_dtype is torch.bfloat16 and trainer.scaler is None
    trainer.run()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(h.dtype == c.dtype == torch.float32 for h, c in trainer.hidden)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bf16_trains_an_adaptive_softmax_lm_and_evaluates_it_in_float32():
    from skulmfit.adaptive import default_tail_widths

    torch.manual_seed(0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=60, emb_size=8, hidden_size=16, n_layers=2, decoder="adaptive",
                                        cutoffs=[10, 30], tail_widths=default_tail_widths(8, 2, 2.0)))
    ids = _ids()
    before = lm_training.evaluate_lm(model, ids[:600], batch_size=4, bptt=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = LMTrainer(model, ids, LMTrainConfig(batch_size=4, bptt=10, max_tokens=2000, lr=0.01,
                                                      precision="bf16"), CPU)
    trainer.run()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    after = lm_training.evaluate_lm(model, ids[:600], batch_size=4, bptt=10)
    assert np.isfinite(after["loss"]) and after["loss"] < before["loss"]


def test_lm_precision_auto_and_legacy_amp_switch():
    cfg = LMTrainConfig(batch_size=4, bptt=10, max_tokens=100)
    assert LMTrainer(_lm(), _ids(), cfg, CPU).amp_dtype is None
    with pytest.raises(ValueError, match="precision must be one of"):
        LMTrainConfig(precision="fp8").validate()


def test_float16_scaler_path_scales_steps_and_checkpoints(monkeypatch):
    """The float16 (CUDA) path, run on CPU with a CPU scaler and bf16 autocast: the loss is scaled,
    the gradients are unscaled before clipping, and the scaler's state goes into checkpoints."""
    monkeypatch.setattr(lm_training, "grad_scaler", lambda device, dtype: torch.amp.GradScaler("cpu", init_scale=256.0))
    model = _lm()
    cfg = LMTrainConfig(batch_size=4, bptt=10, max_tokens=300, precision="bf16", clip=0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = LMTrainer(model, _ids(), cfg, CPU)
    seen = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(params, max_norm):
        params = list(params)
        seen.append(float(torch.stack([p.grad.norm() for p in params if p.grad is not None]).norm()))
        return real_clip(params, max_norm)

    monkeypatch.setattr(lm_training.nn.utils, "clip_grad_norm_", clip)
    trainer.run()
    assert seen and max(seen) < 100  # unscaled: a 256x scaled gradient would be far larger
    state = trainer.state_dict()
    assert state["scaler"]["scale"] > 0
    fresh = LMTrainer(_lm(seed=1), _ids(), cfg, CPU)
    fresh.load_state_dict(state)
    assert fresh.scaler.get_scale() == trainer.scaler.get_scale()


def test_classifier_scaler_path_runs(monkeypatch, tiny_lm_path, toy_data):
    monkeypatch.setattr(clf_training, "grad_scaler", lambda device, dtype: torch.amp.GradScaler("cpu"))
    X, y = toy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=0, epochs=2, batch_size=16,
                               bptt=20, random_state=0, precision="bf16").fit(X[:40], y[:40])
    assert np.isfinite(clf.predict_proba(X[:5])).all()


def test_bf16_predicts_in_bf16_independently_of_the_batch(tiny_lm_path, toy_data):
    X, y = toy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, epochs=2, batch_size=16,
                               bptt=20, random_state=0, precision="bf16").fit(X, y)
    fp32 = ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, epochs=2, batch_size=16,
                            bptt=20, random_state=0, precision="fp32").fit(X, y)
    assert any(h.get("stage") == "lm" for h in clf.history_)
    assert all(p.dtype == torch.float32 for m in clf.models_.values() for p in m.parameters())
    batch = clf.predict_proba(X[:12])
    rows = np.vstack([clf.predict_proba([x]) for x in X[:12]])  # one-row batches run as two copies of the row
    np.testing.assert_array_equal(batch, rows)
    np.testing.assert_array_equal(batch, clf.set_params(batch_size=5).predict_proba(X[:12]))
    # the same fitted model predicting in float32: close, but not the same bits
    as_fp32 = clf.set_params(precision="fp32", batch_size=16).predict_proba(X[:12])
    assert not np.array_equal(batch, as_fp32) and np.abs(batch - as_fp32).max() < 0.1  # measured 0.055
    assert not np.allclose(as_fp32, fp32.predict_proba(X[:12]), atol=1e-7)  # bf16 really trained differently


def test_bf16_encoder_features_do_not_depend_on_the_batch(tiny_lm_path, toy_data):
    X, _ = toy_data
    enc = ULMFiTEncoder(pretrained=tiny_lm_path, device="cpu", lm_epochs=0, batch_size=8, precision="fp32").fit(X)
    fp32 = enc.transform(X[:10])
    bf16 = enc.set_params(precision="bf16").transform(X[:10])
    assert bf16.dtype == np.float32 and not np.array_equal(fp32, bf16)
    assert np.abs(fp32 - bf16).max() < 0.05 * np.abs(fp32).max()
    np.testing.assert_array_equal(bf16, np.vstack([enc.transform([x]) for x in X[:10]]))


def test_inference_dtype():
    assert inference_dtype("bf16", CPU) == torch.bfloat16
    assert inference_dtype("fp32", CPU) is None and inference_dtype("auto", CPU) is None
    with pytest.raises(ValueError, match="precision"):
        inference_dtype("half", CPU)


@pytest.mark.parametrize("est", [ULMFiTClassifier, ULMFiTLanguageModel])
def test_fp16_on_cpu_is_a_clear_parameter_error(est, tiny_lm_path, toy_data):
    X, y = toy_data
    with pytest.raises(ValueError, match="invalid 'precision' parameter.*CUDA"):
        est(pretrained=tiny_lm_path, device="cpu", precision="fp16").fit(X, y)
    with pytest.raises(ValueError, match="'precision' parameter"):
        est(pretrained=tiny_lm_path, device="cpu", precision="half").fit(X, y)
