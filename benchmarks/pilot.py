"""Pilot: which size of CPU-pretrained language model should ship as the default?

Several candidate AWD-LSTMs (vocabulary, embedding and hidden size; all with the adaptive
softmax, so a 60,000-word vocabulary is affordable) are each pretrained for the SAME CPU budget
on the Wikipedia corpus, forward direction, then judged by what users get: ULMFiT's test error
(library defaults, seed 0) on

* TREC-6 (5,452 / 500),
* IMDb 1,000 / 2,000 + 2,000 unlabelled reviews (the accuracy benchmark's subset, seed 0),
* MR, fold 1 of the accuracy benchmark's 10 folds,
* AG News with 1,000 labels (stratified, seed 0, of ``load_ag_news_split``'s 5,000), 2,600 test,

with TF-IDF + LR on the same data for reference. Perplexity is reported but not used to choose:
vocabularies of different sizes give incomparable perplexities.

The budget is in tokens: ``calibrate`` times every candidate back to back on one thread (same
run, same machine state), and each candidate gets ``--minutes`` x its measured tokens/s. That
keeps the comparison fair on a noisy machine and makes each pretraining resumable: it
checkpoints every few minutes, writing a half-precision checkpoint without optimizer state
(``CANDIDATE_fwd.pt.portable``, small enough to commit) that the next sitting resumes from.

    python benchmarks/pilot.py calibrate                      # ~1 min a candidate
    python benchmarks/pilot.py pretrain --candidate v60k-e64-h128 --cache-dir /path/to/cache
    python benchmarks/pilot.py evaluate --resume              # every candidate whose model is finished
    python benchmarks/pilot.py report                         # the table, from the cells
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, RESULTS, markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import _bench as B  # noqa: E402
import numpy as np  # noqa: E402

PILOT_DIR = Path(__file__).resolve().parent / "pilot"
CORPUS = [f"wikipedia/enwiki_A{s}.jsonl.xz" for s in "ABCD"]
EXCLUDE_IDS = ["21632", "44122"]  # the WikiText-103 test articles in the corpus
CALIBRATION = RESULTS / "pilot_calibration.json"

CANDIDATES: dict[str, dict[str, Any]] = {
    "v60k-e64-h128": {"max_vocab": 60_000, "emb_size": 64, "hidden_size": 128},
    "v60k-e128-h256": {"max_vocab": 60_000, "emb_size": 128, "hidden_size": 256},
    "v30k-e128-h256": {"max_vocab": 30_000, "emb_size": 128, "hidden_size": 256},
    # 60k x 200 would be 15.7M parameters, 31 MB in half precision: over the 25 MB a shipped direction may
    # weigh, so the largest candidate has 30k words.
    "v30k-e200-h384": {"max_vocab": 30_000, "emb_size": 200, "hidden_size": 384},
    # The word-vector arm: v60k-e128-h256 with its embedding initialised from PPMI + SVD vectors of
    # the same corpus. Same training step, so same rate; the minutes the vectors take come off its budget.
    "v60k-e128-h256-ppmi": {"max_vocab": 60_000, "emb_size": 128, "hidden_size": 256, "init_embeddings": "ppmi"},
}
SAME_STEP_AS = {"v60k-e128-h256-ppmi": "v60k-e128-h256"}  # calibrated by the other candidate's rate
PPMI_TIMING = RESULTS / "pilot_ppmi_timing.json"
SHIPPED = "shipped default (64/128, 8k, full softmax, 1 pass)"  # today's pretrained='default', for reference
REFERENCE = "v60k-e64-h128"  # re-timed beside candidates calibrated in a later run (see calibrate)
# Shared pretraining settings: the shipped default's recipe (docs/pretrained.md), adaptive softmax.
COMMON = {"layers": 3, "min_freq": 2, "batch_size": 64, "bptt": 70, "lr": 5e-3, "schedule": "one_cycle",
          "drop_mult": 0.1, "decoder": "adaptive", "cutoffs": [2_000, 10_000, 30_000], "div_value": 4.0}
TASKS = ("trec6", "imdb", "mr", "ag")


def model_path(name: str) -> Path:
    return PILOT_DIR / f"{name}_fwd.pt"


def pretrain_options(name: str, args: argparse.Namespace, max_tokens: int):
    from skulmfit.pretraining import PretrainOptions

    return PretrainOptions(
        corpus=[str(Path(args.data) / c) for c in CORPUS], out=str(model_path(name)), direction="fwd",
        exclude_ids=list(EXCLUDE_IDS), max_tokens=max_tokens, threads=args.threads, cache_dir=args.cache_dir,
        checkpoint_every=args.checkpoint_every, resume=True, seed=0, half=True, portable_checkpoint=True,
        **CANDIDATES[name], **COMMON,
    )


def _time_candidate(name: str, args: argparse.Namespace, cache) -> tuple[float, int]:
    """Tokens/s of one candidate's training step (after 3 warm-up steps) and its parameter count."""
    import torch

    from skulmfit.lm_training import LMTrainConfig, LMTrainer
    from skulmfit.model import LanguageModel

    opts = pretrain_options(name, args, 1)
    vocab = cache.build_vocab(opts.max_vocab, opts.min_freq)
    ids = np.asarray(cache.numericalize(vocab)[: 64 * 70 * (args.steps + 3) + 1])
    model = LanguageModel(opts.model_config(vocab))
    trainer = LMTrainer(model, ids, LMTrainConfig(batch_size=64, bptt=70, lr=1e-3, lr_decay=1.0, drop_mult=0.1,
                                                  seed=0), torch.device("cpu"))
    for _ in range(3):  # warm-up steps (allocator, thread pool)
        trainer.train_step()
    t0, tok0 = time.perf_counter(), trainer.tokens_seen
    for _ in range(args.steps):
        trainer.train_step()
    return (trainer.tokens_seen - tok0) / (time.perf_counter() - t0), sum(p.numel() for p in model.parameters())


