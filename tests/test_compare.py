"""``skulmfit compare`` / :func:`skulmfit.compare`: splits, same folds for every method, the table,
the verdict, the run-time estimate, stopping (time budget, Ctrl-C), the files and bad input."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import skulmfit
from skulmfit.cli import main
from skulmfit.comparison import (
    SCRATCH,
    SEMI,
    SUPERVISED,
    TFIDF,
    CompareInterrupted,
    _quotas,
    _subsamples,
    default_estimators,
    load_result,
    plan,
    semi_supervised,
)
from skulmfit.comparison_result import ComparisonResult
from skulmfit.datasets import load_trec
from skulmfit.runtime_estimate import RuntimeEstimate

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

TINY_ULMFIT = ["--epochs", "1", "--lm-epochs", "1", "--unfreeze", "all", "--batch-size", "16", "--bptt", "20",
               "--threads", "1"]


def _trec(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """A stratified subset of the bundled TREC-6 training questions."""
    from sklearn.model_selection import train_test_split

    X, y = load_trec("train", return_X_y=True)
    idx, _ = train_test_split(np.arange(len(X)), train_size=n, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return [X[i] for i in idx], np.asarray(y)[idx].astype(str)


class _Log(list):
    """A list that survives ``sklearn.base.clone`` (which deep-copies parameters)."""

    def __deepcopy__(self, memo):  # noqa: ANN001, ANN204
        return self


class Spy(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label; logs what it was fitted on and asked to predict."""

    def __init__(self, name: str = "spy", log: list | None = None, interrupt_after: int | None = None) -> None:
        self.name = name
        self.log = log
        self.interrupt_after = interrupt_after

    def fit(self, X, y):
        labels = [v for v in y if not (isinstance(v, int) and v == -1)]
        if self.log is not None:
            fits = sum(1 for e in self.log if e[0] == "fit")
            if self.interrupt_after is not None and fits >= self.interrupt_after:
                raise KeyboardInterrupt
            self.log.append(("fit", self.name, list(X), list(y)))
        values, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        if self.log is not None:
            self.log.append(("predict", self.name, list(X)))
        return np.full(len(X), self.majority_, dtype=object)


# -- the "must show" run: the command line on TREC-6 with a tiny model ------------------------------
def test_cli_compare_on_trec6(tiny_lm_path, tmp_path, capsys):
    X, y = _trec(480)
    extra, _ = _trec(60, seed=1)
    data = tmp_path / "trec6.csv"
    with open(data, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["question", "category"])
        w.writerows(zip(X, y))
        w.writerows((t, "") for t in extra)  # empty label: unlabelled rows
    out = tmp_path / "result"
    rc = main(["compare", str(data), "--text-col", "question", "--label-col", "category", "--sizes", "50", "200",
               "--cv", "2", "--out", str(out), "--pretrained", tiny_lm_path, *TINY_ULMFIT, "-q"])
    assert rc == 0
    stdout = capsys.readouterr().out.strip().splitlines()
    assert stdout[-1].startswith("Verdict (accuracy")  # ends with the one-line verdict
    assert any(line.startswith("Run time:") and "estimated before starting" in line for line in stdout)

    data_json = json.loads((out / "compare.json").read_text())
    table = data_json["table"]
    methods = [SEMI, SUPERVISED, TFIDF, SCRATCH]
    assert data_json["methods"] == methods and data_json["sizes"] == [50, 200]
    assert len(table) == 4 * 2 * 2  # methods x sizes x folds
    assert {(r["method"], r["size"], r["fold"]) for r in table} == {
        (m, s, f) for m in methods for s in (50, 200) for f in (0, 1)}
    assert len(data_json["summary"]) == 4 * 2
    for r in table:
        assert r["n_train"] == r["size"] and 0 <= r["accuracy"] <= 1 and 0 <= r["f1_macro"] <= 1
        assert r["fit_seconds"] > 0 and r["predict_seconds"] > 0 and r["n_test"] == 240
        # semi-supervised: the rest of the fold's training part (240 - size) and the 60 unlabelled rows
        assert r["n_unlabelled"] == (240 - r["size"] + 60 if r["method"] == SEMI else 0)
    # every method saw the same folds: the same labelled training rows and test rows per size and fold
    for s in (50, 200):
        for f in (0, 1):
            rows = [r for r in table if r["size"] == s and r["fold"] == f]
            assert len({r["train_digest"] for r in rows}) == 1 and len({r["test_digest"] for r in rows}) == 1
    for f in (0, 1):  # a fold's test part is the same at every size
        assert len({r["test_digest"] for r in table if r["fold"] == f}) == 1
    assert {r["train_digest"] for r in table if r["fold"] == 0} != {r["train_digest"] for r in table if r["fold"] == 1}
    splits = data_json["splits"]
    tests = [set(t) for t in splits["test"]]
    assert tests[0].isdisjoint(tests[1]) and tests[0] | tests[1] == set(range(480))  # rows 480+ are unlabelled
    for f in (0, 1):
        small, big = set(splits["train"]["50"][f]), set(splits["train"]["200"][f])
        assert small < big and big.isdisjoint(tests[f])  # nested, and never a test row
        pool = set(range(480)) - tests[f]
        classes, counts = np.unique(np.asarray(y)[sorted(small)], return_counts=True)
        avail = {c: sum(1 for i in pool if y[i] == c) for c in classes}
        open_ = [n for c, n in zip(classes, counts) if n < avail[c]]
        assert len(classes) == 6 and max(open_) - min(open_) <= 1  # class-balanced as far as the classes allow
        assert all(n == avail[c] for c, n in zip(classes, counts) if n not in open_)  # small classes: all they have
    assert data_json["estimate"]["seconds"] > 0 and len(data_json["estimate"]["cells"]) == 16
    assert data_json["setup"]["n_unlabelled"] == 60 and data_json["setup"]["n_labelled"] == 480

    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = (out / "compare.md").read_text()
    assert "| size | n_train | ULMFiT semi-supervised |" in md and "![learning curve](compare.png)" in md
    assert data_json["verdict_line"] in md

    again = load_result(out / "compare.json")  # plain JSON round trip
    assert again.summary == ComparisonResult.from_dict(data_json).summary and again.verdict_line() == stdout[-1]


