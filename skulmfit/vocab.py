"""Vocabulary: token strings <-> integer ids, special tokens first."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .tokenizer import PAD, SPECIAL_TOKENS, UNK


class Vocab:
    """An ordered list of tokens with a reverse index.

    Special tokens (``xxunk``, ``xxpad``, ``xxbos``, ...) always come first, so ``xxunk`` is id 0
    and ``xxpad`` id 1 in every vocabulary built here.

    Parameters
    ----------
    itos : sequence of str
        Tokens in id order. Must be unique and contain ``xxunk`` and ``xxpad``.
    """

    def __init__(self, itos: Sequence[str]) -> None:
        self.itos: list[str] = [str(t) for t in itos]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary tokens must be unique")
        for tok in (UNK, PAD):
            if tok not in self.stoi:
                raise ValueError(f"vocabulary must contain the special token {tok!r}")
        self.unk_idx = self.stoi[UNK]
        self.pad_idx = self.stoi[PAD]

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], max_size: int = 60_000, min_freq: int = 2
    ) -> Vocab:
        """Most frequent tokens (ties broken alphabetically) with count >= ``min_freq``.

        ``max_size`` includes the special tokens.
        """
        if max_size < len(SPECIAL_TOKENS) + 1:
            raise ValueError(f"max_size must be > {len(SPECIAL_TOKENS)}, got {max_size}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        special = set(SPECIAL_TOKENS)
        words = [
            w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if c >= min_freq and w not in special
        ]
        return cls(list(SPECIAL_TOKENS) + words[: max_size - len(SPECIAL_TOKENS)])

    @classmethod
    def build(
        cls, docs: Iterable[Sequence[str]], max_size: int = 60_000, min_freq: int = 2
    ) -> Vocab:
        """Count tokens over tokenized documents and build a vocabulary."""
        counts: Counter[str] = Counter()
        for doc in docs:
            counts.update(doc)
        return cls.from_counts(counts, max_size=max_size, min_freq=min_freq)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def numericalize(self, tokens: Sequence[str], dtype: type = np.int32) -> np.ndarray:
        """Token ids as a 1-D numpy array; unknown tokens map to ``xxunk``."""
        get, unk = self.stoi.get, self.unk_idx
        return np.fromiter((get(t, unk) for t in tokens), dtype=dtype, count=len(tokens))

    def textify(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids."""
        return [self.itos[int(i)] for i in ids]

    def to_json(self) -> str:
        """JSON text: ``{"itos": [...]}``."""
        return json.dumps({"itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        """Inverse of :meth:`to_json`."""
        return cls(json.loads(text)["itos"])