def calibrate(args: argparse.Namespace) -> None:
    """Tokens/s of each candidate's training step on ``--threads`` threads, back to back.

    With ``--candidate`` and an existing calibration, only those candidates are timed, beside the
    already calibrated :data:`REFERENCE`; their rates are scaled by the reference's earlier rate
    over its rate now, so the budgets stay comparable although the machine's load has changed.
    """
    import torch

    from skulmfit.corpus import build_token_cache
    from skulmfit.devices import tune_cpu_allocator
    from skulmfit.tokenizer import Tokenizer

    torch.set_num_threads(args.threads)
    tune_cpu_allocator()  # as pretraining does
    opts0 = pretrain_options(REFERENCE, args, 1)
    cache = build_token_cache(opts0.corpus, Tokenizer(), args.cache_dir, exclude_ids=EXCLUDE_IDS, verbose=1)
    old = json.loads(CALIBRATION.read_text()) if args.candidate and CALIBRATION.exists() else None
    names = [n for n in (args.candidate if old else list(CANDIDATES)) if n not in SAME_STEP_AS]
    scale, note = 1.0, "candidates timed back to back in one run"
    if old:
        ref_then = next(r["tokens_per_s"] for r in old["rows"] if r["candidate"] == REFERENCE)
        timed = {}
        for name in [REFERENCE, *names, REFERENCE, *names]:  # interleaved: load changes hit both alike
            timed.setdefault(name, []).append(_time_candidate(name, args, cache))
        ref_now = float(np.mean([t for t, _ in timed[REFERENCE]]))
        scale = ref_then / ref_now
        note = (f"{', '.join(names)} timed in a later run, interleaved twice with {REFERENCE} ({ref_now:,.0f} "
                f"tokens/s then against {ref_then:,.0f} in the first run), and scaled by that ratio ({scale:.3f})")
    rows = [r for r in (old["rows"] if old else []) if r["candidate"] in CANDIDATES and r["candidate"] not in names]
    for name in names:
        if old:
            tps, n_params = float(np.mean([t for t, _ in timed[name]])), timed[name][0][1]
        else:
            tps, n_params = _time_candidate(name, args, cache)
        rows.append({"candidate": name, **CANDIDATES[name], "parameters": n_params, "tokens_per_s": tps * scale,
                     "budget_tokens": int(tps * scale * args.minutes * 60)})
        B.log(f"{name}: {n_params:,} parameters, {tps:,.0f} tokens/s (x {scale:.3f}) -> "
              f"{rows[-1]['budget_tokens']:,} tokens in {args.minutes:g} min")
    notes = (old or {}).get("notes", ["the first candidates timed back to back in one run"]) + [note]
    payload = {"minutes": args.minutes, "threads": args.threads, "steps_timed": args.steps, "common": COMMON,
               "rows": rows, "notes": notes}
    table = markdown_table(rows, ["candidate", "max_vocab", "emb_size", "hidden_size", "parameters",
                                  "tokens_per_s", "budget_tokens"])
    write_results("pilot_calibration", payload, with_notes(table, [
        f"Training-step throughput (batch 64 x bptt 70, adaptive softmax, AdamW, AR/TAR, {args.threads} thread), "
        f"{args.steps} steps after 3 warm-up steps: " + "; ".join(notes) + ".",
        f"Budget: {args.minutes:g} min of pretraining at the measured rate, the same CPU time for every candidate.",
    ]), "Pilot calibration: pretraining throughput per candidate")


