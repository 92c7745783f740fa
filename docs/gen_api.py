"""Generate docs/api.md from the public names' docstrings (``python docs/gen_api.py``).

``tests/test_docs.py`` regenerates it and fails if the committed file differs, so the reference
cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

SECTIONS = [
    ("Estimators", "skulmfit", ["ULMFiTClassifier", "ULMFiTLanguageModel", "ULMFiTEncoder"]),
    ("Pretrained models", "skulmfit", ["list_pretrained", "get_data_home"]),
    ("Pretrained models", "skulmfit.pretrained", ["fetch_pretrained", "resolve_pretrained"]),
    ("fastai models", "skulmfit.fastai_convert", ["import_fastai", "convert_fastai", "export_fastai", "read_itos",
                                                 "load_fastai_state", "convert_state_dict", "fastai_state_dict"]),
    ("Downloads and archives", "skulmfit.download", ["download", "check_file"]),
    ("Downloads and archives", "skulmfit.safe_tar", ["safe_extract", "check_members"]),
    ("Comparison", "skulmfit", ["compare"]),
    ("Comparison", "skulmfit.comparison", ["default_estimators", "semi_supervised", "estimate", "load_result",
                                           "CompareInterrupted"]),
    ("Comparison", "skulmfit.comparison_result", ["ComparisonResult"]),
    ("Comparison", "skulmfit.runtime_estimate", ["RuntimeEstimate", "UlmfitCosts", "estimate_runtime",
                                                 "measure_ulmfit_costs", "one_blas_thread"]),
    ("Datasets", "skulmfit.datasets", ["load_trec", "load_imdb", "load_ag_news", "load_ag_news_split", "load_mr",
                                      "load_subj", "load_wikipedia"]),
    ("Plots", "skulmfit.plot", ["lr_schedule", "history", "learning_curve"]),
    ("Text", "skulmfit.tokenizer", ["Tokenizer"]),
    ("Text", "skulmfit.fastai_tokenizer", ["FastaiTokenizer"]),
    ("Text", "skulmfit.spacy_en", ["SpacyEnSplitter"]),
    ("Text", "skulmfit.vocab", ["Vocab"]),
    ("Word vectors", "skulmfit.word_vectors", ["ppmi_svd_vectors", "cooccurrence_counts", "read_text_vectors",
                                               "apply_word_vectors"]),
    ("Model", "skulmfit.model", ["AWDLSTMConfig", "AWDLSTM", "LanguageModel", "SequenceClassifier", "PoolingHead",
                                 "concat_pool"]),
    ("Regularisers", "skulmfit.regularizers", ["EmbeddingDropout", "LockedDropout", "WeightDropLSTM",
                                               "activation_regularization", "temporal_activation_regularization"]),
    ("Schedules", "skulmfit.schedules", ["stlr", "one_cycle", "cosine", "constant", "get_schedule",
                                         "discriminative_lrs"]),
    ("Model files", "skulmfit.modelfile", ["PretrainedLM", "save_lm", "load_lm", "transfer_vocab", "atomic_save",
                                           "safe_load"]),
    ("Training", "skulmfit.lm_training", ["LMTrainConfig", "LMTrainer", "evaluate_lm"]),
    ("Training", "skulmfit.clf_training", ["unfreeze_stages", "train_classifier", "predict_logits", "batched_apply"]),
    ("Training", "skulmfit.finetune", ["finetune_lm"]),
    ("Pretraining", "skulmfit.pretraining", ["pretrain", "export_checkpoint"]),
    ("Corpora", "skulmfit.corpus", ["iter_documents", "build_token_cache", "split_stream"]),
    ("Devices", "skulmfit.devices", ["resolve_device", "auto_cuda_index", "tune_cpu_allocator"]),
    ("Errors", "skulmfit.exceptions", ["TrainingDivergedError", "ModelFileError", "DownloadError", "ArchiveError"]),
]


def _signature(obj: object) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""
    return sig if len(sig) < 400 else sig[:397] + "..."


def render() -> str:
    out = ["# API reference", "", "Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand.", ""]
    current = None
    for section, module_name, names in SECTIONS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if section != current:
            out += [f"## {section}", ""]
            current = section
        for name in names:
            obj = getattr(module, name, None)
            if obj is None:
                continue
            kind = "class" if inspect.isclass(obj) else "function"
            out += [f"### `{module_name}.{name}`", "", "```text", f"{kind} {name}{_signature(obj)}", "```", ""]
            doc = inspect.getdoc(obj) or "(no docstring)"
            out += [doc, ""]
            if inspect.isclass(obj):
                for meth_name, meth in inspect.getmembers(obj, inspect.isfunction):
                    if meth_name.startswith("_") or meth.__qualname__.split(".")[0] != obj.__name__:
                        continue
                    mdoc = inspect.getdoc(meth)
                    if mdoc:
                        out += [f"#### `{name}.{meth_name}{_signature(meth)}`", "", mdoc, ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    path = Path(__file__).with_name("api.md")
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
