"""Checks that a LoRA adapter written by tailor loads in HF PEFT and computes tailor's logits.

tailor writes a `lora` customization in PEFT's layout too (`adapter_config.json` +
`adapter_model.safetensors`, see src/model/adapter.rs). This script

1. loads the base model folder with `transformers.BartForConditionalGeneration.from_pretrained`
   (failing on any missing, unexpected or mismatched key),
2. loads the adapter with `peft.PeftModel.from_pretrained` and fails unless every tensor of
   `adapter_model.safetensors` was taken (PEFT only warns about unexpected keys) and every LoRA
   module received its weights,
3. runs the batch stored in INPUTS (`input_ids`, `attention_mask`, `decoder_input_ids`, as
   written by `tailor model logits` or the `strategies` test) in eval mode and compares the
   logits with INPUTS' `logits`, max-abs within `--tolerance` (default 1e-5).

Prints one JSON line with the result; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import BartForConditionalGeneration


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="config.json + model.safetensors")
    parser.add_argument("--adapter", required=True, type=Path, help="adapter_config.json + adapter_model.safetensors")
    parser.add_argument("--inputs", required=True, type=Path, help="safetensors: ids and tailor's logits")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    base, info = BartForConditionalGeneration.from_pretrained(
        args.base, attn_implementation="eager", output_loading_info=True
    )
    problems = {name: keys for name, keys in info.items() if keys}
    if problems:
        raise SystemExit(f"{args.base}: transformers reports {problems}")

    model = PeftModel.from_pretrained(base, args.adapter).eval()
    stored = load_file(args.adapter / "adapter_model.safetensors")
    state = model.state_dict()
    # PEFT inserts the adapter name ("default") before `.weight` in the live model.
    untaken = [k for k in stored if k.replace(".weight", ".default.weight") not in state]
    if untaken:
        raise SystemExit(f"{args.adapter}: PEFT did not use {untaken[:5]} ({len(untaken)} keys)")
    for key, value in stored.items():
        live = state[key.replace(".weight", ".default.weight")]
        if not torch.equal(live, value):
            raise SystemExit(f"{args.adapter}: {key} was not loaded into the PEFT model")
    lora_modules = sum(1 for k in state if ".lora_A.default.weight" in k)
    if lora_modules * 2 != len(stored):
        raise SystemExit(
            f"{args.adapter}: PEFT built {lora_modules} LoRA modules, the file holds {len(stored)} tensors"
        )

    inputs = load_file(args.inputs)
    with torch.no_grad():
        out = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            decoder_input_ids=inputs["decoder_input_ids"],
        )
    diff = (out.logits - inputs["logits"]).abs().max().item()
    base_diff = None
    with torch.no_grad(), model.disable_adapter():
        plain = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            decoder_input_ids=inputs["decoder_input_ids"],
        )
        base_diff = (plain.logits - inputs["logits"]).abs().max().item()
    result = {
        "base": str(args.base),
        "adapter": str(args.adapter),
        "lora_modules": lora_modules,
        "logits_shape": list(out.logits.shape),
        "max_abs_diff": diff,
        # How far the adapter moves the logits: a check that passes only because the adapter
        # does nothing would show ~0 here.
        "max_abs_diff_without_adapter": base_diff,
        "tolerance": args.tolerance,
        "ok": diff <= args.tolerance and base_diff > args.tolerance,
    }
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
