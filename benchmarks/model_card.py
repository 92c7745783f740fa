"""Measure a model file on WikiText-103 valid/test and write its model card (MODEL.md + MODEL.json).

    python benchmarks/model_card.py skulmfit/pretrained/default_fwd.pt \
        --wikitext ../shared/data/wikitext-103
    python benchmarks/model_card.py skulmfit/pretrained/small_fwd.pt --render-only \
        --set 'status="..."'

The perplexities are measured with the same code as ``skulmfit evaluate-lm MODEL FILE`` (each
line of the ``.tokens`` file is one document) and stored in the JSON card under ``wikitext103``;
the Markdown card is generated from the JSON card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from skulmfit.lm_eval import evaluate_lm_file  # noqa: E402

PPL_NOTE = (
    "These perplexities are **not comparable to published word-level WikiText-103 numbers**. "
    "The text is re-tokenized by skulmfit's tokenizer: `xxbos` starts each line, case becomes "
    "`xxmaj`/`xxup` marker tokens (easy to predict) and words are lower-cased, WikiText's `@-@` "
    "escapes are joined back (`5 @-@ year` -> `5-year`), and every word outside the model's "
    "vocabulary — and WikiText's own `<unk>` — becomes one `xxunk` token, which is predicted as a "
    "single class. A small vocabulary therefore *lowers* this perplexity while losing information; "
    "compare models only at the same vocabulary and tokenization."
)


def measure(model: str, wikitext: Path, bptt: int = 70) -> dict:
    out = {}
    for split in ("valid", "test"):
        path = wikitext / f"wiki.{split}.tokens"
        r = evaluate_lm_file(model, path, doc_sep="line", batch_size=16, bptt=bptt)
        out[split] = {k: r[k] for k in ("perplexity", "loss", "tokens", "oov_rate")}
        out[split]["file"] = str(path)
        out[split]["command"] = f"skulmfit evaluate-lm {model} {path}"
    return out


def _decoder(config: dict) -> str:
    if config.get("decoder") == "adaptive":
        cut = " / ".join(f"{c:,}" for c in config["cutoffs"])
        widths = " / ".join(str(w) for w in config["tail_widths"])
        return f"adaptive-softmax decoder (cutoffs {cut}, tail projections {widths}; not tied)"
    return "decoder tied to the embedding"


def render(card: dict, name: str) -> str:
    c = card["config"]
    tr = card.get("training", {})
    lines = [
        f"# Model card: `{name}`",
        "",
        f"AWD-LSTM language model ({card['direction']}), skulmfit {card.get('skulmfit_version')}.",
        "",
    ]
    if card.get("history"):
        lines += [card["history"], ""]
    lines += [
        "## Architecture",
        f"- embedding {c['emb_size']}, {c['n_layers']} LSTM layers of {c['hidden_size']} (the last returns "
        f"{c['emb_size']}), {_decoder(c)}; {card['parameters']:,} parameters",
        f"- vocabulary {card['vocab_size']:,} tokens (special tokens first)",
        f"- dropouts (paper defaults, scaled by `drop_mult` when used): embed {c['embed_p']}, input {c['input_p']}, "
        f"hidden {c['hidden_p']}, weight {c['weight_p']}, output {c['output_p']}",
        "",
        "## Training",
    ]
    if "status" in card:
        lines.append(f"- status: **{card['status']}**")
    if card.get("tokens_seen_total"):
        lines.append(f"- tokens seen in all (every stage): {card['tokens_seen_total']:,}")
    planned = card.get("planned_tokens")
    seen = tr.get("tokens_seen")
    if seen is not None and card.get("stages"):
        for st in card["stages"]:
            lines.append(f"- {st['stage']}: {st['tokens_seen']:,} tokens, {st['steps']:,} steps, "
                         f"{st['train_seconds'] / 3600:.2f} h")
    elif seen is not None:
        frac = f" ({100 * seen / planned:.1f} % of the planned {planned:,})" if planned else ""
        lines.append(f"- tokens seen: {seen:,}{frac}; steps: {tr.get('steps'):,}")
    if tr.get("train_seconds"):
        stages = card.get("stages") or []
        # stages that add up to the trainer's count are sittings of one run; otherwise separate runs
        label = ("" if not stages else "in all: " if sum(st["tokens_seen"] for st in stages) == seen
                 else "last run: ")
        lines.append(f"- {label}training time {tr['train_seconds'] / 3600:.2f} h "
                     f"at {tr.get('tokens_per_second', 0):,.0f} tokens/s, {tr.get('processes', 1)} process(es)")
    corpus = card.get("corpus") or {}
    files = corpus.get("files") or card.get("corpus_files") or []
    if files:
        lines.append("- corpus files (sha256):")
        lines += [f"  - `{Path(f['path']).name}` `{f['sha256']}`" for f in files]
    if corpus.get("excluded_ids") or card.get("pretrain_options", {}).get("exclude_ids"):
        ids = corpus.get("excluded_ids") or card["pretrain_options"]["exclude_ids"]
        lines.append(f"- excluded page ids (WikiText test articles): {', '.join(map(str, ids))}")
    hw = card.get("hardware", {})
    lines.append(f"- hardware: {hw.get('cpu')} ({hw.get('cpu_cores')} cores), GPU: {hw.get('gpu', 'none')}, "
                 f"torch {hw.get('torch')}")
    if card.get("why_this_size"):
        lines += ["", "## Why this size", card["why_this_size"]]
    lines += ["", "## Evaluation"]
    if "validation" in card:
        lines.append(f"- held-out tail of the pretraining stream: perplexity {card['validation']['perplexity']:.2f}")
    wt = card.get("wikitext103")
    if wt:
        lines += ["", "| WikiText-103 | perplexity | tokens | OOV (xxunk) rate |", "|---|---|---|---|"]
        for split in ("valid", "test"):
            r = wt[split]
            lines.append(f"| {split} | {r['perplexity']:.2f} | {r['tokens']:,} | {100 * r['oov_rate']:.1f} % |")
        lines += ["", PPL_NOTE, "", "Measured with:", ""]
        lines += [f"    {wt[s]['command']}" for s in ("valid", "test")]
    reproduce = card.get("reproduce", card.get("command", ""))
    lines += ["", "## Reproduce", ""]
    lines += ["    " + line for line in (reproduce if isinstance(reproduce, list) else [reproduce])]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--wikitext", default=str(Path(__file__).resolve().parents[2] / "shared/data/wikitext-103"))
    p.add_argument("--set", nargs="*", default=[], help="extra card fields as KEY=JSON")
    p.add_argument("--render-only", action="store_true",
                   help="re-render MODEL.md from MODEL.json (after --set edits) without measuring")
    args = p.parse_args(argv)
    card_path = Path(args.model).with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    for item in args.set:
        k, v = item.split("=", 1)
        card[k] = json.loads(v)
    if not args.render_only:
        card["wikitext103"] = measure(args.model, Path(args.wikitext))
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    Path(args.model).with_suffix(".md").write_text(render(card, Path(args.model).name), encoding="utf-8")
    if args.render_only:
        return 0
    for s in ("valid", "test"):
        print(f"WikiText-103 {s}: perplexity {card['wikitext103'][s]['perplexity']:.2f} "
              f"({card['wikitext103'][s]['tokens']:,} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
