"""AWD-LSTM regularisers (Merity et al. 2018), each a small single-purpose module or function.

* :class:`EmbeddingDropout` drops whole word rows of an embedding matrix.
* :class:`LockedDropout` (variational dropout) samples one mask per sequence and keeps it
  over time.
* :class:`WeightDropLSTM` applies DropConnect to the hidden-to-hidden weights of a one-layer
  ``nn.LSTM``. The parameters stay registered under their usual names; the dropped weight is
  passed to the LSTM through :func:`torch.func.functional_call`, so the fused (cuDNN) kernel is
  still used and nothing in torch is patched.
* :func:`activation_regularization` (AR) and :func:`temporal_activation_regularization` (TAR).
"""

from __future__ import annotations

import warnings

import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call


class EmbeddingDropout(nn.Module):
    """Embedding lookup that zeroes whole rows (words) of the weight and rescales the rest.

    The embedding is passed at call time (``drop(embedding, ids)``) so that its weight is
    registered once, in its owner.

    Parameters
    ----------
    p : float
        Probability of dropping a word.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, embedding: nn.Embedding, ids: Tensor) -> Tensor:
        weight = embedding.weight
        if self.training and self.p > 0:
            mask = weight.new_empty((weight.size(0), 1)).bernoulli_(1 - self.p) / (1 - self.p)
            weight = weight * mask
        return F.embedding(ids, weight, embedding.padding_idx)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all time steps (batch-first input)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty((x.size(0), 1, x.size(2))).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class WeightDropLSTM(nn.Module):
    """One-layer batch-first ``nn.LSTM`` with DropConnect on ``weight_hh_l0``.

    Parameters
    ----------
    input_size, hidden_size : int
        LSTM sizes.
    weight_p : float
        DropConnect probability on the hidden-to-hidden weight matrix.
    """

    def __init__(self, input_size: int, hidden_size: int, weight_p: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.weight_p = weight_p

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if not self.training or self.weight_p == 0:
            return self.lstm(x, state)
        params = dict(self.lstm.named_parameters())
        params["weight_hh_l0"] = F.dropout(params["weight_hh_l0"], self.weight_p, True)
        with warnings.catch_warnings():
            # cuDNN re-packs the non-contiguous dropped weights; expected and harmless.
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            return functional_call(self.lstm, params, (x, state))


def activation_regularization(dropped_output: Tensor, alpha: float) -> Tensor:
    """AR: ``alpha * mean(h_t^2)`` on the (dropped-out) output of the last layer."""
    return alpha * dropped_output.pow(2).mean()


def temporal_activation_regularization(raw_output: Tensor, beta: float) -> Tensor:
    """TAR: ``beta * mean((h_t - h_{t-1})^2)`` on the raw output of the last layer."""
    if raw_output.size(1) < 2:
        return raw_output.new_zeros(())
    return beta * (raw_output[:, 1:] - raw_output[:, :-1]).pow(2).mean()


def _check_p(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")


def check_dropouts(**ps: float) -> None:
    """Raise ``ValueError`` naming the first dropout probability outside [0, 1)."""
    for name, p in ps.items():
        _check_p(name, p)


__all__ = [
    "EmbeddingDropout",
    "LockedDropout",
    "WeightDropLSTM",
    "activation_regularization",
    "temporal_activation_regularization",
    "check_dropouts",
]
