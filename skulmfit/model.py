"""AWD-LSTM language model and the ULMFiT classifier built on its encoder.

Shapes are batch-first throughout: token ids ``(batch, time)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from .adaptive import AdaptiveDecoder, check_cutoffs
from .regularizers import (
    EmbeddingDropout,
    LockedDropout,
    WeightDropLSTM,
    check_dropouts,
)

State = list[tuple[Tensor, Tensor]]


@dataclass
class AWDLSTMConfig:
    """Architecture of an AWD-LSTM. Defaults are the paper's (ULMFiT, Sec. 4).

    The five dropout probabilities are the paper's classifier values; ``drop_mult`` arguments
    elsewhere scale all five at once. ``decoder='full'`` is the paper's softmax tied to the
    embedding; ``decoder='adaptive'`` an untied adaptive softmax (:mod:`skulmfit.adaptive`) with
    clusters at ``cutoffs`` and tail projections of ``tail_widths`` units.
    """

    vocab_size: int
    emb_size: int = 400
    hidden_size: int = 1150
    n_layers: int = 3
    pad_idx: int = 1
    embed_p: float = 0.05
    input_p: float = 0.4
    hidden_p: float = 0.3
    weight_p: float = 0.5
    output_p: float = 0.4
    decoder: str = "full"
    cutoffs: list[int] | None = None
    tail_widths: list[int] | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "emb_size", "hidden_size", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.decoder not in ("full", "adaptive"):
            raise ValueError(f"decoder must be 'full' or 'adaptive', got {self.decoder!r}")
        if self.decoder == "adaptive":
            if not self.cutoffs or not self.tail_widths:
                raise ValueError("an adaptive decoder needs cutoffs and tail_widths")
            self.cutoffs = check_cutoffs(self.cutoffs, self.vocab_size)
            self.tail_widths = [int(w) for w in self.tail_widths]
            if len(self.tail_widths) != len(self.cutoffs) or min(self.tail_widths) < 1:
                raise ValueError(f"need one positive tail width per cutoff, got {self.tail_widths}")
        elif self.cutoffs is not None or self.tail_widths is not None:
            raise ValueError("cutoffs and tail_widths apply to decoder='adaptive' only")
        check_dropouts(
            embed_p=self.embed_p, input_p=self.input_p, hidden_p=self.hidden_p,
            weight_p=self.weight_p, output_p=self.output_p,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form; a full-softmax config leaves out the adaptive-only keys."""
        d = asdict(self)
        if self.decoder == "full":
            for k in ("decoder", "cutoffs", "tail_widths"):
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AWDLSTMConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown AWD-LSTM config keys: {sorted(unknown)}")
        return cls(**d)

    def scaled(self, drop_mult: float) -> dict[str, float]:
        """The five dropout probabilities multiplied by ``drop_mult``."""
        if drop_mult < 0:
            raise ValueError(f"drop_mult must be >= 0, got {drop_mult}")
        ps = {k: getattr(self, k) * drop_mult
              for k in ("embed_p", "input_p", "hidden_p", "weight_p", "output_p")}
        check_dropouts(**ps)
        return ps


class AWDLSTM(nn.Module):
    """AWD-LSTM encoder: embedding + ``n_layers`` DropConnect LSTMs, locked dropout between.

    The last layer's hidden size is ``emb_size`` so that the decoder can be tied.
    """

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size, padding_idx=c.pad_idx)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embedding.weight[c.pad_idx].zero_()
        self.embedding_dropout = EmbeddingDropout(c.embed_p)
        self.input_dropout = LockedDropout(c.input_p)
        sizes = [c.emb_size] + [c.hidden_size] * (c.n_layers - 1) + [c.emb_size]
        self.rnns = nn.ModuleList(
            WeightDropLSTM(sizes[i], sizes[i + 1], c.weight_p) for i in range(c.n_layers)
        )
        self.hidden_dropouts = nn.ModuleList(LockedDropout(c.hidden_p) for _ in range(c.n_layers - 1))

    @property
    def output_size(self) -> int:
        return self.config.emb_size

    def set_dropouts(self, embed_p: float, input_p: float, hidden_p: float, weight_p: float) -> None:
        """Change the dropout probabilities in place (e.g. for another ``drop_mult``)."""
        check_dropouts(embed_p=embed_p, input_p=input_p, hidden_p=hidden_p, weight_p=weight_p)
        self.embedding_dropout.p = embed_p
        self.input_dropout.p = input_p
        for d in self.hidden_dropouts:
            d.p = hidden_p
        for r in self.rnns:
            r.weight_p = weight_p

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[list[Tensor], list[Tensor], State]:
        """Run the encoder.

        Returns
        -------
        raw_outputs : list of Tensor
            Each layer's output before dropout.
        dropped_outputs : list of Tensor
            Each layer's output after the locked dropout that follows it (the last one has no
            dropout here; the decoder applies ``output_p``).
        new_state : list of (h, c)
            Final states, one per layer, for the next call (not detached).
        """
        x = self.input_dropout(self.embedding_dropout(self.embedding, ids))
        raw_outputs, dropped_outputs, new_state = [], [], []
        for i, rnn in enumerate(self.rnns):
            x, s = rnn(x, None if state is None else state[i])
            new_state.append(s)
            raw_outputs.append(x)
            if i < len(self.hidden_dropouts):
                x = self.hidden_dropouts[i](x)
            dropped_outputs.append(x)
        return raw_outputs, dropped_outputs, new_state


