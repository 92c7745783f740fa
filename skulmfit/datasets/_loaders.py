"""Loaders for the text-classification and language-model corpora used by skulmfit.

Only the TREC-6 question-classification data is bundled with the package. The other
loaders read local copies in the formats described in ``docs/datasets.md``; they take
the folder as ``path`` and never download anything.
"""

from __future__ import annotations

import csv
import json
import lzma
import os
import re
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "load_trec",
    "load_imdb",
    "load_ag_news",
    "load_ag_news_split",
    "load_mr",
    "load_subj",
    "load_wikipedia",
]

PathLike = str | os.PathLike[str]

_DOCS = "skulmfit's docs/datasets.md"

# Where to get each dataset and the layout expected; used in FileNotFoundError messages.
_IMDB_SOURCE = (
    "the IMDb Large Movie Review Dataset v1.0 (Maas et al. 2011), "
    "https://ai.stanford.edu/~amaas/data/sentiment/, converted to JSONL.xz as described "
    f"in {_DOCS}: xz-compressed UTF-8, one JSON object a line, "
    '{"id", "label" ("neg"/"pos"), "rating", "text"} for train/test and '
    '{"id", "rating", "text"} for unsup'
)
_AG_NEWS_SOURCE = (
    "AG's News topic classification dataset (Zhang, Zhao & LeCun 2015), the "
    "char-CNN version 'ag_news_csv' (e.g. https://github.com/mhjabreel/CharCnn_Keras, "
    "data/ag_news_csv/), in its original format: test.csv with RFC-4180 CSV rows "
    '"class","title","description" (class 1-4) and classes.txt with one class name a '
    f"line; see {_DOCS}"
)
_MR_SOURCE = (
    "the MR movie-review sentence polarity dataset v1.0 (Pang & Lee 2005), "
    "https://www.cs.cornell.edu/people/pabo/movie-review-data/ (rt-polarity.neg/.pos), "
    "converted to UTF-8 TSV 'label<TAB>text' with labels neg/pos as described in "
    f"{_DOCS}"
)
_SUBJ_SOURCE = (
    "the SUBJ subjectivity dataset v1.0 (Pang & Lee 2004), "
    "https://www.cs.cornell.edu/people/pabo/movie-review-data/ (plot.tok.gt9.5000 / "
    "quote.tok.gt9.5000), converted to UTF-8 TSV 'label<TAB>text' with labels obj/subj "
    f"as described in {_DOCS}"
)
_WIKIPEDIA_SOURCE = (
    "an English Wikipedia plain-text extract (WikiExtractor output) converted to "
    "shards named enwiki_*.jsonl.xz: xz-compressed UTF-8, one JSON object "
    '{"id", "title", "text"} per article and line, as described in ' + _DOCS
)

_IMDB_DESCR = """\
IMDb Large Movie Review Dataset v1.0 (aclImdb)
===============================================

Binary sentiment classification of movie reviews from IMDb.

* Classes: neg, pos. Unlabelled ('unsup') reviews get the integer target -1.
* Samples: train 25000 (12500 neg / 12500 pos), test 25000 (12500 / 12500),
  unsup 50000. Files are ordered neg then pos: shuffle before use.
* Text: the review file content, including the original ``<br /><br />`` tags.
* Format: ``{train,test,unsup}.jsonl.xz``, one JSON object a line.

Citation: A. L. Maas, R. E. Daly, P. T. Pham, D. Huang, A. Y. Ng, C. Potts.
Learning Word Vectors for Sentiment Analysis. ACL 2011.

Terms: released by the authors for research use (cite the paper); no explicit
licence; the reviews are IMDb user content.
"""

_AG_NEWS_DESCR = """\
AG's News topic classification dataset (char-CNN version), test split
=====================================================================

News-article topic classification, 4 balanced classes.

* Classes: World, Sports, Business, Sci/Tech (1900 test articles each, 7600 in all).
* Text: ``title + ". " + description``; the original backslash line-break escapes
  are replaced by spaces and ``\\$`` by ``$``. HTML-entity leftovers such as
  ``#39;`` are kept as in the source.
* Format: the original ``test.csv`` (RFC-4180, ``"class","title","description"``)
  and ``classes.txt``.

Citation: X. Zhang, J. Zhao, Y. LeCun. Character-level Convolutional Networks for
Text Classification. NIPS 2015. Source corpus: A. Gulli's AG corpus of news articles.

Terms: "provided by the academic community for research purposes ... and any other
non-commercial activity" (the dataset's readme.txt).
"""

