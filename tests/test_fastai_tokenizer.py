"""FastaiTokenizer and SpacyEnSplitter reproduce fastai's and spaCy's tokens.

Every expected output below was produced by fastai itself (fastai 1.0.61 for ``v1``, fastai 2.8.12
for ``v2``) or by ``spacy.blank("en")`` (spaCy 3.8.18), in the fastai side environment, with
``benchmarks/_fastai_tokenize.py``; none needs fastai or spaCy installed here.
"""

from __future__ import annotations

import json

import pytest
import torch

from skulmfit.exceptions import ModelFileError
from skulmfit.fastai_tokenizer import FastaiTokenizer
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.modelfile import PretrainedLM, load_lm, save_lm
from skulmfit.spacy_en import SpacyEnSplitter, load_rules
from skulmfit.tokenizer import SPECIAL_TOKENS, Tokenizer
from skulmfit.vocab import Vocab


def _t(joined: str) -> list[str]:
    return joined.split("|")


# (text, fastai 1.0.61 tokens, fastai 2.8.12 tokens): contractions, punctuation, hyphens,
# abbreviations, the repeat thresholds (4+ in v1, 3+ in v2), caps, HTML, line breaks, special tokens.
FASTAI_CASES = [
    ("I don't think it's gonna work, isn't it?",
     _t("xxbos|i|do|n't|think|it|'s|gon|na|work|,|is|n't|it|?"),
     _t("xxbos|i|do|n't|think|it|'s|gon|na|work|,|is|n't|it|?")),
    ("We'll see... They're here; you've been warned!",
     _t("xxbos|xxmaj|we|'ll|see|...|xxmaj|they|'re|here|;|you|'ve|been|warned|!"),
     _t("xxbos|xxmaj|we|'ll|see|…|xxmaj|they|'re|here|;|you|'ve|been|warned|!")),
    ('A well-known, state-of-the-art e-mail client (v2.0) costs $5.99 - or 10%.',
     _t('xxbos|a|well|-|known|,|state|-|of|-|the|-|art|e|-|mail|client|(|v2.0|)|costs|$|5.99|-|or|10|%|.'),
     _t('xxbos|a|well|-|known|,|state|-|of|-|the|-|art|e|-|mail|client|(|v2.0|)|costs|$|5.99|-|or|10|%|.')),
    ('Mr. Smith went to Washington, D.C. at 3p.m. on Jan. 5th.',
     _t('xxbos|xxmaj|mr.|xxmaj|smith|went|to|xxmaj|washington|,|xxup|d.c.|at|3|p.m.|on|xxmaj|jan.|5th|.'),
     _t('xxbos|xxmaj|mr|.|xxmaj|smith|went|to|xxmaj|washington|,|xxup|d.c|.|at|3|p.m.|on|xxmaj|jan|.|5th|.')),
    ('Soooo good!!! Really?? Noooo!!!!',
     _t('xxbos|s|xxrep|4|o|good|!|!|!|xxmaj|really|?|?|n|xxrep|4|o|xxrep|4|!'),
     _t('xxbos|s|xxrep|4|o|good|xxrep|3|!|xxmaj|really|?|?|n|xxrep|4|o|xxrep|4|!')),
    ('it was very very very good',
     _t('xxbos|it|was|very|very|very|good'),
     _t('xxbos|it|was|xxwrep|3|very|good')),
    ('it was very very very very good',
     _t('xxbos|it|was|xxwrep|4|very|good'),
     _t('xxbos|it|was|xxwrep|4|very|good')),
    ('no, no, no, no, no!',
     _t('xxbos|xxwrep|4|no|,|no|!'),
     _t('xxbos|no|,|no|,|no|,|no|,|no|!')),
    ('I LOVE this MOVIE. It is GREAT!',
     _t('xxbos|i|xxup|love|this|xxup|movie|.|xxmaj|it|is|xxup|great|!'),
     _t('xxbos|i|xxup|love|this|xxup|movie|.|xxmaj|it|is|xxup|great|!')),
    ("The U.S. and the UK. McDonald's iPhone OK",
     _t("xxbos|xxmaj|the|xxup|u.s.|and|the|xxup|uk|.|mcdonald|'s|iphone|xxup|ok"),
     _t("xxbos|xxmaj|the|xxup|u.s|.|and|the|xxup|uk|.|mcdonald|'s|iphone|xxup|ok")),
    ('Great film.<br /><br />Loved it &amp; hated it &quot;a lot&quot;',
     _t("xxbos|xxmaj|great|film|.|\n \n |xxmaj|loved|it|&|&|hated|it|&|'|a|lot|&|'"),
     _t("xxbos|xxmaj|great|film|.|\n\n|xxmaj|loved|it|&|&|hated|it|&|'|a|lot|&|'")),
    ('see http://www.example.com/page?id=3 or mail me@example.com :)',
     _t('xxbos|see|http|:|/|/|www.example.com|/|page?id=3|or|mail|me@example.com|:)'),
     _t('xxbos|see|http|:|/|/|xxrep|3|w|.example.com|/|page?id=3|or|mail|me@example.com|:)')),
    ('and/or #1 hit \\ back',
     _t('xxbos|and|/|or|#|1|hit|\\|back'),
     _t('xxbos|and|/|or|#|1|hit|\\|back')),
    ('"Quoted" \'single\' `backtick` ``tex\'\'',
     _t('xxbos|"|xxmaj|quoted|"|\'|single|\'|`|backtick|`|`|`|tex|\'\''),
     _t('xxbos|"|quoted|"|\'|single|\'|`|backtick|`|`|`|tex|\'\'')),
    ('Tabs\tand\nnewlines\n\nhere',
     _t('xxbos|xxmaj|tabs|\t|and|\n |newlines|\n \n |here'),
     _t('xxbos|xxmaj|tabs|\t|and|\n|newlines|\n\n|here')),
    ('xxbos xxmaj xxunk already special',
     _t('xxbos|xxbos|xxmaj|xxunk|already|special'),
     _t('xxbos|xxbos|xxmaj|xxunk|already|special')),
]

