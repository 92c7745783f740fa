"""Target-task language-model fine-tuning (ULMFiT stage 2), cacheable with ``joblib.Memory``.

:func:`finetune_lm` is a plain function of plain arguments (the tokenized texts, the pretrained
model's identity and the LM hyperparameters) returning plain data, so ``joblib.Memory`` can cache
it: a grid search over classifier parameters then fine-tunes the LM once per fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .corpus import numericalize_docs
from .devices import resolve_device
from .lm_training import LMTrainConfig, LMTrainer
from .model import AWDLSTMConfig, LanguageModel
from .modelfile import PretrainedLM, load_lm, transfer_vocab
from .tokenizer import Tokenizer
from .vocab import Vocab


@dataclass
class LMSettings:
    """Hyperparameters of target-task LM fine-tuning (all part of the cache key)."""

    epochs: int = 2
    lr: float = 0.004
    lr_decay: float = 2.6
    schedule: str = "stlr"
    cut_frac: float = 0.1
    ratio: float = 32.0
    batch_size: int = 64
    bptt: int = 70
    drop_mult: float = 1.0
    weight_decay: float = 0.01
    max_vocab: int = 60_000
    min_freq: int = 2
    precision: str = "auto"
    emb_size: int | None = None
    hidden_size: int | None = None
    n_layers: int | None = None


def scratch_config(settings: LMSettings, vocab: Vocab, reference: Path | None) -> AWDLSTMConfig:
    """Architecture for random initialisation: explicit sizes, else the reference model's, else the paper's."""
    base: dict[str, Any] = {}
    if reference is not None and reference.is_file():
        base = load_lm(reference).model.config.to_dict()
    sizes = {
        "emb_size": settings.emb_size or base.get("emb_size", 400),
        "hidden_size": settings.hidden_size or base.get("hidden_size", 1150),
        "n_layers": settings.n_layers or base.get("n_layers", 3),
    }
    return AWDLSTMConfig(vocab_size=len(vocab), pad_idx=vocab.pad_idx, **sizes)


def finetune_lm(docs: list[list[str]], pretrained_path: str | None, pretrained_id: str, direction: str,
                settings: LMSettings, seed: int, scratch_reference: str | None = None,
                device: str = "cpu", verbose: int = 0) -> dict[str, Any]:
    """Build the task vocabulary, move the pretrained LM onto it, and fine-tune it on ``docs``.

    Parameters
    ----------
    docs : list of token lists
        All task documents (labelled and unlabelled), tokenized.
    pretrained_path : str or None
        Model file, or ``None`` for random initialisation (the no-pretraining ablation).
    pretrained_id : str
        Content hash of the pretrained file (part of the cache key; the path alone is not).
    direction : {'fwd', 'bwd'}
        Backward models read each document reversed.
    settings : LMSettings
    seed : int
        Seeds torch and the BPTT sampler; the caller's RNG state is left untouched.
    scratch_reference : str, optional
        For random initialisation: a model file whose architecture to copy.

    Returns
    -------
    dict
        ``state_dict`` (CPU tensors), ``config``, ``vocab`` (list of str), ``tokenizer``,
        ``direction``, ``history`` (per-epoch records) and ``n_steps``.
    """
    del pretrained_id  # only part of the cache key
    dev = resolve_device(device)
    vocab = Vocab.build(docs, max_size=settings.max_vocab, min_freq=settings.min_freq)
    base = None if pretrained_path is None else load_lm(Path(pretrained_path))
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        if base is not None:
            lm = transfer_vocab(base, vocab)
        else:
            ref = Path(scratch_reference) if scratch_reference else None
            lm = PretrainedLM(LanguageModel(scratch_config(settings, vocab, ref)), vocab, Tokenizer(), direction)
        vocab = lm.vocab  # an adaptive decoder reorders the task vocabulary by cluster
        model = lm.model.to(dev)
        history: list[dict[str, Any]] = []
        n_steps = 0
        if settings.epochs > 0:
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(docs))
            ordered = [docs[i][::-1] if direction == "bwd" else docs[i] for i in order]
            ids = numericalize_docs(ordered, vocab)
            batch_size = max(1, min(settings.batch_size, (len(ids) - 1) // max(2 * settings.bptt, 4)))
            if (len(ids) - 1) // batch_size >= 2:
                config = LMTrainConfig(
                    batch_size=batch_size, bptt=settings.bptt, epochs=settings.epochs, lr=settings.lr,
                    lr_decay=settings.lr_decay, schedule=settings.schedule, cut_frac=settings.cut_frac,
                    ratio=settings.ratio, drop_mult=settings.drop_mult, weight_decay=settings.weight_decay,
                    seed=seed, precision=settings.precision,
                )
                trainer = LMTrainer(model, ids, config, dev, verbose=verbose)
                for rec in trainer.run():
                    history.append({"stage": "lm", "direction": direction, **rec})
                n_steps = trainer.step
        model.eval()
    return {
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "config": model.config.to_dict(),
        "vocab": list(vocab.itos),
        "tokenizer": lm.tokenizer.get_config(),
        "direction": direction,
        "history": history,
        "n_steps": n_steps,
    }


def result_to_lm(result: dict[str, Any]) -> PretrainedLM:
    """Rebuild a :class:`PretrainedLM` (on CPU, eval mode) from :func:`finetune_lm` output."""
    model = LanguageModel(AWDLSTMConfig.from_dict(result["config"]))
    model.load_state_dict(result["state_dict"])
    model.eval()
    return PretrainedLM(model, Vocab(result["vocab"]), Tokenizer.from_config(result["tokenizer"]), result["direction"])