def _ppmi_seconds(name: str, args: argparse.Namespace) -> float:
    """Seconds (on ``--threads`` threads) that ``name``'s PPMI vectors took; computes and records them once."""
    import torch

    from skulmfit.corpus import build_token_cache
    from skulmfit.pretraining import corpus_ppmi_vectors, ppmi_cache_path
    from skulmfit.tokenizer import Tokenizer

    timings = json.loads(PPMI_TIMING.read_text()) if PPMI_TIMING.exists() else {}
    if name in timings:
        return float(timings[name]["seconds"])
    torch.set_num_threads(args.threads)
    opts = pretrain_options(name, args, 1)
    cache = build_token_cache(opts.corpus, Tokenizer(), args.cache_dir, exclude_ids=EXCLUDE_IDS, verbose=1)
    vocab = cache.build_vocab(opts.max_vocab, opts.min_freq)
    cache.numericalize(vocab)  # shared with pretraining, not part of the vectors' cost
    ppmi_cache_path(cache, vocab, opts.emb_size).unlink(missing_ok=True)  # time a fresh computation
    t0 = time.perf_counter()
    corpus_ppmi_vectors(cache, vocab, opts.emb_size, verbose=1)
    seconds = time.perf_counter() - t0
    timings[name] = {"seconds": seconds, "threads": args.threads, "load_average": list(os.getloadavg()),
                     "tokens": cache.n_tokens, "what": "PPMI counts + randomized SVD over the whole corpus"}
    PPMI_TIMING.write_text(json.dumps(timings, indent=2), encoding="utf-8")
    B.log(f"{name}: PPMI vectors took {seconds:.0f} s on {args.threads} thread(s)")
    return seconds


def budgets(args: argparse.Namespace, names: list[str]) -> dict[str, int]:
    """Each candidate's pretraining budget in tokens (calibrated rate x minutes, less any PPMI time)."""
    rows = {r["candidate"]: r for r in json.loads(CALIBRATION.read_text())["rows"]}
    minutes = json.loads(CALIBRATION.read_text())["minutes"]
    out = {}
    for name in names:
        base = SAME_STEP_AS.get(name, name)
        if CANDIDATES[name].get("init_embeddings") == "ppmi":
            out[name] = int(rows[base]["tokens_per_s"] * (minutes * 60 - _ppmi_seconds(name, args)))
        else:
            out[name] = int(rows[base]["budget_tokens"])
    return out


def pretrain(args: argparse.Namespace) -> None:
    from skulmfit.pretraining import pretrain as run_pretrain

    if not CALIBRATION.exists():
        raise SystemExit(f"no calibration at {CALIBRATION}: run `python benchmarks/pilot.py calibrate` first")
    for name in args.candidate or list(CANDIDATES):
        if model_path(name).exists():
            B.log(f"{name}: finished ({model_path(name)})")
            continue
        budget = budgets(args, [name])[name]
        B.log(f"{name}: pretraining {budget:,} tokens (resumes from its checkpoint if there is one)")
        run_pretrain(pretrain_options(name, args, budget))


