"""fastai's tokenization (spaCy's English word splitting plus fastai's rules), without fastai or spaCy.

A language model pretrained by fastai — its WikiText-103 AWD-LSTM above all — knows the tokens
fastai made: ``do`` + ``n't``, ``stop`` + ``-`` + ``gap``, ``xxrep 4 !``, ``\\n`` tokens for line
breaks (fastai 1). Fed skulmfit's own nltk-based tokens instead, such a model sees a few percent
of its input differently. :class:`FastaiTokenizer` reproduces fastai's tokens: the words are split
by :class:`skulmfit.spacy_en.SpacyEnSplitter` (spaCy's ``blank("en")`` tokenizer, reimplemented)
and fastai's rules are applied around it, in one of two versions:

``rules="v1"`` — fastai 1 (1.0.x; the WikiText-103 vocabulary ``itos_wt103.pkl`` was built this way)
    Before splitting: ``"xxbos "`` is put in front (``include_bos``), then ``fix_html`` (HTML
    entities, ``<br />``, WikiText's ``@-@``, ``@.@``, ``@,@``; spaces around ``\\``), a
    character repeated **4+** times becomes ``xxrep N c``, a word repeated **4+** times becomes
    ``xxwrep N w``, spaces go around ``/``, ``#`` and line breaks (so ``\\n`` is a token), runs of
    spaces collapse. After splitting, token by token: ALL-CAPS tokens of 2+ characters become
    ``xxup w``, Capitalised ones ``xxmaj w``, everything is lower-cased.
``rules="v2"`` — fastai 2 (2.x)
    ``fix_html`` (no ``@,@``, ``...`` becomes `` …``), repeats of **3+** characters / words,
    spaces around ``/``, ``#`` and ``\\``, runs of spaces collapse, then the case rules on the
    whitespace-separated text before splitting (``I'm`` -> ``xxmaj i'm``), lower-casing, strip,
    ``xxbos`` in front; after splitting, spaces inside tokens become ``▁``.

The special tokens are spelled the same in both versions (``xxunk xxpad xxbos xxeos xxfld xxmaj
xxup xxrep xxwrep``); only their order in the vocabulary differs, which is the vocabulary's
business (:class:`skulmfit.vocab.Vocab`), not the tokenizer's. Measured agreement with fastai
itself: ``benchmarks/results/tokenizer_agreement.md``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .spacy_en import SpacyEnSplitter
from .tokenizer import BOS, FLD, MAJ, REP, SPECIAL_TOKENS, UNK, UP, WREP, Tokenizer

CONFIG_NAME = "fastai-spacy"
RULE_VERSIONS: tuple[str, ...] = ("v1", "v2")

# -- fastai 1 rules ---------------------------------------------------------------------------

_HTML_V1 = (
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
    ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", UNK), (" @.@ ", "."), (" @-@ ", "-"),
    (" @,@ ", ","), ("\\", " \\ "),
)
_RE_SPACES_V1 = re.compile(r"  +")
_RE_REP_V1 = re.compile(r"(\S)(\1{3,})")
_RE_WREP_V1 = re.compile(r"(\b\w+\W+)(\1{3,})")
_RE_SPEC_V1 = re.compile(r"([/#\n])")
_RE_USELESS_SPACES = re.compile(" {2,}")


def fix_html_v1(text: str) -> str:
    """fastai 1's ``fix_html``: entity and markup debris, then ``html.unescape``, then single spaces."""
    for old, new in _HTML_V1:
        text = text.replace(old, new)
    return _RE_SPACES_V1.sub(" ", html.unescape(text))


def replace_rep_v1(text: str) -> str:
    """A non-space character repeated 4+ times becomes ``xxrep N c``."""
    return _RE_REP_V1.sub(lambda m: f" {REP} {len(m.group(2)) + 1} {m.group(1)} ", text)


def replace_wrep_v1(text: str) -> str:
    """A word (with what follows it) repeated 4+ times becomes ``xxwrep N w``.

    As in fastai 1, the repeated unit is the word *and* its separator, so the last copy of
    ``"la la la la la"`` (no separator after it) stays: ``xxwrep 4 la la``.
    """
    return _RE_WREP_V1.sub(lambda m: f" {WREP} {len(m.group(2).split()) + 1} {m.group(1)} ", text)


def spec_add_spaces_v1(text: str) -> str:
    """Spaces around ``/``, ``#`` and line breaks."""
    return _RE_SPEC_V1.sub(r" \1 ", text)


def rm_useless_spaces(text: str) -> str:
    """Runs of spaces become one space."""
    return _RE_USELESS_SPACES.sub(" ", text)


def case_tokens_v1(tokens: Iterable[str]) -> list[str]:
    """fastai 1's ``replace_all_caps`` then ``deal_caps`` on split tokens."""
    out: list[str] = []
    for t in tokens:
        if t.isupper() and len(t) > 1:
            out += [UP, t.lower()]
        elif t:
            if len(t) > 1 and t[0].isupper() and t[1:].islower():
                out.append(MAJ)
            out.append(t.lower())
    return out


# -- fastai 2 rules ---------------------------------------------------------------------------

_HTML_V2 = (
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
    ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", UNK), (" @.@ ", "."), (" @-@ ", "-"),
    ("...", " …"),
)
_RE_REP_V2 = re.compile(r"(\S)(\1{2,})")
_RE_WREP_V2 = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")
_RE_SPEC_V2 = re.compile(r"([/#\\])")
_RE_ALL_CAPS_V2 = re.compile(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))")
_RE_MAJ_V2 = re.compile(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))")


