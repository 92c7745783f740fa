"""GridSearchCV over ULMFiTClassifier on joblib backends the user registers (issue: scale out)."""

import joblib
import numpy as np
import pytest
from joblib._parallel_backends import LokyBackend, ThreadingBackend
from sklearn.model_selection import GridSearchCV

from skulmfit import ULMFiTClassifier


class CountingLoky(LokyBackend):
    """A user-registered backend (here: loky that counts the batches it is handed)."""

    submitted = 0

    def submit(self, func, callback=None):
        type(self).submitted += 1
        return super().submit(func, callback=callback)


@pytest.fixture
def search_inputs(tiny_lm_path, toy_data):
    est = ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, epochs=1, batch_size=16, bptt=20,
                           random_state=0)
    return est, {"lr": [0.005, 0.05]}, toy_data


def _search(est, grid, X, y):
    return GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, y)


@pytest.mark.parametrize("name,backend", [("counting-loky", CountingLoky), ("user-threads", ThreadingBackend)])
def test_registered_backend_gives_the_same_search(name, backend, search_inputs):
    est, grid, (X, y) = search_inputs
    reference = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
    joblib.register_parallel_backend(name, backend)
    CountingLoky.submitted = 0
    with joblib.parallel_backend(name, n_jobs=2):
        search = _search(est, grid, X, y)
    assert search.best_params_["lr"] in grid["lr"] and hasattr(search.best_estimator_, "models_")
    if backend is CountingLoky:  # process-based: bit-identical to the serial search
        assert CountingLoky.submitted > 0  # the user's backend really ran the fits
        assert search.best_params_ == reference.best_params_
        np.testing.assert_allclose(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    # thread-based backends run fits in one process that share torch's global random generator
    # (dropout masks), so their scores are valid but not bit-reproducible (docs/scaling.md)


def test_dask_backend_if_installed(search_inputs):
    distributed = pytest.importorskip("distributed")
    est, grid, (X, y) = search_inputs
    reference = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(est, grid, cv=2).fit(X, y)
    assert search.best_params_ == reference.best_params_
