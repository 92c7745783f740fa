"""Tokenizer throughput (MB/s of UTF-8 text) with 1 and 2 worker processes, same run, same text.

    python benchmarks/tokenizer_speed.py [--mb 8]

Reads the first ``--mb`` megabytes of articles from the Wikipedia corpus in ../shared/data.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, markdown_table, write_results  # noqa: E402

from skulmfit.corpus import iter_documents  # noqa: E402
from skulmfit.tokenizer import Tokenizer, measure_speed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, default=8.0)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    texts, size = [], 0
    for doc in iter_documents(DATA / "wikipedia" / "enwiki_AA.jsonl.xz"):
        texts += [para for para in doc.split("\n") if para.strip()]
        size += len(doc.encode("utf-8"))
        if size >= args.mb * 1e6:
            break
    tok = Tokenizer()
    n_tokens = sum(len(t) for t in tok.tokenize_many(itertools.islice(texts, 200)))  # warm-up
    rows = []
    for jobs in args.jobs:
        mbs = measure_speed(tok, texts, n_jobs=jobs)
        rows.append({"n_jobs": jobs, "mb_per_s": mbs, "text_mb": size / 1e6, "paragraphs": len(texts)})
        print(f"{jobs} worker(s): {mbs:.2f} MB/s on {size / 1e6:.1f} MB")
    for r in rows:
        r["speedup_vs_1"] = r["mb_per_s"] / rows[0]["mb_per_s"]
    write_results("tokenizer_speed", {"rows": rows, "warmup_tokens": n_tokens},
                  markdown_table(rows, ["n_jobs", "mb_per_s", "speedup_vs_1", "text_mb", "paragraphs"]),
                  "Tokenizer throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
