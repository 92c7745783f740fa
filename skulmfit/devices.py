"""Device selection and CPU runtime tuning."""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import platform
import re
from collections.abc import Mapping

import torch

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps'`` into a usable ``torch.device``.

    ``'auto'`` picks CUDA when available, else CPU. Under joblib workers with several GPUs,
    ``'auto'`` spreads processes over the GPUs (see :func:`auto_cuda_index`).

    Raises
    ------
    ValueError
        Unknown device string, or a CUDA device that does not exist on this machine.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        )
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", auto_cuda_index())
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return torch.device("cuda", index)
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was requested but MPS is not available on this machine")
    return torch.device(device)


def auto_cuda_index() -> int:
    """GPU index for this process when ``device='auto'`` and several GPUs are visible.

    * under ``torchrun``: the local rank;
    * ``SKULMFIT_WORKER_INDEX`` if set (for custom launchers);
    * in a worker process (joblib/loky ``LokyProcess-N``, multiprocessing, Dask or Ray workers
      started as child processes): the worker's number, else its pid, modulo the GPU count, so
      parallel grid-search workers spread over the GPUs instead of piling onto GPU 0;
    * otherwise GPU 0.

    To pin workers yourself, give each its own ``CUDA_VISIBLE_DEVICES``.
    """
    n = torch.cuda.device_count()
    if n <= 1:
        return 0
    return worker_slot(os.environ, multiprocessing.current_process().name,
                       multiprocessing.parent_process() is not None, os.getpid()) % n


def worker_slot(environ: Mapping[str, str], process_name: str, is_child: bool, pid: int) -> int:
    """A stable small integer identifying this worker (pure function of its inputs; see above)."""
    if "LOCAL_RANK" in environ:
        return int(environ["LOCAL_RANK"])
    if "SKULMFIT_WORKER_INDEX" in environ:
        return int(environ["SKULMFIT_WORKER_INDEX"])
    if process_name != "MainProcess" or is_child:
        m = re.search(r"(\d+)$", process_name)
        return int(m.group(1)) - 1 if m else pid
    return 0


def tune_cpu_allocator() -> bool:
    """Keep glibc from returning large buffers to the OS after every step.

    LSTM training allocates and frees the same large logits/gradient buffers each step; glibc
    serves those with ``mmap``/``munmap`` by default, which measured ~45 % slower here. Raising
    ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps them in the heap. Returns whether it was
    applied (glibc on Linux only).
    """
    if platform.system() != "Linux":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok1 = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        ok2 = libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
        return bool(ok1 and ok2)
    except (OSError, AttributeError):
        return False


def describe_hardware(device: torch.device | None = None) -> dict[str, object]:
    """CPU model, cores, GPU name (if any), torch version: for benchmark and model-card records."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, object] = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device is not None and torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    elif torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
