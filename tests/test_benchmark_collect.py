"""benchmarks/collect.py: the docs' summary table is built from the full accuracy run's JSON."""
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
METHODS = ["ULMFiT", "ULMFiT bidirectional", "TF-IDF + LR", "from scratch"]


@pytest.fixture
def collect(monkeypatch):
    """benchmarks/collect.py, imported from the benchmarks folder and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(BENCH))
    import collect as module

    yield module
    sys.modules.pop("collect", None)


def write_page(folder: Path, stem: str, date: str, **data) -> None:
    """A result page's JSON as the benchmark scripts write it (only the fields collect.py reads)."""
    (folder / f"{stem}.json").write_text(json.dumps({**data, "machine": {"date": date}}), encoding="utf-8")


def test_accuracy_summary_from_full_run(tmp_path, collect):
    assert collect.accuracy_summary(tmp_path) is None  # no full run yet: no summary
    rows = [{"dataset": "trec6", "method": m, "train/test": "5,452/500", "test error %": e,
             "paper test error %": "3.6" if m == "ULMFiT bidirectional" else ""}
            for m, e in zip(METHODS, ["4.40", "4.00", "9.80", "12.00"])]
    write_page(tmp_path, "accuracy", "2026-11-22 03:00:00 UTC", datasets=["trec6", "imdb"], rows=rows)
    text = collect.accuracy_summary(tmp_path)
    assert "| TREC-6 | 5,452/500 | 4.40 | 4.00 | 9.80 | 12.00 | 3.6 |" in text
    assert "IMDb" not in text  # a dataset without rows is left out
    assert "2026-11-22 03:00:00 UTC" in text
    assert "now `pretrained='small'`" in text  # measured before the 60k default shipped
    write_page(tmp_path, "accuracy", "2026-12-09 03:00:00 UTC", datasets=["trec6"], rows=rows)
    assert "the shipped 60k-word 128/256/3 default" in collect.accuracy_summary(tmp_path)
    mr = [{**r, "dataset": "mr"} for r in rows if r["method"] in ("ULMFiT", "TF-IDF + LR")]
    write_page(tmp_path, "accuracy_mr", "2026-12-09 04:00:00 UTC", datasets=["mr"], rows=mr)
    assert "| MR | 5,452/500 | 4.40 | not run yet | 9.80 | not run yet |  |" in collect.accuracy_summary(tmp_path)


def test_render_page_keeps_full_and_quick_apart_and_links_figures(collect):
    stems = ["low_shot", "low_shot_quick", "speed"]
    assert collect.page_owner("low_shot_quick_trec6", stems) == "low_shot_quick"
    assert collect.page_owner("low_shot_ag", stems) == "low_shot"
    assert collect.page_owner("other", stems) is None
    page = "# Low-shot\n\nCommand: x\n\n## Part 2\n\n![trec6](low_shot_trec6.png)\n"
    out = collect.render_page("low_shot", page, ["low_shot_trec6.png", "low_shot_ag.png"],
                              "2026-11-23 00:00:00")
    assert out.startswith("## Low-shot (`low_shot`)")
    assert "\n### Part 2\n" in out  # sub-headings move down with the title
    assert "![trec6](../benchmarks/results/low_shot_trec6.png)" in out  # re-rooted, not repeated
    assert out.count("low_shot_trec6.png") == 1
    assert out.endswith("![low_shot_ag](../benchmarks/results/low_shot_ag.png)")  # not shown by the page
    assert "Outdated" not in out
    old = collect.render_page("speed", "# Speed\n\nrows", [], "2026-11-20 00:00:00")
    assert "> **Outdated:** measured on 2026-11-20 00:00:00" in old
    small = collect.render_page("accuracy", "# Accuracy\n\nrows", [], "2026-12-01 00:00:00")
    assert "> **Earlier default model:** measured on 2026-12-01 00:00:00" in small and "Outdated" not in small
    assert "Earlier default" not in collect.render_page("accuracy", "# Accuracy\n\nrows", [], "2026-12-08 00:00:00")
    assert "Earlier default" not in collect.render_page("pilot", "# Pilot\n\nrows", [], "2026-12-01 00:00:00")
    assert "default `lr_decay` was 2.6" in small
    assert "lr_decay" not in collect.render_page("accuracy", "# Accuracy\n\nrows", [], "2026-12-08 00:00:00")


def test_full_run_status_names_what_is_missing(tmp_path, collect):
    write_page(tmp_path, "accuracy", "2026-11-22 02:35:46 UTC", datasets=["trec6", "ag"], skipped={})
    write_page(tmp_path, "speed", "2026-11-22 04:00:00 UTC")
    text = collect.full_run_status(tmp_path)
    assert "| accuracy | partial: trec6, ag; still to run: imdb, mr | 2026-11-22 02:35:46 UTC |" in text
    assert "| low_shot | not yet run | |" in text
    assert "| speed | complete | 2026-11-22 04:00:00 UTC |" in text
    # MR run apart (--datasets mr --name accuracy_mr): the two pages together complete it
    write_page(tmp_path, "accuracy_mr", "2026-11-30 16:00:00 UTC", datasets=["mr"], skipped={})
    text = collect.full_run_status(tmp_path)
    assert "| accuracy | partial: trec6, ag, mr; still to run: imdb |" in text
    assert "2026-11-22 02:35:46 UTC (`accuracy`); 2026-11-30 16:00:00 UTC (`accuracy_mr`)" in text
    # a page run with --methods names the methods it lacks
    write_page(tmp_path, "accuracy_mr", "2026-11-30 16:00:00 UTC", datasets=["mr"], skipped={},
               methods=["ULMFiT", "TF-IDF + LR"])
    text = collect.full_run_status(tmp_path)
    assert "still to run: imdb; methods not run yet: mr without ULMFiT bidirectional, from scratch |" in text


