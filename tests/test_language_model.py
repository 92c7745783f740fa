import json

import numpy as np
import pytest
import torch

from skulmfit.exceptions import ModelFileError, TrainingDivergedError
from skulmfit.lm_training import LMTrainConfig, LMTrainer, evaluate_lm
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.modelfile import PretrainedLM, load_lm, save_lm, transfer_vocab
from skulmfit.tokenizer import Tokenizer
from skulmfit.vocab import Vocab

from .conftest import make_sentences


def _stream(docs, vocab, tok):
    return np.concatenate([vocab.numericalize(tok.tokenize(d)) for d in docs])


@pytest.fixture(scope="module")
def tiny():
    tok = Tokenizer()
    docs = make_sentences(1500)
    vocab = Vocab.build(tok.tokenize(d) for d in docs)
    return tok, vocab, _stream(docs[:1300], vocab, tok), _stream(docs[1300:], vocab, tok)


def _lm(vocab, seed=0):
    torch.manual_seed(seed)
    return LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=16, hidden_size=32, n_layers=2))


def test_tiny_lm_perplexity_drops_far_below_vocab_size(tiny):
    tok, vocab, train, valid = tiny
    model = _lm(vocab)
    before = evaluate_lm(model, valid)["perplexity"]
    cfg = LMTrainConfig(batch_size=16, bptt=20, epochs=3, lr=1e-2, schedule="one_cycle", drop_mult=0.1)
    hist = LMTrainer(model, train, cfg, torch.device("cpu"), valid_ids=valid).run()
    after = evaluate_lm(model, valid)["perplexity"]
    assert len(hist) == 3 and hist[-1]["valid_perplexity"] == pytest.approx(after, rel=1e-6)
    assert before > 0.8 * len(vocab)
    assert after < len(vocab) / 5, (before, after, len(vocab))


def test_discriminative_rates_and_seq_len_scaling(tiny):
    _, vocab, train, _ = tiny
    model = _lm(vocab)
    cfg = LMTrainConfig(batch_size=8, bptt=20, lr=0.01, schedule="constant", max_tokens=2000)
    trainer = LMTrainer(model, train, cfg, torch.device("cpu"))
    assert trainer.base_lrs == pytest.approx([0.01 / 2.6**2, 0.01 / 2.6, 0.01])
    trainer.train_step()
    seq = trainer.progress  # columns consumed by the first step = its sequence length
    for g, base in zip(trainer.optimizer.param_groups, trainer.base_lrs):
        assert g["lr"] == pytest.approx(base * seq / 20)


def test_nan_loss_raises_clear_error(tiny):
    _, vocab, train, _ = tiny
    model = _lm(vocab)
    with torch.no_grad():
        model.decoder.bias.fill_(float("nan"))
    trainer = LMTrainer(model, train, LMTrainConfig(batch_size=8, bptt=10, max_tokens=500), torch.device("cpu"))
    with pytest.raises(TrainingDivergedError, match="step 0.*lower learning rate"):
        trainer.train_step()


def test_bad_train_config_values():
    for kw, match in [({"lr": 0}, "lr"), ({"bptt": 0}, "bptt"), ({"epochs": -1}, "epochs"),
                      ({"schedule": "foo"}, "schedule"), ({"cut_frac": 1.5}, "cut_frac")]:
        with pytest.raises(ValueError, match=match):
            LMTrainConfig(**kw).validate()


def test_model_file_round_trip_is_bit_exact(tiny, tmp_path):
    tok, vocab, _, valid = tiny
    model = _lm(vocab, seed=3)
    path = tmp_path / "m.pt"
    save_lm(PretrainedLM(model, vocab, tok, "bwd", {"note": "x"}), path)
    loaded = load_lm(path)
    assert loaded.direction == "bwd" and loaded.vocab == vocab and loaded.meta == {"note": "x"}
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k]), k
    assert loaded.model.decoder.weight is loaded.model.encoder.embedding.weight  # still tied
    data = torch.load(path, weights_only=True)  # plain data only
    assert data["format_version"] == 1 and json.loads(data["vocab"]) == vocab.itos
    # files written before the vocabulary became one JSON string (a list of str) still load
    torch.save({**data, "vocab": list(vocab.itos)}, tmp_path / "old.pt")
    assert load_lm(tmp_path / "old.pt").vocab == vocab
    torch.save({**data, "vocab": json.dumps([1, 2])}, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="list of strings"):
        load_lm(tmp_path / "bad.pt")


def test_half_storage_halves_size(tiny, tmp_path):
    tok, vocab, _, _ = tiny
    model = _lm(vocab)
    save_lm(PretrainedLM(model, vocab, tok), tmp_path / "f.pt")
    save_lm(PretrainedLM(model, vocab, tok), tmp_path / "h.pt", half=True)
    assert (tmp_path / "h.pt").stat().st_size < 0.7 * (tmp_path / "f.pt").stat().st_size
    assert load_lm(tmp_path / "h.pt").model.encoder.embedding.weight.dtype == torch.float32


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_object_is_refused(tiny, tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "skulmfit-lm", "payload": Evil()}, path)
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        load_lm(path)


def test_truncated_wrong_version_and_mismatched_files(tiny, tmp_path):
    tok, vocab, _, _ = tiny
    path = tmp_path / "m.pt"
    save_lm(PretrainedLM(_lm(vocab), vocab, tok), path)
    raw = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_lm(tmp_path / "trunc.pt")
    data = torch.load(path, weights_only=True)
    torch.save({**data, "format_version": 99}, tmp_path / "v99.pt")
    with pytest.raises(ModelFileError, match="format version 99"):
        load_lm(tmp_path / "v99.pt")
    torch.save({**data, "config": {**data["config"], "hidden_size": 64}}, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="do not match the config"):
        load_lm(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        load_lm(tmp_path / "missing.pt")


def test_vocab_transfer_copies_shared_rows_and_means_new(tiny):
    tok, vocab, _, _ = tiny
    lm = PretrainedLM(_lm(vocab), vocab, tok)
    shared = vocab.itos[12]
    new_vocab = Vocab(vocab.itos[:9] + [shared, "brandnewword"])
    moved = transfer_vocab(lm, new_vocab)
    old_w, new_w = lm.model.encoder.embedding.weight, moved.model.encoder.embedding.weight
    assert torch.equal(new_w[9], old_w[12])
    assert torch.allclose(new_w[10], old_w.mean(0))
    assert moved.model.decoder.bias[10].item() == pytest.approx(lm.model.decoder.bias.mean().item())
    assert moved.model.decoder.weight is moved.model.encoder.embedding.weight
    assert moved.model.config.vocab_size == 11
