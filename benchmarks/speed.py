"""Speed of the default model on this machine: LM fine-tuning tokens/s, classifier training
examples/s, predict documents/s (vs TF-IDF + LR), peak RSS, GridSearchCV with and without
``memory=``, and fastai's ULMFiT side by side at the same configuration.

Parts (CPU with ``--threads`` threads; the estimator and model-level parts again on the GPU when
one is available):

1. Estimators on real text (TREC-6 questions, and IMDb reviews when the data is there):
   ``ULMFiTLanguageModel(lm_epochs=1).fit`` -> tokens/s (training loop only, from ``history_``;
   and over the whole ``fit`` wall time); ``ULMFiTClassifier(lm_epochs=0).fit`` (the default 50 epochs
   of gradual unfreezing) -> examples/s; ``predict`` -> documents/s, next to TF-IDF + LR fitted and
   predicting on the same texts. Peak RSS is the process's ``ru_maxrss`` after each step
   (cumulative: it never goes down).
2. ``GridSearchCV`` over a 2x2 classifier grid (lr x drop_mult, cv=2) on labelled TREC-6 questions
   plus unlabelled ones (``y=-1``, LM fine-tuning only), with ``memory=None`` and with a
   ``joblib.Memory`` cache, wall time of each; scored by accuracy on the labelled rows of each
   test fold (a custom scorer: the default ``score`` would count the -1 rows as errors); the
   scores must be identical.
3. Model level, the same batch shapes for both libraries, random tokens, train mode, forward +
   backward + optimizer step: our AWD-LSTM (AR/TAR, gradient clipping 0.4, AdamW as in
   skulmfit's LM fine-tuning) vs fastai's ``get_language_model(AWD_LSTM)`` (cross entropy, Adam)
   through ``fastai_bridge.run_fastai('lm')``; our ``SequenceClassifier`` (BPT3C, concat pooling)
   vs fastai's ``get_text_classifier`` through ``run_fastai('clf')`` (training and eval-mode predict).
   Sizes: the default model's (emb, hidden, layers, vocab), batch 64, bptt 70.

    python benchmarks/speed.py            # about 15-20 min on 2 busy cores (estimate)
    python benchmarks/speed.py --quick    # small sizes

``--paper`` runs instead the model-level comparison at the paper's size (400/1152/3, what
fastai's WikiText-103 model has), all in one interleaved run (see ``_throughput.py``): LM
fine-tuning tokens/s at a 10k and a 60k-word vocabulary (skulmfit float32 and bf16, the bare
``nn.LSTM`` stacks, fastai), and classifier training examples/s per gradual-unfreezing stage and
over the paper's schedule, plus predict examples/s, on 30- and 300-token documents (skulmfit
float32 and bf16, fastai). It writes ``speed_paper`` and, for its LM rows, ``lm_throughput``::

    python benchmarks/speed.py --paper    # about 45 min on 2 busy cores with 3 rounds
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import _bench as B  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

SIZES = {  # texts for part 1 and 2, model-level steps
    "full": {"trec_train": 5452, "trec_test": 500, "imdb_train": 300, "imdb_test": 300, "grid": 1000,
             "grid_unlabelled": 4000,
             "steps": 10, "warmup": 2, "doc_lens": [30, 300]},
    "quick": {"trec_train": 1000, "trec_test": 500, "imdb_train": 50, "imdb_test": 100, "grid": 300,
              "grid_unlabelled": 1500,
              "steps": 4, "warmup": 1, "doc_lens": [30]},
    "smoke": {"trec_train": 200, "trec_test": 100, "imdb_train": 16, "imdb_test": 16, "grid": 100,
              "grid_unlabelled": 200,
              "steps": 2, "warmup": 1, "doc_lens": [30]},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per step."""
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


