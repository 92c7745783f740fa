"""Training precision: float32, or mixed precision by autocast (bfloat16 or float16).

Mixed precision applies to training (LM fine-tuning, pretraining, classifier fine-tuning) and,
with ``'bf16'`` only, to the classifier's prediction and the encoder's features
(:func:`inference_dtype`): the encoder runs under a bfloat16 autocast, the pooled features stay
float32 and the classifier head float64, and a document's result does not depend on the batch it
lands in. Every other setting predicts in float32; language-model evaluation (perplexity,
``score``) is always float32.

* ``'fp32'``: float32 everywhere.
* ``'bf16'``: ``torch.autocast`` with bfloat16, on CUDA or on a CPU with native bfloat16
  support (AVX-512 BF16 or AMX; elsewhere it works but is slower than float32, and a warning
  says so). On a CPU the LM's chunked decoder loss then runs its matrix products in bfloat16
  (:func:`skulmfit.losses.linear_cross_entropy`). No loss scaling is needed.
* ``'fp16'``: autocast with float16 and a gradient scaler (``torch.amp.GradScaler``); CUDA only.
* ``'auto'``: what skulmfit did before the option existed: bfloat16 for language-model
  training on CUDA, float32 for the classifier and on every other device.
"""
from __future__ import annotations

import warnings
from contextlib import AbstractContextManager

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
STAGES = ("lm", "clf")


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively on this CPU (AVX-512 BF16 / AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device | str, stage: str = "lm") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` in training ``stage``, or None for float32.

    Parameters
    ----------
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
    device : torch.device or str
    stage : {'lm', 'clf'}
        ``'auto'`` means bfloat16 for ``'lm'`` on CUDA and float32 otherwise.

    Raises
    ------
    ValueError
        Unknown precision or stage, ``'fp16'`` off CUDA, ``'bf16'`` on a GPU or device without
        bfloat16 support.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    kind = torch.device(device).type
    if precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if kind == "cuda" and stage == "lm" else None
    if precision == "fp16":
        if kind != "cuda":
            raise ValueError(f"precision='fp16' needs a CUDA device (got device {kind!r}); use 'bf16' or 'fp32'")
        return torch.float16
    # bf16
    if kind == "cuda":
        if not torch.cuda.is_bf16_supported():
            raise ValueError("precision='bf16': this GPU does not support bfloat16; use 'fp16' or 'fp32'")
        return torch.bfloat16
    if kind == "cpu":
        if not cpu_has_native_bf16():
            warnings.warn("precision='bf16': this CPU has no native bfloat16 support (AVX-512 BF16 or AMX); "
                          "training will be slower than with 'fp32'", UserWarning, stacklevel=2)
        return torch.bfloat16
    raise ValueError(f"precision='bf16' is supported on CUDA and CPU, not on device {kind!r}")


def inference_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for classifier prediction and encoder features: bfloat16 for ``'bf16'``,
    None (float32) for every other precision.

    ``'fp16'`` and ``'auto'`` train in reduced precision on CUDA but predict in float32: a float16
    LSTM state can overflow on long documents, and ``'auto'`` keeps what skulmfit always did.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "bf16":
        return None
    with warnings.catch_warnings():  # the warning about a CPU without native bf16 was given at fit time
        warnings.simplefilter("ignore", UserWarning)
        return resolve_precision("bf16", device, "clf")


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> AbstractContextManager:
    """``torch.autocast`` for ``dtype`` on ``device`` (disabled when ``dtype`` is None)."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def grad_scaler(device: torch.device | str, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A gradient scaler for float16 training on CUDA; None for every other setting."""
    if dtype == torch.float16 and torch.device(device).type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype of an enclosing autocast on ``device_type``, or None outside autocast."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


__all__ = ["PRECISIONS", "autocast", "autocast_dtype", "cpu_has_native_bf16", "grad_scaler", "inference_dtype",
           "resolve_precision"]
