"""CPU cost of using a model of fastai's WikiText-103 shape (400 / 1152 / 3, 60,000 words) here.

The real archives cannot be downloaded on this machine (no network), so the model is a
**randomly initialised** skulmfit ``LanguageModel`` of exactly that shape; speed does not depend
on the weights' values. Parts (all on CPU with ``--threads`` threads):

1. First use without the download: the model written as a fastai archive (``export_fastai`` +
   tar.gz, laid out like ``wt103-fwd.tgz``), then ``pretrained=ARCHIVE`` resolved once (member
   checks, extraction, conversion, SHA-256 record) and once more (the cached file: a hash).
2. Estimators on TREC-6 questions (the task vocabulary is small: the decoder shrinks to it):
   ``ULMFiTLanguageModel(lm_epochs=1).fit`` -> tokens/s (training loop, from ``history_``) and
   wall; ``ULMFiTClassifier(lm_epochs=0, epochs=E).fit`` -> examples/s (training loop) and wall;
   ``predict`` -> documents/s.
3. Model level, random tokens, train mode (AR/TAR, clip 0.4, AdamW as skulmfit's LM
   fine-tuning): an LM step with the full 60,000-word decoder (what fine-tuning on a corpus
   with a 60k task vocabulary, e.g. IMDb, costs), and classifier training / predict steps on
   300-token documents (IMDb-like) with BPT3C and concat pooling.

    python benchmarks/wt103_cost.py             # a few minutes on 2 busy cores
    python benchmarks/wt103_cost.py --quick     # smaller runs, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, quiet_threads, with_notes, write_results  # noqa: E402

quiet_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPE = {"emb": 400, "hidden": 1152, "layers": 3, "vocab": 60_000}


def make_archive(folder: Path) -> tuple[Path, float]:
    """A fastai-layout archive of a random 400/1152/3/60k model; returns (path, seconds to write it)."""
    from skulmfit.fastai_convert import export_fastai
    from skulmfit.model import AWDLSTMConfig, LanguageModel
    from skulmfit.modelfile import PretrainedLM, save_lm
    from skulmfit.tokenizer import SPECIAL_TOKENS, Tokenizer
    from skulmfit.vocab import Vocab

    torch.manual_seed(0)
    itos = list(SPECIAL_TOKENS) + [f"word{i}" for i in range(SHAPE["vocab"] - len(SPECIAL_TOKENS))]
    model = LanguageModel(AWDLSTMConfig(vocab_size=SHAPE["vocab"], emb_size=SHAPE["emb"],
                                        hidden_size=SHAPE["hidden"], n_layers=SHAPE["layers"]))
    save_lm(PretrainedLM(model, Vocab(itos), Tokenizer(), "fwd"), folder / "random.pt")
    export_fastai(folder / "random.pt", folder / "wt103-fwd")
    (folder / "wt103-fwd" / "itos.pkl").rename(folder / "wt103-fwd" / "itos_wt103.pkl")
    t0 = time.perf_counter()
    archive = folder / "wt103-fwd.tgz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tf:
        tf.add(folder / "wt103-fwd", arcname="wt103-fwd")
    return archive, time.perf_counter() - t0


def first_use(archive: Path, home: Path) -> list[dict]:
    from skulmfit.pretrained import resolve_pretrained

    rows = []
    for what in ("first resolve: member checks, extraction, conversion, SHA-256 record",
                 "later resolve: SHA-256 check of the converted file"):
        t0 = time.perf_counter()
        path = resolve_pretrained(str(archive), "fwd", data_home=home)
        rows.append({"part": "first use", "what": what, "seconds": time.perf_counter() - t0})
    rows[0]["archive_mb"] = archive.stat().st_size / 2**20
    rows[1]["model_file_mb"] = path.stat().st_size / 2**20
    return rows


def estimators(model_file: Path, n_lm: int, n_clf: int, epochs: int, n_test: int) -> list[dict]:
    from skulmfit import ULMFiTClassifier, ULMFiTLanguageModel
    from skulmfit.datasets import load_trec

    X, y = load_trec("train", return_X_y=True)
    Xte, _ = load_trec("test", return_X_y=True)
    rng = np.random.RandomState(0)
    rows = []
    idx = rng.permutation(len(X))[:n_lm]
    lm = ULMFiTLanguageModel(pretrained=str(model_file), lm_epochs=1, device="cpu", random_state=0)
    t0 = time.perf_counter()
    lm.fit([X[i] for i in idx])
    wall = time.perf_counter() - t0
    hist = [h for h in lm.history_ if h.get("stage") == "lm"]
    tokens = max(h.get("tokens", 0) for h in hist)
    secs = max(h.get("seconds", 0.0) for h in hist)
    rows.append({"part": "estimator (TREC-6)", "what": f"LM fine-tuning, 1 epoch over {n_lm} questions "
                 f"(task vocabulary {len(lm.vocab_):,})", "rate": tokens / secs, "unit": "tokens/s",
                 "seconds": wall, "note": f"{tokens:,} tokens; wall includes tokenizing and moving the 60k "
                 "embedding onto the task vocabulary"})
    idx = rng.permutation(len(X))[:n_clf]
    clf = ULMFiTClassifier(pretrained=str(model_file), lm_epochs=0, epochs=epochs, drop_mult=1.0, device="cpu",
                           random_state=0)
    t0 = time.perf_counter()
    clf.fit([X[i] for i in idx], y[idx])
    wall = time.perf_counter() - t0
    hist = [h for h in clf.history_ if h.get("stage") == "classifier"]
    secs = sum(h["seconds"] for h in hist)
    rows.append({"part": "estimator (TREC-6)", "what": f"classifier training, {len(hist)} epochs (gradual "
                 f"unfreezing) on {n_clf} questions", "rate": n_clf * len(hist) / secs, "unit": "examples/s",
                 "seconds": wall})
    clf.predict(Xte[:8])
    t0 = time.perf_counter()
    clf.predict(Xte[:n_test])
    wall = time.perf_counter() - t0
    rows.append({"part": "estimator (TREC-6)", "what": f"predict {n_test} questions", "rate": n_test / wall,
                 "unit": "documents/s", "seconds": wall})
    return rows


def model_level(steps: int, warmup: int) -> list[dict]:
    from speed import ours_clf, ours_lm

    device = torch.device("cpu")
    rows = []
    batch, bptt = 32, 70
    s = ours_lm(SHAPE, batch, bptt, steps, warmup, device)
    rows.append({"part": "model level", "what": f"LM training step, full 60k decoder, batch {batch} x bptt {bptt}",
                 "rate": batch * bptt / s, "unit": "tokens/s", "seconds": s})
    batch, doc_len = 16, 300
    t_train, t_pred = ours_clf(SHAPE, batch, bptt, doc_len, 6, steps, warmup, device)
    rows.append({"part": "model level", "what": f"classifier training step, {doc_len}-token documents, batch {batch}",
                 "rate": batch / t_train, "unit": "examples/s", "seconds": t_train})
    rows.append({"part": "model level", "what": f"classifier predict, {doc_len}-token documents, batch {batch}",
                 "rate": batch / t_pred, "unit": "examples/s", "seconds": t_pred})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="small runs (smoke test); results go to wt103_cost_quick")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = dict(n_lm=200, n_clf=60, epochs=5, n_test=60, steps=1, warmup=1) if args.quick else \
        dict(n_lm=1000, n_clf=300, epochs=5, n_test=500, steps=3, warmup=1)
    rows: list[dict] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wt103-cost-") as tmp:
        tmp = Path(tmp)
        archive, write_s = make_archive(tmp)
        print(f"random 400/1152/3/60k model as a fastai archive: {archive.stat().st_size / 2**20:.0f} MiB "
              f"({write_s:.0f} s to write)", flush=True)
        rows += first_use(archive, tmp / "home")
        for r in rows:
            print(r, flush=True)
        model_file = next((tmp / "home" / "imported").glob("*.pt"))
        for r in estimators(model_file, sizes["n_lm"], sizes["n_clf"], sizes["epochs"], sizes["n_test"]):
            print(r, flush=True)
            rows.append(r)
    for r in model_level(sizes["steps"], sizes["warmup"]):
        print(r, flush=True)
        rows.append(r)
    load_after = os.getloadavg()
    columns = ["part", "what", "rate", "unit", "seconds", "archive_mb", "model_file_mb"]
    table = with_notes(markdown_table(rows, columns), [
        "The model is randomly initialised with fastai's WikiText-103 shape (embedding 400, LSTM 1152, 3 layers, "
        "60,000-word vocabulary, 44.3M parameters); the real archives cannot be downloaded on this machine. "
        "Speed does not depend on the weights.",
        f"{args.threads} CPU threads, fp32, OMP_WAIT_POLICY=PASSIVE, on a machine shared with other jobs: 1-minute "
        f"load average {load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end on {os.cpu_count()} cores, "
        "so the rates are lower bounds of an idle machine's.",
        "Estimator rows: ULMFiTLanguageModel / ULMFiTClassifier defaults except the settings named (classifier "
        "drop_mult=1.0, the paper's dropouts for this size); 'seconds' is the whole fit/predict wall time.",
        "The archive here holds random fp32 weights, which compress worse than trained ones (fastai's real "
        "wt103-fwd.tgz is 100 MiB).",
    ])
    name = "wt103_cost_quick" if args.quick else "wt103_cost"
    out = write_results(name, {"shape": SHAPE, "threads": args.threads, "sizes": sizes, "rows": rows,
                               "load_average_start_end": [load_before, load_after]}, table,
                        "Cost of a WikiText-103-shaped model (400/1152/3, 60k) on this CPU")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
