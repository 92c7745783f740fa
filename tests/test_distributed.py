"""torchrun --nproc_per_node 2 (Gloo on CPU): sharded streams, equal weights, falling loss, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from skulmfit.modelfile import load_lm

from .conftest import make_sentences

ARGS = ["--emb-size", "16", "--hidden-size", "32", "--layers", "2", "--max-vocab", "200", "--batch-size", "8",
        "--bptt", "20", "--lr", "1e-2", "--threads", "1", "--device", "cpu", "--epochs", "2", "--seed", "0"]


def _torchrun(corpus, out, *extra):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "skulmfit", "pretrain", str(corpus), "--out", str(out), *ARGS, *extra]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}


def _pids_with(arg: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if arg.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def _kill_all(proc: subprocess.Popen, out) -> None:
    """SIGKILL torchrun and every worker it started (workers run in their own process groups)."""
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in _pids_with(str(out)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    deadline = time.time() + 10
    while _pids_with(str(out)) and time.time() < deadline:
        time.sleep(0.1)
    assert not _pids_with(str(out)), "some ranks survived SIGKILL"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "corpus.txt"
    path.write_text("\n".join(make_sentences(1500, seed=2)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_ref") / "m.pt"
    res = subprocess.run(_torchrun(corpus, out, "-q"), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return out, json.loads(out.with_suffix(".json").read_text())


def test_two_ranks_finish_disjoint_data_equal_weights_loss_falls(reference_run):
    out, card = reference_run
    dist = card["distributed"]
    assert dist["world_size"] == 2 and len(dist["ranks"]) == 2  # (a) both ranks finished and reported
    (a0, b0), (a1, b1) = (r["token_range"] for r in dist["ranks"])
    assert b0 <= a1 + 1 and a0 < b0 and a1 < b1  # (b) contiguous, disjoint streams (1-token target overlap)
    assert dist["ranks"][0]["weights_sha256"] == dist["ranks"][1]["weights_sha256"]  # (c)
    assert dist["ranks"][0]["steps"] == dist["ranks"][1]["steps"] and dist["ranks"][0]["backend"] == "gloo"
    hist = card["training"]["history"]
    assert len(hist) == 2 and hist[1]["train_loss"] < hist[0]["train_loss"]  # (d)
    assert hist[1]["valid_perplexity"] < hist[0]["valid_perplexity"]
    assert card["training"]["processes"] == 2
    assert load_lm(out).direction == "fwd"


def test_killed_distributed_run_resumes(corpus, reference_run, tmp_path):
    ref_out, ref_card = reference_run
    out = tmp_path / "m.pt"
    ckpt = tmp_path / "m.pt.ckpt"
    proc = subprocess.Popen(_torchrun(corpus, out, "-q", "--checkpoint-every", "0.003"), env=_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    _kill_all(proc, out)
    time.sleep(0.5)
    assert ckpt.exists() and not out.exists(), "must be killed after a checkpoint and before the end"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["world_size"] == 2 and set(saved["trainer"]["ranks"]) == {"0", "1"}
    step = saved["trainer"]["ranks"]["0"]["step"]
    res = subprocess.run(_torchrun(corpus, out, "--resume"), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = [line for line in res.stderr.splitlines() if "resumed from" in line]
    assert resumed and f"at step {step} " in resumed[0], resumed  # (e) resumed, finished steps not redone
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["steps"] == ref_card["training"]["steps"]
    assert card["training"]["tokens_seen"] == ref_card["training"]["tokens_seen"]
    a, b = load_lm(out).model.state_dict(), load_lm(ref_out).model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