def fix_html_v2(text: str) -> str:
    """fastai 2's ``fix_html``."""
    for old, new in _HTML_V2:
        text = text.replace(old, new)
    return html.unescape(text)


def replace_rep_v2(text: str) -> str:
    """A non-space character repeated 3+ times becomes ``xxrep N c``."""
    return _RE_REP_V2.sub(lambda m: f" {REP} {len(m.group(2)) + 1} {m.group(1)} ", text)


def replace_wrep_v2(text: str) -> str:
    """A word repeated 3+ times (whitespace between) becomes ``xxwrep N w``."""
    return _RE_WREP_V2.sub(lambda m: f" {WREP} {len(m.group(2).split()) + 2} {m.group(1)} {m.group(3)}", text)


def spec_add_spaces_v2(text: str) -> str:
    """Spaces around ``/``, ``#`` and ``\\``."""
    return _RE_SPEC_V2.sub(r" \1 ", text)


def replace_caps_v2(text: str) -> str:
    """fastai 2's ``replace_all_caps`` then ``replace_maj``, on whitespace-separated words."""

    def _up(m: re.Match[str]) -> str:
        word = m.group(2)
        return f"{m.group(1)}{UP + ' ' if len(word) > 1 else ''}{word.lower()}"

    def _maj(m: re.Match[str]) -> str:
        word = m.group(2)
        return f"{m.group(1)}{MAJ + ' ' if len(word) > 1 else ''}{word.lower()}"

    return _RE_MAJ_V2.sub(_maj, _RE_ALL_CAPS_V2.sub(_up, text))


# -- the tokenizer ----------------------------------------------------------------------------


class FastaiTokenizer(Tokenizer):
    """fastai's word tokenization: spaCy's English splitting plus fastai's v1 or v2 rules.

    A :class:`skulmfit.tokenizer.Tokenizer` (same methods, ``tokenize_many`` inherited) that
    always lower-cases, as fastai does. Model files record it as
    ``{"name": "fastai-spacy", "rules": "v1", "add_bos": True}`` and
    :meth:`Tokenizer.from_config <skulmfit.tokenizer.Tokenizer.from_config>` rebuilds it.

    Parameters
    ----------
    rules : {"v1", "v2"}, default="v1"
        fastai 1's rules (repeats of 4+, ``\\n`` tokens, case rules on split tokens; the
        WikiText-103 vocabulary's) or fastai 2's (repeats of 3+, case rules before splitting).
    add_bos : bool, default=True
        Start each document with ``xxbos`` (fastai does).

    Examples
    --------
    >>> tok = FastaiTokenizer("v1")
    >>> tok.tokenize("I LOVE this movie!!!! Don't you?")
    ['xxbos', 'i', 'xxup', 'love', 'this', 'movie', 'xxrep', '4', '!', 'xxmaj', 'do', "n't", 'you', '?']
    >>> FastaiTokenizer("v2").tokenize("I LOVE this movie!!!")
    ['xxbos', 'i', 'xxup', 'love', 'this', 'movie', 'xxrep', '3', '!']
    """

    def __init__(self, rules: str = "v1", add_bos: bool = True) -> None:
        if rules not in RULE_VERSIONS:
            raise ValueError(f"FastaiTokenizer rules must be one of {RULE_VERSIONS}, got {rules!r}")
        super().__init__(lower=True, add_bos=add_bos)
        self.rules = rules
        self._splitter = SpacyEnSplitter(special_cases=SPECIAL_TOKENS)

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable configuration (stored in model files)."""
        return {"name": CONFIG_NAME, "rules": self.rules, "add_bos": self.add_bos}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FastaiTokenizer:
        """Rebuild a tokenizer from :meth:`get_config` output."""
        if not isinstance(config, dict):
            raise ValueError(f"a tokenizer config must be a dict, got {type(config).__name__}")
        name = config.get("name", CONFIG_NAME)
        if name != CONFIG_NAME:
            raise ValueError(f"not a {CONFIG_NAME!r} tokenizer config: name is {name!r}")
        if "rules" not in config:
            raise ValueError(f"a {CONFIG_NAME!r} tokenizer config needs 'rules' ({' or '.join(RULE_VERSIONS)})")
        return cls(rules=str(config["rules"]), add_bos=bool(config.get("add_bos", True)))

    def tokenize(self, text: str) -> list[str]:
        """Tokenize one document as fastai would."""
        if self.rules == "v1":
            text = f"{BOS} {text}" if self.add_bos else text
            text = rm_useless_spaces(spec_add_spaces_v1(replace_wrep_v1(replace_rep_v1(fix_html_v1(text)))))
            return case_tokens_v1(self._splitter.split(text))
        text = rm_useless_spaces(spec_add_spaces_v2(replace_wrep_v2(replace_rep_v2(fix_html_v2(text)))))
        text = replace_caps_v2(text).lower().strip()
        if self.add_bos:
            text = f"{BOS} {text}"
        return [t.replace(" ", "▁") for t in self._splitter.split(text)]

    def decode(self, tokens: Sequence[str]) -> str:
        """Readable text from tokens: the rules undone, line-break tokens back to line breaks.

        fastai marks the case of words of two or more letters only, so a capital single letter
        comes back in lower case (``"I"`` -> ``"i"``).
        """
        lines: list[list[str]] = [[]]
        for t in tokens:
            t = t.replace("▁", " ")
            if t.isspace():
                if "\n" in t:
                    lines.append([])
            elif t not in (BOS, FLD):
                lines[-1].append(t)
        decode_line = super().decode
        return "\n".join(decode_line(line) for line in lines)
