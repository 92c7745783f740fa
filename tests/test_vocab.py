import numpy as np
import pytest

from skulmfit.tokenizer import SPECIAL_TOKENS
from skulmfit.vocab import Vocab


def test_specials_first_min_freq_and_max_size():
    docs = [["a", "a", "b", "b", "b", "c"], ["a", "d", "d", "e"]]
    v = Vocab.build(docs, max_size=len(SPECIAL_TOKENS) + 2, min_freq=2)
    assert v.itos[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert v.itos[len(SPECIAL_TOKENS):] == ["a", "b"]  # 'd' (2) cut by max_size, c/e by min_freq
    assert v.unk_idx == 0 and v.pad_idx == 1


def test_default_cap_is_60000():
    counts = {f"w{i}": 2 for i in range(70_000)}
    assert len(Vocab.from_counts(counts)) == 60_000


def test_numericalize_to_numpy_and_unknowns():
    v = Vocab.build([["x", "x", "y", "y"]])
    ids = v.numericalize(["x", "zzz", "y"])
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int32
    assert v.textify(ids) == ["x", "xxunk", "y"]


def test_json_round_trip():
    v = Vocab.build([["é", "é", "ß", "ß"]])
    assert Vocab.from_json(v.to_json()) == v


def test_bad_vocab_errors():
    with pytest.raises(ValueError, match="unique"):
        Vocab(["xxunk", "xxpad", "a", "a"])
    with pytest.raises(ValueError, match="xxpad"):
        Vocab(["xxunk", "a"])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.from_counts({"a": 3}, min_freq=0)
