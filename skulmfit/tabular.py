"""Reading and writing the tables of the command line: CSV, TSV and JSON Lines.

Only the standard library is used (no pandas). The format comes from the file extension
(``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``) unless given explicitly.

* CSV and TSV have a header row. TSV is read and written like
  ``pandas.read_csv(sep="\\t")`` / ``to_csv(sep="\\t")``: fields may be double-quoted (needed only
  for fields holding a tab, a newline or a leading quote). Blank lines are skipped; a UTF-8
  byte-order mark is ignored. Every value is a ``str``.
* JSON Lines: one JSON object per non-blank line; the columns are the keys in order of first
  appearance, and a key missing from a row reads as ``None``.

Errors are :class:`TableError` (a ``ValueError``) naming the file, the line and the problem, or
``FileNotFoundError``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("csv", "tsv", "jsonl")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
UNLABELLED = -1

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long documents (the default limit is 128 KiB)


class TableError(ValueError):
    """A table file that cannot be read or used: bad format, malformed line, missing column."""


@dataclass
class Table:
    """Rows of a table file; ``rows[i][column]`` (``None`` where a JSONL row lacks the key)."""

    path: str
    format: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def column(self, name: str, role: str = "column") -> list[Any]:
        """The values of column ``name``; a :class:`TableError` listing the columns if it is absent."""
        if name not in self.columns:
            hint = ""
            if self.format == "csv" and len(self.columns) == 1 and "\t" in self.columns[0]:
                hint = " (the header holds tabs: is this a TSV file? use a .tsv name or --format tsv)"
            elif self.format == "tsv" and len(self.columns) == 1 and "," in self.columns[0]:
                hint = " (the header holds commas: is this a CSV file? use a .csv name or --format csv)"
            raise TableError(
                f"{self.path} has no {role} {name!r}; available columns: {', '.join(map(repr, self.columns))}{hint}"
            )
        return [row.get(name) for row in self.rows]


def detect_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """``fmt`` if given (validated), else the format named by ``path``'s extension."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise TableError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise TableError(
            f"cannot tell the format of {os.fspath(path)!r} from its extension {suffix or '(none)'!r}: name it "
            f"{', '.join(sorted(EXTENSIONS))} or pass --format {{{','.join(FORMATS)}}}"
        )
    return EXTENSIONS[suffix]


def read_table(path: str | os.PathLike[str], fmt: str | None = None) -> Table:
    """Read a CSV, TSV or JSONL file (see the module docstring)."""
    fmt = detect_format(path, fmt)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"data file not found: {p}")
    if p.is_dir():
        raise TableError(f"{p} is a directory, not a data file")
    try:
        with open(p, encoding="utf-8-sig", newline="") as fh:
            if fmt == "jsonl":
                return _read_jsonl(fh, str(p))
            return _read_delimited(fh, str(p), fmt)
    except UnicodeDecodeError as e:
        raise TableError(f"cannot read {p} as {fmt.upper()}: it is not UTF-8 text "
                         f"({e.reason} at byte {e.start})") from None


def _read_delimited(fh: Iterable[str], path: str, fmt: str) -> Table:
    dialect = "excel-tab" if fmt == "tsv" else "excel"
    reader = csv.reader(fh, dialect=dialect, strict=False)
    try:
        header: list[str] | None = None
        rows: list[dict[str, Any]] = []
        for record in reader:
            if not record or (len(record) == 1 and record[0] == ""):
                continue  # blank line
            if header is None:
                header = [h.strip() for h in record]
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    raise TableError(f"{path}: the header names columns more than once: {dupes}")
                continue
            if len(record) != len(header):
                raise TableError(
                    f"cannot read {path} as {fmt.upper()}: line {reader.line_num} has {len(record)} fields but the "
                    f"header has {len(header)}" + (" (is it really comma-separated?)" if fmt == "csv" else
                                                   " (is it really tab-separated?)")
                )
            rows.append(dict(zip(header, record)))
    except csv.Error as e:
        raise TableError(f"cannot read {path} as {fmt.upper()}: line {reader.line_num}: {e}") from None
    if header is None:
        raise TableError(f"{path} is empty: a {fmt.upper()} file needs a header row naming its columns")
    return Table(path, fmt, header, rows)