# -- the Python API with spies: exactly what every method received ----------------------------------
@pytest.fixture(scope="module")
def spy_run():
    X, y = _trec(300)
    extra = ["What is an unlabelled question ?", "Who asked this ?", "Where is nowhere ?"]
    y = y.astype(object)
    y[[5, 17]] = -1  # two rows of X are unlabelled too
    log = _Log()
    ests = {"plain": Spy("plain", log), "semi": semi_supervised(Spy("semi", log))}
    result = skulmfit.compare(X, y, sizes=[30, "all"], cv=3, estimators=ests, unlabelled=extra,
                              random_state=1, verbose=0)
    return X, y, extra, log, result


def test_every_method_gets_the_same_rows(spy_run):
    X, y, extra, log, result = spy_run
    fits = [e for e in log if e[0] == "fit"][2:]  # the first two: each spy timed on a sample for the estimate
    preds = [e for e in log if e[0] == "predict"][2:]
    assert len(fits) == 2 * 2 * 3 and len(preds) == len(fits)
    labelled_text = {t for t, v in zip(X, y) if v != -1}
    unlabelled_text = {t for t, v in zip(X, y) if v == -1} | set(extra)
    for k in range(0, len(fits), 2):  # plan order: size, fold, then the two methods
        (_, n1, X1, y1), (_, n2, X2, y2) = fits[k], fits[k + 1]
        assert (n1, n2) == ("plain", "semi")
        lab2 = [(t, v) for t, v in zip(X2, y2) if not (isinstance(v, int) and v == -1)]
        assert list(zip(X1, y1)) == lab2  # the same labelled rows, in the same order
        test1, test2 = preds[k][2], preds[k + 1][2]
        assert test1 == test2 and set(test1) <= labelled_text
        assert not set(test1) & set(X2)  # no test text reaches fit, not even unlabelled
        unl = [t for t, v in zip(X2, y2) if isinstance(v, int) and v == -1]
        assert unlabelled_text <= set(unl)  # every unlabelled text, plus the fold's unused training rows
    rows = result.table
    assert [r["size"] for r in rows] == [30] * 6 + ["all"] * 6
    assert all(r["n_unlabelled"] == 0 for r in rows if r["method"] == "plain")
    for r in rows:
        if r["method"] == "semi":
            pool = len(result.splits["train"]["all"][r["fold"]])
            assert r["n_unlabelled"] == pool - r["n_train"] + 2 + 3
    assert result.setup["n_unlabelled"] == 5 and result.setup["n_unlabelled_from_y"] == 2