# (text, spacy.blank("en") tokens with fastai's special tokens added): whitespace tokens, the
# exception table, and spaCy's document-level pass that re-joins split exceptions such as ":)".
SPACY_CASES = [
    ('  leading spaces', ['  ', 'leading', 'spaces']),
    (' one leading', [' ', 'one', 'leading']),
    ('a  b', ['a', ' ', 'b']),
    ('end.\nNext', ['end', '.', '\n', 'Next']),
    ('word:):)', ['word', ':)', ':', ')']),
    ('( :)-no(', ['(', ':', ')', '-no', '(']),
    ('x:)-no(', ['x:)-no', '(']),
    ('(:)-no(', ['(:', ')', '-no', '(']),
    ("Don't stop-gap (U.S.) e-mail!", ['Do', "n't", 'stop', '-', 'gap', '(', 'U.S.', ')', 'e', '-', 'mail', '!']),
    ("rock'n'roll 'em 'cause y'all", ["rock'n'roll", "'em", "'cause", "y'", 'all']),
    ('$10.50 US$5 5km 10:30 1,000,000', ['$', '10.50', 'US$', '5', '5', 'km', '10:30', '1,000,000']),
    ('naïve café ÆØÅ Москва 東京', ['naïve', 'café', 'ÆØÅ', 'Москва', '東京']),
    ('hello\xa0world', ['hello', '\xa0', 'world']),
]


@pytest.fixture(scope="module")
def v1():
    return FastaiTokenizer("v1")


@pytest.fixture(scope="module")
def v2():
    return FastaiTokenizer("v2")


@pytest.mark.parametrize("text,expected_v1,expected_v2", FASTAI_CASES, ids=range(len(FASTAI_CASES)))
def test_tokens_match_fastai(v1, v2, text, expected_v1, expected_v2):
    assert v1.tokenize(text) == expected_v1
    assert v2.tokenize(text) == expected_v2


@pytest.mark.parametrize("text,expected", SPACY_CASES, ids=range(len(SPACY_CASES)))
def test_splitter_matches_spacy(text, expected):
    assert SpacyEnSplitter(SPECIAL_TOKENS).split(text) == expected


def test_nltk_tokenizer_differs_where_fastai_splits_otherwise():
    # the differences that made the fastai-style tokenizer necessary (see tokenizer_agreement.md)
    nltk = Tokenizer()
    assert nltk.tokenize("a well-known e-mail") == _t("xxbos|a|well-known|e-mail")
    assert FastaiTokenizer("v1").tokenize("a well-known e-mail") == _t("xxbos|a|well|-|known|e|-|mail")
    assert nltk.tokenize("good!!!")[-3:] == _t("xxrep|3|!")
    assert FastaiTokenizer("v1").tokenize("good!!!")[-3:] == _t("!|!|!")


def test_add_bos_false(v1):
    assert FastaiTokenizer("v1", add_bos=False).tokenize("Hi there") == _t("xxmaj|hi|there")
    assert FastaiTokenizer("v2", add_bos=False).tokenize("Hi there") == _t("xxmaj|hi|there")


