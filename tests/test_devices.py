import pytest
import torch

from skulmfit.devices import describe_hardware, resolve_device, tune_cpu_allocator, worker_slot


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    for bad in ("tpu", "cuda:x", "", 3):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_worker_slot_spreads_workers():
    assert worker_slot({}, "MainProcess", False, 123) == 0
    assert worker_slot({"LOCAL_RANK": "3"}, "MainProcess", False, 1) == 3
    assert worker_slot({"SKULMFIT_WORKER_INDEX": "5"}, "MainProcess", False, 1) == 5
    slots = {worker_slot({}, f"LokyProcess-{i}", True, 1000 + i) % 2 for i in (1, 2)}
    assert slots == {0, 1}  # two joblib workers land on two GPUs
    assert worker_slot({}, "Dask-Worker", True, 77) == 77


def test_hardware_and_allocator():
    info = describe_hardware()
    assert info["cpu_cores"] and isinstance(info["torch"], str)
    assert isinstance(tune_cpu_allocator(), bool)
