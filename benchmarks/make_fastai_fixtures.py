"""Make the tiny fastai AWD-LSTM fixtures of tests/fixtures/fastai/ WITH fastai itself.

Run with the fastai side environment (see benchmarks/fastai_bridge.py for how to create it)::

    /work/fastai-venv/bin/python benchmarks/make_fastai_fixtures.py [--out tests/fixtures/fastai]

For each direction (forward, and backward: ``backwards=True`` data loaders) it

1. builds a vocabulary with fastai's ``make_vocab`` (fastai v2 special-token order, padded with
   ``'xxfake'`` to a multiple of 8) and a tiny language-model ``DataLoaders`` with it;
2. creates ``language_model_learner(dls, AWD_LSTM, config=TINY, pretrained=False)`` (random init),
   trains it for one short epoch (so that biases are no longer at their initial values),
   and saves it with fastai's own ``learn.save`` (zip serialization, ``{'model', 'opt'}``
   wrapper, 16 keys: the v2 layout) and the vocabulary with fastcore's ``save_pickle``;
3. builds a v1-layout file from it as fastai 1.x wrote them: 19 keys (each layer's
   ``module.weight_hh_l0`` added as a weight-dropped copy of ``weight_hh_l0_raw``, which is
   what fastai v1 left there after a training step), legacy (non-zip) serialization, no
   wrapper, and the vocabulary in fastai v1's special-token order (rows permuted to match);
4. records fastai's eval-mode next-token log-probabilities on fixed token ids (two consecutive
   chunks, the hidden state carried from the first to the second, as fastai's stateful
   AWD_LSTM does), for the v2 file from the learner's model and for the v1 file from a fresh
   fastai model loaded by fastai's own ``clean_raw_keys`` + ``load_ignore_keys``.

The skulmfit side (tests/test_fastai_equivalence.py, benchmarks/fastai_equivalence.py) needs
only the files written here, not fastai.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import random
from collections import Counter, OrderedDict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import torch
import torch.nn.functional as F
from fastai.text.all import (
    AWD_LSTM,
    ColReader,
    DataBlock,
    RandomSplitter,
    TextBlock,
    awd_lstm_lm_config,
    clean_raw_keys,
    get_language_model,
    language_model_learner,
    load_ignore_keys,
    make_vocab,
)
from fastcore.xtras import save_pickle

ROOT = Path(__file__).resolve().parents[1]
TINY = {**awd_lstm_lm_config, "emb_sz": 12, "n_hid": 20, "n_layers": 3}
V1_SPECIAL = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep"]
WORDS = ("the a an this that cat dog bird man woman car house tree sees likes eats finds owns big small red "
         "old new quickly slowly and or but with without under over near far , . ! ? 's n't is was are were "
         "be been very too so it he she they we you i").split()


def tiny_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) for _ in range(n)]


def make_learner(itos: list[str], backwards: bool, workdir: Path, seed: int):
    torch.manual_seed(seed)
    random.seed(seed)
    df = pd.DataFrame({"text": tiny_texts(60, seed)})
    block = TextBlock.from_df("text", vocab=itos, is_lm=True, seq_len=10, backwards=backwards, n_workers=1)
    dblock = DataBlock(blocks=block, get_x=ColReader("text"), splitter=RandomSplitter(0.2, seed=seed))
    dls = dblock.dataloaders(df, bs=4, seq_len=10, path=workdir, num_workers=0)
    assert list(dls.vocab) == itos, "fastai changed the vocabulary given to it"
    torch.manual_seed(seed)
    learn = language_model_learner(dls, AWD_LSTM, config=dict(TINY), pretrained=False, path=workdir)
    learn.fit(1, 3e-2)
    return learn


@torch.no_grad()
def reference_logprobs(model, ids: torch.Tensor, ids2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fastai's eval-mode log-probabilities on ``ids`` then ``ids2`` (state carried over)."""
    model.eval()
    model.reset()
    out1 = F.log_softmax(model(ids)[0].float(), dim=-1)
    out2 = F.log_softmax(model(ids2)[0].float(), dim=-1)
    model.reset()
    return out1, out2