def test_empty_text():
    assert FastaiTokenizer("v1").tokenize("") == ["xxbos"]
    assert FastaiTokenizer("v2").tokenize("") == ["xxbos"]
    assert SpacyEnSplitter().split("") == []


def test_config_and_dispatch():
    for rules in ("v1", "v2"):
        tok = FastaiTokenizer(rules, add_bos=False)
        config = tok.get_config()
        assert config == {"name": "fastai-spacy", "rules": rules, "add_bos": False}
        assert json.loads(json.dumps(config)) == config
        back = Tokenizer.from_config(config)
        assert isinstance(back, FastaiTokenizer) and back.get_config() == config
        assert FastaiTokenizer.from_config(config).get_config() == config
    # existing files keep working, with or without a name
    nltk = Tokenizer.from_config({"name": "nltk-treebank-ulmfit", "lower": True, "add_bos": True})
    assert type(nltk) is Tokenizer
    assert type(Tokenizer.from_config({"lower": False})) is Tokenizer


@pytest.mark.parametrize("config,match", [
    ({"name": "sentencepiece"}, "unknown tokenizer 'sentencepiece'"),
    ({"name": "fastai-spacy"}, "needs 'rules'"),
    ({"name": "fastai-spacy", "rules": "v3"}, "rules must be one of"),
    ("fastai-spacy", "must be a dict"),
])
def test_bad_configs_are_value_errors(config, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer.from_config(config)


def test_fastai_from_config_refuses_other_names():
    with pytest.raises(ValueError, match="not a 'fastai-spacy'"):
        FastaiTokenizer.from_config({"name": "nltk-treebank-ulmfit"})
    with pytest.raises(ValueError, match="must be a dict"):
        FastaiTokenizer.from_config(["v1"])


def test_model_file_records_the_tokenizer(tmp_path):
    tok = FastaiTokenizer("v1")
    docs = ["The cat sat.", "A DOG ran!!!!", "Don't e-mail me"]
    vocab = Vocab.build(tok.tokenize(d) for d in docs)
    torch.manual_seed(0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=8, hidden_size=8, n_layers=1))
    path = tmp_path / "fastai_style.pt"
    save_lm(PretrainedLM(model, vocab, tok), path)
    loaded = load_lm(path)
    assert isinstance(loaded.tokenizer, FastaiTokenizer)
    assert loaded.tokenizer.get_config() == {"name": "fastai-spacy", "rules": "v1", "add_bos": True}
    assert loaded.tokenizer.tokenize("Don't e-mail me") == _t("xxbos|xxmaj|do|n't|e|-|mail|me")

    data = torch.load(path, weights_only=True)
    data["tokenizer"] = {"name": "no-such-tokenizer"}
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="unknown tokenizer 'no-such-tokenizer'"):
        load_lm(tmp_path / "bad.pt")


def test_tokenize_many_in_worker_processes_matches_serial(v2):
    texts = [f"Text {i}: GREAT stuff!!! {'so ' * (i % 5)}e-mail" for i in range(40)]
    serial = [v2.tokenize(t) for t in texts]
    assert list(v2.tokenize_many(texts, n_jobs=2, chunk_size=7)) == serial


def test_pickle_is_small_and_tokenizes_the_same():
    import pickle

    tok = FastaiTokenizer("v1")
    text = " ".join(f"word{i}" for i in range(3000))
    tok.tokenize(text)  # fills the chunk cache, which must not travel
    data = pickle.dumps(tok)
    assert len(data) < 20_000
    back = pickle.loads(data)
    assert back.get_config() == tok.get_config()
    expected = _t("xxbos|xxmaj|do|n't|xxup|stop|xxrep|4|!")
    assert back.tokenize("Don't STOP!!!!") == tok.tokenize("Don't STOP!!!!") == expected


def test_decode_is_readable(v1, v2):
    text = "I LOVE this movie!!!! Don't you?\nSecond line."
    # fastai marks the case of words of 2+ letters only, so "I" comes back as "i"
    assert v1.decode(v1.tokenize(text)) == "i LOVE this movie!!!! Don't you?\nSecond line."
    assert v2.decode(v2.tokenize(text)) == "i LOVE this movie!!!! Don't you?\nSecond line."
    assert v1.decode(v1.tokenize("very very very very good")) == "very very very very good"


def test_rules_file_carries_spacy_licence():
    rules = load_rules()
    assert rules["license"].startswith("The MIT License")
    assert "ExplosionAI" in rules["license"]
    assert rules["spacy_version"] and len(rules["exceptions"]) > 1000
    assert rules["exceptions"]["don't"] == ["do", "n't"]
