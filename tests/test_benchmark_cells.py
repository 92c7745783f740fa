"""The benchmarks' resumable runs (benchmarks/_bench.py): a run saved by one sitting is read back
by the next with --resume, and only when its estimator, model files and data are the same."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _bench

    yield _bench
    sys.modules.pop("_bench", None)


def test_cells_resume_only_identical_runs(bench, tmp_path):
    calls = []

    def work(v):
        calls.append(v)
        return {"error": float(v), "estimator": object()}

    first = bench.Cells("demo", resume=True, root=tmp_path)
    r = first.run({"a": 1}, lambda: work(1))
    assert "estimator" in r and calls == [1]
    second = bench.Cells("demo", resume=True, root=tmp_path)
    again = second.run({"a": 1}, lambda: work(2))
    assert again == {"error": 1.0, "resumed": True} and calls == [1]
    assert second.summary() == {"runs_done_now": 0, "runs_reused_from_earlier_sitting": 1}
    assert second.run({"a": 2}, lambda: work(3))["error"] == 3.0  # another key runs
    fresh = bench.Cells("demo", resume=False, root=tmp_path)  # without --resume: always run
    assert fresh.run({"a": 1}, lambda: work(4))["error"] == 4.0 and calls == [1, 3, 4]


def test_fit_eval_keys_on_estimator_and_data(bench, tmp_path):
    X = ["good film", "bad film", "great movie", "awful movie"] * 5
    y = np.array(["pos", "neg", "pos", "neg"] * 5, dtype=object)
    cells = bench.Cells("fe", resume=True, root=tmp_path)
    r1 = bench.fit_eval(bench.tfidf_lr(0), X, y, X, y, cells, "TF-IDF")
    r2 = bench.fit_eval(bench.tfidf_lr(0), X, y, X, y, cells, "TF-IDF")
    assert "resumed" not in r1 and r2["resumed"] and r2["error"] == r1["error"]
    r3 = bench.fit_eval(bench.tfidf_lr(1), X, y, X, y, cells, "TF-IDF")  # other parameters
    r4 = bench.fit_eval(bench.tfidf_lr(0), X[:-1], y[:-1], X, y, cells, "TF-IDF")  # other data
    assert "resumed" not in r3 and "resumed" not in r4
    assert cells.summary() == {"runs_done_now": 3, "runs_reused_from_earlier_sitting": 1}


def test_describe_ulmfit_names_model_file_contents(bench, tiny_lm_path):
    import hashlib

    from skulmfit import ULMFiTClassifier

    d = bench.describe_estimator(ULMFiTClassifier(pretrained=str(tiny_lm_path), memory="somewhere", epochs=3))
    assert "memory" not in d["params"] and d["params"]["epochs"] == "3"
    assert d["model_files"] == {"fwd": hashlib.sha256(Path(tiny_lm_path).read_bytes()).hexdigest()}
    assert bench.describe_estimator(ULMFiTClassifier(pretrained=None))["model_files"] == {}


def test_compute_note_sums_each_runs_own_time(bench, tmp_path):
    first = bench.Cells("demo", resume=True, root=tmp_path)
    first.run({"a": 1}, lambda: {"error": 1.0, "fit_s": 90.0, "predict_s": 30.0})
    second = bench.Cells("demo", resume=True, root=tmp_path)
    runs = [second.run({"a": 1}, lambda: {"error": 9.0, "fit_s": 1.0, "predict_s": 1.0}),  # read back
            second.run({"a": 2}, lambda: {"error": 2.0, "fit_s": 50.0, "predict_s": 10.0})]
    note = bench.compute_note(runs, second)
    assert "2 runs" in note and "3.0 min" in note  # (90 + 30 + 50 + 10) s
    assert "1 of them read back" in note and "1 run in this one" in note


def test_result_notes_name_the_command_from_the_repo_root(bench):
    common = sys.modules["_common"]
    root = common.RESULTS.parents[1]
    assert common.command_line([str(root / "benchmarks" / "low_shot.py"), "--quick"]) == \
        "python benchmarks/low_shot.py --quick"
    assert common.command_line(["benchmarks/speed.py"]) == "python benchmarks/speed.py"
    assert bench.defaults_note({}) == "library defaults"
    assert bench.defaults_note({"epochs": 6}) == "library defaults except {'epochs': 6}"


def test_low_shot_methods_runs_only_the_chosen_methods(monkeypatch, tmp_path):
    """--methods lets a long low-shot run put its target cells first; the table has only those columns."""
    monkeypatch.syspath_prepend(str(BENCH))
    for mod in ("_common", "_bench", "low_shot"):
        sys.modules.pop(mod, None)
    import _common

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    try:
        import low_shot

        assert low_shot.main(["--smoke", "--datasets", "trec6", "--sizes", "30", "--methods", "TF-IDF + LR",
                              "--no-plot", "--name", "ls_methods"]) == 0
    finally:
        for mod in ("_common", "_bench", "low_shot"):
            sys.modules.pop(mod, None)
    page = json.loads((tmp_path / "ls_methods.json").read_text(encoding="utf-8"))
    assert page["methods"] == ["TF-IDF + LR"] and {r["method"] for r in page["runs"]} == {"TF-IDF + LR"}
    assert "semi-supervised" not in (tmp_path / "ls_methods.md").read_text(encoding="utf-8").split("\n* ")[0]
