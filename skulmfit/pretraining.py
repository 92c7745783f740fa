"""``skulmfit pretrain``: train an AWD-LSTM language model from scratch on corpus files.

Runs in one process or under ``torchrun`` (DistributedDataParallel: each rank reads its own
contiguous streams; rank 0 tokenizes, checkpoints and writes the model). A checkpoint beside the
output (``MODEL.pt.ckpt``) holds the model, optimizer, schedule and data position, RNG states and
the carried hidden state, so ``--resume`` continues exactly where a killed run stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._version import __version__
from .adaptive import DEFAULT_CUTOFFS, DEFAULT_DIV_VALUE, default_tail_widths, fit_cutoffs
from .corpus import TokenCache, build_token_cache, split_stream
from .devices import describe_hardware, resolve_device, tune_cpu_allocator
from .exceptions import ModelFileError
from .lm_training import LMTrainConfig, LMTrainer, evaluate_lm
from .model import AWDLSTMConfig, LanguageModel
from .modelfile import PretrainedLM, atomic_save, atomic_write, load_lm, safe_load, save_lm
from .progress import progress_bar
from .tokenizer import SPECIAL_TOKENS, Tokenizer
from .vocab import Vocab
from .word_vectors import apply_word_vectors, ppmi_svd_vectors, read_text_vectors

CHECKPOINT_FORMAT = "skulmfit-pretrain-checkpoint"


@dataclass
class PretrainOptions:
    """Options of ``skulmfit pretrain`` (see ``skulmfit pretrain --help``)."""

    corpus: list[str]
    out: str
    direction: str = "fwd"
    emb_size: int = 400
    hidden_size: int = 1150
    layers: int = 3
    max_vocab: int = 60_000
    min_freq: int = 2
    epochs: int = 1
    max_tokens: int | None = None
    batch_size: int = 64
    bptt: int = 70
    lr: float = 3e-3
    schedule: str = "one_cycle"
    drop_mult: float = 0.2
    weight_decay: float = 0.01
    clip: float = 0.4
    device: str = "auto"
    checkpoint_every: float = 10.0  # minutes
    resume: bool = False
    seed: int = 0
    jobs: int = 1
    threads: int | None = None
    cache_dir: str | None = None
    exclude_ids: list[str] = field(default_factory=list)
    doc_sep: str = "auto"
    half: bool = False
    init: str | None = None
    init_embeddings: str | None = None
    decoder: str = "full"
    cutoffs: list[int] = field(default_factory=lambda: list(DEFAULT_CUTOFFS))
    div_value: float = DEFAULT_DIV_VALUE
    portable_checkpoint: bool = False
    verbose: int = 1
    command: str = ""

    def checkpoint_path(self) -> Path:
        return Path(self.out + ".ckpt")

    def portable_path(self) -> Path:
        """Half-precision checkpoint without optimizer state, small enough to commit."""
        return Path(self.out + ".portable")

    def card_path(self) -> Path:
        return Path(self.out).with_suffix(".json")

    def training_key(self) -> dict[str, Any]:
        """The options a resumed run must share with the run it continues."""
        keys = ("corpus", "direction", "emb_size", "hidden_size", "layers", "max_vocab", "min_freq",
                "epochs", "max_tokens", "batch_size", "bptt", "lr", "schedule", "drop_mult",
                "weight_decay", "clip", "seed", "exclude_ids", "doc_sep", "init")
        d = asdict(self)
        key = {k: d[k] for k in keys}
        if self.decoder != "full":  # older checkpoints (full softmax) lack these keys
            key.update(decoder=self.decoder, cutoffs=list(self.cutoffs), div_value=self.div_value)
        if self.init_embeddings:  # likewise
            key.update(init_embeddings=self.init_embeddings)
        return key

    def model_config(self, vocab: Vocab) -> AWDLSTMConfig:
        """The architecture these options describe, for ``vocab``."""
        extra: dict[str, Any] = {}
        if self.decoder == "adaptive":
            cutoffs = fit_cutoffs(self.cutoffs, len(vocab))
            if not cutoffs:
                raise ValueError(f"--cutoffs {self.cutoffs} leave no tail cluster below the vocabulary size "
                                 f"({len(vocab)}); use smaller cutoffs or --decoder full")
            extra = {"decoder": "adaptive", "cutoffs": cutoffs,
                     "tail_widths": default_tail_widths(self.emb_size, len(cutoffs), self.div_value)}
        elif self.decoder != "full":
            raise ValueError(f"--decoder must be 'full' or 'adaptive', got {self.decoder!r}")
        return AWDLSTMConfig(vocab_size=len(vocab), emb_size=self.emb_size, hidden_size=self.hidden_size,
                             n_layers=self.layers, pad_idx=vocab.pad_idx, **extra)


def ppmi_cache_path(cache: TokenCache, vocab: Vocab, dim: int) -> Path:
    """Where :func:`corpus_ppmi_vectors` keeps the vectors of ``vocab`` at size ``dim``."""
    key = hashlib.sha256(vocab.to_json().encode()).hexdigest()[:16]
    return cache.directory / f"ppmi-{key}-d{dim}.npy"


def corpus_ppmi_vectors(cache: TokenCache, vocab: Vocab, dim: int, verbose: int = 1) -> np.ndarray:
    """PPMI + SVD word vectors of ``vocab`` from the tokenized corpus, cached in ``cache``'s folder.

    Computed once per vocabulary and size (:func:`skulmfit.word_vectors.ppmi_svd_vectors`, from the
    forward stream; the counts are symmetric, so a backward model shares them) and stored at
    :func:`ppmi_cache_path`, written atomically.
    """
    path = ppmi_cache_path(cache, vocab, dim)
    if path.exists():
        return np.load(path, allow_pickle=False)
    ids = cache.numericalize(vocab)
    bar = progress_bar(total=len(ids), verbose=verbose, desc="PPMI word vectors", unit="tok", unit_scale=True)
    vectors, _ = ppmi_svd_vectors(ids, len(vocab), dim, progress=bar.update)
    bar.close()
    with atomic_write(path) as f:
        np.save(f, vectors, allow_pickle=False)
    return vectors


def initialise_embeddings(model: LanguageModel, vocab: Vocab, source: str, cache: TokenCache,
                          verbose: int = 1) -> int:
    """Overwrite ``model``'s embedding rows with word vectors; returns how many rows were set.

    ``source`` is ``"ppmi"`` (vectors computed from the pretraining corpus itself, see
    :func:`corpus_ppmi_vectors`) or a path to vectors in word2vec / GloVe text format of size
    ``emb_size``. Special tokens keep their random rows. Under data-parallel training only rank 0
    calls this, before DistributedDataParallel broadcasts rank 0's weights.
    """
    emb = model.encoder.embedding.weight
    if source == "ppmi":
        words: list[str] = list(vocab.itos)
        vectors = corpus_ppmi_vectors(cache, vocab, emb.shape[1], verbose)
    else:
        if not Path(source).is_file():
            raise ValueError(f"--init-embeddings must be 'ppmi' or a word-vector text file; {source!r} is neither")
        words, vectors = read_text_vectors(source, words=vocab.itos)
    return apply_word_vectors(emb, vocab.itos, words, vectors, skip=range(len(SPECIAL_TOKENS)))


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def _log(msg: str, rank: int, verbose: int) -> None:
    if verbose and rank == 0:
        print(f"[skulmfit pretrain] {msg}", file=sys.stderr, flush=True)


def pretrain(opts: PretrainOptions) -> dict[str, Any]:
    """Run pretraining; returns the model card (also written as JSON beside the model)."""
    if opts.direction not in ("fwd", "bwd"):
        raise ValueError(f"--direction must be 'fwd' or 'bwd', got {opts.direction!r}")
    if opts.checkpoint_every is not None and opts.checkpoint_every <= 0:
        raise ValueError(f"--checkpoint-every must be > 0 minutes, got {opts.checkpoint_every}")
    rank, world, local_rank = _dist_info()
    if opts.portable_checkpoint and world > 1:
        raise ValueError("--portable-checkpoint is for single-process runs; under torchrun keep the full checkpoint")
    distributed = world > 1
    device = _pick_device(opts.device, distributed, local_rank)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if device.type == "cpu":
        tune_cpu_allocator()
    if distributed:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.manual_seed(opts.seed)
    wall0 = time.time()

    tokenizer = Tokenizer()
    cache_dir = opts.cache_dir or str(Path(opts.out).parent / ".skulmfit-cache")
    if opts.init_embeddings and opts.init:
        raise ValueError("--init-embeddings and --init both set the weights; use one of them")
    init_lm = load_lm(opts.init) if opts.init else None
    if rank == 0:
        cache = build_token_cache(opts.corpus, tokenizer, cache_dir, n_jobs=opts.jobs, doc_sep=opts.doc_sep,
                                  exclude_ids=opts.exclude_ids, verbose=opts.verbose)
        _log(f"corpus: {cache.meta['n_docs']} documents, {cache.n_tokens:,} tokens, "
             f"{cache.meta['n_types']:,} types (tokenized at {cache.meta['mb_per_s']:.2f} MB/s)", rank, opts.verbose)
    if distributed:
        torch.distributed.barrier()
        if rank != 0:
            cache = build_token_cache(opts.corpus, tokenizer, cache_dir, n_jobs=1, doc_sep=opts.doc_sep,
                                      exclude_ids=opts.exclude_ids, verbose=0)
    vocab = init_lm.vocab if init_lm is not None else cache.build_vocab(opts.max_vocab, opts.min_freq)
    if distributed:
        torch.distributed.barrier()  # rank 0 writes the numericalised stream first
        if rank == 0:
            ids = cache.numericalize(vocab, reverse=opts.direction == "bwd")
        torch.distributed.barrier()
    ids = cache.numericalize(vocab, reverse=opts.direction == "bwd")
    train_ids, valid_ids = split_stream(ids)

    if init_lm is not None:
        model = init_lm.model
    else:
        model = LanguageModel(opts.model_config(vocab))
    ckpt_path = opts.checkpoint_path()
    if opts.resume and not ckpt_path.exists() and opts.portable_path().exists():
        ckpt_path = opts.portable_path()  # a checkpoint that travelled: fresh optimizer, short warm-up
    resumed = opts.resume and ckpt_path.exists()
    if opts.init_embeddings and not resumed and rank == 0:  # before DDP, which broadcasts rank 0's weights
        n_set = initialise_embeddings(model, vocab, opts.init_embeddings, cache, opts.verbose)
        _log(f"embedding initialised from {opts.init_embeddings!r} vectors for {n_set:,} of {len(vocab):,} words",
             rank, opts.verbose)
    model.to(device)
    ddp_model = None
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        ddp_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    train_config = LMTrainConfig(
        batch_size=opts.batch_size, bptt=opts.bptt, epochs=opts.epochs, max_tokens=opts.max_tokens,
        lr=opts.lr, lr_decay=1.0, schedule=opts.schedule, drop_mult=opts.drop_mult,
        weight_decay=opts.weight_decay, clip=opts.clip, seed=opts.seed,
    )
    trainer = LMTrainer(model, train_ids, train_config, device, valid_ids=valid_ids,
                        verbose=opts.verbose if rank == 0 else 0,
                        rank=rank, world_size=world, ddp_model=ddp_model)
    if resumed:
        ckpt = safe_load(ckpt_path, what="checkpoint")
        _check_checkpoint(ckpt, opts, vocab, _corpus_sha256(cache))
        trainer.load_state_dict(ckpt["trainer"]["ranks"][str(rank)] | {"model": ckpt["trainer"]["model"]}
                                if "ranks" in ckpt["trainer"] else ckpt["trainer"])
        _log(f"resumed from {ckpt_path} at step {trainer.step} ({trainer.tokens_seen:,} tokens)", rank, opts.verbose)
    elif opts.resume:
        _log(f"--resume: no checkpoint at {ckpt_path}, starting from scratch", rank, opts.verbose)

    def checkpoint(t: LMTrainer) -> None:
        _write_checkpoint(t, opts, vocab, tokenizer, rank, world, _corpus_sha256(cache))

    _log(f"training {sum(p.numel() for p in model.parameters()):,} parameters on {device} "
         f"({world} process{'es' if world > 1 else ''}), {trainer.total_cols * opts.batch_size * world:,} "
         f"tokens planned", rank, opts.verbose)
    every = None if opts.checkpoint_every is None else opts.checkpoint_every * 60
    try:
        with _stop_on_signals(trainer, rank, opts.verbose):
            trainer.run(checkpoint=checkpoint, checkpoint_every=every)
    except KeyboardInterrupt:
        if trainer.stop_requested:
            _log(f"stopped after step {trainer.step} ({trainer.tokens_seen:,} tokens); checkpoint saved to "
                 f"{ckpt_path}; continue with the same command and --resume", rank, 1)
        raise
    card: dict[str, Any] = {}
    dist_info = _gather_rank_info(trainer, model, world)
    if rank == 0:
        valid = evaluate_lm(model, valid_ids, device, batch_size=16, bptt=opts.bptt)
        card = _model_card(opts, cache, vocab, model, trainer, valid, device, time.time() - wall0, world)
        if dist_info is not None:
            card["distributed"] = dist_info
        meta = {"card": card}
        save_lm(PretrainedLM(model, vocab, tokenizer, opts.direction, meta), opts.out, half=opts.half)
        opts.card_path().write_text(json.dumps(card, indent=2), encoding="utf-8")
        _log(f"wrote {opts.out} (validation perplexity {valid['perplexity']:.2f})", rank, opts.verbose)
    if distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return card


@contextlib.contextmanager
def _stop_on_signals(trainer: LMTrainer, rank: int, verbose: int) -> Iterator[None]:
    """While training, SIGINT / SIGTERM ask the trainer to checkpoint and stop after its current
    step; a second SIGINT aborts at once. Only the main thread can install handlers: elsewhere
    (or where signals are unavailable) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum: int, frame: Any) -> None:
        if trainer.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.stop_requested = True
        _log("stop requested: saving a checkpoint after this step (Ctrl-C again to abort now)", rank, verbose)

    for s in signals:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _gather_rank_info(trainer: LMTrainer, model: LanguageModel, world: int) -> dict[str, Any] | None:
    """Under DDP: each rank's token range and a hash of its final weights (for the model card)."""
    if world == 1:
        return None
    import torch.distributed as dist

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    mine = {"token_range": list(trainer.stream.token_range), "weights_sha256": h.hexdigest(),
            "steps": trainer.step, "backend": dist.get_backend()}
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, mine)
    return {"world_size": world, "ranks": gathered}


