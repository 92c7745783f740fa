"""fastai's AWD-LSTM language models <-> skulmfit model files.

fastai (v1 and v2) saves an AWD-LSTM language model as a ``torch.save`` state dict (optionally
wrapped as ``{'model': ..., 'opt': ...}``) and its vocabulary as a pickled list of strings
(``itos``). The architectures are the same computation: fastai's ``AWD_LSTM`` is an embedding
(``0.encoder``), per-layer one-layer batch-first ``nn.LSTM``\\ s of sizes
``[emb, hidden, ..., hidden, emb]`` wrapped in ``WeightDropout`` (DropConnect on
``weight_hh_l0``; the undropped matrix is ``weight_hh_l0_raw``), and a decoder tied to the
embedding (``1.decoder``). In eval mode every dropout is the identity in both libraries, so a
converted model gives fastai's log-probabilities (tests/test_fastai_equivalence.py measures it).

Two layouts exist (``L`` = number of layers):

* **v1** (fastai 1.x, e.g. the WikiText-103 models): ``5 L + 4`` keys; each layer also stores
  ``module.weight_hh_l0``, the *last dropped* copy of the raw matrix. It is ignored: the raw
  matrix is the model (fastai v2's ``clean_raw_keys`` does the same).
* **v2** (fastai 2.x): ``4 L + 4`` keys.

Loading never runs code from the files: weights go through ``torch.load(weights_only=True)``
(legacy and zip serialization alike) and the vocabulary through a restricted unpickler that
accepts a list of str and nothing else.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .download import sha256_of
from .exceptions import ArchiveError, ModelFileError
from .model import AWDLSTMConfig, LanguageModel
from .modelfile import PretrainedLM, atomic_save, atomic_write, load_lm, save_lm
from .safe_tar import safe_extract
from .tokenizer import PAD, UNK, Tokenizer
from .vocab import Vocab

FASTAI_V1_SPECIAL = ("xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep")
FASTAI_V2_SPECIAL = ("xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj")
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_VOCAB_FILE_BYTES = 64 << 20  # WikiText-103's 60,000-word itos pickle is about 0.6 MB


# -- the vocabulary pickle -------------------------------------------------------------------------

class _ListOfStrUnpickler(pickle.Unpickler):
    """Builds only built-in containers and scalars: any class, function or persistent id is refused.

    Everything that can run code in a pickle (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``,
    the extension registry, ``REDUCE`` on an imported callable) needs :meth:`find_class` or
    :meth:`persistent_load`; both raise, so nothing is imported or called.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it refers to the Python object {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("it refers to a persistent object")


def read_itos(path: str | os.PathLike[str]) -> list[str]:
    """Read a fastai vocabulary pickle (a list of str) without executing anything in it.

    Raises
    ------
    ModelFileError
        The file holds anything but a list of str (a class, a function call, another type), is
        larger than 64 MiB, or is not a pickle. Refused objects are never imported or called.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_VOCAB_FILE_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes is too large for a vocabulary pickle")
    data = path.read_bytes()
    try:
        obj = _ListOfStrUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise ModelFileError(
            f"refusing to read {path}: a fastai vocabulary must be a pickled list of str, but {e}; "
            "nothing in it was run"
        ) from e
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as e:
        raise ModelFileError(f"cannot read {path} as a pickled list of str ({type(e).__name__}: {e})") from e
    if not isinstance(obj, list) or not all(type(t) is str for t in obj):
        kind = type(obj).__name__ if not isinstance(obj, list) else "a list with non-str items"
        raise ModelFileError(f"{path}: a fastai vocabulary must be a list of str, found {kind}")
    if not obj:
        raise ModelFileError(f"{path}: the vocabulary is empty")
    return obj


def write_itos(itos: list[str], path: str | os.PathLike[str]) -> None:
    """Pickle a list of str atomically (protocol 2, which fastai v1 and v2 both read)."""
    path = Path(path)
    with atomic_write(path) as f:
        f.write(pickle.dumps([str(t) for t in itos], protocol=2))


def unique_itos(itos: list[str]) -> tuple[list[str], int]:
    """Make tokens unique: later repeats become ``TOKEN_i`` (``i`` = position).

    fastai v2 pads its vocabularies to a multiple of 8 with repeated ``'xxfake'`` entries that
    no text ever maps to. Returns ``(itos, number renamed)``.
    """
    seen: set[str] = set(itos)
    out: list[str] = []
    used: set[str] = set()
    renamed = 0
    for i, tok in enumerate(itos):
        if tok in used:
            new = f"{tok}_{i}"
            while new in seen:
                new += "_"
            seen.add(new)
            tok = new
            renamed += 1
        used.add(tok)
        out.append(tok)
    return out, renamed


def special_token_order(itos: list[str]) -> str:
    """``'fastai-v1'``, ``'fastai-v2'`` or ``'other'``: which special-token order ``itos`` starts with."""
    head = tuple(itos[:9])
    if head == FASTAI_V1_SPECIAL:
        return "fastai-v1"
    if head == FASTAI_V2_SPECIAL:
        return "fastai-v2"
    return "other"


# -- the weights ----------------------------------------------------------------------------------

class _InertOptimizerObject:
    """Stands in for ``fastcore.foundation.L`` while unpickling a fastai v2 ``learn.save`` file.

    fastai v2 stores its optimizer hyper-parameters in fastcore ``L`` lists next to the
    weights (``{'model': ..., 'opt': {'hypers': L([...]), ...}}``). ``torch.load(weights_only=True)``
    refuses unknown classes; this inert class is allow-listed *under that name* instead of the
    real one, so nothing from fastcore is imported or run: the unpickler creates an empty
    instance and the state given to it is dropped. The optimizer state is never used.
    """

    def __setstate__(self, state: Any) -> None:
        pass


_STAND_INS = [(_InertOptimizerObject, "fastcore.foundation.L")]

def load_fastai_state(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a fastai weights file with ``torch.load(weights_only=True)``.

    Accepts the legacy (pre-1.6) and zip serializations and an optional ``'model'`` wrapper
    (``learn.save`` with the optimizer state). Returns ``(state_dict, info)`` where ``info``
    records ``serialization`` and ``wrapped``.

    Raises
    ------
    ModelFileError
        Not a torch file, truncated, holding pickled objects other than tensors and plain data,
        or not a state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fastai weights file not found: {path}")
    serialization = "zip" if zipfile.is_zipfile(path) else "legacy"
    try:
        with torch.serialization.safe_globals(_STAND_INS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = next((ln.strip() for ln in str(e).splitlines() if "Unsupported global" in ln),
                      str(e).splitlines()[0])
        raise ModelFileError(
            f"refusing to load {path}: it refers to pickled Python objects other than tensors and plain "
            f"data, which could run code, or it is corrupt; nothing was run ({detail})"
        ) from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise ModelFileError(
            f"cannot read {path} as a torch weights file: it is truncated or not a torch file "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from e
    wrapped = isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping)
    if wrapped:
        obj = obj["model"]
    if isinstance(obj, Mapping) and obj.get("format") == "skulmfit-lm":
        raise ModelFileError(f"{path} is a skulmfit model file, not a fastai one: pass it as pretrained= directly "
                             "(skulmfit model files are named .pt)")
    if not isinstance(obj, Mapping) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise ModelFileError(f"{path} is not a state dict of tensors (found {type(obj).__name__})")
    return dict(obj), {"serialization": serialization, "wrapped": wrapped}


@dataclass
class FastaiConversion:
    """A fastai state dict mapped onto skulmfit's :class:`~skulmfit.model.LanguageModel`."""

    config: AWDLSTMConfig
    state_dict: dict[str, torch.Tensor]
    layout: str  # 'v1' or 'v2'
    notes: dict[str, Any] = field(default_factory=dict)


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def convert_state_dict(sd: Mapping[str, torch.Tensor], pad_idx: int = 1, where: str = "the weights"
                       ) -> FastaiConversion:
    """Map a fastai AWD-LSTM language-model state dict (v1 or v2 layout) to skulmfit's names.

    Sizes (vocabulary, embedding, hidden, layers) are read from the shapes, so hidden 1150 and
    1152 models both work. The decoder must be tied to the embedding (fastai's default).

    Raises
    ------
    ModelFileError
        A classifier, a bidirectional or QRNN model, an untied decoder, missing or unexpected
        keys, or inconsistent shapes.
    """
    keys = set(sd)
    if any(k.startswith("0.module.") for k in keys):
        raise ModelFileError(f"{where}: this is a fastai text *classifier* (keys '0.module...'); "
                             "import the language model it was fine-tuned from instead")
    if "0.encoder.weight" not in keys:
        raise ModelFileError(f"{where}: not a fastai AWD-LSTM language model (no '0.encoder.weight'; keys "
                             f"{sorted(keys)[:6]})")
    if any("_reverse" in k for k in keys):
        raise ModelFileError(f"{where}: bidirectional LSTM layers (bidir=True) are not supported")
    if any(".layers." in k for k in keys):
        raise ModelFileError(f"{where}: QRNN models are not supported, only AWD-LSTM")
    emb = sd["0.encoder.weight"]
    if emb.dim() != 2:
        raise ModelFileError(f"{where}: '0.encoder.weight' has shape {_shape(emb)}, expected (vocab, emb)")
    vocab_size, emb_size = _shape(emb)
    n_layers = 0
    while f"0.rnns.{n_layers}.weight_hh_l0_raw" in keys:
        n_layers += 1
    if n_layers == 0:
        raise ModelFileError(f"{where}: no LSTM layers ('0.rnns.0.weight_hh_l0_raw' missing)")
    hidden = _shape(sd["0.rnns.0.weight_hh_l0_raw"])[-1] if n_layers > 1 else emb_size
    sizes = [emb_size] + [hidden] * (n_layers - 1) + [emb_size]
    has_copy = [f"0.rnns.{i}.module.weight_hh_l0" in keys for i in range(n_layers)]
    if any(has_copy) and not all(has_copy):
        raise ModelFileError(f"{where}: some layers have 'module.weight_hh_l0' and some do not")
    layout = "v1" if all(has_copy) else "v2"

    expected = {"0.encoder.weight", "1.decoder.weight", "0.encoder_dp.emb.weight", "1.decoder.bias"}
    state: dict[str, torch.Tensor] = {"encoder.embedding.weight": emb.float().clone()}
    for i in range(n_layers):
        n_in, n_out = sizes[i], sizes[i + 1]
        want = {
            f"0.rnns.{i}.module.weight_ih_l0": (4 * n_out, n_in),
            f"0.rnns.{i}.weight_hh_l0_raw": (4 * n_out, n_out),
            f"0.rnns.{i}.module.bias_ih_l0": (4 * n_out,),
            f"0.rnns.{i}.module.bias_hh_l0": (4 * n_out,),
        }
        if layout == "v1":
            want[f"0.rnns.{i}.module.weight_hh_l0"] = (4 * n_out, n_out)
        for k, shape in want.items():
            if k not in sd:
                raise ModelFileError(f"{where}: key {k!r} is missing")
            if _shape(sd[k]) != shape:
                raise ModelFileError(f"{where}: {k!r} has shape {_shape(sd[k])}, expected {shape} for an AWD-LSTM "
                                     f"with embedding {emb_size}, hidden {hidden}, {n_layers} layers")
        expected |= set(want)
        # weight_hh_l0_raw is the model; a v1 'module.weight_hh_l0' is the last dropped copy.
        for name, key in (("weight_ih_l0", "module.weight_ih_l0"), ("weight_hh_l0", "weight_hh_l0_raw"),
                          ("bias_ih_l0", "module.bias_ih_l0"), ("bias_hh_l0", "module.bias_hh_l0")):
            state[f"encoder.rnns.{i}.lstm.{name}"] = sd[f"0.rnns.{i}.{key}"].float().clone()
    unexpected = sorted(keys - expected)
    if unexpected:
        raise ModelFileError(f"{where}: unexpected keys {unexpected[:5]} for a fastai AWD-LSTM language model")
    for k in ("1.decoder.weight", "0.encoder_dp.emb.weight"):
        if k in sd and not torch.equal(sd[k].float(), emb.float()):
            what = "the decoder is not tied to the embedding" if k.startswith("1.") else \
                "the embedding-dropout copy differs from the embedding"
            raise ModelFileError(f"{where}: {what} ({k!r}); skulmfit's AWD-LSTM ties them")
    if "1.decoder.bias" in sd:
        bias = sd["1.decoder.bias"]
        if _shape(bias) != (vocab_size,):
            raise ModelFileError(f"{where}: '1.decoder.bias' has shape {_shape(bias)}, expected ({vocab_size},)")
        state["decoder.bias"] = bias.float().clone()
    else:  # out_bias=False: a zero bias is the same computation
        state["decoder.bias"] = torch.zeros(vocab_size)
    state["decoder.weight"] = state["encoder.embedding.weight"]
    config = AWDLSTMConfig(vocab_size=vocab_size, emb_size=emb_size, hidden_size=hidden, n_layers=n_layers,
                           pad_idx=pad_idx)
    return FastaiConversion(config, state, layout, {"module_copies_ignored": layout == "v1"})


def fastai_tokenizer_config(layout: str) -> dict[str, Any]:
    """The tokenizer a fastai model was trained with: spaCy + fastai's rules of that version."""
    return {"name": "fastai-spacy", "rules": layout, "lower": True, "add_bos": True}


# -- sources: archive, folder, .pth ---------------------------------------------------------------

def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named like a tar archive (``.tgz``, ``.tar.gz``, ``.tar``, ...)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def is_fastai_source(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names something :func:`import_fastai` reads: an archive, a folder or a ``.pth``."""
    p = Path(path)
    return is_archive(p) or p.suffix.lower() == ".pth" or p.is_dir()


def find_fastai_files(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The one ``.pth`` and the one ``.pkl`` under ``folder`` (fastai finds them by extension)."""
    folder = Path(folder)
    pths = sorted(p for p in folder.rglob("*.pth") if p.is_file())
    pkls = sorted(p for p in folder.rglob("*.pkl") if p.is_file())
    if len(pths) != 1 or len(pkls) != 1:
        raise ArchiveError(
            f"{folder}: a fastai model folder holds exactly one .pth (weights) and one .pkl (vocabulary); found "
            f"{len(pths)} .pth ({', '.join(p.name for p in pths[:4]) or 'none'}) and {len(pkls)} .pkl "
            f"({', '.join(p.name for p in pkls[:4]) or 'none'})"
        )
    return pths[0], pkls[0]


def _named_direction(*paths: Path | None) -> str | None:
    """'fwd' / 'bwd' when the file or folder names say so (``wt103-bwd``, ``lstm_fwd.pth``)."""
    found = set()
    for p in paths:
        if p is None:
            continue
        for part in (p.name, p.parent.name):
            for tok in re.split(r"[^a-z0-9]+", part.lower()):
                if tok in ("fwd", "bwd"):
                    found.add(tok)
    return found.pop() if len(found) == 1 else None


def import_fastai(source: str | os.PathLike[str], *, vocab: str | os.PathLike[str] | None = None,
                  direction: str | None = None) -> PretrainedLM:
    """Convert a fastai AWD-LSTM language model into a :class:`~skulmfit.modelfile.PretrainedLM`.

    Parameters
    ----------
    source : path
        A fastai model archive (``wt103-fwd.tgz``: its members are checked before extraction),
        a folder holding one ``.pth`` and one ``.pkl``, or a ``.pth`` weights file with its
        ``.pkl`` vocabulary beside it (or given as ``vocab``).
    vocab : path, optional
        The vocabulary pickle (``itos``), when it is not beside the weights.
    direction : {'fwd', 'bwd'}, optional
        Default: from the names (``wt103-bwd``, ``lstm_bwd.pth``), else ``'fwd'``. An explicit
        direction that contradicts the names is an error.

    Returns
    -------
    PretrainedLM
        The model (eval mode), its vocabulary (fastai's order kept; special tokens are found by
        name), the tokenizer config of the fastai version (``meta['tokenizer_config']``) and
        provenance in ``meta``.

    Raises
    ------
    ArchiveError, ModelFileError, FileNotFoundError, ValueError
    """
    source = Path(source)
    if direction is not None and direction not in ("fwd", "bwd"):
        raise ValueError(f"direction must be 'fwd' or 'bwd', got {direction!r}")
    if not source.exists():
        raise FileNotFoundError(f"fastai model not found: {source}")
    if source.is_file() and is_archive(source):
        with tempfile.TemporaryDirectory(prefix="skulmfit-fastai-") as tmp:
            safe_extract(source, tmp)
            pth, pkl = find_fastai_files(tmp)
            named = _named_direction(source, pth.relative_to(tmp).parent if pth.parent != Path(tmp) else None,
                                     Path(pth.name))
            return _import_files(pth, Path(vocab) if vocab else pkl, direction, named, source)
    if source.is_dir():
        pth, pkl = find_fastai_files(source)
        return _import_files(pth, Path(vocab) if vocab else pkl, direction,
                             _named_direction(source, pth), source)
    if vocab is None:
        pkls = sorted(source.parent.glob("*.pkl"))
        if len(pkls) != 1:
            raise FileNotFoundError(
                f"{source}: give the vocabulary pickle (vocab=... / --vocab ITOS.pkl): found {len(pkls)} .pkl "
                f"files beside it ({', '.join(p.name for p in pkls[:4]) or 'none'}), expected exactly one"
            )
        vocab = pkls[0]
    return _import_files(source, Path(vocab), direction, _named_direction(source), source)


def _import_files(pth: Path, pkl: Path, direction: str | None, named: str | None, source: Path) -> PretrainedLM:
    if direction is not None and named is not None and named != direction:
        raise ValueError(
            f"{source} looks like a {'backward' if named == 'bwd' else 'forward'} model (its name says {named!r}) "
            f"but is used as the {direction} model; pass the {direction} model (with bidirectional=True, "
            "pretrained= is the forward one and pretrained_bwd= the backward one)"
        )
    direction = direction or named or "fwd"
    sd, info = load_fastai_state(pth)
    raw_itos = read_itos(pkl)
    itos, renamed = unique_itos(raw_itos)
    for tok in (UNK, PAD):
        if tok not in itos:
            raise ModelFileError(f"{pkl}: the vocabulary has no {tok!r} token")
    vocab = Vocab(itos)
    conv = convert_state_dict(sd, pad_idx=vocab.pad_idx, where=str(pth))
    if conv.config.vocab_size != len(vocab):
        raise ModelFileError(f"{pth} has {conv.config.vocab_size:,} embedding rows but {pkl} lists "
                             f"{len(vocab):,} tokens: they are not the same model's files")
    model = LanguageModel(conv.config)
    model.load_state_dict(conv.state_dict)
    model.eval()
    tok_config = fastai_tokenizer_config(conv.layout)
    meta = {
        "imported_from": "fastai",
        "source": str(source),
        "fastai_layout": conv.layout,
        "keys": len(sd),
        "serialization": info["serialization"],
        "model_wrapper": info["wrapped"],
        "special_token_order": special_token_order(raw_itos),
        "renamed_duplicate_tokens": renamed,
        "weights_file": pth.name,
        "weights_sha256": sha256_of(pth),
        "vocab_file": pkl.name,
        "vocab_sha256": sha256_of(pkl),
        "tokenizer_config": tok_config,
    }
    return PretrainedLM(model, vocab, Tokenizer.from_config(tok_config), direction, meta)


def convert_fastai(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
                   vocab: str | os.PathLike[str] | None = None, direction: str | None = None,
                   half: bool = False) -> PretrainedLM:
    """:func:`import_fastai` and write the result as a skulmfit model file ``out`` (atomically).

    The file records the fastai tokenizer config (``{"name": "fastai-spacy", "rules": "v1" | "v2",
    ...}``) and loads with :func:`skulmfit.modelfile.load_lm` (``weights_only``).
    """
    lm = import_fastai(source, vocab=vocab, direction=direction)
    save_lm(lm, out, half=half, tokenizer_config=lm.meta["tokenizer_config"])
    return lm


# -- the way back: skulmfit -> fastai -------------------------------------------------------------

def fastai_state_dict(model: LanguageModel) -> dict[str, torch.Tensor]:
    """skulmfit weights under fastai v2's names, in the order of fastai's ``state_dict()``.

    The order matters: fastai's ``load_pretrained`` copies parameters by position.
    """
    sd = model.state_dict()
    emb = sd["encoder.embedding.weight"].detach().cpu().float().clone()
    out: dict[str, torch.Tensor] = {"0.encoder.weight": emb, "0.encoder_dp.emb.weight": emb}
    for i in range(model.config.n_layers):
        p = f"encoder.rnns.{i}.lstm."
        out[f"0.rnns.{i}.weight_hh_l0_raw"] = sd[p + "weight_hh_l0"].detach().cpu().float().clone()
        out[f"0.rnns.{i}.module.weight_ih_l0"] = sd[p + "weight_ih_l0"].detach().cpu().float().clone()
        out[f"0.rnns.{i}.module.bias_ih_l0"] = sd[p + "bias_ih_l0"].detach().cpu().float().clone()
        out[f"0.rnns.{i}.module.bias_hh_l0"] = sd[p + "bias_hh_l0"].detach().cpu().float().clone()
    out["1.decoder.weight"] = emb
    out["1.decoder.bias"] = sd["decoder.bias"].detach().cpu().float().clone()
    return out


def export_fastai(model_file: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Write a skulmfit model file as fastai files: ``lstm_{direction}.pth`` and ``itos.pkl``.

    fastai loads them with ``language_model_learner(dls, AWD_LSTM, config=CONFIG,
    pretrained_fnames=[DIR/'lstm_fwd', DIR/'itos'])`` (paths without extensions) where
    ``CONFIG`` has the returned ``fastai_config`` sizes. Returns a summary with the paths.

    Raises
    ------
    ValueError
        ``out_dir`` already holds an ``itos.pkl`` with another vocabulary, or the model has an
        adaptive-softmax decoder (fastai's AWD-LSTM has only the tied full softmax).
    """
    lm = load_lm(model_file)
    if lm.model.adaptive:
        raise ValueError(f"{model_file} has an adaptive-softmax decoder, which fastai's AWD-LSTM cannot hold; only "
                         "full-softmax models export to fastai (its classifier needs only the encoder: "
                         "`skulmfit export` without --format fastai keeps the whole model)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file; give a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    pth = out_dir / f"lstm_{lm.direction}.pth"
    pkl = out_dir / "itos.pkl"
    if pkl.exists() and read_itos(pkl) != lm.vocab.itos:
        raise ValueError(f"{pkl} already holds another vocabulary; export into another folder")
    atomic_save(fastai_state_dict(lm.model), pth)
    write_itos(lm.vocab.itos, pkl)
    c = lm.model.config
    return {
        "weights": str(pth), "vocab": str(pkl), "direction": lm.direction, "vocab_size": len(lm.vocab),
        "fastai_config": {"emb_sz": c.emb_size, "n_hid": c.hidden_size, "n_layers": c.n_layers,
                          "pad_token": lm.vocab.pad_idx},
        "pretrained_fnames": [str(pth.with_suffix("")), str(pkl.with_suffix(""))],
    }
