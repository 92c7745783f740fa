"""Pretrained language models shipped inside the package, and resolution of user paths.

Names map to files in this folder: ``NAME_fwd.pt`` / ``NAME_bwd.pt`` with model cards
``NAME_fwd.md`` / ``NAME_fwd.json`` beside them. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

DIRECTIONS = ("fwd", "bwd")


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def list_pretrained() -> dict[str, dict[str, Any]]:
    """Shipped language models: ``{name: {"fwd": path, "bwd": path, "card": {...}}}``.

    Only models whose files are present in the installed package are listed.

    Examples
    --------
    >>> import skulmfit
    >>> "default" in skulmfit.list_pretrained()
    True
    """
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(_folder().glob("*_fwd.pt")) + sorted(_folder().glob("*_bwd.pt")):
        name, direction = path.stem.rsplit("_", 1)
        entry = found.setdefault(name, {})
        entry[direction] = str(path)
        card = path.with_suffix(".json")
        if direction == "fwd" and card.exists():
            c = json.loads(card.read_text(encoding="utf-8"))
            entry["card"] = {k: c.get(k) for k in ("config", "vocab_size", "parameters", "validation", "wikitext103")
                             if k in c}
    return found


def resolve_pretrained(spec: str | os.PathLike[str] | None, direction: str = "fwd") -> Path | None:
    """Path of the model file for ``spec`` in ``direction``.

    ``spec`` is a shipped name (``'default'``), a path to a model file, or ``None`` (random init).
    For a path and ``direction='bwd'``, the file itself is used if it is a backward model; callers
    pass ``pretrained_bwd`` for a separate backward file.

    Raises
    ------
    ValueError
        Unknown name, or a shipped name without a model in that direction.
    FileNotFoundError
        A path that does not exist.
    """
    if spec is None:
        return None
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'fwd' or 'bwd', got {direction!r}")
    if isinstance(spec, str) and not spec.endswith(".pt") and os.sep not in spec and "/" not in spec:
        available = list_pretrained()
        if spec not in available:
            raise ValueError(
                f"pretrained={spec!r} is not a shipped model ({sorted(available) or 'none installed'}) and not a "
                "path to a .pt model file; pass a path or None (random initialisation)"
            )
        if direction not in available[spec]:
            raise ValueError(f"the shipped model {spec!r} has no {direction} direction")
        return Path(available[spec][direction])
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model file not found: {path}")
    return path


def file_identity(path: Path | None) -> str:
    """Content hash of a model file (cache key for fine-tuned LMs); ``'none'`` for no file."""
    if path is None:
        return "none"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