def _pick_device(name: str, distributed: bool, local_rank: int) -> torch.device:
    device = resolve_device(name)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    return device


def _corpus_sha256(cache: TokenCache) -> list[str]:
    """The corpus files' sha256, in order: what a resumed run must read (wherever the files are)."""
    return [f["sha256"] for f in cache.meta["files"]]


def _write_checkpoint(trainer: LMTrainer, opts: PretrainOptions, vocab: Vocab, tokenizer: Tokenizer,
                      rank: int, world: int, corpus_sha256: list[str]) -> None:
    """Atomically write the resumable state; under DDP rank 0 gathers every rank's position.

    With ``opts.portable_checkpoint`` a second, half-precision file without optimizer state is
    written beside it (:meth:`PretrainOptions.portable_path`), to carry a run between machines.
    """
    state = trainer.state_dict()
    if world > 1:
        import torch.distributed as dist

        per_rank = {k: v for k, v in state.items() if k != "model"}
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, _plain(per_rank))
        if rank != 0:
            return
        state = {"model": state["model"], "ranks": {str(r): g for r, g in enumerate(gathered)}}
    header = {
        "format": CHECKPOINT_FORMAT,
        "format_version": 1,
        "skulmfit_version": __version__,
        "options": opts.training_key(),
        "corpus_sha256": corpus_sha256,
        "world_size": world,
        "vocab": list(vocab.itos),
        "config": trainer.model.config.to_dict(),
        "tokenizer": tokenizer.get_config(),
        "direction": opts.direction,
    }
    atomic_save({**header, "trainer": state}, opts.checkpoint_path())
    if opts.portable_checkpoint:
        atomic_save({**header, "trainer": trainer.state_dict(portable=True)}, opts.portable_path())


