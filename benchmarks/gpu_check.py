"""GPU readiness check at the paper's size: one prepared script (about 8 minutes or less on one
H200) that a session lent a GPU runs as is, writing ``results/gpu_check.{json,md}``.

Parts (each in this process, timed with ``torch.cuda.synchronize``; peak GPU memory per row):

1. **DropConnect weight layout.** After ``.to(cuda)`` an ``nn.LSTM``'s weights lie in one cuDNN
   buffer; :class:`skulmfit.regularizers.WeightDropLSTM` must hand the kernel the dropped weights
   in one fresh buffer at the same offsets (``same_layout``), so cuDNN neither re-flattens nor warns
   ("RNN module weights are not part of single contiguous chunk of memory"). Checked by spying on
   ``torch.lstm`` during float32 training steps and turning that warning into an error.
2. **LM tokens/s** at 400/1152/3 with a 60,000-word vocabulary, batch 64 and 128, bptt 70:
   skulmfit float32, bf16 (``precision='bf16'``, also what ``'auto'`` does on CUDA) and fp16
   (``precision='fp16'``, GradScaler); a bare ``nn.LSTM`` stack with the plain loss; fastai 2.8.12
   when it can be imported (``--fastai-python``, else this interpreter; see below).
3. **Perplexity after a fixed number of tokens**: the same random-init 400/1152/3 model trained on
   the same text for ``--ppl-tokens`` tokens in fp32, bf16 and fp16, each evaluated exactly
   (float32); the bar is 2 % of the float32 perplexity.
4. **Classifier examples/s** at 400/1152/3 on 30- and 300-token documents: training per
   gradual-unfreezing stage, skulmfit fp32/bf16/fp16 and fastai when available; predict in float32
   and, as ``precision='bf16'`` predicts, with the encoder in bfloat16.

On this project's CPU machines it is tested with ``--device cpu --smoke`` (tiny sizes).

Text for part 3: IMDb reviews under ``--data`` (the benchmark data folder) when present; on a
machine without it, a file prepared here and carried: ``python benchmarks/gpu_check.py
--prepare-text .gpu/imdb.txt`` writes 6,000 IMDb training reviews (~8 MB), one per line, into a
git-ignored folder that the device call names in ``carry``; then ``--text .gpu/imdb.txt``. Failing
both, the TREC questions shipped in the package are used (noted in the results).

On the lent machine (python3 there holds a CUDA torch; the packages skulmfit needs that are not
there, and fastai for the comparison, travel as wheels: see /work/.library/device/README.md)::

    pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
        --platform manylinux2014_x86_64 -d .whl nltk fastai==2.8.12 fastcore fastprogress fastdownload \\
        fasttransform "plum-dispatch<2.10" python-fasthtml beartype itsdangerous starlette python-multipart
    # device run, carry [".whl", ".gpu"]:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:.
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --text .gpu/imdb.txt 2>&1 | tee $OUT/log
    cp benchmarks/results/gpu_check.* $OUT/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import DATA, markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

FULL = {"emb": 400, "hidden": 1152, "layers": 3, "vocab": 60000, "batches": [64, 128], "bptt": 70, "lm_steps": 5,
        "warmup": 2, "doc_lens": [30, 300], "clf_batch": 64, "clf_steps": 3, "ppl_tokens": 2_000_000,
        "ppl_valid": 200_000}
SMOKE = {"emb": 16, "hidden": 32, "layers": 3, "vocab": 400, "batches": [4, 8], "bptt": 10, "lm_steps": 1,
         "warmup": 1, "doc_lens": [12, 30], "clf_batch": 4, "clf_steps": 1, "ppl_tokens": 4_000, "ppl_valid": 1_000}
CONTIGUITY_WARNING = ".*contiguous chunk of memory.*"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def precisions_for(device: torch.device) -> list[str]:
    if device.type == "cuda":
        return ["fp32", "bf16", "fp16"] if torch.cuda.is_bf16_supported() else ["fp32", "fp16"]
    from skulmfit.precision import cpu_has_native_bf16

    return ["fp32", "bf16"] if cpu_has_native_bf16() else ["fp32"]


# -- 1. weight layout ----------------------------------------------------------------------------------
def layout_check(device: torch.device, cfg: dict) -> dict[str, Any]:
    """Whether the LSTM weights reaching the kernel during DropConnect training are one buffer."""
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.regularizers import shared_buffer_offsets

    model = LanguageModel(AWDLSTMConfig(vocab_size=cfg["vocab"], emb_size=cfg["emb"], hidden_size=cfg["hidden"],
                                        n_layers=cfg["layers"])).to(device).train()
    lstms = [r.lstm for r in model.encoder.rnns]
    module_offsets = [shared_buffer_offsets([m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0])
                      for m in lstms]
    seen: list[list[tuple[int, int, bool]]] = []
    real = torch.lstm

    def spy(inp, hx, params, *args):
        seen.append([(p.untyped_storage().data_ptr(), p.storage_offset(), p.is_contiguous()) for p in params])
        return real(inp, hx, params, *args)

    x = torch.randint(2, cfg["vocab"], (4, cfg["bptt"]), device=device)
    warned = []
    torch.lstm = spy
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                logits = model(x)[0]
                logits.float().logsumexp(-1).mean().backward()
            warned = [str(w.message) for w in caught if "contiguous chunk of memory" in str(w.message)]
    finally:
        torch.lstm = real
    one_buffer = [len({ptr for ptr, _, _ in call}) == 1 and all(c for _, _, c in call) for call in seen]
    offsets_match = [module_offsets[i % len(lstms)] is not None
                     and [o for _, o, _ in call] == module_offsets[i % len(lstms)] for i, call in enumerate(seen)]
    flattened = all(o is not None for o in module_offsets)
    ok = (not warned) and (not flattened or (all(one_buffer) and all(offsets_match)))
    return {"module_weights_flattened": flattened, "kernel_calls": len(seen),
            "calls_with_one_contiguous_buffer": int(sum(one_buffer)),
            "calls_at_module_offsets": int(sum(offsets_match)),
            "contiguity_warnings": len(warned), "ok": ok,
            "note": ("cuDNN flattened the module's weights; the dropped weights must arrive the same way"
                     if flattened else "weights not flattened on this device (no cuDNN): nothing to keep contiguous")}


# -- 2. LM throughput ------------------------------------------------------------------------------------
def fastai_python(arg: str | None) -> str | None:
    """An interpreter that imports fastai: ``--fastai-python``, else this one if it can."""
    cands = [arg] if arg else [sys.executable]
    for py in cands:
        try:
            ok = subprocess.run([py, "-c", "import fastai.text.all"], capture_output=True, timeout=120).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return py
    return None


def run_fastai_here(py: str, mode: str, device: torch.device, **kw: Any) -> list[dict]:
    script = Path(__file__).resolve().with_name("_fastai_lm_step.py")
    args = [py, str(script), "--mode", mode, "--device", str(device)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME",)}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not rows:
        log(f"fastai {mode} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return rows


def lm_part(device: torch.device, cfg: dict, fa_py: str | None, threads: int) -> list[dict]:
    import _throughput as T

    rows = []
    impls = [f"skulmfit-{p}" for p in precisions_for(device)] + ["bare-plain"]
    for batch in cfg["batches"]:
        for impl in impls:
            try:
                r = T.lm_seconds_per_step(impl, cfg["emb"], cfg["hidden"], cfg["layers"], cfg["vocab"], batch,
                                          cfg["bptt"], cfg["lm_steps"], cfg["warmup"], str(device))
            except torch.cuda.OutOfMemoryError as e:
                r = {"error": f"out of memory: {e}".splitlines()[0]}
            rows.append({"part": "LM", "batch": batch, "impl": impl, **r})
            log(f"  LM batch {batch} {impl}: {r}")
            if device.type == "cuda":
                torch.cuda.empty_cache()
        if fa_py:
            for r in run_fastai_here(fa_py, "lm", device, emb=cfg["emb"], hidden=cfg["hidden"], layers=cfg["layers"],
                                     vocab=cfg["vocab"], batch=batch, bptt=cfg["bptt"], steps=cfg["lm_steps"],
                                     warmup=cfg["warmup"], threads=threads):
                rows.append({"part": "LM", "batch": batch, "impl": f"fastai {r.get('fastai_version')}",
                             "tokens_per_s": r["tokens_per_s"], "s_per_step": r["seconds_per_step"],
                             **({"peak_gpu_mb": r["peak_gpu_mb"]} if "peak_gpu_mb" in r else {})})
                log(f"  LM batch {batch} fastai: {rows[-1]}")
    for r in rows:
        base = next((x for x in rows if x["batch"] == r["batch"] and x["impl"].startswith("fastai")), None)
        if base and r.get("tokens_per_s"):
            r["x fastai"] = r["tokens_per_s"] / base["tokens_per_s"]
    return rows


# -- 3. perplexity after a fixed number of tokens ----------------------------------------------------------
def load_text(args) -> tuple[list[str], str]:
    if args.text and Path(args.text).is_file():
        lines = Path(args.text).read_text(encoding="utf-8").splitlines()
        return [t for t in lines if t.strip()], f"{args.text} ({len(lines):,} documents)"
    try:
        from skulmfit.datasets import load_imdb

        X, _ = load_imdb(Path(args.data) / "imdb", "train", return_X_y=True)
        order = np.random.default_rng(0).permutation(len(X))[:6000]
        return [X[i] for i in order], "6,000 IMDb training reviews"
    except (FileNotFoundError, OSError):
        from skulmfit.datasets import load_trec

        X, _ = load_trec("train", return_X_y=True)
        return list(X), "the shipped TREC-6 training questions (no IMDb text on this machine)"


def ppl_part(device: torch.device, cfg: dict, texts: list[str]) -> tuple[list[dict], dict]:
    from skulmfit.corpus import numericalize_docs
    from skulmfit.lm_training import LMTrainConfig, LMTrainer, evaluate_lm
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.tokenizer import Tokenizer
    from skulmfit.vocab import Vocab

    docs = list(Tokenizer().tokenize_many(texts))
    vocab = Vocab.build(docs, max_size=cfg["vocab"], min_freq=1)
    ids = numericalize_docs(docs, vocab)
    n_valid = min(cfg["ppl_valid"], len(ids) // 10)
    valid, train = ids[:n_valid], ids[n_valid:]
    tokens = min(cfg["ppl_tokens"], len(train) - 1)
    info = {"vocab": len(vocab), "train_tokens": tokens, "valid_tokens": n_valid}
    rows = []
    for prec in precisions_for(device):
        torch.manual_seed(1234)
        model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), pad_idx=vocab.pad_idx, emb_size=cfg["emb"],
                                            hidden_size=cfg["hidden"], n_layers=cfg["layers"])).to(device)
        torch.manual_seed(0)
        trainer = LMTrainer(model, train[: tokens + 1], LMTrainConfig(batch_size=cfg["batches"][0], bptt=cfg["bptt"],
                                                                      max_tokens=tokens, lr=0.004, lr_decay=1.0,
                                                                      drop_mult=0.3, seed=0, precision=prec), device)
        t0 = time.perf_counter()
        trainer.run()
        ev = evaluate_lm(model, valid, device, batch_size=16, bptt=cfg["bptt"])
        rows.append({"part": "perplexity", "precision": prec, "valid_perplexity": ev["perplexity"],
                     "tokens": trainer.tokens_seen, "train_s": trainer.train_seconds,
                     "total_s": time.perf_counter() - t0})
        log(f"  perplexity {prec}: {rows[-1]}")
        del model, trainer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    ref = next((r["valid_perplexity"] for r in rows if r["precision"] == "fp32"), None)
    for r in rows:
        r["vs fp32"] = r["valid_perplexity"] / ref - 1 if ref else None
        r["within 2 %"] = r["vs fp32"] is not None and abs(r["vs fp32"]) <= 0.02
    return rows, info


# -- 4. classifier ------------------------------------------------------------------------------------------
def clf_part(device: torch.device, cfg: dict, fa_py: str | None, threads: int) -> list[dict]:
    import _throughput as T

    rows = []
    for L in cfg["doc_lens"]:
        for prec in precisions_for(device):
            try:
                res = T.clf_rates(f"skulmfit-{prec}", cfg["emb"], cfg["hidden"], cfg["layers"], cfg["vocab"],
                                  cfg["clf_batch"], L, cfg["bptt"], [1, 2, 3, 4, 5], prec in ("fp32", "bf16"),
                                  cfg["clf_steps"],
                                  cfg["warmup"], device=str(device))
            except torch.cuda.OutOfMemoryError as e:
                res = [{"mode": "clf_train", "error": f"out of memory: {e}".splitlines()[0]}]
            for r in res:
                rows.append({"part": "classifier", "doc_len": L, "impl": f"skulmfit-{prec}", **r})
            log(f"  classifier {L} tokens {prec}: {res}")
            if device.type == "cuda":
                torch.cuda.empty_cache()
        if fa_py:
            for r in run_fastai_here(fa_py, "clf", device, emb=cfg["emb"], hidden=cfg["hidden"], layers=cfg["layers"],
                                     vocab=cfg["vocab"], batch=cfg["clf_batch"], bptt=cfg["bptt"], doc_len=L,
                                     steps=cfg["clf_steps"], warmup=cfg["warmup"], threads=threads,
                                     stages="1,2,3,4,5"):
                rows.append({"part": "classifier", "doc_len": L, "impl": f"fastai {r.get('fastai_version')}",
                             "mode": r["mode"], "trainable_groups": r.get("trainable_groups"),
                             "examples_per_s": r["examples_per_s"],
                             **({"peak_gpu_mb": r["peak_gpu_mb"]} if "peak_gpu_mb" in r else {})})
    for r in rows:
        base = next((x for x in rows if x["doc_len"] == r["doc_len"] and x["impl"].startswith("fastai")
                     and x.get("mode") == r.get("mode") and x.get("trainable_groups") == r.get("trainable_groups")),
                    None)
        if base and r.get("examples_per_s"):
            r["x fastai"] = r["examples_per_s"] / base["examples_per_s"]
    return rows


# -- main ----------------------------------------------------------------------------------------------------
def prepare_text(path: str, data: str, n: int = 6000) -> int:
    from skulmfit.datasets import load_imdb

    X, _ = load_imdb(Path(data) / "imdb", "train", return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(X[i].replace("\n", " ") for i in order) + "\n", encoding="utf-8")
    print(f"wrote {n:,} IMDb reviews to {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (the CPU test)")
    p.add_argument("--parts", nargs="+", default=["layout", "lm", "ppl", "clf"],
                   choices=["layout", "lm", "ppl", "clf"])
    p.add_argument("--fastai-python", default=None,
                   help="interpreter that imports fastai (default: this one, if it can)")
    p.add_argument("--no-fastai", action="store_true")
    p.add_argument("--text", default=None, help="documents for the perplexity part, one per line")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--threads", type=int, default=2, help="CPU threads (CPU runs and fastai's option)")
    p.add_argument("--name", default=None)
    p.add_argument("--prepare-text", default=None, metavar="PATH", help="write IMDb reviews for carrying, then exit")
    args = p.parse_args(argv)
    if args.prepare_text:
        return prepare_text(args.prepare_text, args.data)
    from skulmfit.devices import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    cfg = SMOKE if args.smoke else FULL
    name = args.name or ("gpu_check_smoke" if args.smoke else "gpu_check")
    t_start = time.perf_counter()
    fa_py = None if args.no_fastai else fastai_python(args.fastai_python)
    log(f"device {device}; sizes {cfg['emb']}/{cfg['hidden']}/{cfg['layers']}, {cfg['vocab']:,} words; fastai: "
        f"{fa_py or 'not available'}")
    payload: dict[str, Any] = {"device": str(device), "config": cfg, "fastai_python": fa_py}
    md_parts, notes = [], []
    if "layout" in args.parts:
        lay = layout_check(device, cfg)
        payload["layout"] = lay
        md_parts.append("## 1. DropConnect weights handed to the LSTM kernel\n\n"
                        + markdown_table([lay], ["module_weights_flattened", "kernel_calls",
                                                 "calls_with_one_contiguous_buffer", "calls_at_module_offsets",
                                                 "contiguity_warnings", "ok"]) + f"\n{lay['note']}.\n")
        log(f"layout: {lay}")
    if "lm" in args.parts:
        lm = lm_part(device, cfg, fa_py, args.threads)
        payload["lm"] = lm
        md_parts.append(f"## 2. LM training, {cfg['emb']}/{cfg['hidden']}/{cfg['layers']}, {cfg['vocab']:,} words, "
                        f"bptt {cfg['bptt']}\n\n" + markdown_table(lm, ["batch", "impl", "tokens_per_s", "s_per_step",
                                                                        "peak_gpu_mb", "x fastai", "error"]))
    if "ppl" in args.parts:
        texts, source = load_text(args)
        ppl, info = ppl_part(device, cfg, texts)
        payload["perplexity"] = {"rows": ppl, **info, "text": source}
        md_parts.append(f"## 3. Validation perplexity after {info['train_tokens']:,} training tokens (same init, "
                        f"same seed; evaluation float32)\n\n"
                        + markdown_table(ppl, ["precision", "valid_perplexity", "vs fp32", "within 2 %", "tokens",
                                               "train_s"])
                        + f"\nText: {source}; vocabulary {info['vocab']:,} words; {info['valid_tokens']:,} validation "
                          "tokens; random-init model, lr 0.004, drop_mult 0.3.\n")
    if "clf" in args.parts:
        clf = clf_part(device, cfg, fa_py, args.threads)
        payload["classifier"] = clf
        md_parts.append(f"## 4. Classifier, {cfg['emb']}/{cfg['hidden']}/{cfg['layers']}, batch {cfg['clf_batch']}\n\n"
                        + markdown_table(clf, ["doc_len", "impl", "mode", "trainable_groups", "examples_per_s",
                                               "peak_gpu_mb", "x fastai", "error"]))
    wall = time.perf_counter() - t_start
    notes.append(f"wall time {wall:.0f} s; device {device}"
                 + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
                 + f"; fastai {'from ' + fa_py if fa_py else 'not available on this machine'}.")
    payload["wall_seconds"] = wall
    md = with_notes("\n".join(md_parts), notes)
    print(md)
    write_results(name, payload, md, f"GPU check at {cfg['emb']}/{cfg['hidden']}/{cfg['layers']} ({device})")
    return 0 if payload.get("layout", {}).get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