def _read_jsonl(fh: Iterable[str], path: str) -> Table:
    columns: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TableError(f"cannot read {path} as JSONL: line {n} is not valid JSON ({e.msg}, column {e.colno})"
                             ) from None
        if not isinstance(obj, dict):
            raise TableError(f"cannot read {path} as JSONL: line {n} is a JSON {type(obj).__name__}, "
                             "not an object ({\"column\": value, ...})")
        for k in obj:
            columns.setdefault(k, None)
        rows.append(obj)
    if not rows:
        raise TableError(f"{path} is empty: a JSONL file needs one JSON object per line")
    return Table(path, "jsonl", list(columns), rows)


# -- columns ---------------------------------------------------------------------------------------
def texts_from(table: Table, column: str) -> list[str]:
    """The documents of ``column``: strings (numbers are converted); a missing value is an error."""
    texts = []
    for i, v in enumerate(table.column(column, "text column")):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise TableError(f"{table.path}: row {i + 1} has no text in column {column!r}; fill or drop it")
        if isinstance(v, (dict, list)):
            raise TableError(f"{table.path}: row {i + 1} of column {column!r} is a JSON {type(v).__name__}, not text")
        texts.append(v if isinstance(v, str) else str(v))
    return texts


def is_unlabelled(value: Any) -> bool:
    """Empty or missing labels, and the value -1 (``-1``, ``-1.0``, ``"-1"``), mark unlabelled rows."""
    if value is None:
        return True
    if isinstance(value, str):
        s = value.strip()
        return s == "" or s in ("-1", "-1.0")
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, (int, float)) and value == UNLABELLED


def labels_from(table: Table, column: str) -> list[Any]:
    """Labels of ``column`` with unlabelled rows as ``-1`` (the estimators' convention)."""
    labels = []
    for i, v in enumerate(table.column(column, "label column")):
        if isinstance(v, (dict, list)):
            raise TableError(f"{table.path}: row {i + 1} of label column {column!r} is a JSON {type(v).__name__}; "
                             "labels must be single values (one label per row)")
        if is_unlabelled(v):
            labels.append(UNLABELLED)
        else:
            labels.append(v.strip() if isinstance(v, str) else v)
    return labels


# -- writing ---------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """numpy scalars and arrays as Python values (for JSON)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bool, list, dict)):
        return json.dumps(value)
    return str(value)


def write_table(path: str | os.PathLike[str], columns: Sequence[str], rows: Iterable[Sequence[Any]],
                fmt: str | None = None) -> str:
    """Write rows (sequences in ``columns`` order) atomically (temporary file, then rename); returns the format."""
    fmt = detect_format(path, fmt)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            if fmt == "jsonl":
                for row in rows:
                    fh.write(json.dumps({c: plain(v) for c, v in zip(columns, row)}, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(fh, dialect="excel-tab" if fmt == "tsv" else "excel", lineterminator="\n")
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_cell(v) for v in row])
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return fmt


# -- fitted estimators -----------------------------------------------------------------------------
def dump_model(estimator: Any, path: str | os.PathLike[str]) -> None:
    """``joblib.dump`` to a temporary file beside ``path``, then rename it over ``path`` (atomic)."""
    import joblib

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        joblib.dump(estimator, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_model(path: str | os.PathLike[str]) -> Any:
    """``joblib.load`` a fitted estimator written by :func:`dump_model` (trusted files only: it unpickles).

    Raises ``FileNotFoundError``, or :class:`~skulmfit.exceptions.ModelFileError` for a file that is
    not a joblib file or holds no estimator.
    """
    import joblib

    from .exceptions import ModelFileError

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"model file not found: {p}" + (" (it is a directory)" if p.is_dir() else ""))
    try:
        est = joblib.load(p)
    except Exception as e:  # noqa: BLE001 - unpickling fails in many ways
        raise ModelFileError(f"cannot read {p} as a joblib model file written by 'skulmfit fit' "
                             f"({type(e).__name__}: {e})") from None
    if not hasattr(est, "predict"):
        raise ModelFileError(f"{p} holds a {type(est).__name__}, not a fitted classifier")
    return est
