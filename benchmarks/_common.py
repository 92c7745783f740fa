"""Shared benchmark helpers: machine description and result files under benchmarks/results/."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("SKULMFIT_BENCH_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def quiet_threads() -> None:
    """On a shared machine libgomp's active waiting can make LSTMs 20x slower with 2 threads;
    benchmarks use passive waiting (set before torch starts its thread pool)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def machine() -> dict[str, Any]:
    """CPU model, cores, GPU, torch and skulmfit versions, OMP settings."""
    import torch

    import skulmfit
    from skulmfit.devices import describe_hardware

    info = describe_hardware()
    info.update(skulmfit=skulmfit.__version__, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), cuda=torch.cuda.is_available())
    return info


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, as one would type it from the repository root
    (``python benchmarks/x.py ...`` even when ``run_all.py`` started it by absolute path)."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        script = Path(argv[0])
        root = RESULTS.parents[1]
        if script.is_absolute() and script.resolve().is_relative_to(root):
            argv[0] = script.resolve().relative_to(root).as_posix()
    return "python " + " ".join(argv)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(fmt(r.get(c)) for c in columns) + " |\n" for r in rows)


def with_notes(table: str, notes: list[str]) -> str:
    """``table`` followed by ``notes`` as a markdown bullet list."""
    return table + "\n" + "\n".join(f"* {n}" for n in notes) + "\n"


def write_results(name: str, payload: dict[str, Any], table: str, title: str) -> Path:
    """Write ``results/NAME.json`` and ``results/NAME.md`` (with the machine and command)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": command_line(), "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    m = payload["machine"]
    md = (f"# {title}\n\nCommand: `{payload['command']}`  \nMachine: {m.get('cpu')}, {m.get('cpu_cores')} cores, "
          f"torch {m.get('torch')} ({m.get('torch_threads')} threads), GPU: {m.get('gpu', 'none')}, "
          f"skulmfit {m.get('skulmfit')}, {m.get('date')}\n\n{table}")
    (RESULTS / f"{name}.md").write_text(md, encoding="utf-8")
    return RESULTS / f"{name}.json"
