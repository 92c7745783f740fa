"""The adaptive-softmax decoder: exact log-probabilities, files, vocabulary transfer, fine-tuning."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from skulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from skulmfit.adaptive import TAIL_FILLER, AdaptiveDecoder, check_cutoffs, default_tail_widths, transfer_adaptive
from skulmfit.cli import main
from skulmfit.lm_training import LMTrainConfig, LMTrainer, evaluate_lm
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.modelfile import load_lm, safe_load, transfer_vocab
from skulmfit.vocab import Vocab

WORDS = [f"w{i}" for i in range(400)]


def zipf_docs(n_docs: int, seed: int = 0) -> list[str]:
    """Documents over 400 words with Zipfian frequencies and a learnable bigram habit
    (``wK`` is often followed by ``wK+1``), so every cluster of an adaptive softmax is used."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    docs = []
    for _ in range(n_docs):
        out = []
        for _ in range(rng.randint(8, 30)):
            if out and rng.random() < 0.5:
                k = int(out[-1][1:])
                out.append(WORDS[min(k + 1, len(WORDS) - 1)])
            else:
                out.append(rng.choices(WORDS, weights)[0])
        docs.append(" ".join(out) + " .")
    return docs


@pytest.fixture(scope="module")
def adaptive_lm_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("adaptive")
    corpus = d / "corpus.txt"
    corpus.write_text("\n".join(zipf_docs(1500)) + "\n", encoding="utf-8")
    out = d / "ada_fwd.pt"
    rc = main(["pretrain", str(corpus), "--out", str(out), "--emb-size", "16", "--hidden-size", "32",
               "--layers", "2", "--max-vocab", "300", "--max-tokens", "20000", "--batch-size", "8", "--bptt", "20",
               "--decoder", "adaptive", "--cutoffs", "30,100,2000", "--div-value", "2", "--threads", "1",
               "--portable-checkpoint", "-q"])
    assert rc == 0
    return out


def small_model(vocab_size: int = 60, cutoffs=(10, 30)) -> LanguageModel:
    torch.manual_seed(0)
    cfg = AWDLSTMConfig(vocab_size=vocab_size, emb_size=8, hidden_size=12, n_layers=2, decoder="adaptive",
                        cutoffs=list(cutoffs), tail_widths=default_tail_widths(8, len(cutoffs), 2.0))
    return LanguageModel(cfg).eval()


@torch.no_grad()
def test_log_probs_are_exact_and_sum_to_one():
    model = small_model()
    ids = torch.randint(0, 60, (3, 7))
    logits, _, h, _ = model(ids)
    assert logits.shape == (3, 7, 60)
    total = torch.logsumexp(logits.double(), dim=-1)
    assert torch.allclose(total, torch.zeros_like(total), atol=1e-5)
    # the training loss is the mean negative log-probability of the targets, exactly
    y = torch.randint(0, 60, (3, 7))
    nll = model.decoder.nll(h.reshape(-1, 8), y.reshape(-1))
    picked = logits.reshape(-1, 60).gather(1, y.reshape(-1, 1)).mean()
    assert abs(float(nll) + float(picked)) < 1e-5


def test_cutoff_validation_names_the_problem():
    with pytest.raises(ValueError, match="strictly increasing"):
        check_cutoffs([10, 5], 100)
    with pytest.raises(ValueError, match="below the vocabulary size"):
        check_cutoffs([10, 100], 100)
    with pytest.raises(ValueError, match="cutoffs and tail_widths apply"):
        AWDLSTMConfig(vocab_size=100, cutoffs=[10])
    with pytest.raises(ValueError, match="needs cutoffs"):
        AWDLSTMConfig(vocab_size=100, decoder="adaptive")
    with pytest.raises(ValueError, match="decoder must be"):
        AWDLSTMConfig(vocab_size=100, decoder="sampled")


def test_full_softmax_config_keeps_its_old_keys():
    assert "decoder" not in AWDLSTMConfig(vocab_size=50).to_dict()
    d = small_model().config.to_dict()
    assert d["decoder"] == "adaptive" and d["cutoffs"] == [10, 30] and AWDLSTMConfig.from_dict(d).tail_widths == [4, 2]


