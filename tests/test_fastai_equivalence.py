"""skulmfit computes what fastai computes with fastai's own files (tests/fixtures/fastai/).

The fixtures were made by fastai 2.8.12 itself (benchmarks/make_fastai_fixtures.py): tiny
AWD-LSTMs saved with ``learn.save`` (v2 layout, zip serialization, ``'model'`` wrapper), 19-key
v1-layout legacy-serialization files built from them, their vocabulary pickles, and fastai's
eval-mode next-token log-probabilities on fixed ids. fastai is not needed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from skulmfit.fastai_convert import convert_fastai, import_fastai
from skulmfit.modelfile import load_lm, safe_load

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fastai"
TOLERANCE = 1e-5
CASES = ["v1_fwd", "v1_bwd", "v2_fwd", "v2_bwd"]


@pytest.fixture(scope="module")
def expected():
    return torch.load(FIXTURES / "expected.pt", weights_only=True)


def max_abs_diff(model, case: dict) -> float:
    """Largest |log p_skulmfit - log p_fastai| over two chunks, the state carried from the first."""
    model.eval()
    with torch.no_grad():
        logits, _, _, state = model(case["ids"])
        logits2, *_ = model(case["ids2"], state)
    return max((F.log_softmax(logits, -1) - case["logprobs"]).abs().max().item(),
               (F.log_softmax(logits2, -1) - case["logprobs2"]).abs().max().item())


@pytest.mark.parametrize("name", CASES)
def test_fastai_files_give_fastais_log_probabilities(name, expected):
    case = expected[name]
    direction = name.split("_")[1]
    lm = import_fastai(FIXTURES / case["weights"], vocab=FIXTURES / case["vocab"], direction=direction)
    assert lm.meta["fastai_layout"] == name[:2] and lm.meta["keys"] == case["keys"]
    assert lm.meta["serialization"] == ("legacy" if name.startswith("v1") else "zip")
    assert lm.meta["model_wrapper"] is name.startswith("v2")  # fastai 2's learn.save wraps {'model', 'opt'}
    assert lm.direction == direction
    assert tuple(case["logprobs"].shape[-1:]) == (len(lm.vocab),)
    assert max_abs_diff(lm.model, case) <= TOLERANCE


@pytest.mark.parametrize("name", ["v1_fwd", "v2_bwd"])
def test_the_converted_model_file_gives_the_same_numbers(name, expected, tmp_path):
    case = expected[name]
    out = tmp_path / f"{name}.pt"
    convert_fastai(FIXTURES / case["weights"], out, vocab=FIXTURES / case["vocab"])
    data = safe_load(out)  # weights_only
    assert data["tokenizer"] == {"name": "fastai-spacy", "rules": name[:2], "lower": True, "add_bos": True}
    lm = load_lm(out)
    assert lm.direction == name.split("_")[1]  # from the file names
    assert max_abs_diff(lm.model, case) <= TOLERANCE


def test_special_tokens_are_found_by_name_not_position(expected):
    v1 = import_fastai(FIXTURES / "v1_fwd.pth", vocab=FIXTURES / "v1_fwd_itos.pkl")
    v2 = import_fastai(FIXTURES / "v2_fwd.pth", vocab=FIXTURES / "v2_fwd_itos.pkl")
    assert v1.meta["special_token_order"] == "fastai-v1" and v2.meta["special_token_order"] == "fastai-v2"
    assert v1.vocab.itos[5] == "xxmaj" and v2.vocab.itos[5] == "xxrep"
    for lm in (v1, v2):
        assert lm.vocab.unk_idx == 0 and lm.vocab.pad_idx == 1 and lm.model.config.pad_idx == 1
        # the same token has the same embedding whatever its position
    for tok in ("xxmaj", "xxup", "xxrep", "xxwrep", "cat", "xxbos"):
        a = v1.model.encoder.embedding.weight[v1.vocab.stoi[tok]]
        b = v2.model.encoder.embedding.weight[v2.vocab.stoi[tok]]
        assert torch.equal(a, b), tok


def test_fastai_xxfake_padding_is_made_unique():
    lm = import_fastai(FIXTURES / "v2_fwd.pth", vocab=FIXTURES / "v2_fwd_itos.pkl")
    fakes = [t for t in lm.vocab.itos if t.startswith("xxfake")]
    assert len(fakes) == 7 and len(set(fakes)) == 7 and lm.meta["renamed_duplicate_tokens"] == 6
