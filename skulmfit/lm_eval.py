"""Language-model evaluation on text files (``skulmfit evaluate-lm``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .corpus import iter_documents, numericalize_docs
from .devices import resolve_device
from .lm_training import evaluate_lm
from .modelfile import load_lm


def evaluate_lm_file(model_path: str | os.PathLike[str], text_path: str | os.PathLike[str], doc_sep: str = "line",
                     batch_size: int = 16, bptt: int = 70, device: str = "auto", verbose: int = 0) -> dict[str, Any]:
    """Perplexity of a model file on a text file, tokenized with the model's own tokenizer.

    Returns a dict with ``perplexity``, ``loss`` (mean nats per token), ``tokens`` (predicted
    tokens), ``oov_rate`` (share of tokens mapped to ``xxunk``), ``direction`` and the paths.
    """
    lm = load_lm(model_path)
    dev = resolve_device(device)
    docs = [lm.tokenizer.tokenize(d) for d in iter_documents(text_path, doc_sep)]
    ids = numericalize_docs(docs, lm.vocab)
    if len(ids) < 3:
        raise ValueError(f"{text_path} holds too little text to evaluate ({len(ids)} tokens)")
    if lm.direction == "bwd":
        ids = np.ascontiguousarray(ids[::-1])
    lm.model.to(dev)
    result = evaluate_lm(lm.model, ids, dev, batch_size=batch_size, bptt=bptt, verbose=verbose)
    result.update(oov_rate=float(np.mean(ids == lm.vocab.unk_idx)), direction=lm.direction,
                  model=str(model_path), file=str(text_path), vocab_size=len(lm.vocab))
    return result
