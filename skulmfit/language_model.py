"""``ULMFiTLanguageModel``: target-task LM fine-tuning as a scikit-learn estimator."""

from __future__ import annotations

import math
import os
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory

from ._validation import check_texts
from ._version import __version__
from .corpus import numericalize_docs
from .devices import resolve_device
from .finetune import LMSettings, finetune_lm, result_to_lm
from .lm_training import evaluate_lm
from .modelfile import PretrainedLM, load_lm
from .precision import PRECISIONS, resolve_precision
from .pretrained import file_identity, named_models, resolve_pretrained
from .schedules import SCHEDULES
from .tokenizer import Tokenizer

LM_PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "pretrained": [str, os.PathLike, None],
    "lm_epochs": [Interval(Integral, 0, None, closed="left")],
    "lm_lr": [Interval(Real, 0, None, closed="neither")],
    "lm_lr_decay": [Interval(Real, 0, None, closed="neither")],
    "lm_schedule": [StrOptions(set(SCHEDULES))],
    "lm_drop_mult": [Interval(Real, 0, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "bptt": [Interval(Integral, 1, None, closed="left")],
    "cut_frac": [Interval(Real, 0, 1, closed="neither")],
    "ratio": [Interval(Real, 0, None, closed="neither")],
    "max_vocab": [Interval(Integral, 20, None, closed="left")],
    "min_freq": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "memory": [None, str, os.PathLike, HasMethods(["cache"])],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "precision": [StrOptions(set(PRECISIONS))],
}


def lm_settings(est: Any) -> LMSettings:
    """The LM fine-tuning settings of an estimator (classifier, encoder or LM)."""
    return LMSettings(
        epochs=est.lm_epochs, lr=est.lm_lr, lr_decay=est.lm_lr_decay, schedule=est.lm_schedule,
        cut_frac=est.cut_frac, ratio=est.ratio, batch_size=est.batch_size, bptt=est.bptt,
        drop_mult=est.lm_drop_mult, max_vocab=est.max_vocab, min_freq=est.min_freq,
        precision=getattr(est, "precision", "auto"),
    )


def check_device(device: Any) -> torch.device:
    """Validate the ``device`` parameter (``ValueError`` naming it when unusable)."""
    try:
        return resolve_device(device)
    except ValueError as e:
        raise ValueError(f"invalid 'device' parameter: {e}") from None


def check_precision(precision: Any, device: torch.device) -> None:
    """Validate the ``precision`` parameter for ``device`` (``ValueError`` naming it when unusable)."""
    try:
        for stage in ("lm", "clf"):
            resolve_precision(precision, device, stage)
    except ValueError as e:
        raise ValueError(f"invalid 'precision' parameter: {e}") from None


def fit_language_models(est: Any, texts: list[str], directions: tuple[str, ...], seed: int,
                        device: torch.device,
                        ) -> tuple[dict[str, PretrainedLM], list[dict[str, Any]], Tokenizer, list[list[str]]]:
    """Tokenize ``texts`` once and fine-tune one LM per direction (through ``est.memory``).

    Returns ``(lms, history, tokenizer, docs)``.
    """
    memory = check_memory(os.fspath(est.memory) if isinstance(est.memory, os.PathLike) else est.memory)
    settings = lm_settings(est)
    paths = {d: _pretrained_path(est, d) for d in directions}
    tokenizer = _tokenizer_for(paths)
    docs = [tokenizer.tokenize(t) for t in texts]
    cached = memory.cache(finetune_lm, ignore=["device", "verbose", "pretrained_path", "scratch_reference"])
    lms: dict[str, PretrainedLM] = {}
    history: list[dict[str, Any]] = []
    for i, d in enumerate(directions):
        path = paths[d]
        reference = None
        if path is None:
            try:
                reference = resolve_pretrained("default", "fwd")
            except ValueError:
                reference = None
        result = cached(
            docs, None if path is None else str(path),
            file_identity(path) if path is not None
            else f"scratch:{file_identity(reference) if reference else 'paper'}",
            d, settings, seed + i, None if reference is None else str(reference), str(device), est.verbose,
        )
        lms[d] = result_to_lm(result)
        history += result["history"]
    return lms, history, tokenizer, docs


def _pretrained_path(est: Any, direction: str):
    spec = est.pretrained
    if direction == "bwd" and getattr(est, "pretrained_bwd", None) is not None:
        spec = est.pretrained_bwd
    elif (direction == "bwd" and hasattr(est, "pretrained_bwd") and spec is not None
          and not (isinstance(spec, str) and spec in named_models())):
        # the classifier's bidirectional=True: ``pretrained`` is the forward file. (For the LM and the
        # encoder, direction='bwd' makes ``pretrained`` itself the backward file.)
        raise ValueError(
            "bidirectional=True with a pretrained model file needs its backward model too: pass pretrained_bwd=PATH "
            "(for fastai's WikiText-103 archives: pretrained='wt103-fwd.tgz', pretrained_bwd='wt103-bwd.tgz', or "
            "simply pretrained='wt103')"
        )
    try:
        return resolve_pretrained(spec, direction)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"invalid 'pretrained' parameter: {e}") from None


