"""scikit-learn compatibility: tags, the data-free API checks, and the full ``parametrize_with_checks``
run through a numeric front end (:class:`NumericULMFiTClassifier`) over the real fitting code."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import Interval
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from skulmfit import ULMFiTClassifier, ULMFiTEncoder, ULMFiTLanguageModel

from .conftest import TINY_LM_PATH

ESTIMATORS = (ULMFiTClassifier, ULMFiTEncoder, ULMFiTLanguageModel)


# -- tags and the data-free API checks ---------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_tags_declare_string_input(Estimator):
    tags = Estimator().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.input_tags.sparse is False
    if Estimator is ULMFiTClassifier:
        assert tags.classifier_tags.multi_label is True
        assert tags.target_tags.required is True
        assert tags.estimator_type == "classifier"
    else:
        assert tags.target_tags.required is False
    if Estimator is ULMFiTEncoder:
        assert tags.transformer_tags is not None


API_CHECKS = [
    check_estimator_cloneable, check_estimator_repr, check_no_attributes_set_in_init,
    check_parameters_default_constructible, check_get_params_invariance, check_set_params, check_mixin_order,
    check_estimator_tags_renamed, check_valid_tag_types, check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_data_free_api_checks(Estimator, check, tiny_lm_path):
    for estimator in (Estimator(), Estimator(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, random_state=0)):
        check(Estimator.__name__, estimator)


class NumericULMFiTClassifier(ULMFiTClassifier):
    """Test-only front end: numeric rows -> token strings -> :class:`ULMFiTClassifier`.

    Feature ``j`` of a row becomes the token ``f{j}_{k}``, ``k`` its quantile bin among the
    training values (``bin_edges_``, learned in ``fit``). ``X`` is validated with scikit-learn's
    ``validate_data`` in ``fit`` and in ``_logits``, the one method through which ``predict``,
    ``predict_proba``, ``predict_log_proba`` and ``score`` all reach the model, so NaN / inf /
    sparse / complex / wrong-width input fails as scikit-learn expects in each of them. Defaults:
    the tiny test model and settings that fit in a fraction of a second.
    """

    _parameter_constraints: ClassVar[dict] = {
        **ULMFiTClassifier._parameter_constraints,
        "n_bins": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, pretrained=TINY_LM_PATH, pretrained_bwd=None, lm_epochs=0, lm_lr=0.004, lm_lr_decay=2.6,
                 lm_schedule="stlr", lm_drop_mult=1.0, epochs=4, lr=0.1, lr_decay=2.6, schedule="stlr", cut_frac=0.1,
                 ratio=32.0, unfreeze="all", batch_size=16, bptt=70, max_len=1400, drop_mult=0.1,
                 bidirectional=False, class_weight=None, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=3, max_vocab=60_000, min_freq=2, device="cpu", memory=None, random_state=None,
                 verbose=0, warm_start=False, n_bins=6):
        super().__init__(
            pretrained=pretrained, pretrained_bwd=pretrained_bwd, lm_epochs=lm_epochs, lm_lr=lm_lr,
            lm_lr_decay=lm_lr_decay, lm_schedule=lm_schedule, lm_drop_mult=lm_drop_mult, epochs=epochs, lr=lr,
            lr_decay=lr_decay, schedule=schedule, cut_frac=cut_frac, ratio=ratio, unfreeze=unfreeze,
            batch_size=batch_size, bptt=bptt, max_len=max_len, drop_mult=drop_mult, bidirectional=bidirectional,
            class_weight=class_weight, early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, max_vocab=max_vocab, min_freq=min_freq, device=device, memory=memory,
            random_state=random_state, verbose=verbose, warm_start=warm_start,
        )
        self.n_bins = n_bins

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = False
        return tags

    def _texts(self, X) -> list[str]:
        return [" ".join(f"f{j}_{int(np.searchsorted(e, v, side='right'))}" for j, (v, e) in
                         enumerate(zip(row, self.bin_edges_))) for row in X]

    def fit(self, X, y):
        X = validate_data(self, X, reset=True, dtype=np.float64)
        qs = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        self.bin_edges_ = [np.unique(np.quantile(X[:, j], qs)) for j in range(X.shape[1])]
        return super().fit(self._texts(X), y)

    def _logits(self, X):
        # The one hook every prediction method (predict, predict_proba, predict_log_proba and the
        # inherited score) goes through: overriding the public methods themselves would convert X
        # twice, since ULMFiTClassifier.predict calls self.predict_proba.
        check_is_fitted(self, "models_")
        return super()._logits(self._texts(validate_data(self, X, reset=False, dtype=np.float64)))


EXPECTED_FAILED_CHECKS = {
    "check_classifiers_classes": (
        "fits binary labels [-1, 1]: -1 marks unlabelled rows (scikit-learn's semi-supervised convention), "
        "so only one labelled class remains and fit raises ValueError"
    ),
}


@parametrize_with_checks([NumericULMFiTClassifier()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
                         xfail_strict=True)
def test_sklearn_checks(estimator, check, tiny_lm_path):
    assert estimator.pretrained == tiny_lm_path  # the fixture has made the file the default names
    check(estimator)


def test_expected_failure_reason_holds(tiny_lm_path):
    X = np.random.RandomState(0).uniform(size=(20, 3))
    with pytest.raises(ValueError, match="single class"):  # check_classifiers_classes' [-1, 1] labels
        NumericULMFiTClassifier().fit(X, np.array([-1, 1] * 10))
    assert list(NumericULMFiTClassifier().fit(X, np.array([-1, 1, 2, 1] * 5)).classes_) == [1, 2]


# -- composition with scikit-learn's tools ------------------------------------------------------------


@pytest.fixture
def fast(tiny_lm_path):
    return {"pretrained": tiny_lm_path, "device": "cpu", "lm_epochs": 1, "epochs": 4, "unfreeze": "all", "lr": 0.05,
            "drop_mult": 0.1, "batch_size": 16, "bptt": 20, "random_state": 0}


def _lowercase(texts):
    return [t.lower() for t in texts]


def _containers():
    pd = pytest.importorskip("pandas")
    return {
        "list": (lambda X: list(X), lambda y: list(y)),
        "object-array": (lambda X: np.asarray(X, dtype=object), lambda y: np.asarray(y, dtype=object)),
        "series": (lambda X: pd.Series(X, index=np.arange(len(X)) * 3),  # an index that is not 0..n-1
                   lambda y: pd.Series(y, index=np.arange(len(y)) * 3)),
    }


@pytest.mark.parametrize("container", ["list", "object-array", "series"])
def test_pipeline_cross_val_score_and_clone_on_containers(fast, toy_data, container):
    to_X, to_y = _containers()[container]
    X, y = to_X(toy_data[0]), to_y(toy_data[1])
    pipe = Pipeline([("lower", FunctionTransformer(_lowercase)), ("clf", ULMFiTClassifier(**fast))])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.8
    assert list(pipe.predict(X[:5] if container != "series" else X.iloc[:5])) == list(pipe[-1].predict(
        _lowercase(list(toy_data[0][:5]))))
    scores = cross_val_score(ULMFiTClassifier(**fast), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1)) and scores.mean() > 0.6
    fitted = pipe[-1]
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "models_")
    assert np.array_equal(twin.fit(_lowercase(X), y).predict_proba(_lowercase(X)), pipe.predict_proba(X))


def test_make_pipeline_routes_parameters_to_the_classifier(fast, toy_data):
    pipe = make_pipeline(FunctionTransformer(_lowercase), ULMFiTClassifier(**fast))
    pipe.set_params(ulmfitclassifier__lr=0.02)
    assert pipe.get_params()["ulmfitclassifier__lr"] == 0.02
    pipe.fit(*toy_data)
    assert pipe[-1].lr == 0.02 and hasattr(pipe[-1], "models_")


def test_grid_search_parallel_matches_serial(fast, toy_data):
    pd = pytest.importorskip("pandas")
    X, y = pd.Series(toy_data[0]), pd.Series(toy_data[1])
    grid = {"lr": [0.005, 0.05]}
    est = ULMFiTClassifier(**{**fast, "epochs": 2})
    serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, y)
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"])
    assert np.array_equal(serial.predict(X), parallel.predict(X))
    assert serial.best_estimator_.lr == serial.best_params_["lr"]


def test_memory_fine_tunes_the_lm_once_per_fold(fast, toy_data, tmp_path, lm_runs):
    X, y = toy_data
    fast = {**fast, "epochs": 1}
    grid = {"lr": [0.01, 0.05], "drop_mult": [0.1, 0.5]}
    GridSearchCV(ULMFiTClassifier(**fast, memory=tmp_path), grid, cv=2, refit=False).fit(X, y)
    assert len(lm_runs) == 2  # one per fold; the 4 candidates share it
    search = GridSearchCV(ULMFiTClassifier(**fast, memory=str(tmp_path)), grid, cv=2).fit(X, y)
    assert len(lm_runs) == 3  # the folds come from the cache; the refit on all rows is new
    assert hasattr(search.best_estimator_, "models_")
    del lm_runs[:]
    GridSearchCV(ULMFiTClassifier(**fast), grid, cv=2, refit=False).fit(X, y)
    assert len(lm_runs) == 8  # without memory: every candidate on every fold


def test_memory_gives_the_same_model_as_no_memory(fast, toy_data, tmp_path):
    import joblib

    X, y = toy_data
    plain = ULMFiTClassifier(**fast).fit(X, y).predict_proba(X)
    cached = ULMFiTClassifier(**fast, memory=joblib.Memory(tmp_path, verbose=0))
    first = cached.fit(X, y).predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = clone(cached).fit(X, y).predict_proba(X)
    assert np.array_equal(plain, first) and np.array_equal(first, second)
