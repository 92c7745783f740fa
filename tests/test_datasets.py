"""Tests for skulmfit.datasets."""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import lzma
from collections import Counter
from importlib.resources import files
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skulmfit.datasets import (
    load_ag_news,
    load_ag_news_split,
    load_imdb,
    load_mr,
    load_subj,
    load_trec,
    load_wikipedia,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    for candidate in (Path("/work/shared/data"), REPO_ROOT.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


SHARED_DATA = _shared_data()
needs_shared_data = pytest.mark.skipif(
    SHARED_DATA is None, reason="shared/data (real datasets) not available"
)


# --------------------------------------------------------------------------- helpers
def _write_jsonl_xz(path: Path, records: list[dict]) -> None:
    with lzma.open(path, "wt", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")


@pytest.fixture
def imdb_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "imdb"
    folder.mkdir()
    train = [
        {"id": f"train/neg/{i}_2", "label": "neg", "rating": 2, "text": f"bad movie {i}"}
        for i in range(5)
    ] + [
        {"id": f"train/pos/{i}_9", "label": "pos", "rating": 9, "text": f"good<br />film\t{i}"}
        for i in range(5)
    ]
    test = [
        {"id": "test/neg/0_1", "label": "neg", "rating": 1, "text": "awful"},
        {"id": "test/pos/0_10", "label": "pos", "rating": 10, "text": "great \u2028 fun"},
    ]
    unsup = [{"id": f"train/unsup/{i}_0", "rating": 0, "text": f"some review {i}"} for i in range(3)]
    _write_jsonl_xz(folder / "train.jsonl.xz", train)
    _write_jsonl_xz(folder / "test.jsonl.xz", test)
    _write_jsonl_xz(folder / "unsup.jsonl.xz", unsup)
    return folder


AG_CSV = (
    '"3","Fears for T N pension after talks","Unions representing workers at Turner   '
    "Newall say they are 'disappointed' after talks.\"\n"
    '"4","Space Race (SPACE.com)","A second\\team of rocketeers, competing for '
    'the \\$10 million prize\\\\""It is on,"" they said."\n'
    '"1","Line\\break, in title","Quoted ""word"" and a social\\network"\n'
    '"2","Sports","Score: \\$5, #39;s"\n'
)


@pytest.fixture
def ag_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ag_news"
    folder.mkdir()
    (folder / "test.csv").write_text(AG_CSV, encoding="utf-8")
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- TREC
TREC_TRAIN_COUNTS = {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}
TREC_TEST_COUNTS = {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}


def test_trec_bundled_files_are_the_shared_files():
    expected = {
        "trec_train.tsv": "0c35c0ad80b2667b10ce8f0beab4e4e6aa72e13bbc3c6b3ffcb10def7fb6428b",
        "trec_test.tsv": "bc8b9b5aaa3617167b8ff2a5a7028bb7e8a8fb0fc06162a7db9b15566cc0424d",
    }
    data_dir = files("skulmfit.datasets") / "data"
    for name, digest in expected.items():
        assert hashlib.sha256((data_dir / name).read_bytes()).hexdigest() == digest


def test_load_trec_train():
    trec = load_trec()
    assert isinstance(trec, Bunch)
    assert len(trec.data) == 5452
    assert all(isinstance(x, str) for x in trec.data)
    assert isinstance(trec.target, np.ndarray) and trec.target.dtype == object
    assert trec.target.shape == (5452,)
    assert dict(Counter(trec.target)) == TREC_TRAIN_COUNTS
    assert trec.target_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert "Li and D. Roth" in trec.DESCR and "COLING 2002" in trec.DESCR
    # File order, and the one non-ASCII character decoded as documented.
    assert trec.target[0] == "DESC"
    assert trec.data[0] == "How did serfdom develop in and then leave Russia ?"
    assert "sister\u00f0city" in trec.data[65]


def test_load_trec_test_and_all():
    X, y = load_trec(subset="test", return_X_y=True)
    assert isinstance(X, list) and len(X) == 500
    assert dict(Counter(y)) == TREC_TEST_COUNTS
    trec_all = load_trec(subset="all")
    assert len(trec_all.data) == 5952
    assert trec_all.data[5452:] == X
    assert list(trec_all.target[5452:]) == list(y)


@pytest.mark.parametrize("subset", ["valid", "TRAIN", None, ""])
def test_load_trec_bad_subset(subset):
    with pytest.raises(ValueError, match="'train', 'test', 'all'"):
        load_trec(subset=subset)


def test_load_trec_has_no_fine_parameter():
    assert "fine" not in inspect.signature(load_trec).parameters


# --------------------------------------------------------------------------- IMDb
def test_load_imdb_train(imdb_dir: Path):
    imdb = load_imdb(imdb_dir)
    assert isinstance(imdb, Bunch)
    assert len(imdb.data) == 10
    assert imdb.target.dtype == object
    assert list(imdb.target) == ["neg"] * 5 + ["pos"] * 5
    assert imdb.target_names == ["neg", "pos"]
    assert imdb.data[5] == "good<br />film\t0"
    assert imdb.ids[0] == "train/neg/0_2"
    assert "Maas" in imdb.DESCR


def test_load_imdb_subsets(imdb_dir: Path):
    X, y = load_imdb(str(imdb_dir), subset="test", return_X_y=True)
    assert X == ["awful", "great \u2028 fun"]
    assert list(y) == ["neg", "pos"]

    X, y = load_imdb(imdb_dir, subset="unsup", return_X_y=True)
    assert len(X) == 3 and list(y) == [-1, -1, -1]

    X, y = load_imdb(imdb_dir, subset="all", return_X_y=True)
    assert len(X) == 15 and y.dtype == object
    assert Counter(y.tolist()) == {"neg": 6, "pos": 6, -1: 3}
    assert all(isinstance(t, int) for t in y[-3:])


def test_load_imdb_shuffle_and_n_samples(imdb_dir: Path):
    a = load_imdb(imdb_dir, shuffle=True, random_state=0)
    b = load_imdb(imdb_dir, shuffle=True, random_state=0)
    assert a.data == b.data and list(a.target) == list(b.target)
    assert sorted(a.data) == sorted(load_imdb(imdb_dir).data)
    # data, target and ids stay aligned after shuffling
    for text, label, id_ in zip(a.data, a.target, a.ids):
        assert id_.split("/")[1] == label
        assert ("bad" in text) == (label == "neg")

    X, y = load_imdb(imdb_dir, shuffle=True, random_state=0, n_samples=4, return_X_y=True)
    assert X == a.data[:4] and list(y) == list(a.target[:4])

    X, y = load_imdb(imdb_dir, n_samples=3, return_X_y=True)
    assert X == ["bad movie 0", "bad movie 1", "bad movie 2"]

    with pytest.raises(ValueError, match="n_samples"):
        load_imdb(imdb_dir, n_samples=0)
    with pytest.raises(ValueError, match="n_samples"):
        load_imdb(imdb_dir, subset="test", n_samples=3)


def test_load_imdb_errors(imdb_dir: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="'train', 'test', 'unsup', 'all'"):
        load_imdb(imdb_dir, subset="val")
    with pytest.raises(FileNotFoundError, match="ai.stanford.edu"):
        load_imdb(tmp_path / "nowhere")
    (imdb_dir / "unsup.jsonl.xz").unlink()
    with pytest.raises(FileNotFoundError, match=r"unsup\.jsonl\.xz.*JSONL\.xz"):
        load_imdb(imdb_dir, subset="all")
    # the other splits still load
    assert len(load_imdb(imdb_dir, subset="train").data) == 10


# --------------------------------------------------------------------------- AG News
def test_load_ag_news(ag_dir: Path):
    ag = load_ag_news(ag_dir)
    assert isinstance(ag, Bunch)
    assert ag.target_names == ["Business", "Sci/Tech", "Sports", "World"]
    assert list(ag.target) == ["Business", "Sci/Tech", "World", "Sports"]
    assert ag.target.dtype == object
    assert ag.data[0] == (
        "Fears for T N pension after talks. Unions representing workers at Turner   "
        "Newall say they are 'disappointed' after talks."
    )
    assert ag.data[1] == (
        "Space Race (SPACE.com). A second team of rocketeers, competing for the $10 "
        'million prize "It is on," they said.'
    )
    # a backslash is the original line break, also before an "n" (not a "\\n" escape)
    assert ag.data[2] == 'Line break, in title. Quoted "word" and a social network'
    assert ag.data[3] == "Sports. Score: $5, #39;s"
    assert all("\\" not in text for text in ag.data)
    X, y = load_ag_news(str(ag_dir), return_X_y=True)
    assert X == ag.data and list(y) == list(ag.target)


def test_load_ag_news_errors(ag_dir: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="test.csv"):
        load_ag_news(tmp_path / "missing")
    (ag_dir / "classes.txt").unlink()
    with pytest.raises(FileNotFoundError, match="classes.txt"):
        load_ag_news(ag_dir)
    (ag_dir / "test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="test.csv"):
        load_ag_news(ag_dir)


def test_load_ag_news_bad_class(ag_dir: Path):
    (ag_dir / "test.csv").write_text('"5","t","d"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="row 1"):
        load_ag_news(ag_dir)


def test_load_ag_news_split_on_tiny_file(tmp_path: Path):
    folder = tmp_path / "ag"
    folder.mkdir()
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n", encoding="utf-8")
    with open(folder / "test.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for i in range(7600):
            writer.writerow([i % 4 + 1, f"title {i}", f"description {i}"])
    X_train, X_test, y_train, y_test = load_ag_news_split(folder)
    assert len(X_train) == len(y_train) == 5000
    assert len(X_test) == len(y_test) == 2600
    assert Counter(y_train) == {c: 1250 for c in ["World", "Sports", "Business", "Sci/Tech"]}
    assert not set(X_train) & set(X_test)
    again = load_ag_news_split(folder)
    assert again[0] == X_train and list(again[3]) == list(y_test)


# --------------------------------------------------------------------------- MR, SUBJ
@pytest.mark.parametrize(
    "loader, filename, labels",
    [(load_mr, "mr.tsv", ("neg", "pos")), (load_subj, "subj.tsv", ("obj", "subj"))],
)
def test_load_tsv_datasets(tmp_path: Path, loader, filename, labels):
    lines = [
        f"{labels[0]}\tit's so laddish , only teenage boys could find it funny .",
        f"{labels[0]}\tan ellipsis \u2026 and a next-line \u0085 char",
        f"{labels[1]}\ta gorgeous , witty film .",
    ]
    (tmp_path / filename).write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    bunch = loader(tmp_path)
    assert isinstance(bunch, Bunch)
    assert bunch.data == [line.split("\t", 1)[1] for line in lines]
    assert list(bunch.target) == [labels[0], labels[0], labels[1]]
    assert bunch.target.dtype == object
    assert bunch.target_names == list(labels)
    assert "Pang" in bunch.DESCR
    X, y = loader(str(tmp_path), return_X_y=True)
    assert X == bunch.data

    (tmp_path / filename).unlink()
    with pytest.raises(FileNotFoundError, match=filename):
        loader(tmp_path)
    with pytest.raises(FileNotFoundError, match="cornell"):
        loader(tmp_path / "nowhere")


def test_load_tsv_malformed(tmp_path: Path):
    (tmp_path / "mr.tsv").write_text("neg\tfine\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_mr(tmp_path)


# --------------------------------------------------------------------------- Wikipedia
def test_load_wikipedia_streams(tmp_path: Path):
    _write_jsonl_xz(
        tmp_path / "enwiki_AB.jsonl.xz",
        [
            {"id": 21632, "title": "Nero", "text": "Nero was emperor."},
            {"id": 30000, "title": "C", "text": "Article C.\nSecond paragraph."},
        ],
    )
    _write_jsonl_xz(
        tmp_path / "enwiki_AA.jsonl.xz",
        [
            {"id": 12, "title": "A", "text": "Article A."},
            {"id": 44122, "title": "American Beauty (1999 film)", "text": "A film."},
            {"id": 25, "title": "B", "text": "Article B."},
        ],
    )
    (tmp_path / "other.jsonl.xz").write_bytes(b"not read")

    texts = load_wikipedia(tmp_path)
    assert inspect.isgenerator(texts) and iter(texts) is texts
    assert next(texts) == "Article A."
    assert list(texts) == ["Article B.", "Article C.\nSecond paragraph."]

    everything = list(load_wikipedia(str(tmp_path), exclude_ids=()))
    assert len(everything) == 5 and "Nero was emperor." in everything
    assert list(load_wikipedia(tmp_path, exclude_ids=[12, 25, 30000])) == [
        "A film.",
        "Nero was emperor.",
    ]


def test_load_wikipedia_errors_are_eager(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="enwiki_"):
        load_wikipedia(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"enwiki_\*\.jsonl\.xz"):
        load_wikipedia(tmp_path)  # exists, but holds no shards


# --------------------------------------------------------------------------- real data
@needs_shared_data
def test_real_ag_news_counts_and_split():
    ag = load_ag_news(SHARED_DATA / "ag_news")
    assert len(ag.data) == 7600
    assert Counter(ag.target) == {c: 1900 for c in ["World", "Sports", "Business", "Sci/Tech"]}
    assert all("\\" not in text for text in ag.data)
    X_train, X_test, y_train, y_test = load_ag_news_split(SHARED_DATA / "ag_news")
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (5000, 2600, 5000, 2600)
    assert set(Counter(y_test).values()) == {650}


@needs_shared_data
def test_real_trec_matches_shared_copy():
    X, y = load_trec(subset="train", return_X_y=True)
    lines = (SHARED_DATA / "trec" / "train.tsv").read_text(encoding="utf-8").splitlines()
    assert [f"{label}\t{text}" for label, text in zip(y, X)] == lines


@needs_shared_data
def test_real_mr_subj_imdb_quick():
    assert Counter(load_mr(SHARED_DATA / "mr").target) == {"neg": 5331, "pos": 5331}
    assert Counter(load_subj(SHARED_DATA / "subj").target) == {"obj": 5000, "subj": 5000}
    X, y = load_imdb(SHARED_DATA / "imdb", n_samples=20, return_X_y=True)
    assert len(X) == 20 and set(y) == {"neg"}
    wiki = load_wikipedia(SHARED_DATA / "wikipedia")
    assert all(isinstance(t, str) and t for t in islice(wiki, 3))
