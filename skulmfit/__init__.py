"""skulmfit: ULMFiT (Howard & Ruder, 2018) as scikit-learn estimators."""

from ._version import __version__

__all__ = ["__version__"]