def v1_state(v2: dict, perm: list[int], seed: int) -> OrderedDict:
    """fastai v1's 19-key layout of a v2 state dict, with embedding rows reordered by ``perm``."""
    g = torch.Generator().manual_seed(seed)
    out: OrderedDict = OrderedDict()
    emb = v2["0.encoder.weight"][perm].clone()
    out["0.encoder.weight"] = emb
    out["0.encoder_dp.emb.weight"] = emb
    n_layers = sum(1 for k in v2 if k.endswith("weight_hh_l0_raw"))
    for i in range(n_layers):
        raw = v2[f"0.rnns.{i}.weight_hh_l0_raw"].clone()
        mask = torch.bernoulli(torch.full(raw.shape, 0.8), generator=g) / 0.8  # the last dropped copy
        out[f"0.rnns.{i}.weight_hh_l0_raw"] = raw
        out[f"0.rnns.{i}.module.weight_ih_l0"] = v2[f"0.rnns.{i}.module.weight_ih_l0"].clone()
        out[f"0.rnns.{i}.module.weight_hh_l0"] = raw * mask
        out[f"0.rnns.{i}.module.bias_ih_l0"] = v2[f"0.rnns.{i}.module.bias_ih_l0"].clone()
        out[f"0.rnns.{i}.module.bias_hh_l0"] = v2[f"0.rnns.{i}.module.bias_hh_l0"].clone()
    out["1.decoder.weight"] = emb
    out["1.decoder.bias"] = v2["1.decoder.bias"][perm].clone()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "fastai"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "_work"
    import fastai

    itos = make_vocab(Counter(WORDS * 3), min_freq=1)
    print(f"vocabulary: {len(itos)} tokens ({itos.count('xxfake')} 'xxfake' pads), first {itos[:9]}")
    # fastai v1's special-token order: the same rows, permuted
    v1_itos = V1_SPECIAL + itos[len(V1_SPECIAL):]
    perm = [itos.index(t) for t in V1_SPECIAL] + list(range(len(V1_SPECIAL), len(itos)))
    assert [itos[j] for j in perm] == v1_itos

    g = torch.Generator().manual_seed(args.seed)
    n_real = len(itos) - itos.count("xxfake")
    ids = torch.randint(0, n_real, (2, 9), generator=g)
    ids2 = torch.randint(0, n_real, (2, 7), generator=g)
    inv = {j: i for i, j in enumerate(perm)}  # v2 id -> v1 id
    ids_v1 = ids.clone().apply_(lambda j: inv[j])
    ids2_v1 = ids2.clone().apply_(lambda j: inv[j])

    expected: dict = {"fastai_version": fastai.__version__, "torch_version": str(torch.__version__),
                      "python": platform.python_version(), "config": {k: TINY[k] for k in ("emb_sz", "n_hid",
                                                                                          "n_layers")}}
    for direction, backwards in (("fwd", False), ("bwd", True)):
        learn = make_learner(list(itos), backwards, work / direction, args.seed + backwards)
        saved = learn.save(f"v2_{direction}")  # fastai's own save: {'model', 'opt'}, zip serialization
        v2_file, v2_vocab = out / f"v2_{direction}.pth", out / f"v2_{direction}_itos.pkl"
        os.replace(saved, v2_file)
        save_pickle(v2_vocab, list(learn.dls.vocab))
        lp, lp2 = reference_logprobs(learn.model, ids, ids2)
        state = torch.load(v2_file, weights_only=False)["model"]
        print(f"{direction}: v2 file has {len(state)} keys: {list(state)}")

        v1 = v1_state(state, perm, args.seed + 10)
        v1_file, v1_vocab = out / f"v1_{direction}.pth", out / f"v1_{direction}_itos.pkl"
        torch.save(v1, v1_file, _use_new_zipfile_serialization=False, pickle_protocol=2)
        with open(v1_vocab, "wb") as f:
            pickle.dump(v1_itos, f)
        # fastai reads the v1 file itself: load_pretrained's loading steps (the vocabularies are
        # equal, so its match_embeds is the identity and is left out: it would copy the last
        # 'xxfake' row over the other 'xxfake' rows)
        fresh = get_language_model(AWD_LSTM, len(v1_itos), config=dict(TINY))
        load_ignore_keys(fresh, clean_raw_keys(dict(torch.load(v1_file, weights_only=False))))
        lp_v1, lp2_v1 = reference_logprobs(fresh, ids_v1, ids2_v1)
        same = max((lp_v1 - lp[:, :, perm]).abs().max().item(), (lp2_v1 - lp2[:, :, perm]).abs().max().item())
        print(f"{direction}: v1 file ({len(v1)} keys, legacy serialization) read back by fastai: "
              f"max |diff| to the v2 model {same:.2e}")
        assert same < 1e-6
        expected[f"v2_{direction}"] = {"ids": ids, "ids2": ids2, "logprobs": lp, "logprobs2": lp2,
                                       "weights": v2_file.name, "vocab": v2_vocab.name, "keys": len(state)}
        expected[f"v1_{direction}"] = {"ids": ids_v1, "ids2": ids2_v1, "logprobs": lp_v1, "logprobs2": lp2_v1,
                                       "weights": v1_file.name, "vocab": v1_vocab.name, "keys": len(v1)}
    torch.save(expected, out / "expected.pt")
    for p in sorted(work.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    work.rmdir()
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(json.dumps(sizes, indent=1))


if __name__ == "__main__":
    main()
