"""Checks a model folder tailor trained (baseline or any `best/`) against HuggingFace's libraries.

`tailor export-check --model DIR --out OUT --dump DUMP` writes, for real examples of OUT's
examples table, the texts with the ids tailor's tokenizer gives them (`texts.json`) and one batch
with tailor's logits (`logits.safetensors`). This script

1. loads DIR/tokenizer.json with `tokenizers.Tokenizer.from_file` and DIR with
   `transformers.PreTrainedTokenizerFast.from_pretrained` (and `AutoTokenizer`), encodes every
   text and requires exactly tailor's ids (special tokens included), and that decoding the ids
   gives the text back;
2. loads DIR with `BartForConditionalGeneration.from_pretrained` (failing on missing or
   unexpected keys), runs the batch and requires tailor's logits within `--tolerance` (max-abs
   over real positions);
3. loads `generation_config.json` with `GenerationConfig.from_pretrained`.

Exit status 1 on any failure; prints a summary line of what was compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import (
    AutoTokenizer,
    BartForConditionalGeneration,
    GenerationConfig,
    PreTrainedTokenizerFast,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--dump", required=True, type=Path, help="folder written by tailor export-check")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)

    records = json.loads((args.dump / "texts.json").read_text(encoding="utf-8"))
    raw = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    fast = PreTrainedTokenizerFast.from_pretrained(args.model_dir)
    auto = AutoTokenizer.from_pretrained(args.model_dir)
    failures = 0
    for name, encode in [
        ("tokenizers", lambda t: raw.encode(t).ids),
        ("PreTrainedTokenizerFast", lambda t: fast(t)["input_ids"]),
        ("AutoTokenizer", lambda t: auto(t)["input_ids"]),
    ]:
        mismatches = [r for r in records if encode(r["text"]) != r["ids"]]
        if mismatches:
            failures += 1
            first = mismatches[0]
            print(
                f"{name}: {len(mismatches)} of {len(records)} texts get other ids than tailor's; "
                f"first: pair {first['pair_id']} ({first['kind']}): tailor {first['ids'][:20]}… "
                f"vs {encode(first['text'])[:20]}…",
                file=sys.stderr,
            )
        else:
            print(f"{name}: {len(records)} texts, ids identical to tailor's")
    special = {
        "bos": fast.bos_token_id,
        "pad": fast.pad_token_id,
        "eos": fast.eos_token_id,
        "unk": fast.unk_token_id,
        "mask": fast.mask_token_id,
    }
    expected = {"bos": 0, "pad": 1, "eos": 2, "unk": 3, "mask": len(fast) - 1}
    if special != expected:
        failures += 1
        print(f"special token ids {special}, expected {expected}", file=sys.stderr)
    bad_decode = [r for r in records if fast.decode(r["ids"], skip_special_tokens=True) != r["text"]]
    if bad_decode:
        failures += 1
        print(f"decode(ids) differs from the text for {len(bad_decode)} texts", file=sys.stderr)

    model, info = BartForConditionalGeneration.from_pretrained(
        args.model_dir, attn_implementation="eager", output_loading_info=True
    )
    problems = {k: v for k, v in info.items() if v}
    if problems:
        failures += 1
        print(f"transformers reports {problems}", file=sys.stderr)
    model.eval()
    batch = load_file(args.dump / "logits.safetensors")
    with torch.no_grad():
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            decoder_input_ids=batch["decoder_input_ids"],
        )
    # Positions after a row's last target token see only padding; compare where the decoder
    # input is real (tailor pads decoder inputs with <pad>).
    real = batch["decoder_input_ids"] != model.config.pad_token_id
    real[:, 0] = True
    diff = (out.logits - batch["logits"]).abs()[real].max().item()
    print(f"logits {tuple(out.logits.shape)}: max-abs difference {diff:.3g} (tolerance {args.tolerance})")
    if not diff <= args.tolerance:
        failures += 1
    GenerationConfig.from_pretrained(args.model_dir)
    print("generation_config.json loads")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
