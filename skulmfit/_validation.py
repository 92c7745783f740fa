"""Input validation for the estimators: texts and targets, with errors that name the problem."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target

UNLABELLED = -1


def check_texts(X: Any, name: str = "X") -> list[str]:
    """Validate documents and return them as a list of ``str``.

    Accepts a list/tuple, a 1-D numpy array, a pandas Series (or one-column DataFrame), or any
    iterable of ``str``. Empty strings are allowed (they are valid documents).

    Raises
    ------
    TypeError
        A bare string or bytes, a sparse matrix, or items that are not ``str``.
    ValueError
        Missing values (None/NaN), an empty collection, or a 2-D array with several columns.
    """
    if isinstance(X, (str, bytes, bytearray)):
        raise TypeError(
            f"{name} must be a collection of documents (e.g. a list of str), got a single "
            f"{type(X).__name__}; wrap one document in a list: [{name.lower()}]"
        )
    if sp.issparse(X):
        raise TypeError(f"{name} must be a collection of str documents, got a sparse matrix; "
                        "skulmfit reads raw text, not vectorised features")
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas DataFrame
        if X.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D (one text per row); got a DataFrame with {X.shape[1]} columns")
        X = X.iloc[:, 0]
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        elif X.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one text per item); got an array of shape {X.shape}")
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy(dtype=object)
    if isinstance(X, dict) or not hasattr(X, "__iter__"):
        raise TypeError(f"{name} must be a collection of str documents, got {type(X).__name__}")
    texts = list(X)
    if len(texts) == 0:
        raise ValueError(f"{name} is empty: at least one document is required")
    for i, t in enumerate(texts):
        if isinstance(t, str):
            continue
        if t is None or (isinstance(t, float) and math.isnan(t)) or t is getattr(np, "nan", None):
            raise ValueError(f"{name} contains a missing value ({t!r}) at index {i}; drop or fill missing texts first")
        if _is_pandas_na(t):
            raise ValueError(f"{name} contains a missing value ({t!r}) at index {i}; drop or fill missing texts first")
        raise TypeError(f"{name} must contain only str documents; item {i} is {type(t).__name__} ({_short(t)})")
    return [str(t) for t in texts]


def _is_pandas_na(value: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        return False
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 40 else r[:37] + "..."


@dataclass
class Targets:
    """Validated targets.

    Attributes
    ----------
    kind : {'multiclass', 'multilabel'}
        ``'multiclass'`` also covers binary.
    labelled : bool array (n,)
        Rows with a label (``y != -1``).
    classes : array
        Sorted class labels (multiclass) or label indices ``0..n_labels-1`` (multilabel).
    encoded : array
        Class index per labelled row (int64, multiclass) or the float 0/1 matrix of labelled
        rows (multilabel).
    """

    kind: str
    labelled: np.ndarray
    classes: np.ndarray
    encoded: np.ndarray


def _is_unlabelled(v: Any) -> bool:
    """-1 (any numeric type) or the string ``"-1"`` (numpy turns a list mixing str labels and -1
    into strings) marks an unlabelled row."""
    if isinstance(v, (str, np.str_)):
        return v == "-1"
    return isinstance(v, numbers.Number) and not isinstance(v, bool) and v == UNLABELLED


def check_targets_for_scoring(y: Any, n_samples: int) -> np.ndarray:
    """Boolean mask of labelled rows of ``y`` (1-D labels or 2-D indicator rows), checking lengths."""
    if y is None:
        raise ValueError("y is required to score")
    y_arr = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y, dtype=object) if not hasattr(y, "shape") else y
    if len(y_arr) != n_samples:
        raise ValueError(f"X and y have inconsistent lengths: {n_samples} documents but {len(y_arr)} labels")
    if getattr(y_arr, "ndim", 1) == 2:
        return ~np.all(np.asarray(y_arr, dtype=float) == UNLABELLED, axis=1)
    return np.array([not _is_unlabelled(v) for v in y_arr], dtype=bool)


def check_targets(y: Any, n_samples: int) -> Targets:
    """Validate ``y`` for a classifier; ``-1`` marks unlabelled rows (rows of -1 for multi-label)."""
    if y is None:
        raise ValueError("y is required: this classifier requires y to be passed, but the target y is None; give a "
                         "label per document (-1 for unlabelled documents)")
    if sp.issparse(y):
        y = y.toarray()
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y_arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                      "to (n_samples,), for example using ravel().", DataConversionWarning, stacklevel=3)
        y_arr = y_arr[:, 0]
    if len(y_arr) != n_samples:
        raise ValueError(f"X and y have inconsistent lengths: {n_samples} documents but {len(y_arr)} labels")
    if y_arr.ndim == 2:
        return _check_multilabel(y_arr)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-D (labels) or a 2-D 0/1 indicator matrix, got shape {y_arr.shape}")
    values = list(y_arr)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
            raise ValueError(f"y contains a missing or non-finite value ({v!r}) at index {i}")
    labelled = np.array([not _is_unlabelled(v) for v in values], dtype=bool)
    if not labelled.any():
        raise ValueError("all rows are unlabelled (y == -1): at least two labelled classes are needed to fit a "
                         "classifier")
    lab = np.asarray([values[i] for i in np.flatnonzero(labelled)], dtype=object)
    if all(isinstance(v, (str, np.str_)) for v in lab):
        lab = lab.astype(str)
    elif all(isinstance(v, (numbers.Number, np.number)) and not isinstance(v, bool) for v in lab):
        lab = np.asarray(lab.tolist())
    elif all(isinstance(v, (bool, np.bool_)) for v in lab):
        lab = np.asarray(lab.tolist(), dtype=bool)
    else:
        kinds = sorted({type(v).__name__ for v in lab})
        raise ValueError(f"y mixes label types {kinds}; use labels of one type (and -1 for unlabelled rows)")
    kind = type_of_target(lab)
    if kind == "continuous":
        raise ValueError(
            "Unknown label type: y is continuous (float values that are not whole numbers); "
            "ULMFiTClassifier needs class labels. For regression targets, use ULMFiTEncoder with a regressor."
        )
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: y of type {kind!r} is not supported; expected class labels")
    classes, encoded = np.unique(lab, return_inverse=True)
    if len(classes) < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise ValueError(
            f"y has a single class ({only!r}) among the labelled rows: one class is not enough, a classifier "
            "needs at least two classes"
        )
    return Targets("multiclass", labelled, classes, encoded.astype(np.int64))


def _check_multilabel(y: np.ndarray) -> Targets:
    try:
        yf = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("a 2-D y must be a numeric 0/1 indicator matrix (multi-label); rows of -1 mark "
                         "unlabelled") from None
    if not np.all(np.isfinite(yf)):
        raise ValueError("y contains NaN or infinite values")
    unl = np.all(yf == UNLABELLED, axis=1)
    lab_rows = yf[~unl]
    if lab_rows.size == 0:
        raise ValueError("all rows are unlabelled (rows of -1): labelled rows are needed to fit a classifier")
    if not np.all((lab_rows == 0) | (lab_rows == 1)):
        raise ValueError(
            "a 2-D y must be a 0/1 indicator matrix (multi-label, one column per label); rows entirely of -1 "
            "mark unlabelled documents; other values are not allowed"
        )
    if y.shape[1] < 1:
        raise ValueError("a 2-D y needs at least one label column")
    return Targets("multilabel", ~unl, np.arange(y.shape[1]), lab_rows.astype(np.float32))
