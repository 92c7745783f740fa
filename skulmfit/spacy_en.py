"""spaCy's English word splitting (``spacy.blank("en")``) in pure Python, without spaCy.

fastai tokenizes with spaCy's rule-based English tokenizer; a model trained on fastai's tokens
(its WikiText-103 AWD-LSTM) should see the same tokens here. This module reimplements spaCy's
tokenization algorithm (whitespace chunks, tokenizer exceptions, prefix / suffix / infix
splitting, URL matching, and the final pass that restores exceptions split by the affix rules)
and reads the *data* it needs — the affix and URL regular expressions and the exception table —
from ``spacy_en_rules.json``, which ``benchmarks/_export_spacy_rules.py`` writes from an
installed spaCy (MIT licence; the notice is in the file).

Only token texts are produced (no lemmas, norms or whitespace flags).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

RULES_FILE = "spacy_en_rules.json"
_RE_CHUNK = re.compile(r"\S+|\s+")


def load_rules() -> dict[str, Any]:
    """The exported spaCy English rules, read from the package's ``spacy_en_rules.json``."""
    text = resources.files("skulmfit").joinpath(RULES_FILE).read_text(encoding="utf-8")
    return json.loads(text)


class SpacyEnSplitter:
    """Split text into tokens as ``spacy.blank("en").tokenizer`` does.

    The rule data is spaCy's (version in :attr:`spacy_version`); on every text compared so far
    (``benchmarks/tokenizer_agreement.py``, ``tests/test_fastai_tokenizer.py``) the tokens are
    identical to spaCy's.

    Parameters
    ----------
    special_cases : iterable of str, optional
        Extra strings that are always kept as one token (fastai adds its special tokens
        ``xxbos``, ``xxmaj``, ... this way, with spaCy's ``add_special_case``).
    cache_size : int, default=100_000
        Whitespace-separated chunks remembered with their tokens (spaCy caches the same way);
        the cache is emptied when full.

    Examples
    --------
    >>> SpacyEnSplitter().split("Don't stop-gap (U.S.) e-mail!")
    ['Do', "n't", 'stop', '-', 'gap', '(', 'U.S.', ')', 'e', '-', 'mail', '!']
    """

    def __init__(self, special_cases: Iterable[str] = (), cache_size: int = 100_000) -> None:
        rules = load_rules()
        self.spacy_version: str = rules["spacy_version"]
        self._prefix: Callable[[str], re.Match[str] | None] = re.compile(rules["prefix_pattern"]).search
        self._suffix: Callable[[str], re.Match[str] | None] = re.compile(rules["suffix_pattern"]).search
        self._infix = re.compile(rules["infix_pattern"]).finditer
        self._url = re.compile(rules["url_pattern"]).match
        self._specials: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in rules["exceptions"].items()}
        self._extra_specials = tuple(special_cases)
        for s in self._extra_specials:
            self._specials[s] = (s,)
        self._cache: dict[str, list[str]] = {}
        self._cache_size = cache_size
        # Exceptions the affix rules would cut up are restored after splitting (spaCy's special-case
        # matcher): index them by the token sequence the affix rules give them.
        self._merges: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for key in self._specials:
            if self._prefix_len(key) or self._suffix_len(key) or next(self._infix(key), None) or " " in key:
                pattern = tuple(self._split_chunk(key, use_specials=False))
                self._merges.setdefault(pattern[0], []).append((pattern, key))

    def __getstate__(self) -> dict[str, Any]:
        # pickles (e.g. of a fitted estimator) hold the parameters, not the rule tables and cache
        return {"special_cases": self._extra_specials, "cache_size": self._cache_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["special_cases"], state["cache_size"])

    def split(self, text: str) -> list[str]:
        """Tokens of ``text``, as spaCy's English tokenizer gives them."""
        tokens: list[str] = []
        spaced: list[bool] = []  # whether a plain space (not a token) follows each token
        for m in _RE_CHUNK.finditer(text):
            chunk = m.group()
            if chunk[0].isspace():
                # one plain space after a word belongs to that word; other whitespace is a token
                if m.start() > 0 and chunk[0] == " ":
                    spaced[-1] = True
                    chunk = chunk[1:]
                if not chunk:
                    continue
            cached = self._cache.get(chunk)
            if cached is None:
                cached = self._split_chunk(chunk, use_specials=True)
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()
                self._cache[chunk] = cached
            tokens += cached
            spaced += [False] * len(cached)
        return self._merge_specials(tokens, spaced)

    # -- spaCy's algorithm, one whitespace-free chunk at a time ------------------------------

    def _prefix_len(self, s: str) -> int:
        m = self._prefix(s)
        return m.end() - m.start() if m else 0

    def _suffix_len(self, s: str) -> int:
        m = self._suffix(s)
        return m.end() - m.start() if m else 0

    def _split_chunk(self, chunk: str, use_specials: bool) -> list[str]:
        specials = self._specials if use_specials else {}
        if chunk in specials:
            return list(specials[chunk])
        prefixes: list[str] = []
        suffixes: list[str] = []
        s = chunk
        last = -1
        while s and len(s) != last:  # peel prefixes and suffixes until neither applies
            if s in specials:
                break
            last = len(s)
            pre = self._prefix_len(s)
            if pre:
                rest = s[pre:]
                if rest and rest in specials:
                    prefixes.append(s[:pre])
                    s = rest
                    break
            suf = self._suffix_len(s[pre:])
            if suf:
                rest = s[:-suf]
                if rest and rest in specials:
                    suffixes.append(s[-suf:])
                    s = rest
                    break
            if pre and suf and pre + suf <= len(s):
                prefixes.append(s[:pre])
                suffixes.append(s[-suf:])
                s = s[pre:-suf]
            elif pre:
                prefixes.append(s[:pre])
                s = s[pre:]
            elif suf:
                suffixes.append(s[-suf:])
                s = s[:-suf]
        tokens = prefixes
        if s:
            if s in specials:
                tokens += specials[s]
            elif self._url(s):
                tokens.append(s)
            else:
                tokens += self._split_infixes(s)
        tokens += reversed(suffixes)
        return tokens

    def _split_infixes(self, s: str) -> list[str]:
        out: list[str] = []
        start = 0
        for m in self._infix(s):
            if m.start() == 0:  # an infix at the very start splits nothing
                continue
            if m.start() != start:
                out.append(s[start:m.start()])
            if m.start() != m.end():
                out.append(s[m.start():m.end()])
            start = m.end()
        if s[start:]:
            out.append(s[start:])
        return out

    def _merge_specials(self, tokens: list[str], spaced: list[bool]) -> list[str]:
        """Re-join token runs that spell an exception the affix rules split.

        As in spaCy, every run of tokens equal to an exception's affix split is a candidate,
        also one with spaces inside; candidates are taken longest, then leftmost first, each
        blocking later ones that start or end on its tokens; only the chosen candidates without
        spaces inside (whose text is the exception) are replaced.
        """
        matches: list[tuple[int, int, str]] = []
        for i, t in enumerate(tokens):
            for pattern, key in self._merges.get(t, ()):
                n = len(pattern)
                if tuple(tokens[i:i + n]) == pattern:
                    matches.append((i, i + n, key))
        if not matches:
            return tokens
        matches.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        seen: set[int] = set()
        chosen: list[tuple[int, int, str]] = []
        for start, end, key in matches:
            if start not in seen and end - 1 not in seen and not any(spaced[start:end - 1]):
                chosen.append((start, end, key))
            seen.update(range(start, end))
        chosen.sort()
        out: list[str] = []
        pos = 0
        for start, end, key in chosen:
            out += tokens[pos:start]
            out += self._specials[key]
            pos = end
        out += tokens[pos:]
        return out
