"""The way back: ``skulmfit export --format fastai`` files load in fastai and give the same numbers.

Needs the fastai side environment (benchmarks/fastai_bridge.py says how to make it; found as
``$SKULMFIT_FASTAI_PYTHON`` or /work/fastai-venv/bin/python). fastai runs in a subprocess
(benchmarks/_fastai_load_exported.py) through its own ``language_model_learner(...,
pretrained_fnames=...)``; the test skips, saying why, where that environment is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from skulmfit.cli import main
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.modelfile import PretrainedLM, save_lm
from skulmfit.tokenizer import SPECIAL_TOKENS, Tokenizer
from skulmfit.vocab import Vocab

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
try:
    from fastai_bridge import _child_env, find_fastai_python
finally:
    sys.path.pop(0)

FASTAI_PYTHON = find_fastai_python()
pytestmark = pytest.mark.skipif(
    FASTAI_PYTHON is None or not os.path.exists(FASTAI_PYTHON),
    reason="fastai's side environment is absent (set SKULMFIT_FASTAI_PYTHON or create /work/fastai-venv as "
           "benchmarks/fastai_bridge.py describes)",
)


def _model(direction: str, seed: int) -> PretrainedLM:
    torch.manual_seed(seed)
    vocab = Vocab(list(SPECIAL_TOKENS) + [f"word{i}" for i in range(40)])
    model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=10, hidden_size=14, n_layers=3))
    with torch.no_grad():
        model.decoder.bias.normal_(0, 0.5)
    return PretrainedLM(model.eval(), vocab, Tokenizer(), direction)


def test_exported_files_load_in_fastai_with_the_same_log_probabilities(tmp_path, capsys):
    ids = torch.randint(0, 49, (2, 11), generator=torch.Generator().manual_seed(0))
    jobs, ours = [], {}
    for i, direction in enumerate(("fwd", "bwd")):
        lm = _model(direction, i)
        save_lm(lm, tmp_path / f"{direction}.pt")
        assert main(["export", str(tmp_path / f"{direction}.pt"), "--format", "fastai",
                     "--out", str(tmp_path / direction)]) == 0
        summary = json.loads(capsys.readouterr().out)
        cfg = {k: summary["fastai_config"][k] for k in ("emb_sz", "n_hid", "n_layers")}
        jobs.append({"weights": summary["pretrained_fnames"][0], "vocab": summary["pretrained_fnames"][1],
                     "config": cfg, "ids": ids.tolist(), "out": str(tmp_path / f"fastai_{direction}.pt")})
        with torch.no_grad():
            ours[direction] = F.log_softmax(lm.model(ids)[0], -1)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
    res = subprocess.run([FASTAI_PYTHON, str(BENCH / "_fastai_load_exported.py"), str(spec)],
                         capture_output=True, text=True, timeout=300, env=_child_env({"OMP_NUM_THREADS": "1"}),
                         check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    for direction in ("fwd", "bwd"):
        theirs = torch.load(tmp_path / f"fastai_{direction}.pt", weights_only=True)
        diff = (theirs["logprobs"] - ours[direction]).abs().max().item()
        print(f"{direction}: max |log p_fastai - log p_skulmfit| = {diff:.3g} (fastai {theirs['fastai_version']})")
        assert diff <= 1e-5


def test_an_adaptive_model_is_refused_with_a_clear_error(tmp_path):
    from skulmfit.fastai_convert import export_fastai

    vocab = Vocab(list(SPECIAL_TOKENS) + [f"w{i}" for i in range(40)])
    cfg = AWDLSTMConfig(vocab_size=len(vocab), emb_size=8, hidden_size=12, n_layers=2, decoder="adaptive",
                        cutoffs=[20], tail_widths=[4])
    path = tmp_path / "ada.pt"
    save_lm(PretrainedLM(LanguageModel(cfg), vocab, Tokenizer()), path)
    with pytest.raises(ValueError, match="adaptive-softmax decoder"):
        export_fastai(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
