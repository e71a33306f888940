"""PyTorch peer of `tailor bench-model`: BART training-step and beam-search throughput.

Builds `BartForConditionalGeneration` from a HuggingFace `config.json` (tailor writes its presets
in that format), feeds it random token ids, and prints one JSON line.

Training mode (default): `--steps` steps of forward + backward + AdamW (lr 1e-4, eps 1e-8,
weight decay 0.01, PyTorch's defaults otherwise) in `train()` mode (the config's dropout
applies), after `--warmup` untimed steps.
    tokens_per_s = batch * (src_len + tgt_len) * steps / seconds
i.e. encoder plus decoder tokens, every position counted (the random batches have no padding).

Beam mode (`--beam`): `model.generate` with `--num-beams` beams in `eval()` mode, no sampling,
length penalty 1.0, `early_stopping` false, exactly `tgt_len` generated tokens per example
(`min_new_tokens = max_new_tokens = tgt_len`, so EOS cannot shorten the random model's output
and the work is fixed). `--steps` generate calls are timed after `--warmup`.
    tokens_per_s = batch * tgt_len * steps / seconds
counts the tokens of the returned best sequences (one per example), not beams × tokens.

Both modes report step_ms (milliseconds per timed step or generate call) and params (all
parameters, the tied embedding once).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset-config", required=True, help="HuggingFace BART config.json")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--src-len", type=int, required=True, help="encoder tokens per example")
    parser.add_argument("--tgt-len", type=int, required=True, help="decoder tokens per example")
    parser.add_argument("--steps", type=int, required=True, help="timed steps (or generate calls)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam", action="store_true", help="measure beam-search generation")
    parser.add_argument("--num-beams", type=int, default=5)
    parser.add_argument(
        "--attn",
        default="sdpa",
        choices=["sdpa", "eager"],
        help="transformers attention implementation (sdpa: PyTorch's fused kernel, the default)",
    )
    args = parser.parse_args(argv)
    for name in ("batch", "src_len", "tgt_len", "steps", "threads", "num_beams"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    return args


def random_ids(config: BartConfig, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """Ordinary token ids (never pad/bos/eos, which are the first ids in BART vocabularies)."""
    special = {config.pad_token_id, config.bos_token_id, config.eos_token_id}
    low = max(i for i in special if i is not None) + 1
    return torch.randint(low, config.vocab_size, (batch, length), device=device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_train(model, config, args, device) -> dict:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-8, weight_decay=0.01)
    input_ids = random_ids(config, args.batch, args.src_len, device)
    attention_mask = torch.ones_like(input_ids)
    labels = random_ids(config, args.batch, args.tgt_len, device)

    def step() -> float:
        # labels make BART build decoder_input_ids with shift_tokens_right, as training does.
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    synchronize(device)
    seconds = time.perf_counter() - start
    tokens = args.batch * (args.src_len + args.tgt_len) * args.steps
    return {"tokens_per_s": tokens / seconds, "step_ms": 1000 * seconds / args.steps, "loss": loss}


def bench_beam(model, config, args, device) -> dict:
    model.eval()
    generation = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        no_repeat_ngram_size=0,
        do_sample=False,
        num_beams=args.num_beams,
        num_return_sequences=1,
        length_penalty=1.0,
        early_stopping=False,
        min_new_tokens=args.tgt_len,
        max_new_tokens=args.tgt_len,
        use_cache=True,
    )
    input_ids = random_ids(config, args.batch, args.src_len, device)
    attention_mask = torch.ones_like(input_ids)

    def call() -> torch.Tensor:
        with torch.no_grad():
            return model.generate(
                input_ids=input_ids, attention_mask=attention_mask, generation_config=generation
            )

    for _ in range(args.warmup):
        call()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        out = call()
    synchronize(device)
    seconds = time.perf_counter() - start
    generated = out.shape[1] - 1  # the decoder start token is not generated
    if generated != args.tgt_len:
        raise SystemExit(f"generate returned {generated} tokens per example, expected {args.tgt_len}")
    tokens = args.batch * generated * args.steps
    return {"tokens_per_s": tokens / seconds, "step_ms": 1000 * seconds / args.steps}


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with open(args.preset_config, encoding="utf-8") as file:
        config = BartConfig(**json.load(file))
    config._attn_implementation = args.attn
    model = BartForConditionalGeneration(config).to(device)
    # `parameters()` yields the tied embedding once.
    params = sum(p.numel() for p in model.parameters())
    result = (bench_beam if args.beam else bench_train)(model, config, args, device)
    result.update(
        {
            "mode": "beam" if args.beam else "train",
            "params": params,
            "batch": args.batch,
            "src_len": args.src_len,
            "tgt_len": args.tgt_len,
            "steps": args.steps,
            "threads": torch.get_num_threads(),
            "device": str(device),
            "attn_implementation": model.config._attn_implementation,
            "torch": torch.__version__,
        }
    )
    if args.beam:
        result["num_beams"] = args.num_beams
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