def test_semi_lm_corpus_is_the_same_at_every_size(spy_run):
    *_, log, _ = spy_run
    semi = [e for e in log if e[0] == "fit" and e[1] == "semi"][1:]  # after the timing fit
    by_fold = {}
    for k, (_, _, Xs, _) in enumerate(semi):
        by_fold.setdefault(k % 3, []).append(Xs)
    for texts in by_fold.values():  # same texts in the same order: one cached LM fine-tuning per fold
        assert texts[0] == texts[1]


def test_result_summary_frame_and_plot(spy_run, tmp_path):
    *_, result = spy_run
    summary = result.summary
    assert len(summary) == 4 and {r["n_folds"] for r in summary} == {3}
    assert summary[0]["accuracy_std"] is not None and summary[0]["accuracy_mean"] == pytest.approx(
        np.mean([r["accuracy"] for r in result.table if r["method"] == "plain" and r["size"] == 30]))
    assert result.to_frame().shape == (12, len(result.table[0])) and result.to_frame("summary").shape[0] == 4
    ax = result.plot()
    assert ax.get_xscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"plain", "semi"} and len(lines["plain"].get_xdata()) == 2
    assert (tmp_path / "c.png") == result.plot(tmp_path / "c.png", metric="f1_macro")
    assert (tmp_path / "c.png").stat().st_size > 5000
    import matplotlib.pyplot as plt

    plt.close("all")


def test_n_jobs_gives_the_same_table():
    X, y = _trec(200)
    kw = {"sizes": [30], "cv": 2, "estimators": {"tfidf": default_estimators()[TFIDF]}, "random_state": 0,
          "verbose": 0}
    one = skulmfit.compare(X, y, **kw)
    two = skulmfit.compare(X, y, n_jobs=2, **kw)
    strip = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in one.table]
    assert strip == [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in two.table]


# -- verdict ---------------------------------------------------------------------------------------
def _result(scores: dict) -> ComparisonResult:
    rows = [{"method": m, "size": s, "fold": f, "n_train": s, "accuracy": v, "fit_seconds": 1.0,
             "predict_seconds": 0.1} for (m, s), vals in scores.items() for f, v in enumerate(vals)]
    return ComparisonResult(rows=rows, methods=["A", "B"], sizes=[50, 200], metrics=["accuracy"])


def test_verdict_names_a_winner_only_beyond_the_fold_spread():
    r = _result({("A", 50): [0.80, 0.82, 0.78], ("B", 50): [0.60, 0.61, 0.62],
                 ("A", 200): [0.85, 0.80, 0.90], ("B", 200): [0.84, 0.83, 0.82]})
    v = {x["size"]: x for x in r.verdict()}
    assert v[50]["winner"] == "A" and v[50]["runner_up"] == "B"
    assert v[50]["difference"] == pytest.approx(0.19) and v[50]["spread"] == pytest.approx(0.02)
    assert v[200]["winner"] is None and v[200]["best"] == "A"  # 0.02 ahead, spread 0.05
    line = r.verdict_line()
    assert "50: A (+0.190 over B, spread 0.020)" in line and "200: no clear winner" in line


def test_verdict_uses_the_folds_every_method_finished():
    r = _result({("A", 50): [0.9, 0.9, 0.9], ("B", 50): [0.5, 0.6]})
    v = r.verdict()[0]
    assert v["n_folds"] == 2 and v["winner"] == "A"
    one = _result({("A", 50): [0.9], ("B", 50): [0.5]})
    assert one.verdict()[0]["winner"] is None and "no verdict" in one.verdict_line()


# -- subsamples ------------------------------------------------------------------------------------
def test_quotas_balanced_and_stratified():
    counts = {"a": 5, "b": 100, "c": 300}
    q = _quotas(counts, 30, "balanced")
    assert q["a"] == 5 and abs(q["b"] - q["c"]) <= 1 and sum(q.values()) == 30
    s = _quotas(counts, 30, "stratified")
    assert sum(s.values()) == 30 and s["a"] >= 1 and s["c"] > s["b"] > s["a"]
    for n in (3, 10, 50, 200, 405):  # grow with n (nested subsamples), sum to n
        for mode in ("balanced", "stratified"):
            small, big = _quotas(counts, n, mode), _quotas(counts, min(n + 17, 405), mode)
            assert sum(small.values()) == n and all(small[c] <= big[c] <= counts[c] for c in counts)


