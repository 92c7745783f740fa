import os
import shutil

import numpy as np

from skulmfit.corpus import build_token_cache
from skulmfit.tokenizer import Tokenizer


def test_token_cache_is_keyed_by_content(tmp_path):
    """A copied, moved or touched corpus reuses its cache; changed contents build a new one."""
    a = tmp_path / "a.txt"
    a.write_text("The cat sat.\n\nA dog ran home.\n", encoding="utf-8")
    cache_dir = tmp_path / "cache"
    first = build_token_cache([a], Tokenizer(), cache_dir)
    assert first.n_tokens > 5
    b = tmp_path / "elsewhere" / "b.txt"
    b.parent.mkdir()
    shutil.copy(a, b)
    os.utime(b, (1, 1))  # another path and another mtime, same bytes
    again = build_token_cache([b], Tokenizer(), cache_dir)
    assert again.directory == first.directory
    np.testing.assert_array_equal(again.raw_ids(), first.raw_ids())
    b.write_text("Something else entirely.\n", encoding="utf-8")
    other = build_token_cache([b], Tokenizer(), cache_dir)
    assert other.directory != first.directory and other.n_tokens != first.n_tokens
    assert build_token_cache([a], Tokenizer(lower=False), cache_dir).directory != first.directory