def task_data(task: str, data: str):
    """``(X_train, y_train, X_test, y_test, X_unlabelled)`` of a pilot task (seed 0)."""
    if task == "trec6":
        X, y, Xt, yt = B.load_trec_split()
        return X, y, Xt, yt, []
    if task == "imdb":  # the accuracy benchmark's seed-0 subset
        X, y, Xt, yt, Xu = B.load_imdb_split(data, unsup=True)
        Xun = [Xu[i] for i in np.random.default_rng(0).permutation(len(Xu))[:2000]]
        Xtr, ytr = B.take(X, y, B.stratified_indices(y, 1000, 0))
        Xte, yte = B.take(Xt, yt, B.stratified_indices(yt, 2000, 0))
        return Xtr, ytr, Xte, yte, Xun
    if task == "ag":
        X, y, Xt, yt = B.load_ag_split(data)
        Xtr, ytr = B.take(X, y, B.stratified_indices(y, 1000, 0))
        return Xtr, ytr, Xt, yt, []
    if task == "mr":  # fold 1 of the accuracy benchmark's 10-fold split, seed 0
        from sklearn.model_selection import StratifiedKFold

        X, y = B.load_mr_all(data)
        X, y = B.take(X, y, B.stratified_indices(y, None, 0))
        tr, te = next(StratifiedKFold(n_splits=10, shuffle=True, random_state=0).split(np.zeros(len(y)), y.astype(str)))
        Xtr, ytr = B.take(X, y, tr)
        Xte, yte = B.take(X, y, te)
        return Xtr, ytr, Xte, yte, []
    raise ValueError(f"unknown task {task!r}")


def evaluate(args: argparse.Namespace) -> None:
    cells = B.Cells("pilot", args.resume)
    models = {n: str(model_path(n)) for n in (args.candidate or list(CANDIDATES)) if model_path(n).exists()}
    if args.with_shipped:
        models[SHIPPED] = "default"
    if not models:
        raise SystemExit("no finished candidate model under benchmarks/pilot/: run `pilot.py pretrain` first")
    overrides = dict(_parse_setting(v) for v in args.set)
    suffix = "".join(f" [{k}={v}]" for k, v in overrides.items())  # a variant is its own row
    for task in args.tasks:
        Xtr, ytr, Xte, yte, Xun = task_data(task, args.data)
        X_lm, y_lm = B.with_unlabelled(Xtr, ytr, Xun)
        r = B.fit_eval(B.tfidf_lr(0), Xtr, ytr, Xte, yte, cells, _label(task, "TF-IDF + LR"))
        B.log(f"{task}: TF-IDF + LR {r['error']:.2f}%")
        for name, path in models.items():
            est = B.make_ulmfit({"pretrained": path, "device": args.device, "random_state": 0, **overrides})
            r = B.fit_eval(est, X_lm, y_lm, Xte, yte, cells, _label(task, name + suffix))
            B.log(f"{task}: {name}{suffix} {r['error']:.2f}%  (fit {r['fit_s']:.0f}s)")
    report(args)