def test_subsamples_are_nested_and_seeded():
    y = np.array(["a"] * 20 + ["b"] * 40, dtype=object)
    pool = np.arange(60)
    a = _subsamples(pool, y, [6, 20, "all"], "balanced", np.random.default_rng(3))
    b = _subsamples(pool, y, [6, 20, "all"], "balanced", np.random.default_rng(3))
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert set(a[6]) < set(a[20]) < set(a["all"]) and len(a["all"]) == 60
    assert sorted(np.unique(y[a[20]], return_counts=True)[1]) == [10, 10]


# -- stopping: time budget and Ctrl-C --------------------------------------------------------------
def test_max_minutes_skips_sizes_that_would_not_fit(monkeypatch, tmp_path):
    import skulmfit.comparison as comparison

    def fake_estimate(cells, *args, **kwargs):
        secs = [0.01 if c.size == 20 else 1e6 for c in cells]
        return RuntimeEstimate(secs, sum(secs), {}, {}, 0.0)

    monkeypatch.setattr(comparison, "estimate_runtime", fake_estimate)
    X, y = _trec(120)
    result = skulmfit.compare(X, y, sizes=[20, 40], cv=2, estimators={"spy": Spy()}, max_minutes=5, verbose=0,
                              out=tmp_path)
    assert result.stopped == "max_minutes" and "size 40" in result.stop_reason
    assert {r["size"] for r in result.table} == {20} and len(result.table) == 2
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert saved["stopped"] == "max_minutes" and len(saved["table"]) == 2
    assert "Stopped early" in (tmp_path / "compare.md").read_text()


def test_ctrl_c_keeps_the_finished_fits(tmp_path):
    X, y = _trec(120)
    log = _Log()
    spy = Spy("spy", log, interrupt_after=4)  # the timing fit for the estimate, then 3 fits of the comparison
    with pytest.raises(CompareInterrupted) as exc:
        skulmfit.compare(X, y, sizes=[20, 40], cv=2, estimators={"spy": spy}, verbose=0, out=tmp_path)
    assert isinstance(exc.value, KeyboardInterrupt)
    result = exc.value.result
    assert result.stopped == "interrupted" and len(result.table) == 3
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert len(saved["table"]) == 3 and saved["stopped"] == "interrupted"
    assert (tmp_path / "compare.png").is_file()


def test_cli_ctrl_c_exit_130_and_files(monkeypatch, tmp_path, capsys):
    import skulmfit.comparison as comparison

    original, calls = comparison._run_cell, []

    def run_cell(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(comparison, "_run_cell", run_cell)
    X, y = _trec(120)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": v}) + "\n" for t, v in zip(X, y)), encoding="utf-8")
    rc = main(["compare", str(data), "--sizes", "20", "40", "--cv", "2", "--methods", "tfidf", "--out",
               str(tmp_path / "o"), "-q"])
    assert rc == 130
    out = capsys.readouterr().out
    assert "Stopped early: interrupted" in out and out.strip().splitlines()[-1].startswith("Verdict")
    assert len(json.loads((tmp_path / "o" / "compare.json").read_text())["table"]) == 2


# -- estimate --------------------------------------------------------------------------------------
def test_estimate_only(tiny_lm_path, tmp_path, capsys):
    X, y = _trec(200)
    est = skulmfit.comparison.estimate(X, y, sizes=[20, 60], cv=2, estimators=default_estimators(
        pretrained=tiny_lm_path, epochs=2, lm_epochs=1, batch_size=16, bptt=20), random_state=0)
    assert len(est.cells) == 2 * 2 * 4 and all(s > 0 for s in est.cells)
    assert est.seconds == pytest.approx(sum(est.cells)) and list(est.by_size) == [20, 60]
    assert est.by_size[60] > est.by_size[20] and set(est.by_method) == {SEMI, SUPERVISED, TFIDF, SCRATCH}
    assert "AWD-LSTM 16/32/2, batch 16" in est.details and "estimated run time" in est.describe()
    data = tmp_path / "d.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{t}\t{v}\n" for t, v in zip(X, y)), encoding="utf-8")
    assert main(["compare", str(data), "--sizes", "20", "--cv", "2", "--methods", "tfidf", "--estimate-only"]) == 0
    assert capsys.readouterr().out.startswith("estimated run time")


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, y_fn, message", [
    ({}, lambda y: np.array(["a"] * len(y), dtype=object), "single class"),
    ({"cv": 3}, lambda y: np.array(["a", "b"] + ["c"] * (len(y) - 2), dtype=object), "too few labelled rows per class"),
    ({"sizes": [500]}, None, "larger than the labelled rows available for training"),
    ({"sizes": [4]}, None, "smaller than the number of classes"),
    ({"sizes": [-3]}, None, "smaller than the number of classes"),
    ({"sizes": ["some"]}, None, "positive integers or 'all'"),
    ({"sizes": []}, None, "sizes is empty"),
    ({"cv": 1}, None, "cv must be at least 2"),
    ({"sampling": "equal"}, None, "sampling must be one of"),
    ({"scoring": "accuracyy"}, None, "invalid scoring"),
    ({"max_minutes": 0}, None, "max_minutes must be a positive number"),
    ({"estimators": {}}, None, "non-empty dict"),
])
def test_bad_input_errors(kwargs, y_fn, message):
    X, y = _trec(180)
    if y_fn is not None:
        y = y_fn(y)
    with pytest.raises(ValueError, match=message):
        skulmfit.compare(X, y, estimators=kwargs.pop("estimators", {"spy": Spy()}), verbose=0,
                         **{"sizes": [12], "cv": 2, **kwargs})


