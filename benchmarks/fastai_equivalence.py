"""skulmfit vs fastai on the same AWD-LSTM weights: max |difference| of next-token log-probabilities.

Two directions of the bridge, forward and backward models each:

1. **fastai -> skulmfit.** The fixtures in tests/fixtures/fastai/ were made by fastai 2.8.12
   itself (benchmarks/make_fastai_fixtures.py: fastai's ``learn.save`` -> v2 layout, 16 keys, zip
   serialization, ``'model'`` wrapper; and v1-layout, 19-key, legacy-serialization files built
   from them, vocabulary in fastai v1's special-token order) together with fastai's eval-mode
   log-probabilities on fixed ids (two chunks, state carried). skulmfit imports each file with
   ``import_fastai`` and computes the same log-probabilities.
2. **skulmfit -> fastai** (needs the fastai side environment, see fastai_bridge.py): a random
   skulmfit model is written with ``skulmfit export --format fastai`` and loaded by fastai's own
   ``language_model_learner(..., pretrained_fnames=...)`` (benchmarks/_fastai_load_exported.py).

    python benchmarks/fastai_equivalence.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "fastai"


def fastai_to_skulmfit() -> list[dict]:
    from skulmfit.fastai_convert import import_fastai

    expected = torch.load(FIXTURES / "expected.pt", weights_only=True)
    rows = []
    for name in ("v1_fwd", "v1_bwd", "v2_fwd", "v2_bwd"):
        case = expected[name]
        lm = import_fastai(FIXTURES / case["weights"], vocab=FIXTURES / case["vocab"], direction=name[3:])
        model = lm.model.eval()
        with torch.no_grad():
            logits, _, _, state = model(case["ids"])
            logits2, *_ = model(case["ids2"], state)
        diff = max((F.log_softmax(logits, -1) - case["logprobs"]).abs().max().item(),
                   (F.log_softmax(logits2, -1) - case["logprobs2"]).abs().max().item())
        c = model.config
        rows.append({"bridge": "fastai -> skulmfit", "file": case["weights"], "layout": lm.meta["fastai_layout"],
                     "keys": lm.meta["keys"], "serialization": lm.meta["serialization"], "direction": lm.direction,
                     "shape": f"{c.emb_size}/{c.hidden_size}/{c.n_layers}, vocab {c.vocab_size}",
                     "positions": int(case["ids"].numel() + case["ids2"].numel()), "max_abs_diff": diff,
                     "fastai": expected["fastai_version"]})
    return rows


def skulmfit_to_fastai() -> list[dict]:
    from fastai_bridge import _child_env, find_fastai_python

    from skulmfit.fastai_convert import export_fastai
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.modelfile import PretrainedLM, save_lm
    from skulmfit.tokenizer import SPECIAL_TOKENS, Tokenizer
    from skulmfit.vocab import Vocab

    python = find_fastai_python()
    if python is None or not Path(python).exists():
        print("fastai side environment absent: skulmfit -> fastai not measured")
        return []
    ids = torch.randint(0, 49, (2, 11), generator=torch.Generator().manual_seed(0))
    rows, jobs, ours = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, direction in enumerate(("fwd", "bwd")):
            torch.manual_seed(i)
            vocab = Vocab(list(SPECIAL_TOKENS) + [f"word{j}" for j in range(40)])
            model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=10, hidden_size=14, n_layers=3))
            with torch.no_grad():
                model.decoder.bias.normal_(0, 0.5)
            save_lm(PretrainedLM(model.eval(), vocab, Tokenizer(), direction), tmp / f"{direction}.pt")
            summary = export_fastai(tmp / f"{direction}.pt", tmp / direction)
            cfg = {k: summary["fastai_config"][k] for k in ("emb_sz", "n_hid", "n_layers")}
            jobs.append({"weights": summary["pretrained_fnames"][0], "vocab": summary["pretrained_fnames"][1],
                         "config": cfg, "ids": ids.tolist(), "out": str(tmp / f"fastai_{direction}.pt")})
            with torch.no_grad():
                ours[direction] = F.log_softmax(model.eval()(ids)[0], -1)
        (tmp / "spec.json").write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
        script = Path(__file__).with_name("_fastai_load_exported.py")
        subprocess.run([python, str(script), str(tmp / "spec.json")], capture_output=True, text=True, timeout=600,
                       env=_child_env({"OMP_NUM_THREADS": "1"}), check=True)
        for direction in ("fwd", "bwd"):
            theirs = torch.load(tmp / f"fastai_{direction}.pt", weights_only=True)
            rows.append({"bridge": "skulmfit -> fastai", "file": f"lstm_{direction}.pth + itos.pkl",
                         "layout": "v2", "keys": 16, "serialization": "zip", "direction": direction,
                         "shape": "10/14/3, vocab 49", "positions": int(ids.numel()),
                         "max_abs_diff": (theirs["logprobs"] - ours[direction]).abs().max().item(),
                         "fastai": theirs["fastai_version"]})
    return rows


def main() -> int:
    rows = fastai_to_skulmfit() + skulmfit_to_fastai()
    for r in rows:
        print(f"{r['bridge']:<20} {r['file']:<26} {r['layout']} {r['direction']}  max |diff| = {r['max_abs_diff']:.3g}")
    table = with_notes(markdown_table(rows, ["bridge", "file", "layout", "keys", "serialization", "direction", "shape",
                                             "positions", "max_abs_diff", "fastai"]), [
        "max_abs_diff: largest |log p_skulmfit - log p_fastai| over every vocabulary entry at every position, "
        "eval mode (all dropouts off), float32, CPU, the same torch (2.13.0) on both sides.",
        "fastai -> skulmfit: fastai's log-probabilities were recorded by fastai itself when it made the fixtures "
        "(two chunks, the hidden state carried over, as fastai's stateful AWD_LSTM does); the v1 files' reference "
        "is fastai reading the v1 file (clean_raw_keys + load_ignore_keys), whose module.weight_hh_l0 holds a "
        "weight-dropped copy that both fastai and skulmfit ignore.",
        "skulmfit -> fastai: fastai 2.8.12's language_model_learner(..., pretrained_fnames=...) on the exported files.",
        "A difference of 0 means bit-identical: both libraries run the same torch kernels (nn.LSTM, embedding, "
        "linear) on the same weights in the same order.",
    ])
    write_results("fastai_equivalence", {"rows": rows}, table,
                  "skulmfit vs fastai: the same AWD-LSTM, the same numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
