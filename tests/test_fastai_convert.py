"""The fastai converter: layouts, sizes from shapes, serializations, and refusing unsafe files."""

from __future__ import annotations

import json
import pickle
import pickletools
import tarfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from skulmfit.cli import main
from skulmfit.exceptions import ModelFileError
from skulmfit.fastai_convert import (
    convert_state_dict,
    export_fastai,
    fastai_state_dict,
    import_fastai,
    load_fastai_state,
    read_itos,
    unique_itos,
)
from skulmfit.model import AWDLSTMConfig, LanguageModel
from skulmfit.modelfile import PretrainedLM, load_lm, save_lm
from skulmfit.tokenizer import SPECIAL_TOKENS, Tokenizer
from skulmfit.vocab import Vocab

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fastai"


def fastai_state(vocab: int = 10, emb: int = 4, hidden: int = 6, layers: int = 3, v1: bool = False,
                 seed: int = 0) -> OrderedDict:
    """A random state dict in fastai's naming (v2, or v1 with the extra ``module.weight_hh_l0``)."""
    g = torch.Generator().manual_seed(seed)
    sizes = [emb] + [hidden] * (layers - 1) + [emb]
    sd: OrderedDict = OrderedDict()
    w = torch.randn(vocab, emb, generator=g)
    sd["0.encoder.weight"] = w
    sd["0.encoder_dp.emb.weight"] = w
    for i in range(layers):
        n_in, n_out = sizes[i], sizes[i + 1]
        raw = torch.randn(4 * n_out, n_out, generator=g)
        sd[f"0.rnns.{i}.weight_hh_l0_raw"] = raw
        sd[f"0.rnns.{i}.module.weight_ih_l0"] = torch.randn(4 * n_out, n_in, generator=g)
        if v1:
            sd[f"0.rnns.{i}.module.weight_hh_l0"] = raw * (torch.rand(raw.shape, generator=g) > 0.5)
        sd[f"0.rnns.{i}.module.bias_ih_l0"] = torch.randn(4 * n_out, generator=g)
        sd[f"0.rnns.{i}.module.bias_hh_l0"] = torch.randn(4 * n_out, generator=g)
    sd["1.decoder.weight"] = w
    sd["1.decoder.bias"] = torch.randn(vocab, generator=g)
    return sd


@pytest.mark.parametrize("v1, n_keys", [(True, 19), (False, 16)])
def test_layouts_are_told_apart_and_the_raw_matrix_is_used(v1, n_keys):
    sd = fastai_state(v1=v1)
    assert len(sd) == n_keys
    conv = convert_state_dict(sd)
    assert conv.layout == ("v1" if v1 else "v2")
    for i in range(3):  # the raw matrix, never a v1 file's last dropped copy
        assert torch.equal(conv.state_dict[f"encoder.rnns.{i}.lstm.weight_hh_l0"], sd[f"0.rnns.{i}.weight_hh_l0_raw"])
    LanguageModel(conv.config).load_state_dict(conv.state_dict)  # names and shapes are skulmfit's


@pytest.mark.parametrize("hidden", [1150, 1152])
def test_hidden_size_is_read_from_the_shapes(hidden):
    conv = convert_state_dict(fastai_state(vocab=12, emb=8, hidden=hidden, layers=2))
    c = conv.config
    assert (c.vocab_size, c.emb_size, c.hidden_size, c.n_layers) == (12, 8, hidden, 2)


