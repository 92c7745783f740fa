"""scikit-learn compatibility: tags, the data-free API checks, and the full ``parametrize_with_checks``
run through a numeric front end (:class:`NumericULMFiTClassifier`) over the real fitting code."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pytest
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


class NumericULMFiTClassifier(ULMFiTClassifier):
    """Test-only front end: numeric rows -> token strings -> :class:`ULMFiTClassifier`.

    Feature ``j`` of a row becomes the token ``f{j}_{k}``, ``k`` its quantile bin among the
    training values (``bin_edges_``, learned in ``fit``). ``X`` is validated with scikit-learn's
    ``validate_data`` in ``fit`` and before every prediction (``_logits``), so NaN / inf / sparse /
    complex / wrong-width input fails as scikit-learn expects. Defaults: the tiny test model and settings that fit in a fraction of a second.
    """

    _parameter_constraints: dict = {
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


@parametrize_with_checks([NumericULMFiTClassifier()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_checks(estimator, check, tiny_lm_path):
    assert estimator.pretrained == tiny_lm_path
    check(estimator)
