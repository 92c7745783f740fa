import pytest
import torch
import torch.nn.functional as F

from skulmfit.losses import linear_cross_entropy


def _plain_and_chunked(n, chunk, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 8, generator=g)
    w = torch.randn(30, 8, generator=g)
    b = torch.randn(30, generator=g) if bias else None
    y = torch.randint(0, 30, (n,), generator=g)
    results = []
    for fn in (lambda h, w, b: F.cross_entropy(F.linear(h, w, b), y),
               lambda h, w, b: linear_cross_entropy(h, w, b, y, chunk_size=chunk)):
        hh, ww = h.clone().requires_grad_(), w.clone().requires_grad_()
        bb = None if b is None else b.clone().requires_grad_()
        loss = fn(hh, ww, bb)
        (3.0 * loss).backward()  # a scaled loss: the upstream gradient must be applied
        results.append((loss.detach(), hh.grad, ww.grad, None if bb is None else bb.grad))
    return results


@pytest.mark.parametrize("n,chunk", [(1, 4), (7, 3), (64, 16), (50, 256)])
def test_equals_plain_cross_entropy(n, chunk):
    plain, chunked = _plain_and_chunked(n, chunk)
    for a, b in zip(plain, chunked):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_without_bias():
    plain, chunked = _plain_and_chunked(20, 6, bias=False)
    for a, b in zip(plain[:3], chunked[:3]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert chunked[3] is None


def test_no_grad_and_frozen_weight():
    h, w, y = torch.randn(9, 4), torch.randn(5, 4), torch.randint(0, 5, (9,))
    with torch.no_grad():
        loss = linear_cross_entropy(h, w, None, y, chunk_size=2)
    torch.testing.assert_close(loss, F.cross_entropy(h @ w.t(), y))
    hh = h.clone().requires_grad_()  # weight frozen: only the input gets a gradient
    linear_cross_entropy(hh, w, None, y).backward()
    ref = h.clone().requires_grad_()
    F.cross_entropy(ref @ w.t(), y).backward()
    torch.testing.assert_close(hh.grad, ref.grad)


def test_bad_shapes_are_refused():
    w = torch.randn(5, 4)
    with pytest.raises(ValueError, match="expected h"):
        linear_cross_entropy(torch.randn(2, 3, 4), w, None, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one row"):
        linear_cross_entropy(torch.randn(0, 4), w, None, torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="chunk_size"):
        linear_cross_entropy(torch.randn(2, 4), w, None, torch.zeros(2, dtype=torch.long), chunk_size=0)


def test_lm_loss_equals_the_plain_decoder_loss(monkeypatch):
    """The LM loss (chunked on CPU) gives the plain cross-entropy of the model's logits, and the
    same gradients for every parameter (tied decoder included); evaluate_lm agrees too."""
    import numpy as np

    from skulmfit.lm_training import evaluate_lm, lm_loss
    from skulmfit.model import AWDLSTMConfig, LanguageModel

    torch.manual_seed(0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=2))
    model.eval()  # no dropout: both computations see the same network
    x, y = torch.randint(0, 50, (3, 9)), torch.randint(0, 50, (3, 9))
    _, ce, _ = lm_loss(model, x, y, None, 0.0, 0.0)
    ce.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    logits = model(x)[0]
    plain = F.cross_entropy(logits.reshape(-1, 50), y.reshape(-1))
    plain.backward()
    torch.testing.assert_close(ce, plain)
    for k, p in model.named_parameters():
        torch.testing.assert_close(grads[k], p.grad, rtol=1e-5, atol=1e-7)
    ids = np.random.default_rng(0).integers(0, 50, 200)
    chunked = evaluate_lm(model, ids, batch_size=4, bptt=10)
    import skulmfit.lm_training as lt

    monkeypatch.setattr(lt, "linear_cross_entropy", lambda h, w, b, t, **kw: F.cross_entropy(F.linear(h, w, b), t))
    plain = evaluate_lm(model, ids, batch_size=4, bptt=10)
    assert chunked["tokens"] == plain["tokens"] > 150
    assert abs(chunked["loss"] - plain["loss"]) < 1e-5


def test_bfloat16_products_stay_close_to_the_exact_loss():
    g = torch.Generator().manual_seed(1)
    h, w, b = torch.randn(300, 16, generator=g), torch.randn(500, 16, generator=g) * 0.3, torch.randn(500, generator=g)
    y = torch.randint(0, 500, (300,), generator=g)
    out = []
    for dt in (None, torch.bfloat16):
        hh, ww, bb = (t.clone().requires_grad_() for t in (h, w, b))
        loss = linear_cross_entropy(hh, ww, bb, y, chunk_size=64, compute_dtype=dt)
        loss.backward()
        assert loss.dtype == torch.float32 and ww.grad.dtype == torch.float32
        out.append((loss.detach(), hh.grad, ww.grad, bb.grad))
    (exact, *g_exact), (low, *g_low) = out
    assert abs(float(low - exact)) < 0.01 * float(exact)
    assert float(low - exact) != 0.0  # really a different computation
    for a, b_ in zip(g_exact, g_low):
        assert float((a - b_).norm() / a.norm()) < 0.02


def test_an_enclosing_autocast_does_not_change_the_exact_loss():
    h, w, y = torch.randn(40, 8), torch.randn(30, 8), torch.randint(0, 30, (40,))
    ref = linear_cross_entropy(h, w, None, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = linear_cross_entropy(h, w, None, y)
    torch.testing.assert_close(inside, ref, rtol=0, atol=0)


def test_bad_compute_dtype_is_refused():
    with pytest.raises(ValueError, match="compute_dtype"):
        linear_cross_entropy(torch.randn(2, 4), torch.randn(5, 4), None, torch.zeros(2, dtype=torch.long),
                             compute_dtype=torch.int32)
