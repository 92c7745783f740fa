"""Word vectors for initialising a language model's embedding before pretraining.

A CPU pretraining budget shows each of 60,000 words only a few dozen times, so the embeddings of
rarer words stay close to their random start. Count-based vectors see every occurrence in one
cheap pass over the corpus: :func:`ppmi_svd_vectors` builds a (word, context-word) co-occurrence
matrix in a +-``window`` window (weights 1/distance), turns it into positive pointwise mutual
information with context-distribution smoothing (Levy, Goldberg & Dagan, TACL 2015) and keeps
the top ``dim`` singular directions, weighted by the square root of their singular values.
On the 88M-token Wikipedia corpus this takes minutes on one CPU thread.

:func:`read_text_vectors` reads vectors a user already has (word2vec / GloVe text format), and
:func:`apply_word_vectors` copies either kind into an embedding matrix by word, rescaled to the
matrix's own spread so training dynamics stay as they were.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["cooccurrence_counts", "ppmi_svd_vectors", "read_text_vectors", "apply_word_vectors"]


def cooccurrence_counts(ids: np.ndarray, vocab_size: int, n_context: int, window: int = 5,
                        chunk_tokens: int = 8_000_000,
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Distance-weighted co-occurrence counts of every word with the ``n_context`` most frequent ids.

    Parameters
    ----------
    ids : ndarray of int, shape (n_tokens,)
        The token stream, numericalised (ids below ``vocab_size``).
    vocab_size : int
        Number of rows (words).
    n_context : int
        Context words are the ids below ``n_context`` (a frequency-ordered vocabulary puts its
        most frequent words first).
    window : int, default=5
        A pair at distance ``d <= window`` (either side) adds ``1 / d``.
    chunk_tokens : int, default=8_000_000
        Tokens per pass; memory is about ``chunk_tokens * window * 24`` bytes on top of the
        ``vocab_size * n_context`` float32 result.
    progress : callable, optional
        Called with the number of tokens of each finished chunk.

    Returns
    -------
    ndarray of float32, shape (vocab_size, n_context)
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 0 < n_context <= vocab_size:
        raise ValueError(f"n_context must be in [1, vocab_size={vocab_size}], got {n_context}")
    n = len(ids)
    counts = np.zeros(vocab_size * n_context, dtype=np.float32)
    for start in range(0, n, chunk_tokens):
        # overlap by `window` so pairs across chunk borders are counted exactly once
        stop = min(start + chunk_tokens + window, n)
        part = np.asarray(ids[start:stop], dtype=np.int64)
        n_own = min(chunk_tokens, n - start)  # pairs whose left token lies in this chunk
        keys, weights = [], []
        for d in range(1, window + 1):
            left = part[:n_own][: len(part) - d]
            right = part[d:d + len(left)]
            for word, ctx in ((left, right), (right, left)):
                keep = ctx < n_context
                keys.append(word[keep] * n_context + ctx[keep])
                weights.append(np.full(int(keep.sum()), 1.0 / d, dtype=np.float64))
        counts += np.bincount(np.concatenate(keys), weights=np.concatenate(weights),
                              minlength=vocab_size * n_context).astype(np.float32)
        if progress is not None:
            progress(n_own)
    return counts.reshape(vocab_size, n_context)


def ppmi_svd_vectors(ids: np.ndarray, vocab_size: int, dim: int, *, window: int = 5, n_context: int = 10_000,
                     alpha: float = 0.75, random_state: int = 0,
                     progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Word vectors from the SVD of the positive PMI matrix of ``ids``.

    Parameters
    ----------
    ids : ndarray of int, shape (n_tokens,)
        Numericalised token stream (frequency-ordered vocabulary).
    vocab_size : int
    dim : int
        Vector size (the embedding size they will initialise).
    window : int, default=5
    n_context : int, default=10_000
        Context vocabulary: the ``n_context`` lowest ids (clipped to ``vocab_size``).
    alpha : float, default=0.75
        Context-distribution smoothing exponent.
    random_state : int, default=0
        Seed of the randomized SVD.
    progress : callable, optional
        See :func:`cooccurrence_counts`.

    Returns
    -------
    vectors : ndarray of float32, shape (vocab_size, dim)
    counts : ndarray of float64, shape (vocab_size,)
        Each word's total co-occurrence weight; rows with 0 saw no context and are zero vectors.
    """
    from sklearn.utils.extmath import randomized_svd

    n_context = min(n_context, vocab_size)
    if not 0 < dim < n_context:
        raise ValueError(f"dim must be in [1, {n_context - 1}] (below the context vocabulary), got {dim}")
    m = cooccurrence_counts(ids, vocab_size, n_context, window=window, progress=progress)
    row = m.sum(axis=1, dtype=np.float64)
    col = m.sum(axis=0, dtype=np.float64) ** alpha
    total = row.sum()
    if total == 0:
        raise ValueError("the token stream has no co-occurring pairs (is it shorter than two tokens?)")
    log_row = np.log(np.where(row > 0, row, 1.0) / total).astype(np.float32)
    log_col = np.log(np.where(col > 0, col, 1.0) / col.sum()).astype(np.float32)
    log_total = np.float32(np.log(total))
    for i in range(0, vocab_size, 4096):  # PPMI in place, a block of rows at a time
        block = m[i:i + 4096]
        seen = block > 0
        np.log(block, out=block, where=seen)
        block -= log_total
        block -= log_row[i:i + 4096, None]
        block -= log_col[None, :]
        np.maximum(block, 0, out=block)
        block[~seen] = 0
    u, s, _ = randomized_svd(m, n_components=dim, n_iter=5, random_state=random_state)
    vectors = (u * np.sqrt(s)).astype(np.float32)
    vectors[row == 0] = 0
    return vectors, row


