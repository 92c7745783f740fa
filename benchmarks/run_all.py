"""Run the benchmark scripts one after another, each in its own process, and summarise.

    python benchmarks/run_all.py --quick      # all in quick mode: under 15 minutes on 2 CPU cores
    python benchmarks/run_all.py -- --resume  # the full versions (~10 h on 2 cores; resumable)
    python benchmarks/run_all.py --quick --only speed ablations
    python benchmarks/run_all.py --quick -- --pretrained path/to/model_fwd.pt   # extra args for every script

Each script writes its own ``results/NAME.json`` / ``.md`` (``NAME_quick`` in quick mode); this
runner writes ``results/run_all[_quick].json`` / ``.md`` with each script's exit status and wall time.
The children get ``OMP_WAIT_POLICY=PASSIVE`` (libgomp's active waiting makes small LSTMs up to
20x slower on a shared machine).

Quick mode (classifiers train 20 epochs there; the library default is 50), measured on 2 cores on
2026-11-22 with the fully pretrained default model: 686 s in all (pretraining_value 8 s, epochs
17 s, accuracy 311 s, low_shot 18 s, ablations 126 s, speed 207 s).

Full mode, measured on 2 cores (summed fit + predict time of each part's runs, as the pages'
"Compute" notes give it; the parts were run as separate sittings with ``--resume``): accuracy
TREC-6 7 min, AG News 19 min, IMDb subset 31 min (2026-11-22), MR 10-fold 218 min (2026-11-30,
22 min a fold); low_shot TREC-6 + AG 39 min (2026-11-22), IMDb 217 min (2026-11-30, 3 seeds);
ablations 81 min; speed 10 min wall: about 10.4 h in all. MR and low-shot IMDb run alone on
their own pages (see accuracy.py and low_shot.py); two such jobs side by side, one with
``--threads 1``, keep both cores busy (one 2-thread job of the small default model used about 1.3).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import markdown_table, quiet_threads, write_results  # noqa: E402

quiet_threads()

SCRIPTS = ("pretraining_value", "epochs", "accuracy", "low_shot", "ablations", "speed")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="run every script with --quick")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--only", nargs="+", choices=SCRIPTS, default=None, help="run only these scripts")
    p.add_argument("--skip", nargs="+", choices=SCRIPTS, default=[], help="skip these scripts")
    p.add_argument("--timeout", type=float, default=None, help="seconds per script (default: none)")
    args = p.parse_args(argv)
    flag = ["--smoke"] if args.smoke else ["--quick"] if args.quick else []
    scripts = [s for s in (args.only or SCRIPTS) if s not in args.skip]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    rows = []
    t_all = time.perf_counter()
    for s in scripts:
        cmd = [sys.executable, str(HERE / f"{s}.py"), *flag, *extra]
        print(f"=== {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        try:
            rc = subprocess.run(cmd, env=env, timeout=args.timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        wall = time.perf_counter() - t0
        rows.append({"script": s, "exit": rc, "wall s": wall, "command": " ".join(cmd[1:])})
        print(f"=== {s}: exit {rc}, {wall:.0f} s\n", flush=True)
    total = time.perf_counter() - t_all
    rows.append({"script": "total", "exit": "", "wall s": total, "command": ""})
    table = markdown_table(rows, ["script", "exit", "wall s", "command"])
    print(table)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    write_results("run_all" + ("" if mode == "full" else f"_{mode}"),
                  {"mode": mode, "scripts": rows, "wall_seconds": total}, table, f"All benchmarks ({mode} mode)")
    return 0 if all(r["exit"] == 0 for r in rows[:-1]) else 1


if __name__ == "__main__":
    sys.exit(main())
