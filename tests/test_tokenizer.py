import pytest

from skulmfit.tokenizer import Tokenizer, fix_html, measure_speed, replace_rep, replace_wrep


@pytest.fixture(scope="module")
def tok():
    return Tokenizer()


def test_bos_and_lowercase(tok):
    assert tok.tokenize("hello world") == ["xxbos", "hello", "world"]
    assert Tokenizer(add_bos=False).tokenize("hello") == ["hello"]


def test_case_rules(tok):
    assert tok.tokenize("Paris is BIG") == ["xxbos", "xxmaj", "paris", "is", "xxup", "big"]
    # a single capital letter is Capitalised, not ALL-CAPS
    assert tok.tokenize("I") == ["xxbos", "xxmaj", "i"]


def test_char_repetition():
    assert replace_rep("wow!!!!").split() == ["wow", "xxrep", "4", "!"]
    assert replace_rep("aa") == "aa"


def test_word_repetition():
    assert replace_wrep("it is very very very good").split() == ["it", "is", "xxwrep", "3", "very", "good"]
    assert "xxwrep" not in replace_wrep("very very good")


def test_fix_html():
    assert fix_html("a<br />b") == "a\nb"
    assert fix_html("Tom &amp; Jerry") == "Tom & Jerry"
    assert fix_html("it #39;s") == "it 's"
    assert fix_html("5 @-@ year @,@ 3 @.@ 5") == "5-year,3.5"


def test_nltk_treebank_splits(tok):
    assert tok.tokenize("don't stop.") == ["xxbos", "do", "n't", "stop", "."]


def test_sentence_final_period_split_inside_text(tok):
    toks = tok.tokenize("It ended. The next began.")
    assert toks.count(".") == 2 and "ended" in toks


@pytest.mark.parametrize(
    "text",
    [
        "I LOVE this movie!!!!",
        "This is a test. It is very very very good, isn't it?",
        "What does CPR stand for?",
        "The cat sat on the mat.",
        "soooo good",
    ],
)
def test_decode_round_trip(tok, text):
    assert tok.decode(tok.tokenize(text)) == text


def test_decode_is_readable_for_html(tok):
    assert tok.decode(tok.tokenize("Great<br /><br />film &amp; cast")) == "Great film & cast"


def test_tokenize_many_matches_serial_and_keeps_order(tok):
    texts = [f"Document number {i} says HELLO {'again ' * (i % 4)}!!!" for i in range(60)]
    serial = [tok.tokenize(t) for t in texts]
    assert list(tok.tokenize_many(texts, n_jobs=2, chunk_size=7)) == serial
    assert list(tok.tokenize_many(iter(texts), n_jobs=1)) == serial


def test_config_round_trip():
    t = Tokenizer(lower=False, add_bos=False)
    assert Tokenizer.from_config(t.get_config()).get_config() == t.get_config()


def test_measure_speed_reports_positive_mb_per_s(tok):
    assert measure_speed(tok, ["some text here. " * 50] * 20) > 0
