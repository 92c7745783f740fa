"""Run fastai's ULMFiT side by side with ours, from OUR environment (standard library only).

fastai lives in its own virtual environment so that its pins never touch ours. Create it once
with (keep the exact torch pin: a looser one pulls gigabytes of CUDA wheels)::

    python3 -m venv /work/fastai-venv \
      && /work/fastai-venv/bin/pip install torch==2.13.0 \
      && /work/fastai-venv/bin/pip install --no-deps fastai==2.8.12 fastcore fastprogress \
           fastdownload fasttransform "plum-dispatch<2.10" python-fasthtml \
           beartype rich itsdangerous anyio starlette python-multipart \
      && /work/fastai-venv/bin/pip install pandas matplotlib scipy scikit-learn pyyaml requests \
      && /work/fastai-venv/bin/pip install spacy

(spaCy is for the tokenizer comparison, ``benchmarks/tokenizer_agreement.py``: it needs only
``spacy.blank("en")``, no model download. Verified with spacy 3.8.18 / thinc 8.3.14 next to
fastai 2.8.12, fastcore 2.2.41, numpy 2.4.6 and pandas 3.1.1 on Python 3.11.)

The tokenizer comparison also runs fastai 1's own tokenizer (the rules fastai's WikiText-103
vocabulary was made with). It is not installed into the venv (it is the same package name as
fastai 2) but unpacked beside it, without its dependencies, and put on ``sys.path`` only by
``_fastai_tokenize.py --rules v1``::

    /work/fastai-venv/bin/pip install --no-deps --target /work/fastai1-lib fastai==1.0.61

(The --no-deps extras are what ``from fastai.text.all import ...`` needs at import time:
plum-dispatch must stay below 2.10 for fastai 2.8.12 and needs beartype + rich; fastprogress
1.1.x imports fasthtml, which needs itsdangerous, anyio, starlette and python-multipart.
torchvision is not needed for fastai.text.)

Then, from a benchmark script::

    from benchmarks.fastai_bridge import run_fastai      # or: from fastai_bridge import ...
    rows = run_fastai("lm", emb=400, hidden=1150, layers=3, vocab=10000, batch=32, bptt=70,
                      threads=2, steps=8, warmup=2)
    rows = run_fastai("clf", emb=400, hidden=1150, doc_len=30, batch=64)

Each row is a dict printed by ``_fastai_lm_step.py``: ``impl``, ``fastai_version``,
``torch_version``, ``mode`` (``lm`` / ``clf_train`` / ``clf_predict``), ``tokens_per_s`` (lm)
or ``examples_per_s`` (clf), ``seconds_per_step`` and ``config``.

Set ``SKULMFIT_FASTAI_PYTHON`` to use another interpreter. The child inherits this process's
environment (minus PYTHONPATH/PYTHONHOME/VIRTUAL_ENV), so set OMP_WAIT_POLICY / OMP_NUM_THREADS
the same way for both implementations: on a busy machine libgomp's default active waiting can
make small LSTMs 10-100x slower with 2 threads, which would swamp any comparison.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_FASTAI_PYTHON = "/work/fastai-venv/bin/python"
STEP_SCRIPT = Path(__file__).resolve().with_name("_fastai_lm_step.py")
DEFAULT_TIMEOUT = 900.0

__all__ = ["find_fastai_python", "run_fastai", "DEFAULT_FASTAI_PYTHON", "STEP_SCRIPT"]


def find_fastai_python() -> str | None:
    """Interpreter of the fastai venv: ``$SKULMFIT_FASTAI_PYTHON``, else
    ``/work/fastai-venv/bin/python`` if it exists, else None (see the module docstring for how
    to create the venv)."""
    env = os.environ.get("SKULMFIT_FASTAI_PYTHON")
    if env:
        return env
    if os.path.exists(DEFAULT_FASTAI_PYTHON):
        return DEFAULT_FASTAI_PYTHON
    return None


def _cli_args(kwargs: dict) -> list[str]:
    args: list[str] = []
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        else:
            args += [flag, str(value)]
    return args


def _child_env(extra: dict | None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run_fastai(mode: str, *, timeout: float = DEFAULT_TIMEOUT, env: dict | None = None,
               **kwargs) -> list[dict]:
    """Run fastai's AWD-LSTM throughput measurement in the fastai venv; return its JSON rows.

    ``mode`` is ``"lm"`` (language-model training tokens/s) or ``"clf"`` (classifier training and
    predict examples/s). Other keyword arguments become ``_fastai_lm_step.py`` options
    (``doc_len=30`` -> ``--doc-len 30``; None/False are left out, True is a bare flag).
    ``env`` adds environment variables for the child only. Returns ``[]`` after printing the
    reason when fastai is unavailable (no venv; see the module docstring for how to create it),
    the run fails or times out (900 s by default), or it prints no JSON row.
    """
    python = find_fastai_python()
    if python is None:
        print(f"fastai comparison skipped: no fastai venv at {DEFAULT_FASTAI_PYTHON} and "
              "SKULMFIT_FASTAI_PYTHON unset (see benchmarks/fastai_bridge.py to create it)",
              file=sys.stderr)
        return []
    if not os.path.exists(python):
        print(f"fastai comparison skipped: interpreter {python!r} does not exist",
              file=sys.stderr)
        return []
    cmd = [python, str(STEP_SCRIPT), "--mode", mode, *_cli_args(kwargs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=_child_env(env), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"fastai comparison skipped: {' '.join(cmd)} timed out after {timeout:g} s",
              file=sys.stderr)
        return []
    except OSError as exc:
        print(f"fastai comparison skipped: cannot run {python!r}: {exc}", file=sys.stderr)
        return []
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if proc.returncode != 0 or not rows:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        print(f"fastai comparison skipped: {' '.join(cmd)} exited {proc.returncode} with "
              f"{len(rows)} result line(s)\n{tail}", file=sys.stderr)
        return []
    return rows


if __name__ == "__main__":  # quick check: python3 benchmarks/fastai_bridge.py [lm|clf]
    mode = sys.argv[1] if len(sys.argv) > 1 else "lm"
    for row in run_fastai(mode, emb=64, hidden=128, layers=3, vocab=5000, steps=3, warmup=1):
        print(json.dumps(row))
