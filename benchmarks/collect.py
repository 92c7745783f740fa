"""Gather benchmarks/results/*.md (and their PNG plots) into docs/benchmarks.md.

    python benchmarks/collect.py

Each result page already names the command that produced it and the machine it ran on; this
script only concatenates them in a fixed order, so the docs show exactly what was measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "benchmarks.md"
ORDER = ["pretraining_value", "pilot", "defaults", "epochs", "accuracy", "vocab_coverage", "low_shot", "compare",
         "ablations",
         "speed_paper", "speed", "lm_throughput", "precision_check", "classifier_precision", "gpu_check", "wt103_cost",
         "fastai_equivalence", "tokenizer_speed", "tokenizer_agreement", "run_all"]

INTRO = """# Benchmarks

Every table below was produced by the script named in its "Command" line, on the machine it names,
and is copied verbatim from `benchmarks/results/` by `python benchmarks/collect.py`. Times on the
shared 2-core machines are noisy: compare implementations within one table (same run), not across
tables. Quick-mode tables (`*_quick`) use small subsets; see each script's docstring for the full
versions. The numbers depend on the shipped default model (see [pretrained.md](pretrained.md))
and the library defaults; a page measured before the last change of either carries an
**Outdated** banner until it is re-run, and a page measured with the earlier default model (now
`pretrained='small'`) says so.
"""


# When the shipped default model and the classifier defaults last changed (the fully pretrained
# models, epochs=50, drop_mult=0.3). Pages measured earlier that depend on them get a banner.
MODEL_CHANGED = "2026-11-22 01:15:00"
# When the 60,000-word model became ``pretrained='default'`` (issue 17); the earlier default is now
# ``'small'``. Model-dependent pages measured before then describe the small model.
DEFAULT_REPLACED = "2026-12-07 15:30:00"
# When the classifier's default lr_decay went from the paper's 2.6 to 1.6 (measured, issue 17).
LR_DECAY_CHANGED = "2026-12-07 17:10:00"
# random weights / no model: not affected
MODEL_FREE = ("lm_throughput", "tokenizer_speed", "tokenizer_agreement", "wt103_cost", "fastai_equivalence", "pilot",
              "speed_paper", "gpu_check")
# Pages that code changes made outdated: stem prefix -> (changed at, what changed).
CODE_CHANGED = {"lm_throughput": ("2026-12-01 12:00:00", "the speed changes of issue 18 (exact loss with one "
                                  "exponential per logit, embedding dropout on looked-up rows, DropConnect straight "
                                  "to the LSTM kernel)"),
                "speed": ("2026-12-01 12:00:00", "the speed changes of issue 18 and the model-size labels")}


def _measured_at(page: Path) -> str:
    try:
        return json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))["machine"]["date"][:19]
    except (OSError, ValueError, KeyError):
        return ""


# The full (not quick) runs the docs should have: benchmark -> (its pages, the datasets it covers
# when complete). A run too long for one sitting may be split over pages, each made by the same
# script with ``--datasets D --name PAGE --resume`` (its command is on the page).
FULL_RUNS = {"accuracy": (("accuracy", "accuracy_mr"), ("trec6", "imdb", "ag", "mr")),
             "low_shot": (("low_shot", "low_shot_imdb"), ("trec6", "imdb", "ag")),
             "ablations": (("ablations",), ()),
             "speed": (("speed",), ())}

# The methods a complete page of a full run holds (a page run with ``--methods`` may hold fewer).
FULL_METHODS = {"accuracy": ("ULMFiT", "ULMFiT bidirectional", "TF-IDF + LR", "from scratch")}


def full_pages(name: str, results: Path = RESULTS) -> list[tuple[str, dict]]:
    """The pages of full run ``name`` that exist in ``results``, as (stem, parsed JSON), in order."""
    out = []
    for stem in FULL_RUNS[name][0]:
        page = results / f"{stem}.json"
        if page.exists():
            out.append((stem, json.loads(page.read_text(encoding="utf-8"))))
    return out


def _covered(data: dict, wanted: tuple[str, ...]) -> list[str]:
    return [d for d in data.get("datasets") or wanted if d not in (data.get("skipped") or {})]


def accuracy_summary(results: Path = RESULTS) -> str | None:
    """A one-table digest of the full accuracy run (``accuracy.json``, and ``accuracy_mr.json`` where
    MR ran apart): our test error next to the paper's and the baselines', per dataset; None when no
    full run has been made. A dataset is taken from the first page that has rows for it."""
    pages = full_pages("accuracy", results)
    if not pages:
        return None
    names = {"trec6": "TREC-6", "imdb": "IMDb", "ag": "AG News", "mr": "MR"}
    methods = FULL_METHODS["accuracy"]
    lines = ["| dataset | train/test | " + " | ".join(methods) + " | paper (bidirectional) |",
             "|---|---|" + "---|" * (len(methods) + 1)]
    seen: set[str] = set()
    sources = []
    for stem, data in pages:
        by = {(r["dataset"], r["method"]): r for r in data["rows"]}
        used = False
        for ds in data["datasets"]:
            rows = [by.get((ds, m)) for m in methods]
            if ds in seen or not any(rows):
                continue
            seen.add(ds)
            used = True
            setup = next((r["train/test"] for r in rows if r and r.get("train/test")), "")
            cells = [r["test error %"] if r else "not run yet" for r in rows]
            paper = (by.get((ds, "ULMFiT bidirectional")) or {}).get("paper test error %", "")
            lines.append(f"| {names.get(ds, ds)} | {setup} | " + " | ".join(cells) + f" | {paper} |")
        if used:
            sources.append(f"`benchmarks/results/{stem}.md` of {data['machine']['date']}")
    dates = [data["machine"]["date"][:19] for _, data in pages]
    ours = ("the earlier 64/128/3 default, now `pretrained='small'`" if max(dates) < DEFAULT_REPLACED
            else "the shipped 60k-word 128/256/3 default" if min(dates) >= DEFAULT_REPLACED
            else "the default of each page's date (64/128/3 before 2026-12-07, 60k-word 128/256/3 since)")
    return ("## Summary: test error % against the paper\n\n"
            f"From the full accuracy run ({'; '.join(sources)}; details and notes below); the paper's model "
            f"is 400/1150/3 pretrained on WikiText-103, ours {ours}.\n\n" + "\n".join(lines))


def full_run_status(results: Path = RESULTS) -> str:
    """Which full benchmark runs are in ``results`` (and which of their datasets), which are not yet."""
    lines = []
    for name, (_, wanted) in FULL_RUNS.items():
        pages = full_pages(name, results)
        if not pages:
            lines.append(f"| {name} | not yet run | |")
            continue
        done = [d for d in wanted if any(d in _covered(data, wanted) for _, data in pages)]
        missing = [d for d in wanted if d not in done]
        state = "complete" if not missing else "partial: " + ", ".join(done) + "; still to run: " + ", ".join(missing)
        gaps = []
        for _, data in pages:
            ran = data.get("methods") or FULL_METHODS.get(name, ())  # pages without the field ran them all
            lacking = [m for m in FULL_METHODS.get(name, ()) if m not in ran]
            if lacking:
                gaps.append(f"{', '.join(data['datasets'])} without {', '.join(lacking)}")
        if gaps:
            state = ("partial" if state == "complete" else state) + "; methods not run yet: " + "; ".join(gaps)
        when = "; ".join(f"{data['machine']['date']}" + (f" (`{stem}`)" if len(pages) > 1 else "")
                         for stem, data in pages)
        lines.append(f"| {name} | {state} | {when} |")
    return ("## Status of the full runs\n\n| benchmark | state | measured |\n|---|---|---|\n" + "\n".join(lines)
            + "\n\nThe full runs take hours on 2 CPU cores and are spread over several sittings with `--resume`; "
            "until a full run is complete, its quick-mode page below is the only one for the missing parts.")


def page_owner(png: str, stems: list[str]) -> str | None:
    """The result page a figure belongs to: the longest page stem that ``png`` (a file stem) equals
    or extends with ``_...`` (so ``low_shot_quick_trec6`` belongs to ``low_shot_quick``, not ``low_shot``)."""
    owners = [s for s in stems if png == s or png.startswith(s + "_")]
    return max(owners, key=len) if owners else None


def render_page(stem: str, text: str, figures: list[str], when: str) -> str:
    """One result page as a section of docs/benchmarks.md.

    Headings move one level down and the title names the page (``accuracy_quick``), so full and
    quick pages of one benchmark stay apart; image links relative to ``benchmarks/results/`` are
    re-rooted for ``docs/``; ``figures`` (PNG names) the page does not show itself are appended;
    a page measured before the defaults or its code last changed gets an **Outdated** banner."""
    text = text.strip()
    text = "\n".join("#" + line if line.startswith("#") else line for line in text.split("\n"))
    head, _, rest = text.partition("\n")
    if head.startswith("## "):
        head = f"{head} (`{stem}`)"
    for name in figures:
        rest = rest.replace(f"]({name})", f"](../benchmarks/results/{name})")
    banners = []
    if when and when < MODEL_CHANGED and not stem.startswith(MODEL_FREE):
        banners.append(f"> **Outdated:** measured on {when}, before the fully pretrained default model "
                       "and the current defaults (`epochs=50`, `drop_mult=0.3`); to be re-run.")
    if when and when < DEFAULT_REPLACED and not stem.startswith(MODEL_FREE):
        banners.append(f"> **Earlier default model:** measured on {when} with the default of that time, now "
                       "`pretrained='small'` (8,000 words, 64/128); the current default has 60,000 words "
                       "(see [pretrained.md](pretrained.md)).")
    if when and when < LR_DECAY_CHANGED and not stem.startswith(MODEL_FREE):
        banners.append(f"> Measured when the classifier's default `lr_decay` was 2.6 (1.6 since "
                       f"{LR_DECAY_CHANGED[:10]}): \"library defaults\" on this page include `lr_decay=2.6`.")
    for prefix, (changed, what) in CODE_CHANGED.items():
        if stem.startswith(prefix) and when and when < changed:
            banners.append(f"> **Outdated:** measured on {when}, before {what}; to be re-run.")
    extra = [f"![{Path(n).stem}](../benchmarks/results/{n})" for n in figures
             if f"(../benchmarks/results/{n})" not in rest]
    return "\n\n".join([head, *banners, rest.strip(), *extra]).strip()


def main() -> int:
    pages = sorted(RESULTS.glob("*.md"), key=lambda p: (next((i for i, n in enumerate(ORDER)
                                                              if p.stem.startswith(n)), len(ORDER)), p.stem))
    stems = [p.stem for p in pages]
    figures: dict[str, list[str]] = {}
    for png in sorted(RESULTS.glob("*.png")):
        owner = page_owner(png.stem, stems)
        if owner:
            figures.setdefault(owner, []).append(png.name)
    parts = [INTRO, full_run_status()]
    digest = accuracy_summary()
    if digest:
        parts.append(digest)
    for page in pages:
        parts.append(render_page(page.stem, page.read_text(encoding="utf-8"), figures.get(page.stem, []),
                                 _measured_at(page)))
    DOC.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {DOC} from {len(pages)} result pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