# -- part 1 -----------------------------------------------------------------------------------------
def estimator_speed(args, corpus: str, Xtr, ytr, Xte, device: str) -> list[dict]:
    from skulmfit import ULMFiTClassifier, ULMFiTLanguageModel

    rows = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    base = {"pretrained": args.pretrained, "random_state": 0, "device": device, **B.parse_sets(args.sets)}
    lm_keys = ("pretrained", "random_state", "device", "lm_lr", "lm_lr_decay", "lm_schedule", "lm_drop_mult",
               "batch_size", "bptt", "cut_frac", "ratio", "max_vocab", "min_freq")
    lm = ULMFiTLanguageModel(**{k: v for k, v in base.items() if k in lm_keys}, lm_epochs=1)
    t0 = time.perf_counter()
    lm.fit(Xtr)
    wall = time.perf_counter() - t0
    hist = [h for h in lm.history_ if h.get("stage") == "lm"]
    tokens = max((h.get("tokens", 0) for h in hist), default=0)  # the records are cumulative
    secs = max((h.get("seconds", 0.0) for h in hist), default=0.0)
    rows.append({"corpus": corpus, "device": device, "what": "LM fine-tuning (1 epoch)", "n": len(Xtr),
                 "rate": tokens / secs if secs else None, "unit": "tokens/s (training loop)",
                 "rate_wall": tokens / wall, "wall_s": wall, "tokens": tokens, "peak_rss_mb": B.peak_rss_mb()})
    clf = ULMFiTClassifier(**{**base, "lm_epochs": 0})
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    wall = time.perf_counter() - t0
    hist = [h for h in clf.history_ if h.get("stage") == "classifier"]
    secs = sum(h["seconds"] for h in hist)
    ex = len(Xtr) * len(hist)
    rows.append({"corpus": corpus, "device": device, "what": f"classifier training ({len(hist)} epochs, gradual "
                 "unfreezing)", "n": len(Xtr), "rate": ex / secs, "unit": "examples/s (training loop)",
                 "rate_wall": ex / wall, "wall_s": wall, "peak_rss_mb": B.peak_rss_mb()})
    clf.predict(Xte[:8])  # warm-up
    t0 = time.perf_counter()
    clf.predict(Xte)
    wall = time.perf_counter() - t0
    rows.append({"corpus": corpus, "device": device, "what": "ULMFiT predict", "n": len(Xte), "rate": len(Xte) / wall,
                 "unit": "documents/s", "rate_wall": len(Xte) / wall, "wall_s": wall, "peak_rss_mb": B.peak_rss_mb()})
    if device == args.devices[0]:
        tf = B.tfidf_lr(0)
        with B.one_blas_thread():
            t0 = time.perf_counter()
            tf.fit(Xtr, ytr)
            fit_wall = time.perf_counter() - t0
            tf.predict(Xte[:8])
            t0 = time.perf_counter()
            tf.predict(Xte)
            wall = time.perf_counter() - t0
        rows.append({"corpus": corpus, "device": "cpu", "what": "TF-IDF + LR predict", "n": len(Xte),
                     "rate": len(Xte) / wall, "unit": "documents/s", "rate_wall": len(Xte) / wall, "wall_s": wall,
                     "fit_s": fit_wall, "peak_rss_mb": B.peak_rss_mb()})
        rows[-1]["ulmfit_predict_ratio"] = rows[-2]["rate"] / rows[-1]["rate"]
    if device == "cuda":
        for r in rows:
            r["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20  # cumulative over this corpus
    for r in rows:
        B.log(f"  {corpus:<6} {r['device']:<5} {r['what']:<48} {r['rate']:>12,.1f} {r['unit']}  "
              f"(wall {r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']:.0f} MiB)")
    return rows


# -- part 2 -----------------------------------------------------------------------------------------
def labelled_accuracy(est, X, y) -> float:
    """Accuracy on the labelled rows only (rows with y == -1 are unlabelled)."""
    y = np.asarray(y, dtype=object)
    mask = np.array([not (isinstance(v, (int, np.integer)) and v == -1) for v in y])
    X = [x for x, m in zip(X, mask, strict=False) if m]
    return float(np.mean(np.asarray(est.predict(X), dtype=object) == y[mask]))


def grid_speed(args, X, y, X_unlab) -> dict:
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skulmfit import ULMFiTClassifier

    grid = {"lr": [0.005, 0.01], "drop_mult": [0.5, 1.0]}
    out = {"grid": grid, "cv": 2, "n_labelled": len(X), "n_unlabelled": len(X_unlab),
           "scoring": "accuracy on the labelled rows of each test fold"}
    X, y = B.with_unlabelled(X, y, X_unlab)
    y = y.tolist()  # a list: scikit-learn's CV splitters cannot sort an object array of str and int -1
    scores = {}
    with B.temp_memory("speed-grid") as d:
        for label, memory in (("memory=None", None), ("memory=joblib.Memory", joblib.Memory(d, verbose=0))):
            est = ULMFiTClassifier(**{"pretrained": args.pretrained, "random_state": 0, "device": args.devices[0],
                                      **B.parse_sets(args.sets), "memory": memory})
            gs = GridSearchCV(est, grid, cv=2, scoring=labelled_accuracy)
            t0 = time.perf_counter()
            gs.fit(X, y)
            out[label] = time.perf_counter() - t0
            scores[label] = gs.cv_results_["mean_test_score"].tolist()
            out[f"best_params {label}"] = gs.best_params_
            B.log(f"  GridSearchCV 2x2, cv=2, {out['n_labelled']} + {out['n_unlabelled']} unlabelled texts, "
                  f"{label:<22} {out[label]:7.1f} s  scores {np.round(scores[label], 4).tolist()}")
    out["speedup"] = out["memory=None"] / out["memory=joblib.Memory"]
    out["identical_scores"] = scores["memory=None"] == scores["memory=joblib.Memory"]
    out["scores"] = scores
    return out


# -- part 3 -----------------------------------------------------------------------------------------
def ours_lm(cfg: dict, batch: int, bptt: int, steps: int, warmup: int, device: torch.device) -> float:
    from skulmfit.lm_training import lm_loss
    from skulmfit.model import AWDLSTMConfig, LanguageModel

    torch.manual_seed(0)
    V = cfg["vocab"]
    xs = [torch.randint(2, V, (batch, bptt), device=device) for _ in range(steps + warmup)]
    ys = [torch.randint(2, V, (batch, bptt), device=device) for _ in range(steps + warmup)]
    model = LanguageModel(AWDLSTMConfig(vocab_size=V, emb_size=cfg["emb"], hidden_size=cfg["hidden"],
                                        n_layers=cfg["layers"])).to(device)
    model.set_drop_mult(1.0)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.7, 0.99))
    st = {"h": None, "i": 0}
    amp = device.type == "cuda"  # skulmfit's LM trainer uses bf16 autocast on CUDA

    def step() -> None:
        i = st["i"]
        st["i"] += 1
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _, new = lm_loss(model, xs[i], ys[i], st["h"], 2.0, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.4)
        opt.step()
        st["h"] = [(h.detach(), c.detach()) for h, c in new]

    return timed(step, steps, warmup, device)


