"""Model files: one ``torch.save`` file of plain data, loaded with ``weights_only=True``.

A model file is a dict::

    {"format": "skulmfit-lm", "format_version": 1, "skulmfit_version": "...",
     "config": {...AWDLSTMConfig...}, "tokenizer": {...}, "vocab": "[\"xxunk\", ...]" (JSON),
     "direction": "fwd" | "bwd", "state_dict": {name: tensor}, "meta": {...}}

Nothing in it is a pickled Python object, so loading cannot run code. Writes go to a temporary
file in the same folder that is then renamed over the target (atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from ._version import __version__
from .adaptive import transfer_adaptive
from .exceptions import ModelFileError
from .model import AWDLSTMConfig, LanguageModel
from .tokenizer import Tokenizer
from .vocab import Vocab

FORMAT = "skulmfit-lm"
FORMAT_VERSION = 1
DIRECTIONS = ("fwd", "bwd")


@dataclass
class PretrainedLM:
    """A language model with everything needed to use it on new text."""

    model: LanguageModel
    vocab: Vocab
    tokenizer: Tokenizer
    direction: str = "fwd"
    meta: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Write ``path`` atomically: yield a temporary file beside it, then fsync and rename it over
    ``path``. If the block raises, the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    with atomic_write(path) as f:
        torch.save(obj, f)


def safe_load(path: str | os.PathLike[str], what: str = "model file") -> Any:
    """``torch.load(weights_only=True)`` with clear errors for unsafe, truncated or missing files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ModelFileError(
            f"refusing to load {path}: the {what} contains pickled Python objects, which could run "
            f"code; skulmfit {what}s hold only tensors and plain data ({str(e).splitlines()[0]})"
        ) from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise ModelFileError(
            f"cannot read {path} as a skulmfit {what}: the file is truncated or not a torch file "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from e


def save_lm(lm: PretrainedLM, path: str | os.PathLike[str], half: bool = False,
            tokenizer_config: dict[str, Any] | None = None) -> None:
    """Write a model file atomically. ``half=True`` stores float weights as fp16.

    ``tokenizer_config`` is recorded instead of ``lm.tokenizer.get_config()`` (an imported
    model records the tokenizer it was trained with).
    """
    if lm.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {lm.direction!r}")
    state: dict[str, torch.Tensor] = {}
    converted: dict[int, torch.Tensor] = {}  # tied weights (decoder = embedding) are stored once
    for k, v in lm.model.state_dict().items():
        key = v.data_ptr()
        if key not in converted:
            t = v.detach().cpu()
            converted[key] = (t.half() if half and t.is_floating_point() else t).clone()
        state[k] = converted[key]
    atomic_save(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "skulmfit_version": __version__,
            "config": lm.model.config.to_dict(),
            "tokenizer": dict(tokenizer_config) if tokenizer_config is not None else lm.tokenizer.get_config(),
            # one JSON string rather than a list: torch's weights-only unpickler takes ~1 s over 60k strings
            "vocab": json.dumps(list(lm.vocab.itos), ensure_ascii=False),
            "direction": lm.direction,
            "state_dict": state,
            "meta": json.loads(json.dumps(lm.meta, default=str)),  # plain data only
        },
        path,
    )


def load_lm(path: str | os.PathLike[str]) -> PretrainedLM:
    """Load a model file written by :func:`save_lm`, validating every part.

    Raises
    ------
    ModelFileError
        Pickled objects, truncated file, another format or version, or a config that does not
        match the weights.
    """
    data = safe_load(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a skulmfit language-model file (no '{FORMAT}' header)")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model-file format version {version!r}; this skulmfit ({__version__}) reads "
            f"version {FORMAT_VERSION}"
        )
    try:
        config = AWDLSTMConfig.from_dict(data["config"])
        vocab = Vocab(_itos(data["vocab"]))
        tokenizer = Tokenizer.from_config(data["tokenizer"])
        direction = data["direction"]
        state = data["state_dict"]
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path} is missing or has invalid fields: {e}") from e
    if direction not in DIRECTIONS:
        raise ModelFileError(f"{path}: direction must be one of {DIRECTIONS}, got {direction!r}")
    if len(vocab) != config.vocab_size:
        raise ModelFileError(
            f"{path}: vocabulary has {len(vocab)} tokens but the config says vocab_size={config.vocab_size}"
        )
    model = LanguageModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad_shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or bad_shapes:
        raise ModelFileError(
            f"{path}: the weights do not match the config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {bad_shapes[:3]})"
        )
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return PretrainedLM(model, vocab, tokenizer, direction, dict(data.get("meta", {})))


def _itos(field: Any) -> list[str]:
    """The vocabulary field of a model file: a JSON list of strings (or, in older files, the list itself)."""
    itos = json.loads(field) if isinstance(field, str) else field
    if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
        raise ValueError("'vocab' must be a list of strings")
    return itos


def transfer_vocab(lm: PretrainedLM, new_vocab: Vocab) -> PretrainedLM:
    """Move a language model onto ``new_vocab``.

    Rows of words in both vocabularies are copied; new words start at the mean embedding row
    (and the mean decoder bias). With an adaptive decoder the task vocabulary is reordered so
    that each known word stays in its pretrained cluster, and new words join the last cluster
    (at that cluster's mean output row); the returned model's ``vocab`` is that order. Returns a
    new :class:`PretrainedLM`; the input is unchanged.
    """
    old_w = lm.model.encoder.embedding.weight.detach()
    mean_w = old_w.mean(0)
    base = lm.model.config.to_dict()
    if lm.model.adaptive:
        itos, decoder, old_ids = transfer_adaptive(lm.model.decoder, lm.vocab.itos, new_vocab.itos,
                                                   lm.model.config.emb_size)
        new_vocab = Vocab(itos)
        base.update(cutoffs=decoder.cutoffs[:-1], tail_widths=decoder.tail_widths)
    else:
        old_ids = [lm.vocab.stoi.get(tok) for tok in new_vocab.itos]
    config = AWDLSTMConfig.from_dict({**base, "vocab_size": len(new_vocab), "pad_idx": new_vocab.pad_idx})
    model = LanguageModel(config)
    state = {k: v.clone() for k, v in lm.model.state_dict().items()
             if not k.startswith(("encoder.embedding", "decoder"))}
    new_idx = [i for i, j in enumerate(old_ids) if j is not None]
    old_idx = [old_ids[i] for i in new_idx]
    new_w = mean_w.repeat(len(new_vocab), 1)
    if new_idx:
        new_w[new_idx] = old_w[old_idx]
    state["encoder.embedding.weight"] = new_w
    if lm.model.adaptive:
        state.update({f"decoder.{k}": v for k, v in decoder.state_dict().items()})
    else:
        old_b = lm.model.decoder.bias.detach()
        new_b = old_b.mean().repeat(len(new_vocab))
        if new_idx:
            new_b[new_idx] = old_b[old_idx]
        state["decoder.bias"] = new_b
        state["decoder.weight"] = new_w
    model.load_state_dict(state)
    meta = {**lm.meta, "vocab_transfer": {"shared": len(new_idx), "new": len(new_vocab) - len(new_idx)}}
    return PretrainedLM(model, new_vocab, lm.tokenizer, lm.direction, meta)
