"""Text to tokens and back: nltk's data-free word tokenizer plus the ULMFiT rules.

The rules follow fastai's text processing used by ULMFiT:

* ``fix_html`` repairs the HTML and WikiText debris common in web text;
* a character repeated three or more times becomes ``xxrep N c``;
* a word repeated three or more times becomes ``xxwrep N w``;
* ALL-CAPS words become ``xxup w`` and Capitalised words ``xxmaj w``;
* everything is lower-cased and each document starts with ``xxbos``.

:meth:`Tokenizer.decode` undoes the special tokens and nltk's Treebank splits, so
``decode(tokenize(text))`` reads like the original text.
"""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.treebank import TreebankWordDetokenizer

UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ = (
    "xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj",
)
SPECIAL_TOKENS: tuple[str, ...] = (UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ)
CONFIG_NAME = "nltk-treebank-ulmfit"

_RE_SPACES = re.compile(r"[ \t\r\f\v]{2,}")
_RE_REP = re.compile(r"(\S)(\1{2,})")
_RE_WREP = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(?=\s|\W|$)")
_RE_SLASH_HASH = re.compile(r"([/#\\])")
# Data-free sentence boundary: end punctuation, space, then an upper-case letter or quote.
_RE_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z])")
_RE_HTML_TAG_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_HTML_FIXES = (
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"),
    ("\\n", "\n"), ("quot;", "'"), ('\\"', '"'), ("<unk>", UNK),
    (" @.@ ", "."), (" @-@ ", "-"), (" @,@ ", ","),
)


def fix_html(text: str) -> str:
    """Repair HTML entities, ``<br />`` tags and WikiText's ``@-@`` style escapes."""
    text = html.unescape(_RE_HTML_TAG_BR.sub("\n", text))
    for old, new in _HTML_FIXES:  # broken entities left without their '&'
        text = text.replace(old, new)
    return _CONTROL.sub(" ", text)


def replace_rep(text: str) -> str:
    """Replace a character repeated 3+ times by ``xxrep N c``."""

    def _sub(m: re.Match[str]) -> str:
        c, cc = m.groups()
        return f" {REP} {len(cc) + 1} {c} "

    return _RE_REP.sub(_sub, text)


def replace_wrep(text: str) -> str:
    """Replace a word repeated 3+ times by ``xxwrep N w``."""

    def _sub(m: re.Match[str]) -> str:
        c, cc = m.groups()
        return f" {WREP} {len(cc.split()) + 2} {c} "

    return _RE_WREP.sub(_sub, text)


def _case_tokens(tokens: Iterable[str]) -> list[str]:
    """Mark ALL-CAPS and Capitalised words, lower-case everything."""
    out: list[str] = []
    for t in tokens:
        if len(t) > 1 and t.isupper() and t.isalpha():
            out += [UP, t.lower()]
        elif t[:1].isupper() and (len(t) == 1 or t[1:].islower()):
            out += [MAJ, t.lower()]
        else:
            out.append(t.lower())
    return out


