import json
from collections import defaultdict

import numpy as np
import pytest
import torch

from skulmfit.cli import main
from skulmfit.corpus import load_token_cache
from skulmfit.modelfile import load_lm
from skulmfit.word_vectors import apply_word_vectors, cooccurrence_counts, ppmi_svd_vectors, read_text_vectors

from .test_pretrain_cli import ARGS


def test_cooccurrence_counts_match_a_direct_count_across_chunk_borders():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 12, size=257)
    expected = defaultdict(float)
    for i in range(len(ids)):
        for d in range(1, 4):
            if i + d < len(ids):
                a, b = ids[i], ids[i + d]
                if b < 7:
                    expected[a, b] += 1 / d
                if a < 7:
                    expected[b, a] += 1 / d
    got = cooccurrence_counts(ids, 12, 7, window=3, chunk_tokens=10)  # many chunk borders
    dense = np.zeros((12, 7))
    for (a, b), v in expected.items():
        dense[a, b] = v
    np.testing.assert_allclose(got, dense, rtol=1e-6)
    np.testing.assert_allclose(cooccurrence_counts(ids, 12, 7, window=3), got, rtol=1e-6)


def test_ppmi_vectors_put_interchangeable_words_together():
    # words 10 and 11 occur in the same contexts (after 2, before 3); 12 and 13 in others (after 4, before 5)
    rng = np.random.default_rng(0)
    pieces = []
    for _ in range(3000):
        if rng.random() < 0.5:
            pieces += [2, int(rng.choice([10, 11])), 3]
        else:
            pieces += [4, int(rng.choice([12, 13])), 5]
        pieces += list(rng.integers(6, 10, size=2))
    vec, row = ppmi_svd_vectors(np.array(pieces), 14, 4, window=1, n_context=14)
    assert vec.shape == (14, 4) and vec.dtype == np.float32
    assert row[0] == 0 and not vec[0].any()  # an id that never occurs gets a zero vector
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True).clip(1e-9)
    assert unit[10] @ unit[11] > 0.95 and unit[12] @ unit[13] > 0.95
    assert unit[10] @ unit[12] < 0.5


def test_ppmi_bad_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="dim"):
        ppmi_svd_vectors(np.arange(50) % 5, 5, 8)
    with pytest.raises(ValueError, match="window"):
        cooccurrence_counts(np.arange(10), 10, 5, window=0)


def test_read_text_vectors(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3 2\nthe 0.1 0.2\ncat -1 2.5\ndog 3 4\n", encoding="utf-8")
    words, vec = read_text_vectors(path)
    assert words == ["the", "cat", "dog"] and vec.shape == (3, 2) and vec[1, 1] == pytest.approx(2.5)
    words, vec = read_text_vectors(path, words=["dog", "emu"])
    assert words == ["dog"] and vec.tolist() == [[3.0, 4.0]]
    path.write_text("the 0.1 0.2\ncat 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: 1 values"):
        read_text_vectors(path)
    path.write_text("the 0.1 zebra\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a word followed by numbers"):
        read_text_vectors(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no word vectors"):
        read_text_vectors(path)


def test_apply_word_vectors_sets_matching_rows_at_the_embedding_scale():
    torch.manual_seed(0)
    emb = torch.empty(6, 3).uniform_(-0.1, 0.1)
    before = emb.clone()
    words = ["xxpad", "a", "b", "zzz"]
    vectors = np.array([[5, 5, 5], [1, 2, 3], [0, 0, 0], [-3, 1, 2]], dtype=np.float32)
    n = apply_word_vectors(emb, ["xxpad", "xxunk", "a", "b", "c", "zzz"], words, vectors, skip=[0, 1])
    assert n == 2  # 'a' and 'zzz'; 'b' has a zero vector, xxpad is skipped, 'c' has none
    for i in (0, 1, 3, 4):
        assert torch.equal(emb[i], before[i])
    scale = emb[2, 0] / 1.0
    torch.testing.assert_close(emb[5], torch.tensor([-3.0, 1, 2]) * scale)
    new_std = float(torch.cat([emb[2], emb[5]]).std(unbiased=False))
    assert new_std == pytest.approx(float(before.std(unbiased=False)), rel=1e-4)
    with pytest.raises(ValueError, match="size 2 but the embedding has 3"):
        apply_word_vectors(emb, ["a"], ["a"], np.ones((1, 2), dtype=np.float32))


def test_pretrain_with_ppmi_embeddings(corpus_file, tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "m.pt"
    args = ["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "2000", "--cache-dir", str(cache),
            "--init-embeddings", "ppmi", *ARGS]
    assert main(args) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["init_embeddings"] == "ppmi"
    (cache_dir,) = [d for d in cache.iterdir() if d.is_dir()]
    (saved,) = list(cache_dir.glob("ppmi-*-d16.npy"))
    vectors = np.load(saved)
    lm = load_lm(out)
    assert vectors.shape == (len(lm.vocab), 16)
    # a frequent word's embedding still points where its PPMI vector does after 2,000 tokens of training
    i = lm.vocab.stoi[lm.vocab.itos[10]]
    e = lm.model.encoder.embedding.weight[i].float().detach().numpy()
    assert e @ vectors[i] / (np.linalg.norm(e) * np.linalg.norm(vectors[i])) > 0.8
    assert load_token_cache(cache_dir).n_tokens > 0


def test_pretrain_with_a_vector_file_and_bad_sources(corpus_file, tmp_path, capsys):
    vec = tmp_path / "vec.txt"
    vec.write_text("the " + " ".join(["0.5"] * 16) + "\n", encoding="utf-8")
    out = tmp_path / "m.pt"
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "500", "--init-embeddings",
                 str(vec), *ARGS]) == 0
    assert main(["pretrain", str(corpus_file), "--out", str(tmp_path / "x.pt"), "--max-tokens", "500",
                 "--init-embeddings", str(tmp_path / "missing.txt"), *ARGS]) == 2
    assert "'ppmi' or a word-vector text file" in capsys.readouterr().err
    vec.write_text("the 0.5 0.5\n", encoding="utf-8")
    assert main(["pretrain", str(corpus_file), "--out", str(tmp_path / "y.pt"), "--max-tokens", "500",
                 "--init-embeddings", str(vec), *ARGS]) == 2
    assert "make them with the model's emb_size" in capsys.readouterr().err
