"""The ``skulmfit`` command line: help texts, fit/predict on CSV, TSV and JSONL, errors, demo."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import joblib
import pytest

from skulmfit.cli import main
from skulmfit.tabular import read_table

from .conftest import make_toy_texts

FAST = ["--epochs", "1", "--lm-epochs", "1", "--unfreeze", "all", "--batch-size", "16", "--bptt", "20",
        "--threads", "1", "--seed", "0", "-q"]


def _help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_main_help_lists_subcommands(capsys):
    out = _help([], capsys)
    for cmd in ("pretrain", "evaluate-lm", "export", "import-fastai", "fetch", "fit", "predict", "compare", "demo"):
        assert cmd in out


@pytest.mark.parametrize("cmd, options", [
    ("pretrain", ["--out", "--emb-size", "--max-tokens", "--resume", "--checkpoint-every"]),
    ("evaluate-lm", ["--bptt", "--doc-sep", "--device"]),
    ("export", ["--out", "--half", "--format", "fastai", "pretrained_fnames"]),
    ("import-fastai", ["--out", "--vocab", "--direction", "--half", "weights_only"]),
    ("fetch", ["--direction", "--data-home", "--base-url", "SKULMFIT_DATA"]),
    ("fit", ["--text-col", "--label-col", "--out", "--format", "--pretrained", "--epochs", "--lm-epochs", "--lr",
             "--lm-lr", "--batch-size", "--bidirectional", "--unfreeze", "--max-len", "--device", "--seed",
             "--quiet", "unlabelled"]),
    ("predict", ["--text-col", "--out", "--proba", "--format", "--keep-columns", "trust"]),
    ("compare", ["--text-col", "--label-col", "--unlabelled", "--sizes", "--cv", "--out", "--max-minutes",
                 "--estimate-only", "--methods", "--sampling", "--scoring", "--pretrained", "--seed", "--quiet",
                 "compare.json", "compare.md", "compare.png", "verdict"]),
    ("demo", ["--subset-size", "--pretrained", "--epochs", "--lm-epochs", "--seed", "--quiet", "wt103"]),
])
def test_subcommand_help(cmd, options, capsys):
    out = _help([cmd], capsys)
    for opt in options:
        assert opt in out, f"'{cmd} --help' does not mention {opt}"


def test_python_m_help_subprocess():
    res = subprocess.run([sys.executable, "-m", "skulmfit", "--help"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert "predict" in res.stdout and "demo" in res.stdout


# -- fit / predict round trips ---------------------------------------------------------------------
def _toy_rows():
    texts, y = make_toy_texts(36, seed=3)
    rows = [{"id": f"r{i}", "text": t, "label": str(lab)} for i, (t, lab) in enumerate(zip(texts, y))]
    rows[4]["label"] = ""  # unlabelled: empty
    rows[7]["label"] = "-1"  # unlabelled: -1
    rows[10]["text"] = 'The "big" cat, sees\ta dog.'  # quote, comma and tab survive every format
    return rows


def _write(path, fmt, rows, text_col="text", label_col="label"):
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                obj = {"id": r["id"], text_col: r["text"]}
                if r["label"] == "-1":
                    obj[label_col] = -1
                elif r["label"]:
                    obj[label_col] = r["label"]
                # empty label: the key is missing
                f.write(json.dumps(obj) + "\n")
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, dialect="excel-tab" if fmt == "tsv" else "excel")
            w.writerow(["id", text_col, label_col])
            for r in rows:
                w.writerow([r["id"], r["text"], r["label"]])


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_fit_predict_round_trip(fmt, tiny_lm_path, tmp_path, capsys):
    rows = _toy_rows()
    data = tmp_path / f"train.{fmt}"
    _write(data, fmt, rows, text_col="doc", label_col="y")
    model = tmp_path / "model.joblib"
    assert main(["fit", str(data), "--text-col", "doc", "--label-col", "y", "--out", str(model),
                 "--pretrained", tiny_lm_path, *FAST]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["unlabelled"] == 2 and summary["labelled"] == len(rows) - 2
    assert summary["classes"] == ["animal", "person", "thing"]
    clf = joblib.load(model)
    assert list(clf.classes_) == ["animal", "person", "thing"] and clf.verbose == 0
    assert not list(tmp_path.glob(".model.joblib.*"))  # no temporary file left behind

    out = tmp_path / f"pred.{fmt}"
    assert main(["predict", str(model), str(data), "--text-col", "doc", "--out", str(out), "--proba",
                 "--keep-columns", "id", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == len(rows)
    pred = read_table(out)
    assert pred.columns == ["id", "prediction", "proba_animal", "proba_person", "proba_thing"]
    assert [r["id"] for r in pred.rows] == [r["id"] for r in rows]  # input order
    expected = clf.predict([r["text"] for r in rows])
    assert [r["prediction"] for r in pred.rows] == list(expected)
    for r in pred.rows:
        assert abs(sum(float(r[f"proba_{c}"]) for c in clf.classes_) - 1) < 1e-5

    # without --proba, written as another format than the input's
    out2 = tmp_path / "pred2.jsonl"
    assert main(["predict", str(model), str(data), "--text-col", "doc", "--out", str(out2), "-q"]) == 0
    lines = [json.loads(x) for x in out2.read_text().splitlines()]
    assert [x["prediction"] for x in lines] == list(expected) and set(lines[0]) == {"prediction"}


# -- errors ----------------------------------------------------------------------------------------
def test_missing_column_lists_columns(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("sentence,category\nhello world,a\ngood bye,b\n", encoding="utf-8")
    assert main(["fit", str(data), "--out", str(tmp_path / "m.joblib"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "'text'" in err and "'sentence'" in err and "'category'" in err
    assert main(["fit", str(data), "--text-col", "sentence", "--out", str(tmp_path / "m.joblib"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "label column 'label'" in err and "'category'" in err
    assert not (tmp_path / "m.joblib").exists()


def test_missing_files_and_bad_formats(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "not found" in capsys.readouterr().err
    data = tmp_path / "d.csv"
    data.write_text("text,label\na,b\n", encoding="utf-8")
    assert main(["predict", str(tmp_path / "nope.joblib"), str(data), "--out", str(tmp_path / "p.csv")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["predict", str(data), str(data), "--out", str(tmp_path / "p.csv")]) == 2  # not a joblib file
    assert "joblib" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse usage errors
        main(["fit", str(data), "--out", str(tmp_path / "m.joblib"), "--format", "xml"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["fit", str(data), "--out", str(tmp_path)]) == 2  # a directory
    assert "is a directory" in capsys.readouterr().err
    odd = tmp_path / "d.parquet"
    odd.write_text("x", encoding="utf-8")
    assert main(["fit", str(odd), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "--format" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n{"text": "b", label}\n', encoding="utf-8")
    assert main(["fit", str(bad), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "line 2" in capsys.readouterr().err
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\na,b\nc,d,e\n", encoding="utf-8")
    assert main(["fit", str(ragged), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "line 3" in capsys.readouterr().err


def test_tsv_read_as_csv_hint(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("text\tlabel\nhello\ta\n", encoding="utf-8")
    assert main(["fit", str(data), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "--format tsv" in capsys.readouterr().err


# -- demo ------------------------------------------------------------------------------------------
def test_demo_on_subset(tiny_lm_path, capsys):
    assert main(["demo", "--pretrained", tiny_lm_path, "--subset-size", "60", "--epochs", "1", "--lm-epochs", "1",
                 "--threads", "1", "--quiet", "--json"]) == 0
    out = capsys.readouterr().out
    assert "ULMFiT" in out and "TF-IDF" in out and "trained on 60 questions, tested on 500" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n_train"] == 60 and result["n_test"] == 500
    assert 0 <= result["ulmfit_accuracy"] <= 1 and 0 <= result["tfidf_accuracy"] <= 1
    for r in result["results"]:
        assert f"{r['accuracy']:.3f}" in out


def test_demo_bad_subset(capsys):
    assert main(["demo", "--subset-size", "3", "-q"]) == 2
    assert "subset-size" in capsys.readouterr().err
