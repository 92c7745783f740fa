import json
import os
import signal
import subprocess
import sys
import time

import torch

from skulmfit.cli import main
from skulmfit.modelfile import load_lm

from .conftest import make_sentences

ARGS = ["--emb-size", "16", "--hidden-size", "32", "--layers", "2", "--max-vocab", "200", "--batch-size", "8",
        "--bptt", "20", "--lr", "1e-2", "--threads", "1", "-q"]


def test_pretrain_and_evaluate_lm(corpus_file, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "20000", *ARGS]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["tokens_seen"] >= 19000 and card["corpus"]["files"][0]["sha256"]
    assert card["command"].startswith("skulmfit pretrain")
    assert load_lm(out).direction == "fwd"
    capsys.readouterr()
    assert main(["evaluate-lm", str(out), str(corpus_file)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] > 1000 and 1 < result["perplexity"] < 40


def test_backward_model(corpus_file, tmp_path):
    out = tmp_path / "b.pt"
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--direction", "bwd", "--max-tokens", "3000",
                 *ARGS]) == 0
    assert load_lm(out).direction == "bwd"


def test_bad_options_exit_2(corpus_file, tmp_path, capsys):
    assert main(["pretrain", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["pretrain", str(corpus_file), "--out", str(tmp_path / "x.pt"), "--device", "tpu"]) == 2
    assert "device" in capsys.readouterr().err


def _cmd(corpus, out, *extra, quiet=True):
    args = ARGS if quiet else ARGS[:-1]
    return [sys.executable, "-m", "skulmfit", "pretrain", str(corpus), "--out", str(out), "--epochs", "2",
            "--checkpoint-every", "0.004", *args, *extra]


def test_killed_pretrain_resumes_exactly(tmp_path):
    """SIGKILL a real run after its first checkpoint; --resume ends where an uninterrupted run ends."""
    corpus_file = tmp_path / "small.txt"
    corpus_file.write_text("\n".join(make_sentences(1200, seed=1)) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = tmp_path / "ref.pt"
    subprocess.run(_cmd(corpus_file, ref), check=True, env=env, timeout=300)
    out = tmp_path / "killed.pt"
    ckpt = tmp_path / "killed.pt.ckpt"
    proc = subprocess.Popen(_cmd(corpus_file, out), env=env)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists(), "the run must be killed after a checkpoint, before the end"
    saved_step = torch.load(ckpt, weights_only=True)["trainer"]["step"]
    assert saved_step > 0
    res = subprocess.run(_cmd(corpus_file, out, "--resume", quiet=False), env=env, timeout=300,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"at step {saved_step}" in res.stderr  # finished steps are not redone
    card, ref_card = (json.loads(p.with_suffix(".json").read_text()) for p in (out, ref))
    assert card["training"]["steps"] == ref_card["training"]["steps"]
    assert card["training"]["tokens_seen"] == ref_card["training"]["tokens_seen"]
    a, b = load_lm(out).model.state_dict(), load_lm(ref).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical to the uninterrupted run


def test_resume_with_other_options_is_refused(corpus_file, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "3000", *ARGS]) == 0
    # a checkpoint is written at the end of the run
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "3000", "--resume",
                 *ARGS[:-3], "--lr", "0.5", "-q"]) == 2
    assert "other options" in capsys.readouterr().err


def test_sigint_checkpoints_and_resumes_exactly(tmp_path):
    """Ctrl-C (SIGINT) stops after the current step with a checkpoint, exit code 130, and
    --resume ends bit-identical to an uninterrupted run: nothing trained is lost."""
    import threading

    corpus_file = tmp_path / "small.txt"
    corpus_file.write_text("\n".join(make_sentences(1200, seed=2)) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = tmp_path / "ref.pt"
    subprocess.run(_cmd(corpus_file, ref, "--epochs", "3"), check=True, env=env, timeout=300)
    out, ckpt = tmp_path / "int.pt", tmp_path / "int.pt.ckpt"
    # no timed checkpoints: the one we find must come from the signal (or an epoch end)
    proc = subprocess.Popen(_cmd(corpus_file, out, "--epochs", "3", "--checkpoint-every", "600", quiet=False),
                            env=env, stderr=subprocess.PIPE, text=True)
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while "LM training" not in "".join(chunks) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    reader.join(timeout=10)
    err = "".join(chunks)
    assert "stopped after step" in err and "--resume" in err, err[-2000:]
    assert ckpt.exists() and not out.exists()
    saved = torch.load(ckpt, weights_only=True)["trainer"]["step"]
    assert f"stopped after step {saved} " in err  # the checkpoint holds the last finished step
    res = subprocess.run(_cmd(corpus_file, out, "--epochs", "3", "--resume", quiet=False), env=env,
                         timeout=300, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"at step {saved}" in res.stderr
    a, b = load_lm(out).model.state_dict(), load_lm(ref).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_follows_a_moved_corpus(corpus_file, tmp_path, capsys):
    """The checkpoint names its corpus by content: the same files elsewhere resume; others are refused."""
    import shutil

    out = tmp_path / "m.pt"
    assert main(["pretrain", str(corpus_file), "--out", str(out), "--max-tokens", "3000", *ARGS]) == 0
    moved = tmp_path / "moved" / "corpus.txt"
    moved.parent.mkdir()
    shutil.copy(corpus_file, moved)
    assert main(["pretrain", str(moved), "--out", str(out), "--max-tokens", "3000", "--resume", *ARGS]) == 0
    moved.write_text(moved.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["pretrain", str(moved), "--out", str(out), "--max-tokens", "3000", "--resume", *ARGS]) == 2
    err = capsys.readouterr().err
    assert "sha256" in err or "vocabulary" in err
