import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from skulmfit.regularizers import (
    EmbeddingDropout,
    LockedDropout,
    WeightDropLSTM,
    activation_regularization,
    keep_mask,
    same_layout,
    shared_buffer_offsets,
    temporal_activation_regularization,
)


def test_locked_dropout_mask_constant_over_time():
    torch.manual_seed(0)
    d = LockedDropout(0.5).train()
    x = torch.ones(4, 10, 8)
    y = d(x)
    assert torch.equal(y[:, :1].expand_as(y), y)  # the same mask at every time step
    assert set(y.unique().tolist()) <= {0.0, 2.0} and (y == 0).any()
    assert torch.equal(d.eval()(x), x)


def test_embedding_dropout_zeroes_whole_rows_and_rescales():
    torch.manual_seed(0)
    emb = nn.Embedding(50, 6)
    ed = EmbeddingDropout(0.5).train()
    ids = torch.arange(50).unsqueeze(0)
    out = ed(emb, ids)[0]
    dropped = (out == 0).all(dim=1)
    assert dropped.any() and (~dropped).any()
    assert torch.allclose(out[~dropped], emb.weight[~dropped] * 2)
    assert torch.equal(ed.eval()(emb, ids)[0], emb.weight)


def test_weight_drop_changes_train_outputs_not_eval_and_keeps_parameters():
    torch.manual_seed(0)
    layer = WeightDropLSTM(5, 7, weight_p=0.5)
    names_before = [n for n, _ in layer.named_parameters()]
    x = torch.randn(2, 6, 5)
    layer.eval()
    e1, _ = layer(x)
    e2, _ = layer(x)
    assert torch.equal(e1, e2)
    ref, _ = layer.lstm(x)
    assert torch.equal(e1, ref)
    layer.train()
    t1, _ = layer(x)
    t2, _ = layer(x)
    assert not torch.allclose(t1, ref) and not torch.allclose(t1, t2)
    t1.sum().backward()
    assert layer.lstm.weight_hh_l0.grad is not None and layer.lstm.weight_hh_l0.grad.abs().sum() > 0
    assert [n for n, _ in layer.named_parameters()] == names_before == [
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0"]


def test_ar_tar():
    h = torch.tensor([[[1.0], [3.0]]])
    assert activation_regularization(h, 2.0).item() == 2.0 * 5.0
    assert temporal_activation_regularization(h, 1.0).item() == 4.0
    assert temporal_activation_regularization(h[:, :1], 1.0).item() == 0.0


def _old_embedding_dropout(emb, ids, p):
    """The former formulation: scale the whole matrix, then look up."""
    mask = keep_mask((emb.weight.size(0), 1), p, emb.weight)
    return F.embedding(ids, emb.weight * mask, emb.padding_idx)


def test_embedding_dropout_equals_masking_the_whole_matrix():
    emb = nn.Embedding(40, 5, padding_idx=1)
    ids = torch.randint(0, 40, (3, 11))
    ids[0, :3] = 1
    grads = []
    for fn in (lambda: _old_embedding_dropout(emb, ids, 0.4), lambda: EmbeddingDropout(0.4).train()(emb, ids)):
        torch.manual_seed(3)
        emb.weight.grad = None
        out = fn()
        (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
        grads.append((out.detach(), emb.weight.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=0)
    torch.testing.assert_close(grads[0][1], grads[1][1])
    assert grads[1][1][1].abs().sum() == 0  # no gradient to the padding row


def _functional_reference(layer, x, state, seed):
    params = dict(layer.lstm.named_parameters())
    torch.manual_seed(seed)
    w = params["weight_hh_l0"]
    params["weight_hh_l0"] = w * keep_mask(w.shape, layer.weight_p, w)
    return functional_call(layer.lstm, params, (x, state))


def test_weight_drop_equals_functional_call_with_the_same_mask():
    torch.manual_seed(0)
    layer = WeightDropLSTM(5, 7, weight_p=0.5).train()
    x = torch.randn(3, 6, 5)
    state = (torch.randn(1, 3, 7), torch.randn(1, 3, 7))
    for st in (None, state):
        results = []
        for fn in (lambda st=st: _functional_reference(layer, x, st, 11),
                   lambda st=st: (torch.manual_seed(11), layer(x, st))[1]):
            layer.zero_grad()
            out, (h, c) = fn()
            (out.sum() + h.pow(2).sum() + c.sum()).backward()
            results.append([out, h, c] + [p.grad.clone() for p in layer.parameters()])
        for a, b in zip(*results):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def _flatten_like_cudnn(lstm, gap=3, tail=5):
    """Put an LSTM's weights into one buffer (with a gap and a tail, as an aligned layout may have)."""
    ws = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
    total = sum(w.numel() for w in ws) + gap + tail
    buf = torch.zeros(total)
    pos = 0
    with torch.no_grad():
        for i, w in enumerate(ws):
            if i == 2:
                pos += gap
            buf[pos:pos + w.numel()] = w.reshape(-1)
            w.set_(buf.untyped_storage(), pos, w.shape, w.stride())
            pos += w.numel()
    return ws


def test_same_layout_mirrors_one_buffer_and_leaves_separate_tensors_alone():
    lstm = nn.LSTM(4, 3, batch_first=True)
    separate = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
    assert shared_buffer_offsets(separate) is None
    new = [w * 2 for w in separate]
    assert all(a is b for a, b in zip(same_layout(new, separate), new))
    flat = _flatten_like_cudnn(lstm)
    offsets = shared_buffer_offsets(flat)
    assert offsets == [0, 48, 87, 99]
    new = [(w.detach() * 3).requires_grad_() if i == 1 else w * (i + 2) for i, w in enumerate(flat)]
    out = same_layout(new, flat)
    assert len({t.untyped_storage().data_ptr() for t in out}) == 1
    assert [t.storage_offset() for t in out] == offsets
    assert out[0].untyped_storage().nbytes() == flat[0].untyped_storage().nbytes()
    assert all(t.is_contiguous() and t.shape == w.shape for t, w in zip(out, flat))
    for a, b in zip(out, new):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    sum(t.sum() * (i + 1) for i, t in enumerate(out)).backward()
    assert torch.equal(new[1].grad, torch.full_like(new[1], 2.0))
    assert torch.equal(lstm.weight_ih_l0.grad, torch.full_like(lstm.weight_ih_l0, 2.0))


def test_weight_drop_hands_one_buffer_to_the_kernel_when_the_weights_share_one(monkeypatch):
    """After flattening (what cuDNN does on a GPU), the dropped weights reach the LSTM kernel as
    views of one contiguous buffer at the module's offsets: nothing to re-flatten or warn about."""
    torch.manual_seed(0)
    layer = WeightDropLSTM(4, 3, weight_p=0.5).train()
    x = torch.randn(2, 5, 4)
    torch.manual_seed(1)
    ref = layer(x)[0]
    flat = _flatten_like_cudnn(layer.lstm)
    seen = []
    real = torch.lstm

    def spy(inp, hx, params, *args):
        seen.append([(p.untyped_storage().data_ptr(), p.storage_offset(), p.is_contiguous()) for p in params])
        return real(inp, hx, params, *args)

    monkeypatch.setattr(torch, "lstm", spy)
    torch.manual_seed(1)
    out = layer(x)[0]
    torch.testing.assert_close(out, ref, rtol=0, atol=0)  # same maths
    (ptrs, offsets, contiguous) = zip(*seen[-1])
    assert len(set(ptrs)) == 1 and all(contiguous)
    assert list(offsets) == shared_buffer_offsets(flat)
    assert ptrs[0] != flat[0].untyped_storage().data_ptr()  # a fresh buffer, not the parameters'


def test_keep_mask_keeps_one_minus_p_and_rescales():
    torch.manual_seed(0)
    like = torch.zeros(1, dtype=torch.float64)
    m = keep_mask((200, 500), 0.3, like)
    assert m.dtype == torch.float64 and m.shape == (200, 500)
    assert set(m.unique().tolist()) == {0.0, 1 / 0.7}
    assert abs(float((m > 0).double().mean()) - 0.7) < 0.01  # 100,000 draws: sd 0.0015
    assert abs(float(m.mean()) - 1.0) < 0.015  # inverted dropout keeps the expectation
    assert torch.equal(keep_mask((3, 4), 0.0, like), torch.ones(3, 4, dtype=torch.float64))
