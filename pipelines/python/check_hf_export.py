"""Checks that a BART checkpoint written by tailor loads in HuggingFace `transformers` and agrees.

The other direction of the parity fixture: tailor loads `fixtures/hf-bart-tiny` (Rust test),
and this script loads what tailor *saves* (`config.json` + `model.safetensors`) with
`BartForConditionalGeneration.from_pretrained`, then

1. fails on any missing, unexpected or mismatched key (transformers only warns about them);
2. runs the fixture's batch (`expected.safetensors`) through it and compares the encoder output
   and logits with the fixture's, max-abs within `--tolerance` (default 1e-5);
3. re-runs the fixture's greedy and beam-5 generations and requires the same sequences.

Steps 2 and 3 apply when the checkpoint is the fixture model re-exported (load → save in
tailor); with `--no-compare` only step 1 runs and the logits' shape is checked, for any other
checkpoint (e.g. a trained one). Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BartForConditionalGeneration, GenerationConfig

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "hf-bart-tiny"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, type=Path, help="config.json + model.safetensors")
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--no-compare", action="store_true", help="only load and run the batch")
    return parser.parse_args(argv)


def load(model_dir: Path) -> BartForConditionalGeneration:
    model, info = BartForConditionalGeneration.from_pretrained(
        model_dir, attn_implementation="eager", output_loading_info=True
    )
    problems = {name: keys for name, keys in info.items() if keys}
    if problems:
        raise SystemExit(f"{model_dir}: transformers reports {problems}")
    return model.eval()


def generation_settings(fixture: dict, kind: str, config) -> GenerationConfig:
    settings = fixture[kind]
    beams = settings.get("num_beams", 1)
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        no_repeat_ngram_size=0,
        do_sample=False,
        min_length=settings["min_length"],
        max_length=settings["max_length"],
        num_beams=beams,
        num_return_sequences=settings.get("num_return_sequences", 1),
        length_penalty=settings.get("length_penalty", 1.0),
        early_stopping=settings.get("early_stopping", False),
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    model = load(args.model_dir)
    expected = load_file(args.fixture / "expected.safetensors")
    with torch.no_grad():
        out = model(
            input_ids=expected["input_ids"],
            attention_mask=expected["attention_mask"],
            decoder_input_ids=expected["decoder_input_ids"],
        )
    failures = []
    if args.no_compare:
        want = (*expected["decoder_input_ids"].shape, model.config.vocab_size)
        if tuple(out.logits.shape) != want:
            failures.append(f"logits shape {tuple(out.logits.shape)}, expected {want}")
    else:
        for name, got in (
            ("encoder_last_hidden_state", out.encoder_last_hidden_state),
            ("logits", out.logits),
        ):
            diff = (got - expected[name]).abs().max().item()
            print(f"{name}: max-abs difference {diff:.3g}")
            if not diff <= args.tolerance:
                failures.append(f"{name} differs by {diff:.3g} > {args.tolerance}")
        generations = json.loads((args.fixture / "generations.json").read_text(encoding="utf-8"))
        for kind in ("greedy", "beam"):
            with torch.no_grad():
                sequences = model.generate(
                    input_ids=expected["input_ids"],
                    attention_mask=expected["attention_mask"],
                    generation_config=generation_settings(generations, kind, model.config),
                ).tolist()
            same = sequences == generations[kind]["sequences"]
            print(f"{kind} generations: {'identical' if same else 'DIFFERENT'}")
            if not same:
                failures.append(f"{kind} generations differ")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if not failures:
        print(f"{args.model_dir}: loads in transformers and agrees")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