def test_bad_texts_and_targets():
    X, y = _trec(180)
    with pytest.raises(ValueError, match="empty text"):
        skulmfit.compare(X[:-1] + ["   "], y, sizes=[12], cv=2, estimators={"s": Spy()}, verbose=0)
    with pytest.raises(ValueError, match="missing value"):
        skulmfit.compare(X[:-1] + [None], y, sizes=[12], cv=2, estimators={"s": Spy()}, verbose=0)
    with pytest.raises(ValueError, match="multi-label"):
        skulmfit.compare(X, np.eye(3, dtype=int)[np.arange(180) % 3], sizes=[12], cv=2, estimators={"s": Spy()},
                         verbose=0)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        skulmfit.compare(X, y[:-1], sizes=[12], cv=2, estimators={"s": Spy()}, verbose=0)
    with pytest.raises(TypeError, match="fit and predict"):
        skulmfit.compare(X, y, sizes=[12], cv=2, estimators={"s": object()}, verbose=0)


def test_plan_is_decided_before_fitting():
    X, y = _trec(180)
    p = plan(X, y, sizes=[12, 24], cv=3, estimators={"s": Spy(), "t": semi_supervised(Spy())}, random_state=0)
    assert len(p.cells) == 2 * 3 * 2 and p.sizes == [12, 24]
    assert all(len(c.train) == c.size for c in p.cells)
    semi = [c for c in p.cells if c.method == "t"]
    assert all(len(c.fit_rows) == len(p.folds[c.fold][0]) for c in semi)


def test_cli_bad_input(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("sentence,category\nhello world,a\ngood bye,b\n", encoding="utf-8")
    assert main(["compare", str(data), "--methods", "tfidf"]) == 2
    err = capsys.readouterr().err
    assert "'text'" in err and "'sentence'" in err
    assert main(["compare", str(data), "--text-col", "sentence", "--label-col", "category", "--sizes", "x"]) == 2
    assert "--sizes" in capsys.readouterr().err
    assert main(["compare", str(data), "--text-col", "sentence", "--label-col", "category", "--methods", "tfidf",
                 "--sizes", "2"]) == 2
    assert "too few labelled rows per class" in capsys.readouterr().err
    assert main(["compare", str(data), "--out", str(data)]) == 2
    assert "is a file" in capsys.readouterr().err


# -- the guide's example ---------------------------------------------------------------------------
def test_guide_shows_the_scripts_example(monkeypatch):
    """docs/guide.md shows what benchmarks/compare_trec6.py measured, and the estimate was within 1.5x."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    import compare_trec6

    try:
        payload = json.loads((root / "benchmarks" / "results" / "compare_trec6.json").read_text(encoding="utf-8"))
        block = compare_trec6.guide_block(payload)
    finally:
        sys.modules.pop("compare_trec6", None)
    assert block in (root / "docs" / "guide.md").read_text(encoding="utf-8")
    assert (root / "benchmarks" / "results" / "compare_trec6.png").is_file()
    assert len(payload["compare"]["table"]) == 4 * 5 * 3 and payload["compare"]["stopped"] is None
    assert 1 / 1.5 <= payload["timing"]["ratio"] <= 1.5  # the must-show: estimate against the measured time