def read_text_vectors(path: str | os.PathLike[str], words: Sequence[str] | None = None,
                      ) -> tuple[list[str], np.ndarray]:
    """Read vectors in word2vec / GloVe text format (``word v1 v2 ...`` per line).

    An optional word2vec header line (``n_words dim``) is skipped. With ``words`` given, only
    those words are kept (a big file is read in one pass without holding all of it).

    Raises
    ------
    ValueError
        Lines of different lengths, values that are not numbers, or no vectors at all.
    """
    wanted = set(words) if words is not None else None
    out_words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise ValueError(f"{path}, line {lineno}: {len(parts) - 1} values where earlier lines had {dim}")
            if wanted is not None and parts[0] not in wanted:
                continue
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise ValueError(f"{path}, line {lineno}: not a word followed by numbers") from None
            out_words.append(parts[0])
    if dim is None:
        raise ValueError(f"{path} holds no word vectors (expected lines 'word v1 v2 ...')")
    return out_words, np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)


def apply_word_vectors(embedding: torch.Tensor, itos: Sequence[str], words: Sequence[str],
                       vectors: np.ndarray, skip: Sequence[int] = ()) -> int:
    """Copy ``vectors`` into the rows of ``embedding`` whose word is in ``words``; returns how many.

    The vectors are rescaled as one block so that their standard deviation equals that of the
    embedding's present (random) values; rows of words without a vector, zero vectors and the
    ids in ``skip`` (padding, special tokens) keep their values.

    Raises
    ------
    ValueError
        If the vector size differs from the embedding size.
    """
    if vectors.ndim != 2 or vectors.shape[1] != embedding.shape[1]:
        raise ValueError(f"word vectors have size {vectors.shape[-1]} but the embedding has {embedding.shape[1]}; "
                         f"make them with the model's emb_size")
    index = {w: i for i, w in enumerate(words)}
    skip_set = set(skip)
    rows, src = [], []
    for i, w in enumerate(itos):
        j = index.get(w)
        if j is not None and i not in skip_set and np.any(vectors[j]):
            rows.append(i)
            src.append(j)
    if not rows:
        return 0
    chosen = vectors[src].astype(np.float64)
    scale = float(embedding.detach().float().std(unbiased=False)) / max(float(chosen.std()), 1e-12)
    with torch.no_grad():
        embedding[torch.as_tensor(rows)] = torch.as_tensor(chosen * scale, dtype=embedding.dtype)
    return len(rows)
