"""skulmfit: ULMFiT (Howard & Ruder, 2018) as scikit-learn estimators.

Main names: :class:`ULMFiTClassifier`, :class:`ULMFiTLanguageModel`, :class:`ULMFiTEncoder`,
:func:`compare` (ULMFiT against TF-IDF + LR and from scratch on your data, per training size),
:func:`list_pretrained`, :func:`get_data_home`. Submodules: ``skulmfit.pretrained`` (shipped and
downloadable models, :func:`skulmfit.pretrained.fetch_pretrained`), ``skulmfit.fastai_convert``
(fastai model files in and out), ``skulmfit.datasets`` (loaders), ``skulmfit.plot`` (optional
matplotlib plots), ``skulmfit.tokenizer``, ``skulmfit.vocab``, ``skulmfit.model``,
``skulmfit.modelfile``.
"""

from ._version import __version__
from .classifier import ULMFiTClassifier
from .comparison import compare
from .download import get_data_home
from .encoder import ULMFiTEncoder
from .language_model import ULMFiTLanguageModel
from .pretrained import list_pretrained

__all__ = ["ULMFiTClassifier", "ULMFiTEncoder", "ULMFiTLanguageModel", "__version__", "compare", "get_data_home",
           "list_pretrained"]
