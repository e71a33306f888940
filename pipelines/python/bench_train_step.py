"""PyTorch peer of `tailor bench-train`: the training step on tailor's own real batches.

tailor writes the batches it measures (token ids of real examples, padded, as its training loop
builds them) to a JSON file; this script trains HF `BartForConditionalGeneration` (built from the
same `config.json`, random weights) on exactly those batches and prints one JSON line.

Per step: forward with `labels` (padding -100, so BART's loss ignores it and
`shift_tokens_right` builds the decoder inputs as tailor's collate does), backward,
`clip_grad_norm_(1.0)`, AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.01).
`--warmup` batches untimed, then every remaining batch timed once.
    tokens_per_s = real (unpadded) input + target tokens of the timed batches / seconds
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import BartConfig, BartForConditionalGeneration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="HuggingFace BART config.json")
    parser.add_argument("--batches", required=True, help="JSON written by tailor bench-train")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with open(args.config, encoding="utf-8") as file:
        config = BartConfig(**json.load(file))
    model = BartForConditionalGeneration(config).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01
    )
    with open(args.batches, encoding="utf-8") as file:
        batches = json.load(file)["batches"]
    if len(batches) <= args.warmup:
        raise SystemExit(f"{len(batches)} batches, need more than --warmup {args.warmup}")

    def tensors(batch):
        input_ids = torch.tensor(batch["input_ids"], device=device)
        attention_mask = torch.tensor(batch["attention_mask"], device=device)
        labels = torch.tensor(batch["labels"], device=device)
        real = int(attention_mask.sum().item()) + int((labels != -100).sum().item())
        return input_ids, attention_mask, labels, real

    prepared = [tensors(b) for b in batches]

    def step(input_ids, attention_mask, labels) -> float:
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    for input_ids, attention_mask, labels, _ in prepared[: args.warmup]:
        step(input_ids, attention_mask, labels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    tokens = 0
    start = time.perf_counter()
    for input_ids, attention_mask, labels, real in prepared[args.warmup :]:
        loss = step(input_ids, attention_mask, labels)
        tokens += real
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    timed = len(prepared) - args.warmup
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "tokens_per_s": tokens / seconds,
                "step_ms": 1000 * seconds / timed,
                "steps": timed,
                "tokens": tokens,
                "loss": loss,
                "threads": args.threads,
                "device": args.device,
            }
        )
    )


if __name__ == "__main__":
    main()