def test_inconsistent_or_foreign_state_dicts_are_clear_errors():
    sd = fastai_state()
    sd["0.rnns.1.module.weight_ih_l0"] = torch.zeros(3, 3)
    with pytest.raises(ModelFileError, match=r"0.rnns.1.module.weight_ih_l0.*shape"):
        convert_state_dict(sd)
    sd = fastai_state()
    sd["1.decoder.weight"] = torch.zeros_like(sd["1.decoder.weight"])
    with pytest.raises(ModelFileError, match="not tied"):
        convert_state_dict(sd)
    with pytest.raises(ModelFileError, match="classifier"):
        convert_state_dict({"0.module.encoder.weight": torch.zeros(3, 3)})
    with pytest.raises(ModelFileError, match="not a fastai AWD-LSTM"):
        convert_state_dict({"weight": torch.zeros(3, 3)})
    sd = fastai_state()
    sd["0.rnns.0.module.weight_ih_l0_reverse"] = torch.zeros(1)
    with pytest.raises(ModelFileError, match="bidirectional"):
        convert_state_dict(sd)


def _save(obj, path: Path, legacy: bool) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("wrapped", [True, False])
def test_legacy_and_zip_files_load_with_weights_only(tmp_path, legacy, wrapped):
    sd = fastai_state(v1=True)
    obj = {"model": sd, "opt": {"state": {}, "param_groups": [{"lr": 0.1}]}} if wrapped else sd
    state, info = load_fastai_state(_save(obj, tmp_path / "lm.pth", legacy))
    assert info == {"serialization": "legacy" if legacy else "zip", "wrapped": wrapped}
    assert list(state) == list(sd) and all(torch.equal(state[k], sd[k]) for k in sd)


