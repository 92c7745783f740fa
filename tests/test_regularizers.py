import torch
from torch import nn

from skulmfit.regularizers import (
    EmbeddingDropout,
    LockedDropout,
    WeightDropLSTM,
    activation_regularization,
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
