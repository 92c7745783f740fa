"""Dataset loaders for skulmfit, in the style of :mod:`sklearn.datasets`.

Only the TREC-6 question-classification data is bundled (:func:`load_trec`). The
other loaders read local copies whose formats and sources are described in
``docs/datasets.md``; they never download anything.
"""

from ._loaders import (
    load_ag_news,
    load_ag_news_split,
    load_imdb,
    load_mr,
    load_subj,
    load_trec,
    load_wikipedia,
)

__all__ = [
    "load_trec",
    "load_imdb",
    "load_ag_news",
    "load_ag_news_split",
    "load_wikipedia",
    "load_mr",
    "load_subj",
]
