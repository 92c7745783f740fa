"""Corpus files -> documents -> a cached, memory-mapped token-id stream.

Large corpora are tokenized once: the documents are streamed through the tokenizer (in worker
processes) and written to disk as provisional integer ids (``uint32``, one id per distinct token
string, in order of first appearance) with the token counts. Building a vocabulary of any size
from the cache and numericalising the stream is then a fast numpy lookup, and the stream is a
``np.memmap``: the corpus is never held as Python lists.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .download import sha256_of as file_sha256
from .progress import progress_bar
from .tokenizer import Tokenizer
from .vocab import Vocab

CACHE_VERSION = 1


def _open_text(path: Path) -> IO[str]:
    name = path.name.lower()
    if name.endswith(".xz") or name.endswith(".lzma"):
        return lzma.open(path, "rt", encoding="utf-8")
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _is_jsonl(path: Path) -> bool:
    stem = path.name.lower()
    for ext in (".xz", ".lzma", ".gz", ".bz2"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return stem.endswith(".jsonl") or stem.endswith(".json") or stem.endswith(".ndjson")


def iter_documents(path: str | os.PathLike[str], doc_sep: str = "auto",
                   exclude_ids: Sequence[int | str] = (), text_field: str = "text") -> Iterator[str]:
    """Documents of a corpus file.

    Parameters
    ----------
    path : path
        Plain text or JSONL (a ``text`` field per line), optionally ``.xz``/``.gz``/``.bz2``.
    doc_sep : {'auto', 'line', 'blank'}
        Plain text only: one document per line, or documents separated by blank lines.
        ``'auto'`` chooses ``'blank'`` when the first MB holds a blank line.
    exclude_ids : sequence
        JSONL only: skip objects whose ``id`` is in this set.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if doc_sep not in ("auto", "line", "blank"):
        raise ValueError(f"doc_sep must be 'auto', 'line' or 'blank', got {doc_sep!r}")
    excluded = {str(i) for i in exclude_ids}
    if _is_jsonl(path):
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from e
                if not isinstance(obj, dict) or not isinstance(obj.get(text_field), str):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object with a string {text_field!r} field")
                if excluded and str(obj.get("id")) in excluded:
                    continue
                yield obj[text_field]
        return
    if doc_sep == "auto":
        with _open_text(path) as f:
            head = f.read(1 << 20)
        doc_sep = "blank" if "\n\n" in head.replace("\r\n", "\n") else "line"
    with _open_text(path) as f:
        if doc_sep == "line":
            for line in f:
                if line.strip():
                    yield line.rstrip("\n")
        else:
            buf: list[str] = []
            for line in f:
                if line.strip():
                    buf.append(line.rstrip("\n"))
                elif buf:
                    yield "\n".join(buf)
                    buf = []
            if buf:
                yield "\n".join(buf)


@dataclass
class TokenCache:
    """A tokenized corpus on disk (see module docstring)."""

    directory: Path
    types: list[str]
    counts: np.ndarray
    meta: dict[str, Any]

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    def raw_ids(self) -> np.ndarray:
        return np.memmap(self.directory / "ids.u32", dtype=np.uint32, mode="r", shape=(self.n_tokens,))

    def build_vocab(self, max_size: int = 60_000, min_freq: int = 2) -> Vocab:
        return Vocab.from_counts(dict(zip(self.types, self.counts.tolist())), max_size, min_freq)

    def numericalize(self, vocab: Vocab, reverse: bool = False, chunk: int = 1 << 24) -> np.ndarray:
        """The stream in ``vocab`` ids as a read-only int32 memmap (cached per vocabulary).

        ``reverse=True`` gives the token stream backwards (for backward language models).
        """
        key = hashlib.sha256(vocab.to_json().encode()).hexdigest()[:16]
        out_path = self.directory / f"ids-{key}{'-bwd' if reverse else ''}.i32"
        if not out_path.exists():
            lookup = np.fromiter((vocab.stoi.get(t, vocab.unk_idx) for t in self.types),
                                 dtype=np.int32, count=len(self.types))
            raw = self.raw_ids()
            n = self.n_tokens
            tmp = out_path.with_suffix(f".{os.getpid()}.tmp")
            out = np.memmap(tmp, dtype=np.int32, mode="w+", shape=(n,))
            for i in range(0, n, chunk):
                j = min(i + chunk, n)
                if reverse:
                    out[n - j:n - i] = lookup[raw[i:j]][::-1]
                else:
                    out[i:j] = lookup[raw[i:j]]
            out.flush()
            del out
            os.replace(tmp, out_path)
        return np.memmap(out_path, dtype=np.int32, mode="r", shape=(self.n_tokens,))