def test_pretrain_writes_an_adaptive_model_that_round_trips(adaptive_lm_path):
    lm = load_lm(adaptive_lm_path)
    assert lm.model.adaptive and lm.model.config.cutoffs == [30, 100]  # 2000 is above the vocabulary: dropped
    assert lm.model.config.tail_widths == [8, 4]
    raw = safe_load(adaptive_lm_path)
    assert raw["config"]["decoder"] == "adaptive"
    ids = torch.as_tensor(lm.vocab.numericalize(lm.tokenizer.tokenize(zipf_docs(1, seed=9)[0])), dtype=torch.long)
    a = lm.model.eval()(ids[None])[0]
    b = load_lm(adaptive_lm_path).model.eval()(ids[None])[0]
    assert torch.equal(a, b)
    card = lm.meta["card"]
    assert card["validation"]["perplexity"] < 300 * 0.5  # learned something: far below uniform


def test_portable_checkpoint_is_half_without_optimizer_and_resumes(adaptive_lm_path):
    portable = safe_load(str(adaptive_lm_path) + ".portable")
    assert portable["trainer"]["optimizer"] is None
    assert all(v.dtype == torch.float16 for v in portable["trainer"]["model"].values() if v.is_floating_point())
    # resuming from it (no full checkpoint) rebuilds the optimizer with a warm-up
    lm = load_lm(adaptive_lm_path)
    ids = lm.vocab.numericalize(" ".join(zipf_docs(200, seed=3)).split())
    trainer = LMTrainer(lm.model, ids, LMTrainConfig(batch_size=4, bptt=10, max_tokens=400), torch.device("cpu"))
    state = {**portable["trainer"], "progress": 0, "step": 5}
    trainer.load_state_dict(state)
    assert trainer.warmup_start == 5 and trainer._warmup_factor() == pytest.approx(1 / LMTrainer.WARMUP_STEPS)
    trainer.run()
    assert trainer.step > 5


def test_vocab_transfer_keeps_clusters_and_puts_new_words_last(adaptive_lm_path):
    lm = load_lm(adaptive_lm_path)
    known_head, known_tail = lm.vocab.itos[12], lm.vocab.itos[150]
    task = Vocab(lm.vocab.itos[:9] + ["brandnew", known_tail, known_head, "another"])
    out = transfer_vocab(lm, task)
    itos = out.vocab.itos
    assert set(itos) == set(task.itos)
    assert itos[-2:] == ["brandnew", "another"]
    # the head word stays in the head, the tail word in a tail cluster (the middle cluster was empty: dropped)
    cut = out.model.config.cutoffs
    assert itos.index(known_head) < cut[0] <= itos.index(known_tail)
    assert len(cut) == 1 and out.model.config.tail_widths == [4]
    old_emb, new_emb = lm.model.encoder.embedding.weight, out.model.encoder.embedding.weight
    assert torch.equal(new_emb[itos.index(known_tail)], old_emb[150])
    assert torch.allclose(new_emb[itos.index("brandnew")], old_emb.mean(0))
    # a kept word's probability relative to another kept word of its cluster is unchanged
    h = torch.randn(5, 16)
    before = lm.model.eval().log_probs(h)
    after = out.model.eval().log_probs(h)
    i, j = lm.vocab.stoi["xxunk"], lm.vocab.stoi[known_head]
    assert torch.allclose(before[:, j] - before[:, i], after[:, itos.index(known_head)] - after[:, itos.index("xxunk")],
                          atol=1e-5)
    assert torch.allclose(after.exp().sum(-1), torch.ones(5), atol=1e-5)


def test_transfer_adaptive_direct_reorders_by_cluster():
    dec = AdaptiveDecoder(4, 10, [3, 6], [2, 1])
    old = [f"t{i}" for i in range(10)]
    itos, new, old_ids = transfer_adaptive(dec, old, ["t8", "t1", "x", "t4", "t0"], 4)
    assert itos == ["t0", "t1", "t4", "t8", "x"] and old_ids == [0, 1, 4, 8, None]
    assert new.cutoffs == [2, 3, 5]