class LanguageModel(nn.Module):
    """AWD-LSTM encoder plus a decoder: linear and tied to the embedding, or adaptive."""

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.encoder = AWDLSTM(config)
        self.output_dropout = LockedDropout(config.output_p)
        self.decoder: nn.Linear | AdaptiveDecoder
        if config.decoder == "adaptive":
            self.decoder = AdaptiveDecoder(config.emb_size, config.vocab_size, config.cutoffs, config.tail_widths)
        else:
            self.decoder = nn.Linear(config.emb_size, config.vocab_size)
            self.decoder.weight = self.encoder.embedding.weight
            nn.init.zeros_(self.decoder.bias)

    @property
    def adaptive(self) -> bool:
        return isinstance(self.decoder, AdaptiveDecoder)

    def log_probs(self, h: Tensor) -> Tensor:
        """Log-probabilities over the vocabulary for decoder inputs ``h`` (..., D)."""
        if isinstance(self.decoder, AdaptiveDecoder):
            return self.decoder.log_prob_all(h)
        return torch.log_softmax(self.decoder(h).float(), dim=-1)

    @property
    def config(self) -> AWDLSTMConfig:
        return self.encoder.config

    def set_drop_mult(self, drop_mult: float) -> None:
        """Scale the config's five dropouts by ``drop_mult``."""
        ps = self.config.scaled(drop_mult)
        self.output_dropout.p = ps.pop("output_p")
        self.encoder.set_dropouts(**ps)

    def forward(self, ids: Tensor, state: State | None = None,
                decode: bool = True) -> tuple[Tensor, Tensor, Tensor, State]:
        """Return ``(logits, raw_last, dropped_last, new_state)``; logits are ``(B, T, V)``.

        With an adaptive decoder the "logits" are log-probabilities (a softmax of either gives
        the same distribution). With ``decode=False`` the decoder is skipped and the first element
        is ``None``: the caller applies the decoder itself (the chunked LM loss does).
        """
        raw, _, new_state = self.encoder(ids, state)
        dropped_last = self.output_dropout(raw[-1])
        logits = None
        if decode:
            logits = self.log_probs(dropped_last) if self.adaptive else self.decoder(dropped_last)
        return logits, raw[-1], dropped_last, new_state

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups bottom to top: one per LSTM layer, then embedding + decoder."""
        groups = [list(r.parameters()) for r in self.encoder.rnns]
        if self.adaptive:
            groups.append([self.encoder.embedding.weight, *self.decoder.parameters()])
        else:
            groups.append([self.encoder.embedding.weight, self.decoder.bias])
        return groups


class PoolingHead(nn.Module):
    """Concat pooling output -> two linear blocks (BatchNorm, dropout, linear [, ReLU])."""

    def __init__(self, in_size: int, n_out: int, hidden: int = 50, ps: tuple[float, float] = (0.4, 0.1)) -> None:
        super().__init__()
        self.base_ps = ps
        self.layers = nn.Sequential(
            nn.BatchNorm1d(in_size), nn.Dropout(ps[0]), nn.Linear(in_size, hidden), nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden), nn.Dropout(ps[1]), nn.Linear(hidden, n_out),
        )

    def set_drop_mult(self, drop_mult: float) -> None:
        self.layers[1].p = self.base_ps[0] * drop_mult
        self.layers[5].p = self.base_ps[1] * drop_mult

    def forward(self, pooled: Tensor) -> Tensor:
        if self.training and pooled.size(0) == 1:
            # BatchNorm cannot estimate a variance from one row: use the running statistics.
            bns = [m for m in self.layers if isinstance(m, nn.BatchNorm1d)]
            for m in bns:
                m.eval()
            try:
                return self.layers(pooled)
            finally:
                for m in bns:
                    m.train()
        return self.layers(pooled)


class SequenceClassifier(nn.Module):
    """ULMFiT classifier: AWD-LSTM encoder read with BPT3C, concat pooling, :class:`PoolingHead`.

    Documents are right-padded, so the outputs at a document's real positions never depend
    on the other documents in the batch or on the padding.
    """

    def __init__(self, config: AWDLSTMConfig, n_out: int, hidden: int = 50) -> None:
        super().__init__()
        self.encoder = AWDLSTM(config)
        self.head = PoolingHead(3 * config.emb_size, n_out, hidden)

    @property
    def config(self) -> AWDLSTMConfig:
        return self.encoder.config

    def set_drop_mult(self, drop_mult: float) -> None:
        ps = self.config.scaled(drop_mult)
        ps.pop("output_p")
        self.encoder.set_dropouts(**ps)
        self.head.set_drop_mult(drop_mult)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Bottom to top: embedding, each LSTM layer, head."""
        return (
            [[self.encoder.embedding.weight]]
            + [list(r.parameters()) for r in self.encoder.rnns]
            + [list(self.head.parameters())]
        )

    def pool(self, ids: Tensor, lengths: Tensor, bptt: int = 70, max_len: int = 1400) -> Tensor:
        """Concat pooling of the encoder outputs (see :func:`concat_pool`)."""
        return concat_pool(self.encoder, ids, lengths, bptt, max_len)

    def forward(self, ids: Tensor, lengths: Tensor, bptt: int = 70, max_len: int = 1400) -> Tensor:
        return self.head(self.pool(ids, lengths, bptt, max_len))