def corpus_key(paths: Sequence[Path], tokenizer: Tokenizer, doc_sep: str, exclude_ids: Sequence[Any]) -> str:
    """Cache key: the files' sizes and contents (sha256), the tokenizer config and the options.

    The key depends on what the files hold, not where they are or when they were touched, so a
    copied or remounted corpus reuses its cache (hashing ~100 MB takes about a second).
    """
    parts: list[Any] = [CACHE_VERSION, tokenizer.get_config(), doc_sep, sorted(str(i) for i in exclude_ids)]
    for p in paths:
        parts.append([p.stat().st_size, file_sha256(p)])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def build_token_cache(paths: Sequence[str | os.PathLike[str]], tokenizer: Tokenizer, cache_dir: str | os.PathLike[str],
                      n_jobs: int = 1, doc_sep: str = "auto", exclude_ids: Sequence[int | str] = (),
                      verbose: int = 0) -> TokenCache:
    """Tokenize corpus files once into ``cache_dir/<key>/`` (reused when already there)."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"corpus file not found: {p}")
    key = corpus_key(paths, tokenizer, doc_sep, exclude_ids)
    directory = Path(cache_dir) / key
    if (directory / "meta.json").exists():
        return load_token_cache(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stoi: dict[str, int] = {}
    n_tokens = n_docs = n_bytes = 0
    t0 = time.perf_counter()
    tmp_ids = directory / "ids.u32.tmp"

    def docs() -> Iterator[str]:
        nonlocal n_bytes
        for p in paths:
            for d in iter_documents(p, doc_sep, exclude_ids):
                n_bytes += len(d.encode("utf-8"))
                yield d

    bar = progress_bar(verbose=verbose, desc="tokenizing", unit="doc")
    with open(tmp_ids, "wb") as out:
        buf: list[int] = []
        for toks in tokenizer.tokenize_many(docs(), n_jobs=n_jobs):
            setdefault = stoi.setdefault
            buf.extend([setdefault(t, len(stoi)) for t in toks])
            n_docs += 1
            bar.update(1)
            if len(buf) >= 1 << 22:
                np.asarray(buf, dtype=np.uint32).tofile(out)
                n_tokens += len(buf)
                buf = []
        np.asarray(buf, dtype=np.uint32).tofile(out)
        n_tokens += len(buf)
    bar.close()
    seconds = time.perf_counter() - t0
    types = [""] * len(stoi)
    for t, i in stoi.items():
        types[i] = t
    raw = np.memmap(tmp_ids, dtype=np.uint32, mode="r", shape=(n_tokens,)) if n_tokens else np.zeros(0, np.uint32)
    counts = np.zeros(len(types), dtype=np.int64)
    for i in range(0, n_tokens, 1 << 24):
        counts += np.bincount(raw[i:i + (1 << 24)], minlength=len(types))
    del raw
    os.replace(tmp_ids, directory / "ids.u32")
    (directory / "types.json").write_text(json.dumps(types, ensure_ascii=False), encoding="utf-8")
    np.save(directory / "counts.npy", counts)
    meta = {
        "cache_version": CACHE_VERSION,
        "files": [{"path": str(p), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in paths],
        "exclude_ids": [str(i) for i in exclude_ids],
        "tokenizer": tokenizer.get_config(),
        "doc_sep": doc_sep,
        "n_docs": n_docs,
        "n_tokens": n_tokens,
        "n_types": len(types),
        "text_mb": n_bytes / 1e6,
        "seconds": seconds,
        "mb_per_s": n_bytes / 1e6 / max(seconds, 1e-9),
        "n_jobs": n_jobs,
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return TokenCache(directory, types, counts, meta)


def load_token_cache(directory: str | os.PathLike[str]) -> TokenCache:
    directory = Path(directory)
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    types = json.loads((directory / "types.json").read_text(encoding="utf-8"))
    counts = np.load(directory / "counts.npy")
    return TokenCache(directory, types, counts, meta)


def numericalize_docs(docs: Iterable[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """Concatenate tokenized documents into one int32 id stream (small corpora, in memory)."""
    arrays = [vocab.numericalize(d) for d in docs]
    return np.concatenate(arrays) if arrays else np.zeros(0, np.int32)


def split_stream(ids: np.ndarray, valid_frac: float = 0.01, max_valid: int = 500_000,
                 min_valid: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Hold out the tail of a stream for validation: ``valid_frac`` of it, clamped to
    ``[min(min_valid, len/10), max_valid]`` tokens. Returns ``(train, valid)`` views."""
    n = len(ids)
    k = int(min(max_valid, max(n * valid_frac, min(min_valid, n // 10))))
    return ids[: n - k], ids[n - k:]


__all__ = [
    "TokenCache", "build_token_cache", "load_token_cache", "iter_documents", "file_sha256",
    "numericalize_docs", "split_stream", "corpus_key",
]
