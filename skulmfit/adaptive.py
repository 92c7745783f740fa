"""Adaptive-softmax decoder (Grave et al. 2017) for large vocabularies, on torch's own module.

A full softmax over 60,000 words costs more than the three LSTM layers of a small AWD-LSTM on a
CPU. :class:`torch.nn.AdaptiveLogSoftmaxWithLoss` splits the vocabulary by frequency: a head holds
the ``cutoffs[0]`` most frequent words plus one entry per tail cluster, and each tail cluster
projects the hidden state down (by ``div_value`` per cluster) before its own softmax. The
log-probabilities stay exact (they sum to one over the whole vocabulary); only the training
cost falls.

The vocabulary order matters: ids ``[0, cutoffs[0])`` are the head, ``[cutoffs[i], cutoffs[i+1])``
the tail clusters. Moving a model onto a task vocabulary (:func:`transfer_adaptive`) therefore
reorders the task words by their pretrained cluster, and puts words the model never saw into
the last (rarest) cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

DEFAULT_CUTOFFS: tuple[int, ...] = (2_000, 10_000, 30_000)
DEFAULT_DIV_VALUE = 4.0
# Fills the one tail cluster an adaptive softmax needs when every task word is in the head (a
# small task of frequent words); it never occurs in text, so fine-tuning drives its probability down.
TAIL_FILLER = "xxfake"


def check_cutoffs(cutoffs: Sequence[int], vocab_size: int) -> list[int]:
    """Validate adaptive-softmax cutoffs for ``vocab_size`` words; return them as a list.

    Raises
    ------
    ValueError
        Cutoffs that are not strictly increasing positive integers below ``vocab_size``.
    """
    cut = [int(c) for c in cutoffs]
    if not cut:
        raise ValueError("an adaptive softmax needs at least one cutoff (e.g. 2000,10000,30000)")
    if any(c != o for c, o in zip(cut, cutoffs)) or cut != sorted(set(cut)) or cut[0] < 1:
        raise ValueError(f"adaptive-softmax cutoffs must be strictly increasing positive integers, got {list(cutoffs)}")
    if cut[-1] >= vocab_size:
        raise ValueError(
            f"adaptive-softmax cutoffs must be below the vocabulary size ({vocab_size}), got {cut}; use fewer or "
            "smaller cutoffs, or a larger vocabulary"
        )
    return cut


def fit_cutoffs(cutoffs: Sequence[int], vocab_size: int) -> list[int]:
    """The cutoffs that lie below ``vocab_size`` (a small vocabulary drops the rarer clusters).

    Returns an empty list when not even the first cutoff fits: the caller then needs a full softmax.
    """
    return [int(c) for c in cutoffs if int(c) < vocab_size]


def default_tail_widths(in_features: int, n_tails: int, div_value: float = DEFAULT_DIV_VALUE) -> list[int]:
    """torch's tail projection widths, ``in_features // div_value ** (i + 1)``, at least 1."""
    return [max(1, int(in_features // (div_value ** (i + 1)))) for i in range(n_tails)]


class AdaptiveDecoder(nn.AdaptiveLogSoftmaxWithLoss):
    """torch's adaptive log-softmax with a bias on the head and explicit tail widths.

    Parameters
    ----------
    in_features : int
        Size of the hidden states it reads (the AWD-LSTM's ``emb_size``).
    vocab_size : int
    cutoffs : sequence of int
        Cluster boundaries in vocabulary ids (most frequent words first).
    tail_widths : sequence of int
        Width of each tail cluster's projection (see :func:`default_tail_widths`). Stored in the
        model config, so a decoder moved onto a task vocabulary that lost a cluster keeps the
        widths its weights were trained with.
    """

    def __init__(self, in_features: int, vocab_size: int, cutoffs: Sequence[int],
                 tail_widths: Sequence[int]) -> None:
        cut = check_cutoffs(cutoffs, vocab_size)
        widths = [int(w) for w in tail_widths]
        if len(widths) != len(cut) or any(w < 1 for w in widths):
            raise ValueError(f"need one positive tail width per cutoff ({len(cut)}), got {list(tail_widths)}")
        super().__init__(in_features, vocab_size, cut, div_value=2.0, head_bias=True)
        bounds = cut + [vocab_size]
        self.tail = nn.ModuleList(
            nn.Sequential(nn.Linear(in_features, w, bias=False), nn.Linear(w, bounds[i + 1] - bounds[i], bias=False))
            for i, w in enumerate(widths)
        )
        self.tail_widths = widths

    def nll(self, h: Tensor, target: Tensor) -> Tensor:
        """Mean negative log-likelihood of ``target`` (N,) given hidden states ``h`` (N, D)."""
        return self(h, target).loss

    def log_prob_all(self, h: Tensor) -> Tensor:
        """Log-probabilities over the whole vocabulary for hidden states ``h`` (..., D)."""
        flat = h.reshape(-1, h.size(-1))
        return self.log_prob(flat).reshape(*h.shape[:-1], self.n_classes)


def cluster_of(ids: Tensor | Sequence[int], cutoffs: Sequence[int]) -> list[int]:
    """Cluster index (0 = head) of each vocabulary id."""
    bounds = torch.as_tensor(list(cutoffs))
    return torch.bucketize(torch.as_tensor(ids), bounds, right=True).tolist()


def transfer_adaptive(decoder: AdaptiveDecoder, old_itos: Sequence[str], new_words: Sequence[str],
                      in_features: int) -> tuple[list[str], AdaptiveDecoder, list[int | None]]:
    """Move an adaptive decoder onto a task vocabulary.

    Words the pretrained vocabulary knows keep their cluster (and their order inside it); new
    words join the last cluster, their output rows at that cluster's mean row. A task vocabulary
    that lies wholly inside the head cluster gets one extra token, :data:`TAIL_FILLER`, as its
    only tail word (torch's adaptive softmax needs a tail); it never occurs in tokenized text.

    Parameters
    ----------
    decoder : AdaptiveDecoder
        The pretrained decoder.
    old_itos : sequence of str
        The pretrained vocabulary, in id order.
    new_words : sequence of str
        The task vocabulary (any order; special tokens included).
    in_features : int

    Returns
    -------
    itos : list of str
        The task vocabulary reordered to fit the clusters.
    new_decoder : AdaptiveDecoder
    old_ids : list of (int or None)
        For each word of ``itos``, its pretrained id, or ``None`` for a new word.
    """
    old_stoi = {t: i for i, t in enumerate(old_itos)}
    cutoffs = list(decoder.cutoffs[:-1])
    n_clusters = len(cutoffs) + 1
    known = sorted(old_stoi[w] for w in set(new_words) if w in old_stoi)
    unknown = [w for w in dict.fromkeys(new_words) if w not in old_stoi]
    members: list[list[int]] = [[] for _ in range(n_clusters)]
    for i, c in zip(known, cluster_of(known, cutoffs) if known else []):
        members[c].append(i)
    if not members[0]:
        raise ValueError("the task vocabulary shares no word with the pretrained model's head cluster")
    if not unknown and not any(members[1:]):
        unknown = [TAIL_FILLER]
    # keep the non-empty clusters; new words go into the last kept one (or a new last one if
    # every tail cluster is empty, so they never land in the head)
    kept = [0] + [c for c in range(1, n_clusters) if members[c]]
    if unknown and len(kept) == 1:
        kept.append(n_clusters - 1)
    sizes = [len(members[c]) for c in kept]
    sizes[-1] += len(unknown)  # kept has a tail here: a tail cluster or new words (the filler at least)
    new_cutoffs = [sum(sizes[:k + 1]) for k in range(len(kept) - 1)]
    itos = [old_itos[i] for c in kept for i in members[c]]
    itos += unknown
    old_ids: list[int | None] = [old_stoi[w] for w in itos[:len(itos) - len(unknown)]] + [None] * len(unknown)
    widths = [decoder.tail_widths[c - 1] for c in kept[1:]]
    new = AdaptiveDecoder(in_features, len(itos), new_cutoffs, widths)
    with torch.no_grad():
        # head: shortlist rows of the kept head words, then one row per kept tail cluster
        head_rows = members[0] + [decoder.shortlist_size + c - 1 for c in kept[1:]]
        new.head.weight.copy_(decoder.head.weight[head_rows])
        new.head.bias.copy_(decoder.head.bias[head_rows])
        for k, c in enumerate(kept[1:]):
            old_tail, new_tail = decoder.tail[c - 1], new.tail[k]
            new_tail[0].weight.copy_(old_tail[0].weight)
            start = decoder.cutoffs[c - 1]
            out_w = old_tail[1].weight
            filled = out_w[[i - start for i in members[c]]]
            if k == len(kept) - 2 and unknown:
                filled = torch.cat([filled, out_w.mean(0, keepdim=True).expand(len(unknown), -1)], 0)
            new_tail[1].weight.copy_(filled)
    return itos, new, old_ids