def concat_pool(encoder: AWDLSTM, ids: Tensor, lengths: Tensor, bptt: int = 70, max_len: int = 1400) -> Tensor:
    """Concat pooling ``[last, max, mean]`` over each document's last ``max_len`` tokens.

    The documents are read in ``bptt``-sized chunks with the state carried (BPT3C). Chunks
    that end before every document's pooling window run without gradient, and the pooled
    statistics are accumulated chunk by chunk, so memory grows with the window, not with
    the document.
    """
    batch, total = ids.shape
    lengths = lengths.to(ids.device)
    start = (lengths - max_len).clamp(min=0)  # first pooled position per document
    first_needed = int(start.min().item())
    hsize = encoder.output_size
    neg_inf = torch.finfo(torch.float32).min
    run_max = run_sum = last = None
    state: State | None = None
    for lo in range(0, total, bptt):
        hi = min(lo + bptt, total)
        track = hi > first_needed
        with torch.set_grad_enabled(torch.is_grad_enabled() and track):
            raw, _, state = encoder(ids[:, lo:hi], state)
        out = raw[-1].float()  # pooled in float32 whatever an enclosing autocast computes in
        if not track:
            state = [(h.detach(), c.detach()) for h, c in state]
            continue
        pos = torch.arange(lo, hi, device=ids.device)
        mask = (pos[None, :] >= start[:, None]) & (pos[None, :] < lengths[:, None])
        m = mask.unsqueeze(-1)
        chunk_max = out.masked_fill(~m, neg_inf).amax(dim=1)
        chunk_sum = (out * m).sum(dim=1)
        is_last = (lengths - 1 >= lo) & (lengths - 1 < hi)
        idx = (lengths - 1 - lo).clamp(0, hi - lo - 1)
        chunk_last = out[torch.arange(batch, device=ids.device), idx]
        if run_max is None:
            run_max, run_sum = chunk_max, chunk_sum
            last = torch.where(is_last[:, None], chunk_last, out.new_zeros(batch, hsize))
        else:
            run_max = torch.maximum(run_max, chunk_max)
            run_sum = run_sum + chunk_sum
            last = torch.where(is_last[:, None], chunk_last, last)
    count = (lengths - start).clamp(min=1).to(run_sum.dtype)[:, None]
    return torch.cat([last, run_max, run_sum / count], dim=1)