def _plain(obj: Any) -> Any:
    """Tensors to CPU (all_gather_object pickles; the result is saved as plain data)."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def _check_checkpoint(ckpt: Any, opts: PretrainOptions, vocab: Vocab, corpus_sha256: list[str]) -> None:
    """Refuse to resume a checkpoint written with other options or another corpus.

    The corpus is compared by the files' contents (sha256, in order) when the checkpoint records
    them, so a moved or copied corpus resumes; older checkpoints are compared by path."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{opts.checkpoint_path()} is not a skulmfit pretraining checkpoint")
    theirs, ours = ckpt["options"], opts.training_key()
    by_content = "corpus_sha256" in ckpt
    diff = {k: (theirs.get(k), ours[k]) for k in ours
            if theirs.get(k) != ours[k] and not (by_content and k == "corpus")}
    if by_content and list(ckpt["corpus_sha256"]) != list(corpus_sha256):
        diff["corpus (sha256 of the files)"] = (ckpt["corpus_sha256"], corpus_sha256)
    if diff:
        raise ValueError(
            "--resume: the checkpoint was written with other options; rerun with the same options or "
            f"without --resume. Differences (checkpoint, now): {diff}"
        )
    if ckpt["vocab"] != vocab.itos:
        raise ValueError("--resume: the corpus now gives another vocabulary than the checkpoint's")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if int(ckpt.get("world_size", 1)) != world:
        raise ValueError(f"--resume: the checkpoint was written by {ckpt.get('world_size')} processes, "
                         f"this run has {world}")