_MR_DESCR = """\
MR: movie-review sentence polarity dataset v1.0 (rt-polarity)
==============================================================

* Classes: neg, pos. Samples: 10662 (5331 / 5331); no fixed split, use
  (stratified) 10-fold cross-validation. Rows are ordered neg then pos.
* Text: lower-cased and tokenized as in the source; decoded from Windows-1252.
* Format: ``mr.tsv``, UTF-8, ``label<TAB>text``.

Citation: B. Pang and L. Lee. Seeing stars: Exploiting class relationships for
sentiment categorization with respect to rating scales. ACL 2005.

Terms: released by the authors for research; no explicit licence.
"""

_SUBJ_DESCR = """\
SUBJ: subjectivity dataset v1.0
===============================

* Classes: obj, subj. Samples: 10000 (5000 / 5000); no fixed split, use
  (stratified) 10-fold cross-validation. Rows are ordered obj then subj.
* Text: lower-cased and tokenized as in the source; decoded from Windows-1252.
* Format: ``subj.tsv``, UTF-8, ``label<TAB>text``.

Citation: B. Pang and L. Lee. A sentimental education: Sentiment analysis using
subjectivity summarization based on minimum cuts. ACL 2004.

Terms: released by the authors for research; no explicit licence.
"""

_TREC_SUBSETS = ("train", "test", "all")
_IMDB_SUBSETS = ("train", "test", "unsup", "all")
_IMDB_LABELS = ("neg", "pos")
_IMDB_UNSUP_TARGET = -1

# AG News escapes: ``\$`` is an escaped dollar sign; any other run of backslashes is
# the original line break (written as a bare ``\`` or ``\\`` in the char-CNN files).
_AG_DOLLAR = re.compile(r"\\\$")
_AG_LINEBREAK = re.compile(r"\\+")


