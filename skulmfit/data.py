"""Batching: LM token streams with variable-length BPTT, and padded classification batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor


class LMStream:
    """A token stream laid out as ``batch_size`` parallel rows, read left to right.

    Parameters
    ----------
    ids : 1-D integer array (may be a ``np.memmap``)
        The concatenated documents.
    batch_size : int
        Number of parallel rows (streams).
    rank, world_size : int
        For distributed training: this process reads rows
        ``[rank * batch_size, (rank + 1) * batch_size)`` of a ``batch_size * world_size`` layout,
        so ranks see disjoint, contiguous parts of the stream.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rows = batch_size * world_size
        n_cols = (len(ids) - 1) // rows
        if n_cols < 2:
            raise ValueError(
                f"the token stream ({len(ids)} tokens) is too short for batch_size={batch_size}"
                f"{' x world_size=' + str(world_size) if world_size > 1 else ''}: need at least "
                f"{2 * rows + 1} tokens"
            )
        self.batch_size = batch_size
        self.n_cols = n_cols
        lo, hi = rank * batch_size * n_cols, (rank + 1) * batch_size * n_cols
        self.token_range = (int(lo), int(hi) + 1)  # the slice of ``ids`` this rank reads
        self.x = ids[lo:hi].reshape(batch_size, n_cols)
        self.y = ids[lo + 1:hi + 1].reshape(batch_size, n_cols)

    @property
    def n_tokens(self) -> int:
        return self.batch_size * self.n_cols

    def batch(self, col: int, seq_len: int) -> tuple[Tensor, Tensor]:
        """Inputs and targets for columns ``[col, col + seq_len)`` as int64 tensors."""
        end = min(col + seq_len, self.n_cols)
        x = torch.from_numpy(np.ascontiguousarray(self.x[:, col:end], dtype=np.int64))
        y = torch.from_numpy(np.ascontiguousarray(self.y[:, col:end], dtype=np.int64))
        return x, y


def sample_seq_len(rng: np.random.Generator, bptt: int) -> int:
    """Variable BPTT length: N(bptt, 5), or N(bptt/2, 5) with probability 5 %; at least 5."""
    base = bptt if rng.random() < 0.95 else bptt / 2
    return int(min(max(5, round(rng.normal(base, 5))), bptt + 20))


def pad_batch(docs: Sequence[np.ndarray], pad_idx: int) -> tuple[Tensor, Tensor]:
    """Right-pad id arrays into ``(ids, lengths)`` int64 tensors."""
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    out = np.full((len(docs), int(lengths.max())), pad_idx, dtype=np.int64)
    for i, d in enumerate(docs):
        out[i, : len(d)] = d
    return torch.from_numpy(out), torch.from_numpy(lengths)


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index batches of similar length, longest first (for prediction; order is undone later)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def sortish_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled index batches of roughly similar length (for training).

    A last batch of a single example is merged into the previous one (BatchNorm needs two rows).
    """
    n = len(lengths)
    perm = rng.permutation(n)
    mega = batch_size * 50
    batches: list[np.ndarray] = []
    for i in range(0, n, mega):
        chunk = perm[i:i + mega]
        chunk = chunk[np.argsort(-np.asarray(lengths)[chunk], kind="stable")]
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Slices ``[0:size], [size:2 size], ...`` covering ``range(n)``."""
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))