def _model_card(opts: PretrainOptions, cache: TokenCache, vocab: Vocab, model: LanguageModel, trainer: LMTrainer,
                valid: dict[str, float], device: torch.device, wall: float, world: int) -> dict[str, Any]:
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "skulmfit_version": __version__,
        "direction": opts.direction,
        "config": model.config.to_dict(),
        "parameters": n_params,
        "vocab_size": len(vocab),
        "corpus": {
            "files": cache.meta["files"],
            "excluded_ids": cache.meta["exclude_ids"],
            "documents": cache.meta["n_docs"],
            "tokens": cache.n_tokens,
            "train_tokens_per_epoch": trainer.stream.n_tokens * world,
            "validation_tokens": int(cache.n_tokens - trainer.stream.n_tokens * world),
        },
        "training": {
            **trainer.config.__dict__,
            "tokens_seen": trainer.tokens_seen,
            "steps": trainer.step,
            "epochs_completed": trainer.tokens_seen / max(trainer.stream.n_tokens * world, 1),
            "train_seconds": trainer.train_seconds,
            "tokens_per_second": trainer.tokens_seen / max(trainer.train_seconds, 1e-9),
            "processes": world,
            "history": trainer.history,
        },
        "validation": {"perplexity": valid["perplexity"], "loss": valid["loss"], "tokens": valid["tokens"],
                       "what": "held-out tail of the pretraining stream, skulmfit tokenization"},
        "hardware": {**describe_hardware(device), "device": str(device)},
        "init_embeddings": opts.init_embeddings,
        "wall_seconds": wall,
        "host": platform.node(),
        "command": opts.command or " ".join(shlex.quote(a) for a in sys.argv),
    }