# --------------------------------------------------------------------------- helpers
def _check_subset(subset: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(subset, str) or subset not in allowed:
        raise ValueError(
            f"subset must be one of {', '.join(repr(s) for s in allowed)}; got {subset!r}."
        )


def _check_dir(path: PathLike, what: str, source: str) -> Path:
    """Return ``path`` as a Path, or raise FileNotFoundError if it is not a folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(folder)!r} for {what} does not exist (or is not a "
            f"folder). Expected it to contain {source}."
        )
    return folder


def _require_file(folder: Path, name: str, source: str) -> Path:
    file = folder / name
    if not file.is_file():
        raise FileNotFoundError(
            f"Missing file {str(file)!r}. Expected {name!r} from {source}."
        )
    return file


def _parse_tsv_lines(lines: Iterable[str], name: str) -> tuple[list[str], list[str]]:
    """Parse ``label<TAB>text`` lines; empty lines are skipped."""
    texts: list[str] = []
    labels: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line:
            continue
        label, sep, text = line.partition("\t")
        if not sep or not label:
            raise ValueError(
                f"{name}, line {lineno}: expected 'label<TAB>text', got {line[:80]!r}."
            )
        labels.append(label)
        texts.append(text)
    return texts, labels


def _read_tsv(file: Path) -> tuple[list[str], list[str]]:
    # newline="\n": only "\n" ends a line (the texts may hold other line-break-like
    # characters, which must stay inside the text).
    with open(file, encoding="utf-8", newline="\n") as fh:
        return _parse_tsv_lines(fh, str(file))


def _iter_jsonl_xz(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with lzma.open(file, "rt", encoding="utf-8", newline="\n") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{file}, line {lineno}: invalid JSON ({exc}).") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(
                    f"{file}, line {lineno}: expected a JSON object with a 'text' string."
                )
            yield lineno, record


def _labelled_bunch(
    texts: list[str],
    target: np.ndarray,
    target_names: list[str],
    descr: str,
    return_X_y: bool,
    **extra: Any,
) -> Bunch | tuple[list[str], np.ndarray]:
    if return_X_y:
        return texts, target
    return Bunch(data=texts, target=target, target_names=target_names, DESCR=descr, **extra)


def _object_array(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


# --------------------------------------------------------------------------- TREC
def load_trec(
    subset: str = "train", return_X_y: bool = False
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the TREC-6 question classification dataset (bundled).

    ==============  ====================================
    Classes         6 (ABBR, DESC, ENTY, HUM, LOC, NUM)
    Samples train   5452
    Samples test    500
    Features        text (str), one question each
    ==============  ====================================

    Only the coarse labels are bundled; the fine-grained TREC-50 labels are not.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        Which split to load. ``'all'`` is the train split followed by the test split.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        data : list of str
            The questions, in file order.
        target : ndarray of shape (n_samples,), dtype=object
            The coarse label of each question, as a str.
        target_names : list of str
            The sorted class names.
        DESCR : str
            Description of the dataset (provenance, counts, citation, terms).

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` is a list of str and ``target`` an object array of str labels.

    Raises
    ------
    ValueError
        If ``subset`` is not one of the allowed values.

    References
    ----------
    X. Li and D. Roth. Learning Question Classifiers. COLING 2002.

    Examples
    --------
    >>> from skulmfit.datasets import load_trec
    >>> trec = load_trec(subset="train")
    >>> len(trec.data), trec.target_names
    (5452, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'])
    >>> X_test, y_test = load_trec(subset="test", return_X_y=True)
    >>> len(X_test), y_test[0]
    (500, 'NUM')
    """
    _check_subset(subset, _TREC_SUBSETS)
    data_dir = files("skulmfit.datasets") / "data"
    splits = ("train", "test") if subset == "all" else (subset,)
    texts: list[str] = []
    labels: list[str] = []
    for split in splits:
        name = f"trec_{split}.tsv"
        with (data_dir / name).open("r", encoding="utf-8", newline="\n") as fh:
            split_texts, split_labels = _parse_tsv_lines(fh, name)
        texts.extend(split_texts)
        labels.extend(split_labels)
    target = np.asarray(labels, dtype=object)
    if return_X_y:
        return texts, target
    descr = (data_dir / "README.md").read_text(encoding="utf-8")
    return Bunch(
        data=texts, target=target, target_names=sorted(set(labels)), DESCR=descr
    )


# --------------------------------------------------------------------------- IMDb
def load_imdb(
    path: PathLike,
    subset: str = "train",
    return_X_y: bool = False,
    shuffle: bool = False,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
    n_samples: int | None = None,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the IMDb Large Movie Review Dataset (Maas et al. 2011) from a local copy.

    ==============  ============================================
    Classes         2 (neg, pos); unsup reviews have target -1
    Samples train   25000 (12500 neg / 12500 pos)
    Samples test    25000 (12500 neg / 12500 pos)
    Samples unsup   50000 (unlabelled)
    Features        text (str), one review each
    ==============  ============================================

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding ``train.jsonl.xz``, ``test.jsonl.xz`` and ``unsup.jsonl.xz``
        (only the files the chosen subset needs are read). Each is xz-compressed
        UTF-8 JSON lines: ``{"id", "label", "rating", "text"}`` for train/test,
        ``{"id", "rating", "text"}`` for unsup. See ``docs/datasets.md``.
    subset : {'train', 'test', 'unsup', 'all'}, default='train'
        Which split to load. ``'all'`` is train, then test, then unsup.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    shuffle : bool, default=False
        Whether to shuffle the samples. The files are ordered neg then pos, so
        shuffle (or use ``n_samples`` only with ``shuffle=True``) for a mixed sample.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed or generator for the shuffle; only used when ``shuffle=True``.
    n_samples : int or None, default=None
        If given, keep only the first ``n_samples`` rows, after shuffling when
        ``shuffle=True``. This is a simple first-n cut, not an exact stratified
        sample: with ``shuffle=True`` the class balance is only approximately that
        of the split; with ``shuffle=False`` it is the first rows in file order
        (all ``neg`` for train/test) and the file is read only that far.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        data : list of str
            The review texts (with the original ``<br />`` tags).
        target : ndarray of shape (n_samples,), dtype=object
            ``'neg'`` or ``'pos'`` for labelled reviews, the int ``-1`` for unsup
            reviews. With ``subset='all'`` (or ``'unsup'``) the array therefore
            mixes str labels and ``-1``, the convention of scikit-learn's
            semi-supervised estimators for unlabelled samples.
        target_names : list of str
            ``['neg', 'pos']``.
        ids : ndarray of shape (n_samples,), dtype=object
            The original file ids, e.g. ``'train/pos/0_9'``.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` or a needed file is missing; the message says where to get it.
    ValueError
        If ``subset`` or ``n_samples`` is invalid, or a file is malformed.

    References
    ----------
    A. L. Maas, R. E. Daly, P. T. Pham, D. Huang, A. Y. Ng, C. Potts. Learning Word
    Vectors for Sentiment Analysis. ACL 2011.

    Examples
    --------
    >>> from skulmfit.datasets import load_imdb
    >>> X, y = load_imdb("data/imdb", subset="train", shuffle=True,
    ...                  random_state=0, n_samples=1000,
    ...                  return_X_y=True)  # doctest: +SKIP
    >>> len(X), sorted(set(y))  # doctest: +SKIP
    (1000, ['neg', 'pos'])
    """
    _check_subset(subset, _IMDB_SUBSETS)
    if n_samples is not None:
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, (int, np.integer))
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be a positive int or None; got {n_samples!r}.")
        n_samples = int(n_samples)
    folder = _check_dir(path, "the IMDb dataset", _IMDB_SOURCE)
    splits = ("train", "test", "unsup") if subset == "all" else (subset,)
    split_files = [
        (split, _require_file(folder, f"{split}.jsonl.xz", _IMDB_SOURCE)) for split in splits
    ]
    # Without shuffling, only the first n_samples rows are needed: stop reading there.
    limit = n_samples if (n_samples is not None and not shuffle) else None

    texts: list[str] = []
    targets: list[Any] = []
    ids: list[Any] = []
    for split, file in split_files:
        if limit is not None and len(texts) >= limit:
            break
        for lineno, record in _iter_jsonl_xz(file):
            if split == "unsup":
                label: Any = _IMDB_UNSUP_TARGET
            else:
                label = record.get("label")
                if label not in _IMDB_LABELS:
                    raise ValueError(
                        f"{file}, line {lineno}: expected 'label' to be 'neg' or 'pos'; "
                        f"got {label!r}."
                    )
            texts.append(record["text"])
            targets.append(label)
            ids.append(record.get("id"))
            if limit is not None and len(texts) >= limit:
                break

    if n_samples is not None and n_samples > len(texts):
        raise ValueError(
            f"n_samples={n_samples} is larger than the {len(texts)} samples in "
            f"subset {subset!r}."
        )
    target = _object_array(targets)
    id_array = _object_array(ids)
    if shuffle:
        order = check_random_state(random_state).permutation(len(texts))
        if n_samples is not None:
            order = order[:n_samples]
        texts = [texts[i] for i in order]
        target = target[order]
        id_array = id_array[order]
    elif n_samples is not None:
        texts, target, id_array = texts[:n_samples], target[:n_samples], id_array[:n_samples]
    return _labelled_bunch(
        texts, target, list(_IMDB_LABELS), _IMDB_DESCR, return_X_y, ids=id_array
    )


# --------------------------------------------------------------------------- AG News
def _clean_ag_news(field: str) -> str:
    return _AG_LINEBREAK.sub(" ", _AG_DOLLAR.sub("$", field))


def load_ag_news(
    path: PathLike, return_X_y: bool = False
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the AG's News test split (char-CNN version) from a local copy.

    ==============  ==========================================
    Classes         4 (World, Sports, Business, Sci/Tech)
    Samples         7600 (1900 per class; the test split only)
    Features        text (str): title + ". " + description
    ==============  ==========================================

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding the original ``test.csv`` (RFC-4180 rows
        ``"class","title","description"``, class 1-4) and ``classes.txt`` (one
        class name a line: World, Sports, Business, Sci/Tech).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        data : list of str
            ``title + ". " + description`` per article, in file order. The
            original line-break escapes (a backslash, written ``\\n``-style in the
            dataset's readme but stored as bare ``\\`` runs) become spaces and
            ``\\$`` becomes ``$``. Other leftovers such as ``#39;`` are kept.
        target : ndarray of shape (n_samples,), dtype=object
            The class name of each article (from ``classes.txt``).
        target_names : list of str
            The sorted class names.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path``, ``test.csv`` or ``classes.txt`` is missing.
    ValueError
        If a row is malformed or its class index is out of range.

    See Also
    --------
    load_ag_news_split : The fixed 5000/2600 stratified split of these 7600 rows.

    References
    ----------
    X. Zhang, J. Zhao, Y. LeCun. Character-level Convolutional Networks for Text
    Classification. NIPS 2015.

    Examples
    --------
    >>> from skulmfit.datasets import load_ag_news
    >>> ag = load_ag_news("data/ag_news")  # doctest: +SKIP
    >>> len(ag.data), ag.target_names  # doctest: +SKIP
    (7600, ['Business', 'Sci/Tech', 'Sports', 'World'])
    """
    folder = _check_dir(path, "AG's News", _AG_NEWS_SOURCE)
    csv_file = _require_file(folder, "test.csv", _AG_NEWS_SOURCE)
    classes_file = _require_file(folder, "classes.txt", _AG_NEWS_SOURCE)
    class_names = [
        line.strip()
        for line in classes_file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not class_names:
        raise ValueError(f"{classes_file} lists no class names.")

    texts: list[str] = []
    labels: list[str] = []
    with open(csv_file, encoding="utf-8", newline="") as fh:
        for rowno, row in enumerate(csv.reader(fh), start=1):
            if not row:
                continue
            if len(row) != 3:
                raise ValueError(
                    f"{csv_file}, row {rowno}: expected 3 fields "
                    f'"class","title","description"; got {len(row)}.'
                )
            index, title, description = row
            try:
                k = int(index)
            except ValueError:
                k = 0
            if not 1 <= k <= len(class_names):
                raise ValueError(
                    f"{csv_file}, row {rowno}: class must be an integer from 1 to "
                    f"{len(class_names)}; got {index!r}."
                )
            texts.append(f"{_clean_ag_news(title)}. {_clean_ag_news(description)}")
            labels.append(class_names[k - 1])
    target = np.asarray(labels, dtype=object)
    return _labelled_bunch(texts, target, sorted(class_names), _AG_NEWS_DESCR, return_X_y)


def load_ag_news_split(
    path: PathLike, random_state: int | np.random.RandomState | None = 0
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Return the fixed stratified 5000 / 2600 split of the AG's News test file.

    Only the 7600-article test file of AG's News is available locally, so skulmfit's
    benchmarks split it into 5000 training and 2600 held-out articles with
    ``sklearn.model_selection.train_test_split(X, y, train_size=5000,
    stratify=y, random_state=random_state)`` (1250 / 650 articles per class).

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding ``test.csv`` and ``classes.txt``, as for :func:`load_ag_news`.
    random_state : int, RandomState instance or None, default=0
        Seed of the split. Keep the default for the fixed, reported split.

    Returns
    -------
    X_train : list of str
        5000 texts.
    X_test : list of str
        2600 texts.
    y_train : ndarray of shape (5000,), dtype=object
        Class names of ``X_train``.
    y_test : ndarray of shape (2600,), dtype=object
        Class names of ``X_test``.

    Raises
    ------
    FileNotFoundError
        If ``path``, ``test.csv`` or ``classes.txt`` is missing.

    Examples
    --------
    >>> from skulmfit.datasets import load_ag_news_split
    >>> X_train, X_test, y_train, y_test = load_ag_news_split(
    ...     "data/ag_news")  # doctest: +SKIP
    >>> len(X_train), len(X_test)  # doctest: +SKIP
    (5000, 2600)
    """
    X, y = load_ag_news(path, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=5000, stratify=y, random_state=random_state
    )
    return X_train, X_test, y_train, y_test


# --------------------------------------------------------------------------- MR, SUBJ
def _load_tsv_dataset(
    path: PathLike,
    filename: str,
    what: str,
    source: str,
    descr: str,
    return_X_y: bool,
) -> Bunch | tuple[list[str], np.ndarray]:
    folder = _check_dir(path, what, source)
    file = _require_file(folder, filename, source)
    texts, labels = _read_tsv(file)
    target = np.asarray(labels, dtype=object)
    return _labelled_bunch(texts, target, sorted(set(labels)), descr, return_X_y)


def load_mr(path: PathLike, return_X_y: bool = False) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the MR movie-review sentence polarity dataset (Pang & Lee 2005).

    ==============  ==============================
    Classes         2 (neg, pos)
    Samples         10662 (5331 / 5331), no split
    Features        text (str), one sentence each
    ==============  ==============================

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding ``mr.tsv`` (UTF-8, ``label<TAB>text``, no header).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (list of str, file order: all neg first), ``target`` (object array
        of str labels), ``target_names`` (sorted list) and ``DESCR``. There is no
        fixed split: shuffle and use (stratified) 10-fold cross-validation.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``mr.tsv`` is missing.

    References
    ----------
    B. Pang and L. Lee. Seeing stars: Exploiting class relationships for sentiment
    categorization with respect to rating scales. ACL 2005.

    Examples
    --------
    >>> from skulmfit.datasets import load_mr
    >>> X, y = load_mr("data/mr", return_X_y=True)  # doctest: +SKIP
    >>> len(X)  # doctest: +SKIP
    10662
    """
    return _load_tsv_dataset(path, "mr.tsv", "MR", _MR_SOURCE, _MR_DESCR, return_X_y)


def load_subj(
    path: PathLike, return_X_y: bool = False
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the SUBJ subjectivity dataset (Pang & Lee 2004).

    ==============  ==============================
    Classes         2 (obj, subj)
    Samples         10000 (5000 / 5000), no split
    Features        text (str), one sentence each
    ==============  ==============================

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding ``subj.tsv`` (UTF-8, ``label<TAB>text``, no header).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (list of str, file order: all obj first), ``target`` (object array
        of str labels), ``target_names`` (sorted list) and ``DESCR``. There is no
        fixed split: shuffle and use (stratified) 10-fold cross-validation.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``subj.tsv`` is missing.

    References
    ----------
    B. Pang and L. Lee. A sentimental education: Sentiment analysis using
    subjectivity summarization based on minimum cuts. ACL 2004.

    Examples
    --------
    >>> from skulmfit.datasets import load_subj
    >>> X, y = load_subj("data/subj", return_X_y=True)  # doctest: +SKIP
    >>> len(X)  # doctest: +SKIP
    10000
    """
    return _load_tsv_dataset(
        path, "subj.tsv", "SUBJ", _SUBJ_SOURCE, _SUBJ_DESCR, return_X_y
    )


# --------------------------------------------------------------------------- Wikipedia
def _iter_wikipedia(shards: list[Path], exclude: frozenset[int]) -> Iterator[str]:
    for shard in shards:
        for lineno, record in _iter_jsonl_xz(shard):
            page_id = record.get("id")
            try:
                if int(page_id) in exclude:
                    continue
            except (TypeError, ValueError):
                raise ValueError(
                    f"{shard}, line {lineno}: expected an integer page 'id'; got {page_id!r}."
                ) from None
            yield record["text"]


def load_wikipedia(
    path: PathLike, exclude_ids: Iterable[int] = (21632, 44122)
) -> Iterator[str]:
    """Stream English Wikipedia article texts for language-model pretraining.

    Reads every ``enwiki_*.jsonl.xz`` shard in ``path``, in filename order, one
    article at a time; nothing beyond the current article is kept in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding the shards ``enwiki_*.jsonl.xz``: xz-compressed UTF-8 JSON
        lines ``{"id": <page id>, "title", "text"}``, one article a line, where
        ``text`` is the WikiExtractor article body (paragraphs separated by
        ``\\n``, title line removed).
    exclude_ids : iterable of int, default=(21632, 44122)
        Wikipedia page ids to skip. The default drops "Nero" (21632) and
        "American Beauty (1999 film)" (44122), the two WikiText-103/-2 test
        articles in the project's corpus, so that WikiText test perplexity is not
        measured on pretraining text. Pass ``()`` to keep every article.

    Returns
    -------
    texts : iterator of str
        A generator over the article texts. The folder and the shards are checked
        when this function is called, not lazily at the first ``next``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is missing or holds no ``enwiki_*.jsonl.xz`` file.

    Notes
    -----
    The project's copy holds 30729 articles (page ids 12-60633, about 65M words)
    from a ~2015 enwiki dump in four shards. It is not WikiText-103. Wikipedia text
    is licensed CC BY-SA 3.0 (and GFDL); attribute it to the Wikipedia contributors.

    Examples
    --------
    >>> from itertools import islice
    >>> from skulmfit.datasets import load_wikipedia
    >>> texts = load_wikipedia("data/wikipedia")  # doctest: +SKIP
    >>> first_three = list(islice(texts, 3))  # doctest: +SKIP
    """
    folder = _check_dir(path, "the Wikipedia corpus", _WIKIPEDIA_SOURCE)
    shards = sorted(p for p in folder.glob("enwiki_*.jsonl.xz") if p.is_file())
    if not shards:
        raise FileNotFoundError(
            f"No file matching {str(folder / 'enwiki_*.jsonl.xz')!r}. Expected "
            f"{_WIKIPEDIA_SOURCE}."
        )
    exclude = frozenset(int(i) for i in exclude_ids)
    return _iter_wikipedia(shards, exclude)
