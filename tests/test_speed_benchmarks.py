"""The speed benchmarks' machinery on tiny sizes: benchmarks/gpu_check.py (the prepared GPU script,
run here with --device cpu --smoke), the child-process throughput measurements and their summaries,
and the gradual-unfreezing rate."""
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCH))
    import _common

    monkeypatch.setattr(_common, "RESULTS", tmp_path)  # results of these runs stay out of the repository
    yield tmp_path
    for mod in ("gpu_check", "_throughput", "speed", "lm_throughput", "_bench"):
        sys.modules.pop(mod, None)


@pytest.mark.slow
def test_gpu_check_runs_on_cpu_and_reports_every_part(bench):
    import gpu_check

    rc = gpu_check.main(["--device", "cpu", "--smoke", "--no-fastai", "--threads", "1", "--name", "gpu_smoke"])
    data = json.loads((bench / "gpu_smoke.json").read_text())
    assert rc == 0 and data["layout"]["ok"]
    assert data["layout"]["kernel_calls"] >= 3 and data["layout"]["contiguity_warnings"] == 0
    assert not data["layout"]["module_weights_flattened"]  # no cuDNN on a CPU
    lm = data["lm"]
    assert {r["batch"] for r in lm} == {4, 8} and all(r["tokens_per_s"] > 0 for r in lm)
    assert {r["impl"] for r in lm} >= {"skulmfit-fp32", "bare-plain"}
    ppl = data["perplexity"]["rows"]
    assert ppl[0]["precision"] == "fp32" and ppl[0]["vs fp32"] == 0 and ppl[0]["valid_perplexity"] > 1
    train = [r for r in data["classifier"] if r["mode"] == "clf_train" and r["impl"] == "skulmfit-fp32"]
    assert sorted({r["trainable_groups"] for r in train}) == [1, 2, 3, 4, 5]
    assert any(r["mode"] == "clf_predict" for r in data["classifier"])
    md = (bench / "gpu_smoke.md").read_text()
    assert "DropConnect weights" in md and "16/32/3" in md


def test_layout_check_sees_one_buffer_when_the_weights_are_flattened(bench):
    """What the GPU check asserts on CUDA, on CPU: flattened module weights reach the kernel as one
    fresh contiguous buffer at the module's offsets, and no contiguity warning is raised."""
    import gpu_check
    import torch

    from skulmfit.model import LanguageModel

    real_to = LanguageModel.to

    def to_and_flatten(self, *args, **kwargs):
        model = real_to(self, *args, **kwargs)
        for rnn in model.encoder.rnns:
            m = rnn.lstm
            ws = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]
            buf = torch.cat([w.detach().reshape(-1) for w in ws])
            pos = 0
            with torch.no_grad():
                for w in ws:
                    w.set_(buf.untyped_storage(), pos, w.shape, w.stride())
                    pos += w.numel()
        return model

    LanguageModel.to = to_and_flatten
    try:
        res = gpu_check.layout_check(torch.device("cpu"), gpu_check.SMOKE)
    finally:
        LanguageModel.to = real_to
    assert res["module_weights_flattened"] and res["ok"]
    assert res["calls_with_one_contiguous_buffer"] == res["calls_at_module_offsets"] == res["kernel_calls"] == 6


def test_throughput_child_and_lm_summary(bench):
    import _throughput as T
    import lm_throughput

    rows = T.run_child("lm", impl="skulmfit", emb=8, hidden=16, layers=2, vocab=100, batch=2, bptt=5, steps=1,
                       warmup=0, threads=1)
    assert len(rows) == 1 and rows[0]["tokens_per_s"] > 0 and rows[0]["impl"] == "skulmfit"
    assert T.run_child("lm", impl="nonsense", emb=8, hidden=16, layers=2, vocab=100, batch=2, bptt=5) == []
    fake = {"8x16x2x100|skulmfit": [[{"impl": "skulmfit", "tokens_per_s": 80.0, "load_1min": 1.0}],
                                     [{"impl": "skulmfit", "tokens_per_s": 100.0, "load_1min": 2.0}],
                                     [{"impl": "skulmfit", "tokens_per_s": 90.0, "load_1min": 1.5}]],
            "8x16x2x100|bare-chunked": [[{"impl": "bare-chunked", "tokens_per_s": 100.0, "load_1min": 1.0}]],
            "8x16x2x100|fastai": [[{"impl": "fastai 2.8.12", "tokens_per_s": 60.0, "load_1min": 1.0}]]}
    summary = {r["key"]: r for r in lm_throughput.summarize_lm(fake)}
    assert summary["skulmfit"]["tokens_per_s"] == 90.0 and summary["skulmfit"]["range"] == "80-100"
    assert summary["skulmfit"]["x fastai"] == pytest.approx(1.5)
    assert summary["fastai"]["impl"] == "fastai 2.8.12"
    assert lm_throughput.overhead_lines(list(summary.values())) == [
        "8x16x2x100: regularisation overhead (1 - skulmfit / bare-chunked, same exact loss) 10.0 %"]


def test_gradual_unfreezing_rate_adds_the_stage_times(bench):
    import speed

    assert speed.gradual_rate({1: 10.0, 2: 10.0, 3: 10.0, 4: 10.0, 5: 10.0}, 5) == pytest.approx(10.0)
    assert speed.gradual_rate({1: 40.0, 2: 20.0}, 2) == pytest.approx(2 / (1 / 40 + 1 / 20))
    assert speed.gradual_rate({1: 40.0}, 2) is None