def export_checkpoint(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str],
                      half: bool = False) -> dict[str, Any]:
    """Write a model file (and JSON card) from a pretraining checkpoint, e.g. of a run still going.

    The card records how far training had got (tokens seen, steps, share of the planned run) and
    the options of the run, so the model can be reproduced by resuming the same command.
    """
    ckpt = safe_load(checkpoint, what="checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{checkpoint} is not a skulmfit pretraining checkpoint")
    config = AWDLSTMConfig.from_dict(ckpt["config"])
    model = LanguageModel(config)
    model.load_state_dict(ckpt["trainer"]["model"])
    trainer = ckpt["trainer"] if "ranks" not in ckpt["trainer"] else ckpt["trainer"]["ranks"]["0"]
    opts = ckpt["options"]
    card = {
        "skulmfit_version": __version__,
        "direction": ckpt["direction"],
        "config": config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(ckpt["vocab"]),
        "status": "exported from a pretraining checkpoint",
        "checkpoint": str(checkpoint),
        "pretrain_options": opts,
        "training": {
            "tokens_seen": int(trainer["tokens_seen"]),
            "steps": int(trainer["step"]),
            "train_seconds": float(trainer["train_seconds"]),
            "tokens_per_second": float(trainer["tokens_seen"]) / max(float(trainer["train_seconds"]), 1e-9),
            "history": trainer["history"],
            "processes": int(ckpt.get("world_size", 1)),
        },
        "hardware": describe_hardware(),
    }
    lm = PretrainedLM(model, Vocab(ckpt["vocab"]), Tokenizer.from_config(ckpt["tokenizer"]), ckpt["direction"],
                      {"card": card})
    save_lm(lm, out, half=half)
    Path(out).with_suffix(".json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return card