def report(args: argparse.Namespace) -> None:
    """The pilot table from the cells, the calibration and the model cards."""
    cells = B.Cells("pilot", resume=True)
    calib = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {"rows": []}
    by_name = {r["candidate"]: r for r in calib["rows"]}
    rows, runs = [], []
    names = ["TF-IDF + LR", SHIPPED] + list(CANDIDATES)
    names += sorted({_model_of(label) for label in _labels(cells)} - set(names))  # variants (--set)
    for name in names:
        row: dict = {"model": name}
        if name in CANDIDATES:
            calibrated = by_name.get(SAME_STEP_AS.get(name, name), {})
            row.update({k: calibrated.get(k) for k in ("parameters", "tokens_per_s")})
            card_path = model_path(name).with_suffix(".json")
            if card_path.exists():
                card = json.loads(card_path.read_text())
                row["tokens seen"] = card["training"]["tokens_seen"]
                row["held-out ppl"] = card["validation"]["perplexity"]
        errs = []
        for task in TASKS:
            r = _saved(cells, task, name)
            if r is not None:
                runs.append(r)
                row[f"{task} err %"] = r["error"]
                errs.append(r["error"])
        if len(errs) == len(TASKS):
            row["mean err %"] = float(np.mean(errs))
        rows.append(row)
    cols = ["model", "parameters", "tokens_per_s", "tokens seen", "held-out ppl"] + [f"{t} err %" for t in TASKS] \
        + ["mean err %"]
    notes = [
        f"Same pretraining budget per candidate: {calib.get('minutes', '?')} min at its calibrated 1-thread rate "
        "(pilot_calibration page); forward direction; adaptive softmax, cutoffs 2,000 / 10,000 / 30,000, div 4; "
        "one-cycle lr 5e-3, drop_mult 0.1, batch 64 x bptt 70.",
        "Tasks (seed 0, library defaults, forward ULMFiT): TREC-6 5,452/500; IMDb 1,000/2,000 + 2,000 unlabelled "
        "(the accuracy benchmark's subset); MR fold 1 of 10; AG News 1,000 labels / 2,600 test.",
        "The -ppmi candidate starts from word vectors of the same corpus (PPMI + SVD, `skulmfit pretrain "
        "--init-embeddings ppmi`); the seconds they took on one thread (pilot_ppmi_timing.json: "
        + ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in (json.loads(PPMI_TIMING.read_text()).items()
                                                          if PPMI_TIMING.exists() else []))
        + ") come off its 45-minute budget.",
        "Held-out perplexities are over different vocabularies (30k vs 60k words) and are not comparable across them.",
        B.compute_note(runs, cells),
    ]
    write_results("pilot", {"rows": rows, "calibration": calib}, with_notes(markdown_table(rows, cols), notes),
                  "Pilot: which CPU-pretrained model size serves users best")


def _label(task: str, model: str) -> str:
    return f"{task} | {model}"


def _model_of(label: str) -> str:
    return label.split(" | ", 1)[1]


def _labels(cells) -> set[str]:
    paths = sorted(cells.directory.glob("*.json")) if cells.directory.exists() else []
    return {json.loads(p.read_text(encoding="utf-8"))["key"].get("label", "") for p in paths} - {""}


def _parse_setting(text: str) -> tuple[str, Any]:
    """``"lr_decay=1"`` -> ``("lr_decay", 1.0)``: a classifier parameter for ``evaluate --set``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set expects NAME=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _saved(cells, task: str, name: str):
    """The newest saved run of ``name`` on ``task``, or None."""
    found = None
    for path in sorted(cells.directory.glob("*.json")) if cells.directory.exists() else []:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["key"].get("label") == _label(task, name):
            if found is None or path.stat().st_mtime > found[0]:
                found = (path.stat().st_mtime, saved["result"])
    return None if found is None else found[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="stage", required=True)
    for stage in ("calibrate", "pretrain", "evaluate", "report"):
        s = sub.add_parser(stage)
        s.add_argument("--data", default=str(DATA))
        s.add_argument("--threads", type=int, default=1 if stage in ("calibrate", "pretrain") else 2)
        s.add_argument("--cache-dir", default=None, help="tokenized-corpus cache (default benchmarks/pilot/.cache)")
        s.add_argument("--candidate", nargs="+", choices=list(CANDIDATES), default=None)
        s.add_argument("--resume", action="store_true")
        s.add_argument("--device", default="auto")
        s.add_argument("--minutes", type=float, default=45.0)
        s.add_argument("--steps", type=int, default=12)
        s.add_argument("--checkpoint-every", type=float, default=5.0)
        s.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
        s.add_argument("--with-shipped", action="store_true", help="also evaluate today's shipped default model")
        s.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                       help="evaluate: classifier parameters other than the library defaults (a separate row)")
    args = p.parse_args(argv)
    if args.cache_dir is None:
        args.cache_dir = str(PILOT_DIR / ".cache")
    B.setup_torch(args.threads)
    {"calibrate": calibrate, "pretrain": pretrain, "evaluate": evaluate, "report": report}[args.stage](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