def test_accuracy_summary_joins_a_dataset_run_apart(tmp_path, collect):
    def page(stem, ds, errs, date, paper=""):
        rows = [{"dataset": ds, "method": m, "train/test": "n", "test error %": e,
                 "paper test error %": paper if m == "ULMFiT bidirectional" else ""} for m, e in zip(METHODS, errs)]
        write_page(tmp_path, stem, date, datasets=[ds], rows=rows)

    page("accuracy_mr", "mr", ["20.1", "19.0", "22.0", "25.0"], "2026-11-30 16:00:00 UTC", paper="not reported")
    page("accuracy", "trec6", ["4.40", "4.00", "9.80", "12.00"], "2026-11-22 03:00:00 UTC", paper="3.6")
    text = collect.accuracy_summary(tmp_path)
    lines = text.splitlines()
    trec = lines.index("| TREC-6 | n | 4.40 | 4.00 | 9.80 | 12.00 | 3.6 |")
    assert lines[trec + 1] == "| MR | n | 20.1 | 19.0 | 22.0 | 25.0 | not reported |"  # after accuracy.json's rows
    assert "`benchmarks/results/accuracy_mr.md` of 2026-11-30 16:00:00 UTC" in text


def test_vocab_coverage_counts_tokens_and_types(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import vocab_coverage

    class Split:
        def tokenize_many(self, texts):
            return [t.split() for t in texts]

    try:
        r = vocab_coverage.coverage(Split(), {"the", "sat"}, ["the cat sat", "the cat ran"])
        assert r["docs"] == 2 and r["tokens_per_doc"] == 3.0
        assert abs(r["tokens_outside_pct"] - 50.0) < 1e-9  # cat, cat, ran of 6 tokens
        assert r["task_types"] == 2 and r["task_types_outside_pct"] == 50.0  # the, cat (freq >= 2); cat outside
    finally:
        for m in ("vocab_coverage", "_bench", "_common"):
            sys.modules.pop(m, None)


def test_readme_accuracy_table_matches_the_results(collect):
    """The README's accuracy table quotes the full run's pages (accuracy.json, accuracy_mr.json) exactly,
    one line per dataset they hold; a method a page has not run yet reads "not run yet"."""
    pages = collect.full_pages("accuracy")
    measured = {}
    for _, data in pages:
        for r in data["rows"]:
            measured.setdefault((r["dataset"], r["method"]), r["test error %"])
    root = BENCH.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    names = {"TREC-6": "trec6", "AG News": "ag", "IMDb": "imdb", "MR": "mr"}
    checked = set()
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        ds = next((v for k, v in names.items() if cells[0].startswith(k + " (")), None)
        if ds is None or len(cells) < 5:
            continue
        assert cells[1:5] == [measured.get((ds, m), "not run yet") for m in METHODS], line
        checked.add(ds)
    assert checked == {ds for ds, _ in measured}


def test_finetune_check_measures_new_words(monkeypatch, tiny_lm_path):
    monkeypatch.syspath_prepend(str(BENCH))
    import vocab_coverage

    from skulmfit.modelfile import load_lm

    try:
        pre = set(load_lm(tiny_lm_path).vocab.itos)
        texts = [f"the zorblax {w} was quite {w} and the zorblax said so ." for w in ("cat", "dog", "car")] * 8
        r = vocab_coverage.finetune_check(texts, tiny_lm_path, pre, lm_epochs=1)
        assert r["texts"] == 24 and r["training_tokens"] > 0 and r["lm_epochs"] == 1
        assert r["new_words"] >= 1 and r["task_vocab"] > r["new_words"]  # "zorblax" is not in the tiny vocab
        assert r["spread_pretrained"] > 0 and r["spread_new"] >= 0
    finally:
        for m in ("vocab_coverage", "_bench", "_common"):
            sys.modules.pop(m, None)


def test_rare_class_note_counts_predictions_of_the_rarest_test_class(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import low_shot

    try:
        words = {"a": "alpha apple", "b": "beta banana", "c": "gamma cherry"}
        X = [f"{words[c]} {i}" for c in "abc" for i in range(20)]
        y = [c for c in "abc" for _ in range(20)]
        Xte = [words["a"]] + [words["b"]] * 10 + [words["c"]] * 10
        yte = ["a"] + ["b"] * 10 + ["c"] * 10
        note = low_shot.rare_class_note("toy", y, Xte, yte, [0, 1], [6, 30], X, stratified=False)
        assert note.startswith("toy: the rarest test class, a, is 1 of 21 test texts (20 training texts)")
        assert "labels as a on average 1 at 6, 1 at 30 test texts" in note  # separable: only the one 'a' text
        assert low_shot.rare_class_note("toy", y, Xte[:11] + [words["a"]] * 9, yte[:11] + ["a"] * 9, [0], [6], X,
                                        stratified=False) is None  # a and b 10 each: not skewed
    finally:
        for m in ("low_shot", "_bench"):
            sys.modules.pop(m, None)