class Tokenizer:
    """ULMFiT tokenizer: nltk's data-free Treebank word tokenizer plus special-token rules.

    Parameters
    ----------
    lower : bool, default=True
        Apply the case rules (``xxup``/``xxmaj``) and lower-case the tokens.
    add_bos : bool, default=True
        Start each document with ``xxbos``.

    Examples
    --------
    >>> tok = Tokenizer()
    >>> tok.tokenize("I LOVE this movie!!!!")
    ['xxbos', 'xxmaj', 'i', 'xxup', 'love', 'this', 'movie', 'xxrep', '4', '!']
    >>> tok.decode(tok.tokenize("I LOVE this movie!!!!"))
    'I LOVE this movie!!!!'
    """

    def __init__(self, lower: bool = True, add_bos: bool = True) -> None:
        self.lower = lower
        self.add_bos = add_bos
        self._word = NLTKWordTokenizer()
        self._detok = TreebankWordDetokenizer()

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable configuration (stored in model files)."""
        return {"name": CONFIG_NAME, "lower": self.lower, "add_bos": self.add_bos}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from :meth:`get_config` output (of this class or another tokenizer).

        ``config["name"]`` picks the tokenizer: ``"nltk-treebank-ulmfit"`` (this class; also
        assumed when there is no name) or ``"fastai-spacy"``
        (:class:`skulmfit.fastai_tokenizer.FastaiTokenizer`, as in files imported from fastai).

        Raises
        ------
        ValueError
            ``config`` is not a dict, or names an unknown tokenizer.
        """
        if not isinstance(config, dict):
            raise ValueError(f"a tokenizer config must be a dict, got {type(config).__name__}")
        name = config.get("name", CONFIG_NAME)
        if name == CONFIG_NAME:
            return Tokenizer(lower=bool(config.get("lower", True)), add_bos=bool(config.get("add_bos", True)))
        from .fastai_tokenizer import CONFIG_NAME as FASTAI_NAME
        from .fastai_tokenizer import FastaiTokenizer

        if name == FASTAI_NAME:
            return FastaiTokenizer.from_config(config)
        raise ValueError(f"unknown tokenizer {name!r} in the tokenizer config; this skulmfit knows "
                         f"{CONFIG_NAME!r} and {FASTAI_NAME!r}")

    def tokenize(self, text: str) -> list[str]:
        """Tokenize one document."""
        text = replace_wrep(replace_rep(fix_html(text)))
        text = _RE_SLASH_HASH.sub(r" \1 ", text)
        tokens: list[str] = [BOS] if self.add_bos else []
        for line in text.split("\n"):
            line = _RE_SPACES.sub(" ", line).strip()
            if not line:
                continue
            for sent in _RE_SENT.split(line):
                words = self._word.tokenize(sent)
                tokens += _case_tokens(words) if self.lower else words
        return tokens

    def tokenize_many(
        self, texts: Iterable[str], n_jobs: int = 1, chunk_size: int = 256
    ) -> Iterator[list[str]]:
        """Tokenize many documents, in order, in ``n_jobs`` worker processes.

        ``texts`` is consumed lazily (a generator over a large corpus is fine); at most a
        few chunks per worker are in flight at once.
        """
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        if n_jobs <= 1:
            for t in texts:
                yield self.tokenize(t)
            return
        config = self.get_config()
        with ProcessPoolExecutor(n_jobs) as pool:
            pending = []
            for chunk in _chunks(texts, chunk_size):
                pending.append(pool.submit(_tokenize_chunk, config, chunk))
                if len(pending) >= 4 * n_jobs:
                    yield from pending.pop(0).result()
            for fut in pending:
                yield from fut.result()

    def decode(self, tokens: Sequence[str]) -> str:
        """Turn tokens back into readable text (inverse of the special-token rules)."""
        words: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            t = tokens[i]
            if t in (BOS, EOS, PAD, FLD):
                i += 1
            elif t == MAJ and i + 1 < n:
                words.append(tokens[i + 1][:1].upper() + tokens[i + 1][1:])
                i += 2
            elif t == UP and i + 1 < n:
                words.append(tokens[i + 1].upper())
                i += 2
            elif t == REP and i + 2 < n and tokens[i + 1].isdigit():
                _attach_rep(words, tokens[i + 2] * int(tokens[i + 1]))
                i += 3
            elif t == WREP and i + 2 < n and tokens[i + 1].isdigit():
                words += [tokens[i + 2]] * int(tokens[i + 1])
                i += 3
            else:
                words.append(t)
                i += 1
        return self._detok.detokenize(words)


def _attach_rep(words: list[str], rep: str) -> None:
    """A repeated character belongs to the previous word ("soooo", "movie!!!!")."""
    if words:
        words[-1] += rep
    else:
        words.append(rep)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tokenize_chunk(config: dict[str, Any], texts: list[str]) -> list[list[str]]:
    tokenizer = Tokenizer.from_config(config)
    return [tokenizer.tokenize(t) for t in texts]


def measure_speed(tokenizer: Tokenizer, texts: Sequence[str], n_jobs: int = 1) -> float:
    """Tokenization throughput in MB/s of UTF-8 text."""
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    t0 = time.perf_counter()
    for _ in tokenizer.tokenize_many(texts, n_jobs=n_jobs):
        pass
    return n_bytes / 1e6 / max(time.perf_counter() - t0, 1e-9)