def test_transfer_of_a_head_only_task_vocabulary_adds_one_filler_tail_word():
    dec = AdaptiveDecoder(4, 10, [3, 6], [2, 1])
    old = [f"t{i}" for i in range(10)]
    itos, new, old_ids = transfer_adaptive(dec, old, ["t2", "t0"], 4)
    assert itos == ["t0", "t2", TAIL_FILLER] and old_ids == [0, 2, None]
    assert new.cutoffs == [2, 3] and new.tail_widths == [1]  # the last (rarest) cluster's width
    logp = new.log_prob(torch.randn(7, 4))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(7), atol=1e-6)


def test_classifier_on_a_task_of_head_words_only(adaptive_lm_path):
    lm = load_lm(adaptive_lm_path)
    words = [w for w in lm.vocab.itos[9:lm.model.config.cutoffs[0]] if w.startswith("w")][:6]
    assert len(words) == 6
    X = [" ".join(words[i % 3:i % 3 + 3]) for i in range(12)]
    y = np.array([i % 2 for i in range(12)])
    clf = ULMFiTClassifier(pretrained=str(adaptive_lm_path), lm_epochs=1, epochs=1, batch_size=4, bptt=10,
                           random_state=0, device="cpu", min_freq=1).fit(X, y)
    assert clf.predict(X).shape == (12,)


def test_finetuning_an_adaptive_model_lowers_perplexity_and_generates(adaptive_lm_path):
    train, held = zipf_docs(150, seed=1), zipf_docs(40, seed=2)
    base = ULMFiTLanguageModel(pretrained=str(adaptive_lm_path), lm_epochs=0, batch_size=8, bptt=20,
                               random_state=0).fit(train)
    tuned = ULMFiTLanguageModel(pretrained=str(adaptive_lm_path), lm_epochs=3, batch_size=8, bptt=20,
                                lm_lr=0.01, random_state=0).fit(train)
    assert tuned.model_.adaptive
    assert tuned.perplexity(held) < base.perplexity(held)
    assert math.isfinite(tuned.score(held))
    text = tuned.generate("w1 w2", n_words=5, random_state=0)
    assert text.startswith("w1 w2") and len(text.split()) >= 5


def test_classifier_on_an_adaptive_model_bidirectional(adaptive_lm_path, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(zipf_docs(800, seed=5)) + "\n", encoding="utf-8")
    bwd = tmp_path / "ada_bwd.pt"
    assert main(["pretrain", str(corpus), "--out", str(bwd), "--direction", "bwd", "--emb-size", "16",
                 "--hidden-size", "32", "--layers", "2", "--max-vocab", "250", "--max-tokens", "4000",
                 "--batch-size", "8", "--bptt", "20", "--decoder", "adaptive", "--cutoffs", "20,90",
                 "--threads", "1", "-q"]) == 0
    rng = np.random.default_rng(0)
    docs = zipf_docs(120, seed=7)
    y = np.array(["low" if int(d.split()[0][1:]) < 5 else "high" for d in docs])
    clf = ULMFiTClassifier(pretrained=str(adaptive_lm_path), pretrained_bwd=str(bwd), bidirectional=True,
                           lm_epochs=1, epochs=2, batch_size=16, bptt=20, random_state=0)
    clf.fit(docs + zipf_docs(20, seed=8), list(y) + [-1] * 20)
    pred = clf.predict(docs[:10])
    assert set(pred) <= {"low", "high"} and len(pred) == 10
    assert rng is not None


def test_evaluate_lm_cli_on_an_adaptive_model(adaptive_lm_path, tmp_path, capsys):
    text = tmp_path / "held.txt"
    text.write_text("\n".join(zipf_docs(30, seed=4)), encoding="utf-8")
    assert main(["evaluate-lm", str(adaptive_lm_path), str(text)]) == 0
    out = capsys.readouterr().out
    assert "perplexity" in out


@torch.no_grad()
def test_evaluate_matches_mean_log_prob():
    model = small_model()
    ids = np.random.default_rng(0).integers(0, 60, 200).astype(np.int32)
    res = evaluate_lm(model, ids, batch_size=1, bptt=300)
    x = torch.as_tensor(ids[:-1], dtype=torch.long)[None]
    logits = model(x)[0][0]
    manual = -logits.gather(1, torch.as_tensor(ids[1:], dtype=torch.long)[:, None]).mean()
    assert abs(res["loss"] - float(manual)) < 1e-5
