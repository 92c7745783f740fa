"""benchmarks/tokenizer_agreement.py: the agreement measures mean what its results page says."""
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def agreement(monkeypatch):
    """The benchmark module, imported from the benchmarks folder and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(BENCH))
    import tokenizer_agreement as module

    yield module
    for name in ("tokenizer_agreement", "fastai_bridge", "_common"):
        sys.modules.pop(name, None)


def test_identical_tokens_agree_fully(agreement):
    docs = [["xxbos", "a", "b"], ["xxbos", "zzz"]]
    m = agreement.compare(docs, [list(d) for d in docs], {"xxbos", "a", "b"})
    assert m["token_agree"] == m["id_agree"] == m["in_vocab_agree"] == m["docs_identical"] == 100
    assert m["oov_fastai"] == m["oov_ours"] == pytest.approx(100 / 5)


def test_measures_on_a_split_difference(agreement):
    # fastai: a b c (all in the vocabulary); ours: a bc (bc is not)
    m = agreement.compare([["a", "b", "c"]], [["a", "bc"]], {"a", "b", "c"})
    assert m["token_agree"] == pytest.approx(100 * 2 * 1 / 5)  # one aligned token of 3 + 2
    assert m["id_agree"] == pytest.approx(100 * 2 * 1 / 5)  # a | b c  vs  a | xxunk
    assert m["in_vocab_agree"] == pytest.approx(100 / 3)  # a agrees; (b, bc) and unpaired c do not
    assert m["docs_identical"] == 0
    assert m["oov_fastai"] == 0 and m["oov_ours"] == 50


def test_oov_words_split_alike_agree_after_the_vocabulary(agreement):
    # both out of the vocabulary: different tokens, same id (xxunk), same in-vocabulary decision
    m = agreement.compare([["x", "foo-bar"]], [["x", "foobar"]], {"x"})
    assert m["token_agree"] == 50 and m["id_agree"] == 100 and m["in_vocab_agree"] == 100


def test_top_differences_counts_runs(agreement):
    diffs = agreement.top_differences([["a", "b", "-", "c"], ["b", "-", "c"]], [["a", "b-c"], ["b-c"]])
    assert diffs == [{"fastai": "b - c", "ours": "b-c", "count": 2}]
