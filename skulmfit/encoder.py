"""``ULMFiTEncoder``: texts -> concat-pooled document vectors from a fine-tuned ULMFiT LM."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._validation import check_texts
from .clf_training import batched_apply
from .language_model import (
    LM_PARAMETER_CONSTRAINTS,
    VersionedStateMixin,
    check_device,
    check_precision,
    derive_seed,
    fit_language_models,
)
from .model import concat_pool
from .precision import inference_dtype


class ULMFiTEncoder(VersionedStateMixin, TransformerMixin, BaseEstimator):
    """Fine-tune a ULMFiT language model on the texts, then turn each text into a vector.

    The vector is the paper's concat pooling of the last LSTM layer's outputs:
    ``[last state, max over time, mean over time]`` (``3 * emb_size`` features), computed with
    BPT3C over the last ``max_len`` tokens. Use it to feed any scikit-learn estimator.

    Parameters
    ----------
    pretrained, direction, lm_epochs, lm_lr, lm_lr_decay, lm_schedule, lm_drop_mult, batch_size, bptt, \
cut_frac, ratio, max_vocab, min_freq, device, memory, random_state, verbose, precision
        As in :class:`ULMFiTLanguageModel`. ``precision='bf16'`` also computes the features with
        the encoder in bfloat16 (float32 output; a document's features do not depend on its
        batch); every other setting computes them in float32.
    max_len : int, default=1400
        Pool over each document's last ``max_len`` tokens.

    Attributes
    ----------
    model_ : LanguageModel
    vocab_ : Vocab
    tokenizer_ : Tokenizer
    history_ : list of dict
    n_features_out_ : int
    direction_ : {'fwd', 'bwd'}
        Direction of the fitted model.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = make_pipeline(ULMFiTEncoder(), LogisticRegression())  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        **LM_PARAMETER_CONSTRAINTS,
        "direction": [StrOptions({"fwd", "bwd"})],
        "max_len": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, pretrained: Any = "default", direction: str = "fwd", lm_epochs: int = 2, lm_lr: float = 0.004,
                 lm_lr_decay: float = 2.6, lm_schedule: str = "stlr", lm_drop_mult: float = 0.3, batch_size: int = 64,
                 bptt: int = 70, cut_frac: float = 0.1, ratio: float = 32.0, max_vocab: int = 60_000, min_freq: int = 2,
                 max_len: int = 1400, device: str = "auto", memory: Any = None, random_state: Any = None,
                 verbose: int = 0, precision: str = "auto") -> None:
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
        self.max_len = max_len
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
        return tags

    def fit(self, X: Any, y: Any = None) -> ULMFiTEncoder:
        """Fine-tune the language model on ``X`` (``y`` is ignored)."""
        self._validate_params()
        texts = check_texts(X)
        device = check_device(self.device)
        check_precision(self.precision, device)
        lms, history, tokenizer, _ = fit_language_models(self, texts, (self.direction,), derive_seed(self.random_state),
                                                         device)
        lm = lms[self.direction]
        fitted = {"model_": lm.model, "vocab_": lm.vocab, "tokenizer_": tokenizer, "history_": history,
                  "n_features_out_": 3 * lm.model.config.emb_size, "direction_": self.direction}
        for k, v in fitted.items():
            setattr(self, k, v)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Concat-pooled vectors, shape ``(n_documents, 3 * emb_size)``, float32, in input order."""
        check_is_fitted(self, "model_")
        texts = check_texts(X)
        docs = [self.vocab_.numericalize(self.tokenizer_.tokenize(t)) for t in texts]
        if self.direction_ == "bwd":  # the fitted model's direction, whatever the parameter says now
            docs = [d[::-1].copy() for d in docs]
        device = check_device(self.device)
        encoder = self.model_.encoder.to(device).eval()
        try:
            with torch.no_grad():
                return batched_apply(lambda ids, lens: concat_pool(encoder, ids, lens, self.bptt, self.max_len), docs,
                                     self.vocab_.pad_idx, device, self.batch_size, self.verbose, desc="encode",
                                     dtype=inference_dtype(getattr(self, "precision", "auto"), device))
        finally:
            self.model_.cpu()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``ulmfit_last0..``, ``ulmfit_max0..``, ``ulmfit_mean0..``."""
        check_is_fitted(self, "n_features_out_")
        k = self.n_features_out_ // 3
        return np.asarray([f"ulmfit_{kind}{i}" for kind in ("last", "max", "mean") for i in range(k)], dtype=object)
