"""Load models written by ``skulmfit export --format fastai`` WITH fastai and record its log-probabilities.

Runs ONLY inside the fastai side environment (torch, fastai, pandas; never skulmfit), called by
tests/test_fastai_export.py. For each job of the JSON spec file it builds a language-model
``DataLoaders`` whose vocabulary is the exported ``itos.pkl`` (so fastai's ``match_embeds`` maps
every word to itself), then ``language_model_learner(dls, AWD_LSTM, config=...,
pretrained_fnames=[weights, vocab])`` (fastai's own loading path), and writes the eval-mode
next-token log-probabilities of the job's token ids (hidden state reset first) to ``out``.

Spec (JSON): ``{"jobs": [{"weights": "DIR/lstm_fwd", "vocab": "DIR/itos", "config": {"emb_sz": ..,
"n_hid": .., "n_layers": ..}, "ids": [[...], ...], "out": "PATH.pt"}, ...]}``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import torch
import torch.nn.functional as F
from fastai.text.all import (
    AWD_LSTM,
    ColReader,
    DataBlock,
    RandomSplitter,
    TextBlock,
    awd_lstm_lm_config,
    language_model_learner,
)
from fastcore.xtras import load_pickle


def run_job(job: dict) -> None:
    itos = load_pickle(job["vocab"] + ".pkl")
    words = [w for w in itos if not w.startswith("xx")][:20] or ["word"]
    df = pd.DataFrame({"text": [" ".join(words[i:] + words[:i]) for i in range(8)]})
    block = TextBlock.from_df("text", vocab=itos, is_lm=True, seq_len=8, n_workers=1)
    dls = DataBlock(blocks=block, get_x=ColReader("text"), splitter=RandomSplitter(0.25, seed=0)) \
        .dataloaders(df, bs=2, seq_len=8, num_workers=0)
    assert list(dls.vocab) == list(itos)
    config = {**awd_lstm_lm_config, **job["config"]}
    learn = language_model_learner(dls, AWD_LSTM, config=config, pretrained=True,
                                   pretrained_fnames=[job["weights"], job["vocab"]])
    model = learn.model.eval()
    model.reset()
    with torch.no_grad():
        logits = model(torch.tensor(job["ids"]))[0]
    torch.save({"logprobs": F.log_softmax(logits.float(), dim=-1), "fastai_version": __import__("fastai").__version__},
               job["out"])
    print(json.dumps({"out": job["out"], "shape": list(logits.shape)}))


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    for job in spec["jobs"]:
        run_job(job)


if __name__ == "__main__":
    main()