def ours_clf(cfg: dict, batch: int, bptt: int, doc_len: int, n_class: int, steps: int, warmup: int,
             device: torch.device) -> tuple[float, float]:
    from skulmfit.model import AWDLSTMConfig, SequenceClassifier

    torch.manual_seed(0)
    V = cfg["vocab"]
    n = steps + warmup
    xs = [torch.randint(2, V, (batch, doc_len), device=device) for _ in range(n)]
    ys = [torch.randint(0, n_class, (batch,), device=device) for _ in range(n)]
    lens = torch.full((batch,), doc_len, dtype=torch.int64, device=device)
    model = SequenceClassifier(AWDLSTMConfig(vocab_size=V, emb_size=cfg["emb"], hidden_size=cfg["hidden"],
                                             n_layers=cfg["layers"]), n_class).to(device)
    model.set_drop_mult(1.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.7, 0.99))
    model.train()
    st = {"i": 0}

    def train_step() -> None:
        i = st["i"]
        st["i"] += 1
        loss = F.cross_entropy(model(xs[i], lens, bptt, 1400), ys[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_train = timed(train_step, steps, warmup, device)
    model.eval()
    st["i"] = 0

    def predict_step() -> None:
        i = st["i"]
        st["i"] += 1
        with torch.no_grad():
            model(xs[i], lens, bptt, 1400).argmax(-1)

    t_pred = timed(predict_step, steps, warmup, device)
    return t_train, t_pred


def model_level(args, cfg: dict, sizes: dict) -> list[dict]:
    from fastai_bridge import run_fastai

    batch, bptt, n_class = 64, 70, 6
    rows = []
    for dev in args.devices:
        device = torch.device(dev if dev != "auto" else "cpu")
        sec = ours_lm(cfg, batch, bptt, sizes["steps"], sizes["warmup"], device)
        rows.append({"device": str(device), "mode": "LM training", "impl": "skulmfit", "doc_len": bptt,
                     "rate": batch * bptt / sec, "unit": "tokens/s", "s_per_step": sec})
        for L in sizes["doc_lens"]:
            t_tr, t_pr = ours_clf(cfg, batch, bptt, L, n_class, sizes["steps"], sizes["warmup"], device)
            rows.append({"device": str(device), "mode": "classifier training", "impl": "skulmfit", "doc_len": L,
                         "rate": batch / t_tr, "unit": "examples/s", "s_per_step": t_tr})
            rows.append({"device": str(device), "mode": "classifier predict", "impl": "skulmfit", "doc_len": L,
                         "rate": batch / t_pr, "unit": "examples/s", "s_per_step": t_pr})
    if not args.no_fastai:
        common = {"emb": cfg["emb"], "hidden": cfg["hidden"], "layers": cfg["layers"], "vocab": cfg["vocab"],
                  "batch": batch, "bptt": bptt, "threads": args.threads, "steps": sizes["steps"],
                  "warmup": sizes["warmup"], "env": {"OMP_WAIT_POLICY": "PASSIVE"}}
        for r in run_fastai("lm", **common):
            rows.append({"device": "cpu", "mode": "LM training", "impl": f"fastai {r.get('fastai_version')}",
                         "doc_len": bptt, "rate": r["tokens_per_s"], "unit": "tokens/s",
                         "s_per_step": r["seconds_per_step"]})
        for L in sizes["doc_lens"]:
            for r in run_fastai("clf", doc_len=L, n_class=n_class, **common):
                mode = {"clf_train": "classifier training", "clf_predict": "classifier predict"}[r["mode"]]
                rows.append({"device": "cpu", "mode": mode, "impl": f"fastai {r.get('fastai_version')}",
                             "doc_len": L, "rate": r["examples_per_s"], "unit": "examples/s",
                             "s_per_step": r["seconds_per_step"]})
    for r in rows:
        ours = [o for o in rows if o["impl"] == "skulmfit" and o["device"] == r["device"] and o["mode"] == r["mode"]
                and o["doc_len"] == r["doc_len"]]
        r["skulmfit / this"] = ours[0]["rate"] / r["rate"] if ours else None
        B.log(f"  {r['device']:<5} {r['mode']:<20} doc_len {r['doc_len']:>4} {r['impl']:<14} "
              f"{r['rate']:>10,.0f} {r['unit']}")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_common_args(p, seeds=None)
    p.add_argument("--no-fastai", action="store_true", help="skip the fastai side-by-side")
    p.add_argument("--no-gpu", action="store_true", help="CPU only even when a GPU is available")
    p.add_argument("--no-grid", action="store_true", help="skip the GridSearchCV timing")
    p.add_argument("--paper", action="store_true",
                   help="only the model-level comparison at 400/1152/3 (LM 10k and 60k words, classifier 30 and "
                        "300 tokens), interleaved; writes speed_paper and lm_throughput")
    p.add_argument("--rounds", type=int, default=3, help="--paper: interleaved rounds (medians are reported)")
    args = p.parse_args(argv)
    if args.paper:
        return paper_main(args)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[mode]
    B.setup_torch(args.threads)
    args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_gpu else [])
    name = B.result_name("speed", args)
    t_start = time.perf_counter()
    rss0 = B.peak_rss_mb()

    from skulmfit.modelfile import load_lm
    from skulmfit.pretrained import resolve_pretrained

    mcfg = load_lm(resolve_pretrained(args.pretrained, "fwd")).model.config
    cfg = {"emb": mcfg.emb_size, "hidden": mcfg.hidden_size, "layers": mcfg.n_layers, "vocab": mcfg.vocab_size}
    B.log(f"model {args.pretrained}: emb {cfg['emb']}, hidden {cfg['hidden']}, layers {cfg['layers']}, "
          f"vocab {cfg['vocab']}; devices {args.devices}; torch threads {torch.get_num_threads()}")

    X, y, Xt, _ = B.load_trec_split()
    idx = B.stratified_indices(y, sizes["trec_train"], 0)
    Xtr, ytr = B.take(X, y, idx)
    Xte = Xt[: sizes["trec_test"]]
    corpora = [("TREC-6", Xtr, ytr, Xte)]
    try:
        Xi, yi, Xit, _, _ = B.load_imdb_split(args.data)
        ii = B.stratified_indices(yi, sizes["imdb_train"], 0)
        Xitr, yitr = B.take(Xi, yi, ii)
        corpora.append(("IMDb", Xitr, yitr, Xit[: sizes["imdb_test"]]))
    except FileNotFoundError as e:
        B.log(f"IMDb skipped: {e}")

    B.log("1. estimators")
    est_rows = []
    for dev in args.devices:
        for corpus, a, b_, c in corpora:
            est_rows += estimator_speed(args, corpus, a, b_, c, dev)
    grid = None
    if not args.no_grid:
        B.log("2. GridSearchCV")
        gi = B.stratified_indices(y, sizes["grid"], 1)
        rest = np.setdiff1d(np.arange(len(X)), gi)
        rest = rest[np.random.default_rng(1).permutation(len(rest))][: sizes["grid_unlabelled"]]
        grid = grid_speed(args, *B.take(X, y, gi), [X[i] for i in rest])
    B.log("3. model level, same batch shapes (batch 64, bptt 70)")
    model_rows = model_level(args, cfg, sizes)
    wall = time.perf_counter() - t_start
    peak = B.peak_rss_mb()
    size = f"{cfg['emb']}/{cfg['hidden']}/{cfg['layers']}, {cfg['vocab']:,} words"
    shape = f"{cfg['emb']}/{cfg['hidden']}/{cfg['layers']}"
    for r in est_rows:  # every figure names the model size it was measured at
        r["model"] = "-" if r["what"].startswith("TF-IDF") else f"{shape}, task vocabulary"
    for r in model_rows:
        r["model"] = size

    t1 = markdown_table([{**r, "n": f"{r['n']:,}", "rate": f"{r['rate']:,.1f}", "rate_wall": f"{r['rate_wall']:,.1f}",
                          "peak RSS MiB": f"{r['peak_rss_mb']:.0f}", "wall s": f"{r['wall_s']:.2f}"} for r in est_rows],
                        ["corpus", "device", "model", "what", "n", "rate", "unit", "rate_wall", "wall s",
                         "peak RSS MiB"])
    tf_lines = [f"* {r['corpus']} predict: TF-IDF + LR {r['rate']:,.0f} documents/s, ULMFiT (CPU) "
                f"{r['rate'] * r['ulmfit_predict_ratio']:,.1f} documents/s: ULMFiT is "
                f"{1 / r['ulmfit_predict_ratio']:,.0f}x slower." for r in est_rows if "ulmfit_predict_ratio" in r]
    t3 = markdown_table([{**r, "rate": f"{r['rate']:,.1f}", "s_per_step": f"{r['s_per_step']:.4f}",
                          "skulmfit / this": None if r["skulmfit / this"] is None else f"{r['skulmfit / this']:.2f}"}
                         for r in model_rows],
                        ["device", "model", "mode", "doc_len", "impl", "rate", "unit", "s_per_step",
                         "skulmfit / this"])
    md = (f"## 1. Estimators on real text (model {args.pretrained}: {shape}; the vocabulary is each task's, "
          "up to max_vocab)\n\n" + t1) + "\n" + "\n".join(tf_lines) + "\n"
    if grid:
        md += ("\n## 2. GridSearchCV, 2x2 classifier grid (lr x drop_mult), cv=2\n\n"
               f"{grid['n_labelled']:,} labelled + {grid['n_unlabelled']:,} unlabelled (y=-1) TREC-6 questions, "
               f"scored on the labelled rows of each fold: memory=None {grid['memory=None']:.1f} s, with joblib.Memory "
               f"{grid['memory=joblib.Memory']:.1f} s (x{grid['speedup']:.2f}); identical scores: "
               f"{grid['identical_scores']}.\n")
    md += (f"\n## 3. Model level vs fastai at {size} (the {args.pretrained} model's size), batch 64, bptt 70, "
           "random tokens\n\n" + t3)
    notes = [
        (f"Mode: {mode}; torch threads {args.threads}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
         f"devices {args.devices}; model {args.pretrained} (emb {cfg['emb']}, hidden {cfg['hidden']}, layers "
         f"{cfg['layers']}, vocab {cfg['vocab']}); wall time {wall:.0f} s; peak RSS {peak:.0f} MiB "
         f"(after imports {rss0:.0f} MiB)."),
        ("Part 1: rate = over the training loop only (history_ seconds); rate_wall = over the whole fit/predict "
         "call (tokenization, vocabulary, BatchNorm recalibration included). Classifier fits use lm_epochs=0."),
        ("Part 3: ours = LanguageModel with AR/TAR + clip 0.4 + AdamW (bf16 autocast on CUDA, as skulmfit's LM "
         "trainer); fastai = get_language_model(AWD_LSTM) with cross entropy + Adam (no AR/TAR); classifiers: "
         "cross entropy + AdamW (ours) / Adam (fastai), max_len 1400, 6 classes. fastai runs on CPU only. "
         "TF-IDF + LR runs with one BLAS thread (OpenBLAS's spinning threads are ~10x slower on a busy machine). "
         "'skulmfit / this' > 1 means skulmfit is faster."),
        "Measured on a shared, noisy machine: compare rows of one run, not across runs.",
        ("For the paper's 400/1152/3 size (fastai's WikiText-103 model) see speed_paper "
         "(python benchmarks/speed.py --paper)."),
    ]
    md = with_notes(md, notes)
    print()
    print(md)
    write_results(name, {"mode": mode, "sizes": sizes, "model": cfg, "devices": args.devices,
                         "estimators": est_rows, "grid_search": grid, "model_level": model_rows,
                         "peak_rss_mb": peak, "rss_after_imports_mb": rss0, "wall_seconds": wall, "notes": notes},
                  md, f"Speed: {args.pretrained} model ({size}), CPU" + (" and GPU" if "cuda" in args.devices else ""))
    return 0



# -- the paper's size (--paper) ------------------------------------------------------------------------
PAPER = {"emb": 400, "hidden": 1152, "layers": 3, "clf_vocab": 60000, "doc_lens": [30, 300], "batch": 64, "bptt": 70,
         "lm_steps": 2, "clf_steps": {30: 3, 300: 1}, "warmup": 1, "n_groups": 5}
PAPER_QUICK = {**PAPER, "emb": 64, "hidden": 128, "clf_vocab": 2000, "doc_lens": [30], "batch": 8, "bptt": 20,
               "clf_steps": {30: 2}}


def gradual_rate(stage_rates: dict[int, float], n_groups: int) -> float | None:
    """Examples/s over gradual unfreezing with one epoch per stage (top 1, 2, ..., all groups
    trainable): the same examples in each stage, so the time adds up as sum(1 / rate)."""
    if any(k not in stage_rates or not stage_rates[k] for k in range(1, n_groups + 1)):
        return None
    return n_groups / sum(1.0 / stage_rates[k] for k in range(1, n_groups + 1))


def clf_jobs(cfg: dict, impls: list[str], threads: int) -> list[tuple[str, object]]:
    import _throughput as T
    from fastai_bridge import run_fastai

    stages = list(range(1, cfg["n_groups"] + 1))
    jobs = []
    for L in cfg["doc_lens"]:
        steps = cfg["clf_steps"][L]
        for impl in impls:
            if impl == "fastai":
                def fn(L=L, steps=steps) -> list[dict]:
                    rows = run_fastai("clf", emb=cfg["emb"], hidden=cfg["hidden"], layers=cfg["layers"],
                                      vocab=cfg["clf_vocab"], batch=cfg["batch"], bptt=cfg["bptt"], doc_len=L,
                                      threads=threads, steps=steps, warmup=cfg["warmup"],
                                      stages=",".join(map(str, stages)), env={"OMP_WAIT_POLICY": "PASSIVE"})
                    return [{"impl": f"fastai {r.get('fastai_version')}", "doc_len": L, "mode": r["mode"],
                             "trainable_groups": r.get("trainable_groups"), "examples_per_s": r["examples_per_s"]}
                            for r in rows]
            else:
                def fn(L=L, steps=steps, impl=impl) -> list[dict]:
                    return T.run_child("clf", impl=impl, emb=cfg["emb"], hidden=cfg["hidden"], layers=cfg["layers"],
                                       vocab=cfg["clf_vocab"], batch=cfg["batch"], bptt=cfg["bptt"], doc_len=L,
                                       stages=stages, predict=1, steps=steps,
                                       warmup=cfg["warmup"], threads=threads, device="cpu")
            jobs.append((f"clf{L}|{impl}", fn))
    return jobs


def summarize_clf(results: dict, cfg: dict) -> list[dict]:
    """Per (doc_len, impl): median examples/s per stage and predict, and the gradual-unfreezing rate."""
    import _throughput as T

    out = []
    for name, rounds in results.items():
        if not name.startswith("clf"):
            continue
        key, impl = name.split("|")
        L = int(key[3:])
        flat = [r for rows in rounds for r in rows]
        label = next((r["impl"] for r in flat if str(r["impl"]).startswith("fastai")), impl)
        stage = {k: T.median_of([r["examples_per_s"] for r in flat
                                 if r["mode"] == "clf_train" and r.get("trainable_groups") == k])
                 for k in range(1, cfg["n_groups"] + 1)}
        per_round = []
        for rows in rounds:
            rates = {r["trainable_groups"]: r["examples_per_s"] for r in rows if r["mode"] == "clf_train"}
            g = gradual_rate(rates, cfg["n_groups"])
            if g:
                per_round.append(g)
        pred = [r["examples_per_s"] for r in flat if r["mode"] == "clf_predict"]
        out.append({"doc_len": L, "impl": label, "key": impl, "stages": stage,
                    "gradual": gradual_rate(stage, cfg["n_groups"]), "gradual_range": T.spread(per_round),
                    "all_unfrozen": stage.get(cfg["n_groups"]), "predict": T.median_of(pred),
                    "predict_range": T.spread(pred), "loads": [r["load_1min"] for r in flat]})
    return out


def paper_main(args) -> int:
    import _throughput as T
    from lm_throughput import PAPER_SIZES, default_impls, lm_jobs, lm_table, load_note, overhead_lines, summarize_lm

    from skulmfit.precision import cpu_has_native_bf16

    cfg = PAPER_QUICK if (args.quick or args.smoke) else PAPER
    name = B.result_name("speed_paper", args)
    sizes = PAPER_SIZES if cfg is PAPER else [f"{cfg['emb']}x{cfg['hidden']}x{cfg['layers']}x{v}" for v in (1000, 6000)]
    lm_impls = [i for i in default_impls("cpu") if not (args.no_fastai and i == "fastai")]
    clf_impls = ["skulmfit"] + (["skulmfit-bf16"] if cpu_has_native_bf16() else []) + ([] if args.no_fastai
                                                                                       else ["fastai"])
    rounds = 1 if args.smoke else args.rounds
    shape = f"{cfg['emb']}/{cfg['hidden']}/{cfg['layers']}"
    B.log(f"paper size {shape}: LM {sizes} {lm_impls}; classifier {cfg['doc_lens']}-token documents, "
          f"{cfg['clf_vocab']:,} words, {clf_impls}; {rounds} rounds, {args.threads} threads")
    jobs = lm_jobs(sizes, lm_impls, cfg["batch"], cfg["bptt"], cfg["lm_steps"], cfg["warmup"], args.threads, "cpu")
    jobs += clf_jobs(cfg, clf_impls, args.threads)
    results = T.interleave(jobs, rounds, log=B.log)
    lm_rows = summarize_lm({k: v for k, v in results.items() if not k.startswith("clf")})
    clf_rows = summarize_clf(results, cfg)

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else ""

    fa = {r["doc_len"]: r for r in clf_rows if r["key"] == "fastai"}
    headline = []
    for r in lm_rows:
        base = next((x for x in lm_rows if x["size"] == r["size"] and x["key"] == "fastai"), None)
        headline.append({"what": f"LM fine-tuning, {int(r['size'].split('x')[3]):,} words", "impl": r["impl"],
                         "rate": r["tokens_per_s"], "unit": "tokens/s", "range": r["range"],
                         "x fastai": ratio(r["tokens_per_s"], base and base["tokens_per_s"])})
    for r in clf_rows:
        f = fa.get(r["doc_len"])
        headline.append({"what": f"classifier training, {r['doc_len']} tokens, gradual unfreezing (5 stages)",
                         "impl": r["impl"], "rate": r["gradual"], "unit": "examples/s", "range": r["gradual_range"],
                         "x fastai": ratio(r["gradual"], f and f["gradual"])})
    for r in clf_rows:
        if r["predict"]:
            f = fa.get(r["doc_len"])
            headline.append({"what": f"classifier predict, {r['doc_len']} tokens", "impl": r["impl"],
                             "rate": r["predict"], "unit": "examples/s", "range": r["predict_range"],
                             "x fastai": ratio(r["predict"], f and f["predict"])})
    t1 = markdown_table([{**h, "rate": f"{h['rate']:,.1f}" if h["rate"] else ""} for h in headline],
                        ["what", "impl", "rate", "unit", "range", "x fastai"])
    stage_rows = []
    for r in clf_rows:
        f = fa.get(r["doc_len"])
        for k, v in r["stages"].items():
            fv = f["stages"].get(k) if f else None
            stage_rows.append({"doc_len": r["doc_len"], "trainable groups (top)": k, "impl": r["impl"],
                               "examples/s": f"{v:,.1f}" if v else "", "x fastai": ratio(v, fv)})
    t2 = markdown_table(stage_rows, ["doc_len", "trainable groups (top)", "impl", "examples/s", "x fastai"])
    lm_note = (f"LM: forward + backward + optimizer step, {cfg['lm_steps']} timed steps after {cfg['warmup']} warm-up; "
               "rows as in lm_throughput (skulmfit = exact float32 with all regularisers; skulmfit-bf16 = "
               "precision='bf16', see the precision check; bare-* = nn.LSTM stacks without regularisation).")
    notes = overhead_lines(lm_rows) + [
        f"Model {shape} (emb/hidden/layers" + (": the shape of fastai's WikiText-103 AWD-LSTM" if cfg is PAPER else "")
        + "), random weights and "
        f"random tokens; batch {cfg['batch']}, bptt {cfg['bptt']}, {args.threads} CPU threads; every measurement in "
        f"a fresh process, {rounds} interleaved rounds, medians (range = min-max over the rounds).",
        lm_note,
        f"Classifier: {cfg['clf_vocab']:,}-word vocabulary, 6 classes, max_len 1400, BPT3C chunks of {cfg['bptt']}; "
        "training per stage with the top K of 5 layer groups trainable (embedding, 3 LSTMs, head; fastai's "
        "freeze_to(-K)), timed steps per stage "
        + ", ".join(f"{s} at {L} tokens" for L, s in cfg["clf_steps"].items())
        + "; 'gradual unfreezing' = one epoch per stage for K = 1..5, examples/s = 5 / sum(1 / rate_K). "
        "skulmfit: AdamW over the trainable groups; fastai: Adam. Predict: eval mode, no gradient, same batch "
        "(64 documents) for all; fastai and skulmfit in float32, skulmfit-bf16 with the encoder in bfloat16 "
        "(what precision='bf16' predicts in; agreement with float32 in classifier_precision).",
        load_note(lm_rows + clf_rows),
        "No GPU was used: the GPU comparison is benchmarks/gpu_check.py, to be run where a device is lent.",
    ]
    md = ("## Headline: skulmfit vs fastai at " + shape + "\n\n" + t1
          + "\n## LM fine-tuning, all rows\n\n" + lm_table(lm_rows)
          + "\n## Classifier training per unfreezing stage\n\n" + t2)
    md = with_notes(md, [n for n in notes if n])
    print(md)
    write_results(name, {"config": {k: v for k, v in cfg.items() if k != "clf_steps"}, "clf_steps": cfg["clf_steps"],
                         "rounds": rounds, "threads": args.threads, "lm_rows": lm_rows, "clf_rows": clf_rows,
                         "headline": headline, "raw": results, "notes": notes}, md,
                  f"Speed at the paper's size ({shape}): skulmfit vs fastai vs bare stack, CPU")
    if cfg is PAPER:
        lm_md = with_notes(lm_table(lm_rows), overhead_lines(lm_rows) + [
            f"Model {shape}, batch {cfg['batch']}, bptt {cfg['bptt']}, {args.threads} CPU threads, random tokens; "
            f"each measurement in a fresh process, {rounds} interleaved rounds, medians.", lm_note,
            load_note(lm_rows), "Measured in the same run as speed_paper (speed.py --paper)."])
        write_results("lm_throughput", {"rows": lm_rows, "batch": cfg["batch"], "bptt": cfg["bptt"],
                                        "threads": args.threads, "rounds": rounds}, lm_md, "LM training throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
