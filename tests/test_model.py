"""AWD-LSTM classifier internals: BPT3C gradients, masked concat pooling, head, layer groups."""

import torch

from skulmfit.model import AWDLSTMConfig, LanguageModel, SequenceClassifier, concat_pool


def _clf(vocab=60):
    torch.manual_seed(0)
    m = SequenceClassifier(AWDLSTMConfig(vocab_size=vocab, emb_size=8, hidden_size=12, n_layers=2), n_out=3)
    m.set_drop_mult(0.0)
    return m


def test_bpt3c_gradients_flow_only_through_chunks_that_feed_the_pooling():
    m = _clf().train()
    ids = torch.arange(2, 42)[None]  # 40 distinct tokens, position i holds token i + 2
    m(ids, torch.tensor([40]), bptt=5, max_len=10).sum().backward()
    grad = m.encoder.embedding.weight.grad.abs().sum(1)
    assert torch.all(grad[2:32] == 0)  # positions 0..29: chunks entirely before the pooling window
    assert torch.all(grad[32:42] > 0)  # positions 30..39: the pooled window


def test_concat_pooling_masks_padding_and_has_three_parts():
    m = _clf().eval()
    doc = torch.arange(2, 9)[None]
    padded = torch.cat([doc, torch.ones(1, 13, dtype=torch.long)], dim=1)  # xxpad = 1
    with torch.no_grad():
        a = concat_pool(m.encoder, doc, torch.tensor([7]), bptt=4, max_len=100)
        b = concat_pool(m.encoder, padded, torch.tensor([7]), bptt=4, max_len=100)
        raw, _, _ = m.encoder(doc)
    assert torch.allclose(a, b, atol=1e-6) and a.shape == (1, 24)
    out = raw[-1][0]
    assert torch.allclose(a[0, :8], out[-1], atol=1e-6)  # last state
    assert torch.allclose(a[0, 8:16], out.max(0).values, atol=1e-6)  # max
    assert torch.allclose(a[0, 16:], out.mean(0), atol=1e-6)  # mean


def test_head_and_layer_groups():
    m = _clf()
    head = [type(x).__name__ for x in m.head.layers]
    assert head == ["BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert m.head.layers[2].out_features == 50
    groups = m.layer_groups()
    assert len(groups) == 4 and groups[0] == [m.encoder.embedding.weight]
    lm = LanguageModel(AWDLSTMConfig(vocab_size=30, emb_size=8, hidden_size=12, n_layers=3))
    assert len(lm.layer_groups()) == 4 and lm.decoder.weight is lm.encoder.embedding.weight
    assert lm.encoder.rnns[-1].lstm.hidden_size == 8  # the last layer returns emb_size


def test_paper_defaults():
    c = AWDLSTMConfig(vocab_size=10)
    assert (c.emb_size, c.hidden_size, c.n_layers) == (400, 1150, 3)
    assert (c.output_p, c.hidden_p, c.input_p, c.embed_p, c.weight_p) == (0.4, 0.3, 0.4, 0.05, 0.5)