class _CreatesAFile:
    """Unpickling this calls ``open(path, 'w')``: the file exists afterwards only if the pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_malicious_vocabulary_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "itos.pkl"
    bad.write_bytes(pickle.dumps(["xxunk", "xxpad", _CreatesAFile(marker)]))
    pickle.loads(bad.read_bytes())[2].close()  # the test's own proof: plain pickle *does* run it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ModelFileError, match=r"list of str.*Python object io.open.*nothing in it was run"):
        read_itos(bad)
    assert not marker.exists()


@pytest.mark.parametrize("obj, match", [
    ({"xxunk": 0}, "found dict"),
    (["xxunk", 3], "non-str items"),
    ([], "empty"),
    (OrderedDict(a=1), "Python object collections.OrderedDict"),
])
def test_a_vocabulary_that_is_not_a_list_of_str_is_refused(tmp_path, obj, match):
    path = tmp_path / "itos.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ModelFileError, match=match):
        read_itos(path)


def test_a_malicious_weights_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "lm.pth"
    torch.save({"model": fastai_state(), "extra": _CreatesAFile(marker)}, path)
    with pytest.raises(ModelFileError, match="nothing was run"):
        load_fastai_state(path)
    assert not marker.exists()
    for legacy in (True, False):
        torch.save(fastai_state(), path, _use_new_zipfile_serialization=not legacy)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 9 // 10])
        with pytest.raises(ModelFileError, match="truncated"):
            load_fastai_state(path)


def test_unique_itos_renames_only_repeats():
    assert unique_itos(["a", "xxfake", "xxfake", "b", "xxfake"]) == (["a", "xxfake", "xxfake_2", "b", "xxfake_4"], 2)


def test_import_from_a_folder_a_pth_and_an_archive(tmp_path):
    folder = tmp_path / "wt103-bwd"
    folder.mkdir()
    (folder / "lstm_bwd.pth").write_bytes((FIXTURES / "v1_bwd.pth").read_bytes())
    (folder / "itos_wt103.pkl").write_bytes((FIXTURES / "v1_bwd_itos.pkl").read_bytes())
    archive = tmp_path / "wt103-bwd.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname="wt103-bwd")
    for source in (folder, folder / "lstm_bwd.pth", archive):
        lm = import_fastai(source)
        assert lm.direction == "bwd" and lm.meta["fastai_layout"] == "v1" and len(lm.vocab) == 72
    with pytest.raises(ValueError, match="looks like a backward model"):
        import_fastai(archive, direction="fwd")
    (folder / "other.pkl").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="found 2 .pkl"):
        import_fastai(folder / "lstm_bwd.pth")


def test_cli_import_fastai(tmp_path, capsys):
    out = tmp_path / "m.pt"
    rc = main(["import-fastai", str(FIXTURES / "v2_fwd.pth"), "--vocab", str(FIXTURES / "v2_fwd_itos.pkl"),
               "--out", str(out)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["fastai_layout"] == "v2" and summary["hidden_size"] == 20 and summary["n_layers"] == 3
    assert load_lm(out).model.config.emb_size == 12
    assert main(["import-fastai", str(tmp_path / "missing.tgz"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err


def _random_skulmfit_lm(direction: str = "fwd") -> PretrainedLM:
    torch.manual_seed(1)
    vocab = Vocab(list(SPECIAL_TOKENS) + [f"w{i}" for i in range(30)])
    model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=6, hidden_size=10, n_layers=3))
    with torch.no_grad():
        model.decoder.bias.normal_()
    return PretrainedLM(model.eval(), vocab, Tokenizer(), direction)


def test_export_then_import_is_the_identity(tmp_path, capsys):
    lm = _random_skulmfit_lm("bwd")
    save_lm(lm, tmp_path / "m.pt")
    assert main(["export", str(tmp_path / "m.pt"), "--format", "fastai", "--out", str(tmp_path / "fa")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["weights"]).name == "lstm_bwd.pth" and Path(summary["vocab"]).name == "itos.pkl"
    assert summary["fastai_config"] == {"emb_sz": 6, "n_hid": 10, "n_layers": 3, "pad_token": 1}
    state, _ = load_fastai_state(summary["weights"])
    assert list(state) == list(fastai_state_dict(lm.model))  # fastai's own key order (it loads by position)
    assert len(state) == 16
    back = import_fastai(tmp_path / "fa" / "lstm_bwd.pth")
    assert back.vocab.itos == lm.vocab.itos and back.direction == "bwd"
    for k, v in lm.model.state_dict().items():
        assert torch.equal(back.model.state_dict()[k], v), k
    other = _random_skulmfit_lm()
    other.vocab = Vocab(list(SPECIAL_TOKENS) + ["zzz"])
    other.model = LanguageModel(AWDLSTMConfig(vocab_size=10, emb_size=6, hidden_size=10, n_layers=3))
    save_lm(other, tmp_path / "o.pt")
    with pytest.raises(ValueError, match="another vocabulary"):
        export_fastai(tmp_path / "o.pt", tmp_path / "fa")


def test_export_format_fastai_refuses_half(tmp_path, capsys):
    save_lm(_random_skulmfit_lm(), tmp_path / "m.pt")
    assert main(["export", str(tmp_path / "m.pt"), "--format", "fastai", "--half", "--out", str(tmp_path)]) == 2
    assert "--half" in capsys.readouterr().err


def test_itos_pickle_written_for_fastai_is_a_plain_list(tmp_path):
    save_lm(_random_skulmfit_lm(), tmp_path / "m.pt")
    summary = export_fastai(tmp_path / "m.pt", tmp_path / "fa")
    data = Path(summary["vocab"]).read_bytes()
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert not ops & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "BUILD"}
    assert read_itos(summary["vocab"]) == load_lm(tmp_path / "m.pt").vocab.itos


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_an_imported_model_tokenizes_as_fastai_did(tmp_path, layout):
    from skulmfit.cli import main as cli_main
    from skulmfit.fastai_tokenizer import FastaiTokenizer
    from skulmfit.modelfile import load_lm

    out = tmp_path / f"{layout}.pt"
    assert cli_main(["import-fastai", str(FIXTURES / f"{layout}_fwd.pth"), "--vocab",
                     str(FIXTURES / f"{layout}_fwd_itos.pkl"), "--out", str(out)]) == 0
    tok = load_lm(out).tokenizer
    assert isinstance(tok, FastaiTokenizer) and tok.rules == layout
    # fastai v1 needs 4+ repeats for xxrep, v2 3+
    assert ("xxrep" in tok.tokenize("Sooo good")) == (layout == "v2")