def _tokenizer_for(paths: dict[str, Any]) -> Tokenizer:
    """The pretrained models' tokenizer; checks that each file is a model of the direction it is used for."""
    tokenizer = None
    for direction, p in paths.items():
        if p is not None:
            lm = load_lm(p)
            if lm.direction != direction:
                raise ValueError(f"the pretrained model file {p} is a {lm.direction} language model, but a "
                                 f"{direction} model is needed here (see the 'pretrained' / 'pretrained_bwd' "
                                 "parameters)")
            tokenizer = tokenizer or lm.tokenizer
    return tokenizer or Tokenizer()


def derive_seed(random_state: Any) -> int:
    """An int seed from ``random_state`` (None -> fresh entropy, as in scikit-learn)."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class VersionedStateMixin:
    """Pickle support: stamp the skulmfit version, warn on mismatch; tensors stay on CPU."""

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # type: ignore[misc]
        state = {k: v for k, v in state.items() if not k.startswith("_device_cache")}
        state["_skulmfit_version"] = __version__
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = state.pop("_skulmfit_version", None)
        if version is not None and version != __version__:
            warnings.warn(
                f"This {type(self).__name__} was pickled with skulmfit {version} and is loaded with skulmfit "
                f"{__version__}; it may not work. Refit it with this version.",
                UserWarning, stacklevel=2,
            )
        super().__setstate__(state)  # type: ignore[misc]


class ULMFiTLanguageModel(VersionedStateMixin, BaseEstimator):
    """Fine-tune a pretrained AWD-LSTM language model on your texts (ULMFiT stage 2).

    ``fit`` builds the task vocabulary (up to ``max_vocab`` tokens seen at least ``min_freq``
    times), moves the pretrained embeddings onto it (new words start at the mean embedding),
    and trains the LM on the texts with discriminative learning rates and slanted triangular
    learning rates.

    Parameters
    ----------
    pretrained : str, path or None, default='default'
        ``'default'`` (the English model shipped in the package; ``'small'`` is its smaller, faster
        predecessor); ``'wt103'`` (fastai's WikiText-103
        AWD-LSTM, the paper's model: downloaded and converted once into :func:`skulmfit.get_data_home`,
        see docs/pretrained.md); a path to a skulmfit model file (``.pt``); a path to a fastai model
        (``wt103-fwd.tgz``, its extracted folder, or a ``.pth`` with its ``.pkl`` beside it: converted
        once, then loaded offline); or ``None`` for random initialisation. With ``direction='bwd'``
        a path must be a backward model.
    direction : {'fwd', 'bwd'}, default='fwd'
        Forward or backward (reversed-token) language model.
    lm_epochs : int, default=2
        Fine-tuning epochs over the texts (0: no fine-tuning).
    lm_lr : float, default=0.004
        Peak learning rate of the top layer group.
    lm_lr_decay : float, default=2.6
        Each lower layer group gets the rate of the group above divided by this (1: no discr).
    lm_schedule : {'stlr', 'one_cycle', 'cosine', 'constant'}, default='stlr'
    lm_drop_mult : float, default=0.3
        Multiplies the five AWD-LSTM dropouts (the paper's classifier values; 0.3 is close to the
        lighter dropouts of the paper's LM fine-tuning scripts).
    batch_size : int, default=64
    bptt : int, default=70
    cut_frac : float, default=0.1
        STLR: fraction of steps spent increasing the rate.
    ratio : float, default=32
        STLR: ratio of the peak to the lowest rate.
    max_vocab : int, default=60000
    min_freq : int, default=2
    device : str, default='auto'
    memory : str, path, joblib.Memory or None, default=None
        Cache of fine-tuned models (see :class:`ULMFiTClassifier`).
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
    precision : {'auto', 'fp32', 'bf16', 'fp16'}, default='auto'
        Training precision; evaluation and prediction always run in float32. ``'bf16'``: bfloat16
        autocast, on CUDA or on a CPU with AVX-512 BF16 / AMX (there LM fine-tuning's decoder
        products and LSTMs run in bfloat16; see docs/benchmarks.md for the speed and the
        perplexity check). ``'fp16'``: float16 autocast with gradient scaling, CUDA only.
        ``'auto'``: bfloat16 for LM fine-tuning on CUDA, float32 otherwise (the behaviour
        before this option). See :mod:`skulmfit.precision`.

    Attributes
    ----------
    vocab_ : Vocab
    model_ : LanguageModel (on CPU, eval mode)
    tokenizer_ : Tokenizer
    history_ : list of dict
    n_iter_ : int
        Optimisation steps run.

    Examples
    --------
    >>> lm = ULMFiTLanguageModel(lm_epochs=1).fit(texts)  # doctest: +SKIP
    >>> lm.perplexity(["a new text"])  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        **LM_PARAMETER_CONSTRAINTS,
        "direction": [StrOptions({"fwd", "bwd"})],
    }

    def __init__(self, pretrained: Any = "default", direction: str = "fwd", lm_epochs: int = 2, lm_lr: float = 0.004,
                 lm_lr_decay: float = 2.6, lm_schedule: str = "stlr", lm_drop_mult: float = 0.3, batch_size: int = 64,
                 bptt: int = 70, cut_frac: float = 0.1, ratio: float = 32.0, max_vocab: int = 60_000, min_freq: int = 2,
                 device: str = "auto", memory: Any = None, random_state: Any = None, verbose: int = 0,
                 precision: str = "auto") -> None:
        self.pretrained = pretrained
        self.direction = direction
        self.lm_epochs = lm_epochs
        self.lm_lr = lm_lr
        self.lm_lr_decay = lm_lr_decay
        self.lm_schedule = lm_schedule
        self.lm_drop_mult = lm_drop_mult
        self.batch_size = batch_size
        self.bptt = bptt
        self.cut_frac = cut_frac
        self.ratio = ratio
        self.max_vocab = max_vocab
        self.min_freq = min_freq
        self.device = device
        self.memory = memory
        self.random_state = random_state
        self.verbose = verbose
        self.precision = precision

    def __sklearn_tags__(self):  # noqa: ANN204
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    def fit(self, X: Any, y: Any = None) -> ULMFiTLanguageModel:
        """Fine-tune the language model on the documents ``X`` (``y`` is ignored)."""
        self._validate_params()
        texts = check_texts(X)
        device = check_device(self.device)
        check_precision(self.precision, device)
        lms, history, tokenizer, _ = fit_language_models(self, texts, (self.direction,), derive_seed(self.random_state),
                                                         device)
        lm = lms[self.direction]
        fitted = {"model_": lm.model, "vocab_": lm.vocab, "tokenizer_": tokenizer, "history_": history,
                  "n_iter_": sum(r.get("step", 0) for r in history[-1:]), "direction_": self.direction}
        for k, v in fitted.items():
            setattr(self, k, v)
        return self

    def _ids(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        docs = [self.tokenizer_.tokenize(t) for t in check_texts(X)]
        if self.direction_ == "bwd":
            docs = [d[::-1] for d in docs]
        return numericalize_docs(docs, self.vocab_)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per predicted token (nats; higher is better).

        The documents are read as one stream, in up to 16 parallel rows of at least ``2 * bptt``
        tokens each, the state carried along each row: short texts are read in one row, so every
        token is predicted from all the text before it.
        """
        ids = self._ids(X)
        if len(ids) < 3:  # the stream needs two predicted positions
            raise ValueError("X holds too little text to score: at least two tokens after the start-of-text "
                             "marker are needed")
        device = check_device(self.device)
        model = self.model_.to(device)
        rows = min(16, max(1, (len(ids) - 1) // (2 * self.bptt)))  # rows of 2 tokens lost the context
        try:
            result = evaluate_lm(model, ids, device, batch_size=rows, bptt=self.bptt)
        finally:
            self.model_.cpu()
        return -result["loss"]

    def perplexity(self, X: Any) -> float:
        """Perplexity on the documents ``X`` (``exp(-score(X))``)."""
        return float(math.exp(-self.score(X)))

    @torch.no_grad()
    def generate(self, prompt: str, n_words: int = 20, temperature: float = 1.0, random_state: Any = None) -> str:
        """Continue ``prompt`` with ``n_words`` sampled tokens and return the decoded text."""
        check_is_fitted(self, "model_")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if self.direction_ != "fwd":
            raise ValueError("generate needs a forward language model (direction='fwd')")
        if not isinstance(n_words, Integral) or n_words < 0:
            raise ValueError(f"n_words must be a non-negative integer, got {n_words!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        rng = check_random_state(random_state)
        tokens = self.tokenizer_.tokenize(prompt)
        ids = torch.as_tensor(self.vocab_.numericalize(tokens), dtype=torch.long)[None]
        model = self.model_.eval()
        logits, _, _, state = model(ids)
        out = list(tokens)
        banned = [self.vocab_.unk_idx, self.vocab_.pad_idx]
        for _ in range(n_words):
            last = logits[0, -1].double() / temperature
            last[banned] = -math.inf
            probs = torch.softmax(last, 0).numpy()
            nxt = int(rng.choice(len(probs), p=probs / probs.sum()))
            out.append(self.vocab_.itos[nxt])
            logits, _, _, state = model(torch.tensor([[nxt]]), state)
        return self.tokenizer_.decode(out)
