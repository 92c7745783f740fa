"""The guide's example of ``skulmfit compare`` ("Is ULMFiT worth it on my data?") on the bundled TREC-6.

Runs the command line ``skulmfit compare`` on all 5,452 TREC-6 training questions (written to a
temporary TSV with a header, as a user's file would be), with the library defaults: the four
default methods, class-balanced training subsamples, stratified folds. Records the run-time
estimate that the command made before starting against the measured time, and writes
``results/compare_trec6.{json,md,png}``. The full run also rewrites the example block of
docs/guide.md (between the ``compare-trec6`` markers) from that JSON; ``tests/test_compare.py``
checks that the guide still shows it.

    python benchmarks/compare_trec6.py           # sizes 50 100 200 500 1000, cv 3 (about 20 min on 2 cores)
    python benchmarks/compare_trec6.py --quick   # sizes 50 200, cv 2, 20 classifier epochs (a few minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, quiet_threads, write_results  # noqa: E402

quiet_threads()

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"
START, END = "<!-- compare-trec6:start -->", "<!-- compare-trec6:end -->"


def guide_block(payload: dict) -> str:
    """The guide's example (between the markers) rendered from ``results/compare_trec6.json``."""
    from skulmfit.comparison_result import ComparisonResult

    result = ComparisonResult.from_dict(payload["compare"])
    m = payload["machine"]
    t = payload["timing"]
    head, body = result._grid(result.metrics[0], "score")
    table = "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                      + ["| " + " | ".join(row) + " |" for row in body])
    return "\n".join([
        START,
        "```bash",
        payload["cli"],
        "```",
        "",
        f"Test accuracy (mean ± std over the {result.setup['n_folds']} folds' test parts of "
        f"{result.setup['n_labelled']:,} questions; produced by `python benchmarks/compare_trec6.py` on "
        f"{m.get('cpu')}, {m.get('cpu_cores')} cores, {m.get('date')}, shipped default model, library defaults):",
        "",
        table,
        "",
        f"`{result.verdict_line()}`",
        "",
        f"Run time: estimated {t['estimate_seconds'] / 60:.1f} min before the first fit (after "
        f"{t['calibration_seconds']:.0f} s measuring the costs), measured {t['fits_seconds'] / 60:.1f} min: "
        f"measured / estimated = {t['ratio']:.2f}. The whole command took {t['wall_seconds'] / 60:.1f} min.",
        "",
        "![learning curve of skulmfit compare on TREC-6](../benchmarks/results/compare_trec6.png)",
        END,
    ])


def update_guide(payload: dict, guide: Path = GUIDE) -> bool:
    """Replace the block between the markers in ``guide``; False when the markers are missing."""
    text = guide.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return False
    guide.write_text(pattern.sub(lambda _: guide_block(payload), text), encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="sizes 50 200, cv 2, 20 classifier epochs")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: %(default)s)")
    p.add_argument("--no-guide", action="store_true", help="do not rewrite the example block of docs/guide.md")
    args = p.parse_args(argv)

    from skulmfit.cli import main as skulmfit_main
    from skulmfit.datasets import load_trec
    from skulmfit.tabular import write_table

    name = "compare_trec6" + ("_quick" if args.quick else "")
    sizes = ["50", "200"] if args.quick else ["50", "100", "200", "500", "1000"]
    cv = "2" if args.quick else "3"
    extra = ["--epochs", "20"] if args.quick else []
    X, y = load_trec("train", return_X_y=True)
    with tempfile.TemporaryDirectory(prefix="compare-trec6-") as tmp:
        data = Path(tmp) / "trec6_train.tsv"
        write_table(data, ["label", "text"], zip(y, X))
        out = Path(tmp) / "out"
        cli = ["compare", "trec6_train.tsv", "--text-col", "text", "--label-col", "label", "--sizes", *sizes,
               "--cv", cv, *extra, "--out", "compare/"]
        argv_run = [str(data) if a == "trec6_train.tsv" else str(out) if a == "compare/" else a for a in cli]
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        rc = skulmfit_main([*argv_run, "--threads", str(args.threads)])
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()
        if rc != 0:
            print(f"skulmfit compare exited with {rc}", file=sys.stderr)
            return rc
        compare = json.loads((out / "compare.json").read_text(encoding="utf-8"))
        md = (out / "compare.md").read_text(encoding="utf-8")
        png = RESULTS / f"{name}.png"
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "compare.png", png)
    est = compare["estimate"]
    timing = {"estimate_seconds": est["seconds"], "calibration_seconds": est["calibration_seconds"],
              "fits_seconds": compare["seconds"], "ratio": compare["seconds"] / est["seconds"], "wall_seconds": wall,
              "load_average_before": load_before, "load_average_after": load_after}
    payload = {"cli": "skulmfit " + " ".join(cli), "timing": timing, "compare": compare}
    body = md.split("\n", 1)[1].replace("(compare.png)", f"({png.name})")
    notes = (f"\nEstimate against measurement: {est['seconds'] / 60:.2f} min estimated before the first fit, "
             f"{compare['seconds'] / 60:.2f} min measured (ratio {timing['ratio']:.2f}); the costs were measured "
             f"for {est['calibration_seconds']:.1f} s first; the whole command took {wall / 60:.2f} min. "
             f"Command (from a TSV of the 5,452 TREC-6 training questions): `{payload['cli']}`\n")
    path = write_results(name, payload, body + notes, "skulmfit compare on TREC-6")
    print(f"wrote {path}")
    if not args.quick and not args.no_guide:
        full = json.loads(path.read_text(encoding="utf-8"))
        print("updated docs/guide.md" if update_guide(full) else "docs/guide.md has no compare-trec6 markers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
