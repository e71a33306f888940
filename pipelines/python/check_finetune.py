"""Re-runs one tailor customization run in PyTorch + transformers (+ PEFT) and compares test losses.

tailor's `finetune` stage customizes the baseline (an HF `BartForConditionalGeneration` folder)
to one project fold with one strategy and records the best adapter's test loss in
OUT/tables/finetune.parquet. This script trains the same run a second time with the reference
stack, from the same inputs:

- the recipe: the run folder's `config.resolved.toml` (else the profile's TOML, with
  `[finetune.lr]` applied), read tolerantly: unknown fields are ignored, and the optional
  `evals_per_epoch` / `warmup_fraction` are honoured when present (see `schedule_of`);
- the fold file OUT/runs/finetune/<profile>/<project>/fold<k>.json (train/valid/test pair ids,
  in tailor's order) and the token ids of OUT/tables/examples.parquet;
- the base folder OUT/runs/baseline/<profile>/best, loaded with transformers.

It applies the strategy by HF parameter names (`custom`: everything; `l-eo`: `model.shared` +
both `embed_positions`; `l-ldb`: `model.decoder.layers.<last>.*`), with PEFT's `LoraConfig`
for `lora`, and for `prefix` tailor's layout re-implemented here (already-projected key/value
prefixes on every encoder and decoder self-attention, optionally cross-attention, initialised
from the project's most frequent tokens; PEFT's prefix tuning has another layout, see
docs/check-finetune.md). Then it trains with tailor's loop: token-budget batches planned as
src/data/batches.rs plans them, teacher forcing, mean token cross-entropy over real target
tokens, global-norm clipping, AdamW (decay off for biases and LayerNorms), warm-up + linear /
cosine / constant schedule, validation every `eval_every_steps` (step 0 included), patience,
best-validation weights, max epochs / steps. The batch order is tailor's own
(`--order tailor`: ChaCha8 + rand 0.9's shuffle re-implemented bit for bit) or a fresh
shuffle (`--order shuffled --seed N`, for the run-to-run spread). Dropout masks (and LoRA's
A initialisation) come from PyTorch's RNG and cannot be tailor's.

Finally it computes the test part's loss exactly as tailor does (sum of token NLL / target
tokens, pads ignored, length-sorted batches, eval mode), prints tailor's number, PyTorch's and
their difference, writes OUT/reports/check-finetune/<project>-<strategy>-fold<k>.json, and exits
1 when |difference| exceeds `--tolerance`. It also loads tailor's own best adapter into the
PyTorch model and evaluates it (`tailor_best_in_torch`): that number must equal tailor's row
to float precision (`--eval-tolerance`), which separates "the evaluation agrees" from "the
training loop agrees".
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import BartForConditionalGeneration
from transformers.utils import logging as hf_logging

PAD = 1
SPECIAL_IDS = (0, 1, 2, 3)
STRATEGIES = ("custom", "l-eo", "l-ldb", "prefix", "lora")
MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1


# --------------------------------------------------------------------------------------------
# tailor's RNGs: ChaCha8Rng::seed_from_u64 + set_stream, rand 0.9's SliceRandom::shuffle, and the
# splitmix64 validation sample of src/train/trainer.rs.


class ChaCha8:
    """rand_chacha 0.9's ChaCha8Rng: `seed_from_u64(seed)` (rand_core's PCG32 expansion), then
    `set_stream(stream)` on a fresh generator; `next_u32` reads the keystream word by word
    (block counter in words 12-13, stream in 14-15)."""

    def __init__(self, seed: int, stream: int = 0, rounds: int = 8, key: bytes | None = None):
        if key is None:
            self._pcg_state = seed & MASK64
            key = b"".join(self._pcg32() for _ in range(8))
        self.key = [int.from_bytes(key[4 * i : 4 * i + 4], "little") for i in range(8)]
        self.stream = stream & MASK64
        self.rounds = rounds
        self.block = 0
        self.buffer: list[int] = []

    def _pcg32(self) -> bytes:
        # rand_core 0.9 `SeedableRng::seed_from_u64`: advance, then PCG's XSH-RR output.
        state = self._pcg_state
        state = (state * 6364136223846793005 + 11634580027462260723) & MASK64
        self._pcg_state = state
        xorshifted = (((state >> 18) ^ state) >> 27) & MASK32
        rot = state >> 59
        x = ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & MASK32 if rot else xorshifted
        return x.to_bytes(4, "little")

    @staticmethod
    def _rotl(v: int, c: int) -> int:
        return ((v << c) & MASK32) | (v >> (32 - c))

    def _quarter(self, x: list[int], a: int, b: int, c: int, d: int) -> None:
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = self._rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = self._rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = self._rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = self._rotl(x[b] ^ x[c], 7)

    def _refill(self) -> None:
        init = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *self.key]
        init += [self.block & MASK32, self.block >> 32, self.stream & MASK32, self.stream >> 32]
        x = list(init)
        for _ in range(self.rounds // 2):
            self._quarter(x, 0, 4, 8, 12)
            self._quarter(x, 1, 5, 9, 13)
            self._quarter(x, 2, 6, 10, 14)
            self._quarter(x, 3, 7, 11, 15)
            self._quarter(x, 0, 5, 10, 15)
            self._quarter(x, 1, 6, 11, 12)
            self._quarter(x, 2, 7, 8, 13)
            self._quarter(x, 3, 4, 9, 14)
        self.buffer = [(a + b) & MASK32 for a, b in zip(x, init)]
        self.block = (self.block + 1) & MASK64

    def next_u32(self) -> int:
        if not self.buffer:
            self._refill()
        return self.buffer.pop(0)

    def below(self, bound: int) -> int:
        """`rng.random_range(..bound)` for u32 (rand 0.9, biased Canon/Lemire without the
        `unbiased` feature): one widening multiply, a second draw only near the bias zone."""
        hi, lo = divmod(self.next_u32() * bound, 1 << 32)
        if lo > ((-bound) & MASK32):
            new_hi = (self.next_u32() * bound) >> 32
            hi += 1 if lo + new_hi > MASK32 else 0
        return hi


def _bound_u32(m: int) -> tuple[int, int]:
    # rand 0.9 seq::increasing_uniform::calculate_bound_u32.
    product, current = m, m + 1
    while product * current <= MASK32:
        product *= current
        current += 1
    return product, current - m


def rand_shuffle(items: list, rng: ChaCha8) -> None:
    """rand 0.9's `SliceRandom::shuffle` (Durstenfeld with `IncreasingUniform`), in place."""
    if len(items) <= 1:
        return
    n, chunk, remaining = 0, 0, 1  # IncreasingUniform::new(rng, 0)
    for i in range(len(items)):
        next_n = n + 1
        if remaining == 0:
            bound, count = _bound_u32(next_n)
            chunk = rng.below(bound)
            remaining = count
        remaining -= 1
        if remaining == 0:
            index = chunk
        else:
            index = chunk % next_n
            chunk //= next_n
        n = next_n
        items[i], items[index] = items[index], items[i]


def eval_indices(length: int, n: int, seed: int) -> list[int]:
    """src/train/trainer.rs `eval_indices`: a splitmix64 Fisher-Yates sample, sorted."""
    indices = list(range(length))
    if n == 0 or n >= length:
        return indices
    state = seed ^ 0x9E3779B97F4A7C15
    for i in range(length - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        j = z % (i + 1)
        indices[i], indices[j] = indices[j], indices[i]
    return sorted(indices[:n])


# --------------------------------------------------------------------------------------------
# Batches: src/data/batches.rs.

WINDOW_BATCHES = 100
INPUT_STEP = 32


def _pack(order: list[int], lengths: list[tuple[int, int]], budget: int) -> list[list[int]]:
    batches: list[list[int]] = []
    batch: list[int] = []
    max_in = max_tgt = 0
    for i in order:
        li, lt = lengths[i]
        new_in, new_tgt = max(max_in, li), max(max_tgt, lt)
        if batch and (len(batch) + 1) * (new_in + new_tgt) > budget:
            batches.append(batch)
            batch = []
            max_in, max_tgt = li, lt
        else:
            max_in, max_tgt = new_in, new_tgt
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def _window(lengths: list[tuple[int, int]], budget: int) -> int:
    if not lengths:
        return 1
    mean = sum(i + t for i, t in lengths) / len(lengths)
    per_batch = max(budget / max(mean, 1.0), 1.0)
    return max(int(per_batch * WINDOW_BATCHES), 1)


def plan_epoch(lengths, budget: int, seed: int, epoch: int, order_mode: str, py_seed: int):
    """One epoch's batches as tailor plans them: shuffle, sort by (input // 32, target) within
    windows of ~100 batches, pack greedily under the padded-token budget, shuffle the batches.
    `tailor`: tailor's ChaCha8 stream `epoch` of `seed` (the identical plan); `shuffled`:
    Python's RNG seeded with (`py_seed`, epoch), the same procedure with another draw."""
    if order_mode == "tailor":
        rng = ChaCha8(seed, stream=epoch)
        shuffle = lambda xs: rand_shuffle(xs, rng)  # noqa: E731
    else:
        prng = random.Random(py_seed * 1_000_003 + epoch)
        shuffle = prng.shuffle
    order = list(range(len(lengths)))
    shuffle(order)
    window = _window(lengths, budget)
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: (lengths[i][0] // INPUT_STEP, lengths[i][1]))
        batches.extend(_pack(chunk, lengths, budget))
    shuffle(batches)
    return batches


def plan_eval(lengths, budget: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return _pack(order, lengths, budget)


# --------------------------------------------------------------------------------------------
# Loss: src/train/batch.rs.


def collate(rows, decoder_start: int):
    src = max(1, max(len(r[0]) for r in rows))
    tgt = max(1, max(len(r[1]) for r in rows))
    n = len(rows)
    input_ids = torch.full((n, src), PAD, dtype=torch.long)
    attention = torch.zeros((n, src), dtype=torch.long)
    decoder_inputs = torch.full((n, tgt), PAD, dtype=torch.long)
    labels = torch.full((n, tgt), PAD, dtype=torch.long)
    mask = torch.zeros((n, tgt), dtype=torch.float32)
    for row, (inp, out) in enumerate(rows):
        input_ids[row, : len(inp)] = torch.tensor(inp, dtype=torch.long)
        attention[row, : len(inp)] = 1
        labels[row, : len(out)] = torch.tensor(out, dtype=torch.long)
        mask[row, : len(out)] = 1.0
        decoder_inputs[row, 0] = decoder_start
        if len(out) > 1:
            decoder_inputs[row, 1 : len(out)] = torch.tensor(out[:-1], dtype=torch.long)
    return input_ids, attention, decoder_inputs, labels, mask, sum(len(r[1]) for r in rows)


def nll_sum(model, batch) -> torch.Tensor:
    input_ids, attention, decoder_inputs, labels, mask, _ = batch
    logits = model(input_ids=input_ids, attention_mask=attention, decoder_input_ids=decoder_inputs, use_cache=False).logits
    picked = F.log_softmax(logits.float(), dim=-1).gather(2, labels.unsqueeze(2)).squeeze(2)
    return -(picked * mask).sum()


def evaluate(model, examples, budget: int, decoder_start: int) -> tuple[float, int]:
    model.eval()
    lengths = [(len(i), len(t)) for i, t in examples]
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for indices in plan_eval(lengths, budget):
            batch = collate([examples[i] for i in indices], decoder_start)
            nll += float(nll_sum(model, batch))
            tokens += batch[5]
    if tokens == 0:
        raise SystemExit("no tokens to evaluate on")
    return nll / tokens, tokens


# --------------------------------------------------------------------------------------------
# The recipe.


def read_recipe(out: Path, profile: str, project: str, fold: int, strategy: str) -> tuple[dict, str]:
    """(recipe, where it came from): `train` (the run's optimisation recipe with the strategy's
    learning rate), `prefix`, `lora`, `folds`; unknown fields are kept and ignored."""
    resolved = out / "runs" / "finetune" / profile / project / strategy / f"fold{fold}" / "config.resolved.toml"
    if resolved.exists():
        table = tomllib.loads(resolved.read_text(encoding="utf-8"))
        strat = table.get("strategy", {})
        return {
            "train": dict(table["train"]),
            "prefix": dict(strat.get("prefix", {})),
            "lora": dict(strat.get("lora", {})),
            "base_hash": table.get("base_hash"),
        }, str(resolved)
    path = Path(__file__).resolve().parents[1] / "train" / f"{profile}.toml"
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    finetune = table.get("finetune")
    if not finetune:
        raise SystemExit(f"{path} has no [finetune] section and {resolved} does not exist")
    train = dict(finetune["train"])
    if strategy in finetune.get("lr", {}):
        train["lr"] = finetune["lr"][strategy]
    return {
        "train": train,
        "prefix": dict(finetune.get("prefix", {})),
        "lora": dict(finetune.get("lora", {})),
        "base_hash": None,
    }, f"{path} (no run folder)"


def schedule_of(train: dict, batches_per_epoch: int) -> dict:
    """Steps the schedule spans, warm-up, evaluation cadence and step cap, from the recipe:
    `warmup_steps` and `eval_every_steps` as given, unless the optional `warmup_fraction`
    (warm-up = round(fraction × scheduled steps)) or `evals_per_epoch` (evaluate every
    max(1, batches_per_epoch // evals_per_epoch) steps) are present and positive."""
    max_steps = int(train.get("max_steps", 0))
    max_epochs = int(train.get("max_epochs", 0))
    total = max_steps if max_steps > 0 else max_epochs * batches_per_epoch
    warmup = int(train.get("warmup_steps", 0))
    if float(train.get("warmup_fraction", 0) or 0) > 0:
        warmup = int(math.floor(float(train["warmup_fraction"]) * total + 0.5))  # Rust's round()
    eval_every = int(train.get("eval_every_steps", 0))
    if int(train.get("evals_per_epoch", 0) or 0) > 0:
        eval_every = max(1, batches_per_epoch // int(train["evals_per_epoch"]))
    if eval_every <= 0:
        raise SystemExit("the recipe gives no evaluation cadence (eval_every_steps / evals_per_epoch)")
    return {"total_steps": total, "warmup_steps": warmup, "eval_every_steps": eval_every,
            "max_steps": max_steps if max_steps > 0 else None, "max_epochs": max_epochs}


def learning_rate(schedule: str, peak: float, step: int, warmup: int, total: int) -> float:
    """src/train/schedule.rs (HF's get_*_schedule_with_warmup)."""
    if step < warmup:
        return peak * step / max(warmup, 1)
    progress = (step - warmup) / max(total - warmup, 1)
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        return peak * max(0.5 * (1.0 + math.cos(math.pi * progress)), 0.0)
    return peak * max(1.0 - progress, 0.0)


# --------------------------------------------------------------------------------------------
# Strategies.


def trains(name: str, strategy: str, decoder_layers: int) -> bool:
    """src/strategy/ `Strategy::trains` on HF parameter names (base model only)."""
    if strategy == "custom":
        return True
    if strategy == "l-eo":
        return name == "model.shared.weight" or name.endswith("embed_positions.weight")
    if strategy == "l-ldb":
        return name.startswith(f"model.decoder.layers.{decoder_layers - 1}.")
    return False


class PrefixAttention:
    """tailor's prefix layout on HF BART: each prefixed attention module gets `prefix_key` /
    `prefix_value` parameters `[len, d_model]`, already projected; a custom attention function
    prepends them (split into heads) to the keys and values and opens them to every query."""

    NAME = "tailor_prefix"

    @classmethod
    def register(cls) -> None:
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask
        from transformers.models.bart.modeling_bart import eager_attention_forward

        def attention(module, query, key, value, attention_mask, **kwargs):
            prefix_k = getattr(module, "prefix_key", None)
            if prefix_k is not None:
                batch, heads, _, head_dim = key.shape
                split = lambda p: p.view(1, -1, heads, head_dim).transpose(1, 2).expand(batch, -1, -1, -1)  # noqa: E731
                key = torch.cat([split(prefix_k).to(key.dtype), key], dim=2)
                value = torch.cat([split(module.prefix_value).to(value.dtype), value], dim=2)
                if attention_mask is not None:
                    pad = attention_mask.new_zeros(*attention_mask.shape[:-1], prefix_k.shape[0])
                    if attention_mask.dtype == torch.bool:
                        pad = pad.logical_not()
                    attention_mask = torch.cat([pad, attention_mask], dim=-1)
            return eager_attention_forward(module, query, key, value, attention_mask, **kwargs)

        AttentionInterface.register(cls.NAME, attention)
        # Masks as for eager attention: transformers builds none for an attention function it
        # does not know, which would drop the decoder's causal mask.
        ALL_MASK_ATTENTION_FUNCTIONS.register(cls.NAME, eager_mask)


def prefixed_attentions(model, cross: bool):
    """(name, module) of every prefixed attention in tailor's order: encoder self-attention,
    then per decoder layer its self-attention (and cross-attention)."""
    out = [(f"model.encoder.layers.{i}.self_attn", layer.self_attn) for i, layer in enumerate(model.model.encoder.layers)]
    for i, layer in enumerate(model.model.decoder.layers):
        out.append((f"model.decoder.layers.{i}.self_attn", layer.self_attn))
        if cross:
            out.append((f"model.decoder.layers.{i}.encoder_attn", layer.encoder_attn))
    return out


def most_frequent_tokens(sequences, n: int) -> list[int]:
    counts: dict[int, int] = {}
    for seq in sequences:
        for t in seq:
            if t not in SPECIAL_IDS:
                counts[t] = counts.get(t, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [t for t, _ in ranked[:n]]


def init_prefixes(model, tokens: list[int], length: int, cross: bool) -> None:
    """src/strategy/prefix/init.rs: run the tokens (repeated to `length`, in chunks of at most
    `max_position_embeddings`) through the frozen model without dropout, once as encoder
    input and once as causal decoder input attending to the encoder's output of the same
    chunk; a layer's prefix is its own k_proj/v_proj of its input (cross-attention: of the
    encoder output)."""
    ids = [tokens[i % len(tokens)] for i in range(length)]
    chunk = model.config.max_position_embeddings
    attentions = prefixed_attentions(model, cross)
    captured: dict[str, list[list[torch.Tensor]]] = {name: [[], []] for name, _ in attentions}
    hooks = []
    for name, module in attentions:
        hooks.append(module.k_proj.register_forward_hook(lambda m, a, o, n=name: captured[n][0].append(o[0].detach())))
        hooks.append(module.v_proj.register_forward_hook(lambda m, a, o, n=name: captured[n][1].append(o[0].detach())))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, length, chunk):
            piece = torch.tensor([ids[start : start + chunk]], dtype=torch.long)
            model(input_ids=piece, decoder_input_ids=piece, use_cache=False)
    for h in hooks:
        h.remove()
    model.train(was_training)
    for name, module in attentions:
        keys, values = captured[name]
        module.prefix_key = torch.nn.Parameter(torch.cat(keys, dim=0)[:length].clone())
        module.prefix_value = torch.nn.Parameter(torch.cat(values, dim=0)[:length].clone())


def build_model(base: Path, strategy: str, recipe: dict, train_texts):
    attn = "eager"
    if strategy == "prefix":
        PrefixAttention.register()
        attn = PrefixAttention.NAME
    model, info = BartForConditionalGeneration.from_pretrained(base, attn_implementation=attn, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{base}: transformers reports {problems}")
    model = model.float()
    decoder_layers = model.config.decoder_layers
    for name, param in model.named_parameters():
        param.requires_grad_(trains(name, strategy, decoder_layers))
    if strategy == "lora":
        from peft import LoraConfig, get_peft_model

        lora = recipe["lora"]
        config = LoraConfig(
            r=int(lora.get("rank", 8)),
            lora_alpha=float(lora.get("alpha", 8.0)),
            lora_dropout=float(lora.get("dropout", 0.0)),
            target_modules=list(lora.get("targets", ["q_proj", "v_proj"])),
            bias="none",
        )
        model = get_peft_model(model, config)
    elif strategy == "prefix":
        prefix = recipe["prefix"]
        if int(prefix.get("mlp_hidden", 0) or 0) > 0:
            raise SystemExit("prefix with mlp_hidden > 0 (the MLP reparameterisation) is not covered by this check")
        length, cross = int(prefix.get("len", 200)), bool(prefix.get("cross_attention", False))
        tokens = most_frequent_tokens([s for pair in train_texts for s in pair], length)
        init_prefixes(model, tokens, length, cross)
    return model


def no_decay(name: str, module_types: dict[str, str]) -> bool:
    """src/train/trainer.rs `no_decay`: biases and LayerNorm parameters (HF Trainer's rule)."""
    owner = name.rsplit(".", 1)[0]
    return name.endswith(".bias") or module_types.get(owner) == "LayerNorm"


def load_tailor_best(model, best: Path, strategy: str) -> int:
    """Overwrite the model's trainable tensors with tailor's best adapter (adapter.safetensors:
    HF keys; LoRA at `…q_proj.lora_A.weight`; prefixes at `….prefix.key/value`). Returns the
    tensors loaded; every stored tensor must find its place."""
    stored = load_file(best / "adapter.safetensors")
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    loaded = 0
    with torch.no_grad():
        for key, value in stored.items():
            if strategy == "lora":
                target = params.get("base_model.model." + key.replace(".weight", ".default.weight"))
            elif strategy == "prefix":
                owner, _, leaf = key.rpartition(".prefix.")
                module = modules.get(owner)
                target = None if module is None else getattr(module, f"prefix_{leaf}", None)
            else:
                target = params.get(key)
                if target is None and key == "lm_head.weight":
                    target = params.get("model.shared.weight")
            if target is None or tuple(target.shape) != tuple(value.shape):
                raise SystemExit(f"{best}: tensor {key} {tuple(value.shape)} has no place in the PyTorch model")
            target.copy_(value.to(target.dtype))
            loaded += 1
    return loaded


# --------------------------------------------------------------------------------------------
# The loop: src/train/trainer.rs `train`.


def train_loop(model, train, valid, recipe: dict, order_mode: str, seed: int, decoder_start: int, log) -> dict:
    settings = recipe["train"]
    budget = int(settings["batch_tokens"])
    tseed = int(settings.get("seed", 0))
    lengths = [(len(i), len(t)) for i, t in train]
    valid_rows = [valid[i] for i in eval_indices(len(valid), int(settings.get("eval_examples", 0)), tseed)]
    plan = plan_epoch(lengths, budget, tseed, 0, order_mode, seed)
    sched = schedule_of(settings, len(plan))
    total, warmup, eval_every = sched["total_steps"], sched["warmup_steps"], sched["eval_every_steps"]
    max_steps = sched["max_steps"] or float("inf")
    max_epochs = sched["max_epochs"]
    patience = int(settings.get("patience", 0))
    clip = float(settings.get("grad_clip", 0.0))
    schedule = str(settings.get("schedule", "linear"))
    peak = float(settings["lr"])

    module_types = {name: type(m).__name__ for name, m in model.named_modules()}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise SystemExit("the strategy trains no parameter")
    decay = [p for n, p in trainable if not no_decay(n, module_types)]
    exempt = [p for n, p in trainable if no_decay(n, module_types)]
    groups = [{"params": decay, "weight_decay": float(settings.get("weight_decay", 0.0))}]
    if exempt:
        groups.append({"params": exempt, "weight_decay": 0.0})
    optim = torch.optim.AdamW(
        groups, lr=0.0, betas=(float(settings.get("beta1", 0.9)), float(settings.get("beta2", 0.999))),
        eps=float(settings.get("eps", 1e-8)), foreach=False,
    )
    params = [p for _, p in trainable]

    state = {"step": 0, "epoch": 0, "batch": 0, "best": None, "best_step": 0, "since_best": 0,
             "train_nll": 0.0, "train_tokens": 0, "curve": []}
    best_weights: dict[str, torch.Tensor] = {}

    def evaluation(lr: float) -> bool:
        val, _ = evaluate(model, valid_rows, budget, decoder_start)
        model.train()
        train_loss = state["train_nll"] / state["train_tokens"] if state["train_tokens"] else float("nan")
        state["train_nll"], state["train_tokens"] = 0.0, 0
        state["curve"].append({"step": state["step"], "train_loss": train_loss, "val_loss": val, "lr": lr})
        log(f"  step {state['step']:>5} · train {train_loss:.4f} · val {val:.4f} · lr {lr:.3e}")
        if state["best"] is None or val < state["best"]:
            state.update(best=val, best_step=state["step"], since_best=0)
            best_weights.clear()
            best_weights.update({n: p.detach().clone() for n, p in trainable})
        else:
            state["since_best"] += 1
        return patience > 0 and state["since_best"] >= patience

    model.train()
    evaluation(0.0)
    last_lr = 0.0
    while True:
        if max_epochs > 0 and state["epoch"] >= max_epochs:
            stop = "max_epochs"
            break
        if state["batch"] >= len(plan):
            state["epoch"] += 1
            state["batch"] = 0
            plan = plan_epoch(lengths, budget, tseed, state["epoch"], order_mode, seed)
            continue
        if state["step"] >= max_steps:
            stop = "max_steps"
            break
        rows = [train[i] for i in plan[state["batch"]]]
        batch = collate(rows, decoder_start)
        nll = nll_sum(model, batch)
        (nll / max(batch[5], 1)).backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        last_lr = learning_rate(schedule, peak, state["step"], warmup, total)
        for group in optim.param_groups:
            group["lr"] = last_lr
        optim.step()
        optim.zero_grad(set_to_none=True)
        value = float(nll.detach())
        if not math.isfinite(value):
            raise SystemExit(f"the training loss became {value} at step {state['step']}")
        state["train_nll"] += value
        state["train_tokens"] += batch[5]
        state["step"] += 1
        state["batch"] += 1
        if state["step"] % eval_every == 0 and evaluation(last_lr):
            stop = "early_stopping"
            break
    if state["step"] > 0 and state["curve"][-1]["step"] != state["step"]:
        evaluation(last_lr)
    with torch.no_grad():
        for n, p in trainable:
            p.copy_(best_weights[n])
    return {"stopped": stop, "steps": state["step"], "best_step": state["best_step"],
            "best_val_loss": state["best"], "curve": state["curve"], "schedule": sched,
            "batches_per_epoch": len(plan_epoch(lengths, budget, tseed, 0, order_mode, seed)),
            "trainable_params": sum(p.numel() for p in params)}


# --------------------------------------------------------------------------------------------


def read_examples(out: Path, ids: set[str]) -> dict[str, tuple[list[int], list[int]]]:
    table = pq.read_table(out / "tables" / "examples.parquet", columns=["pair_id", "input_ids", "target_ids"])
    pairs = table.column("pair_id").to_pylist()
    keep = [i for i, p in enumerate(pairs) if p in ids]
    inputs = table.column("input_ids").take(keep).to_pylist()
    targets = table.column("target_ids").take(keep).to_pylist()
    return {pairs[k]: (inputs[j], targets[j]) for j, k in enumerate(keep)}


def tailor_row(out: Path, project: str, strategy: str, fold: int) -> dict | None:
    path = out / "tables" / "finetune.parquet"
    if not path.exists():
        return None
    rows = [r for r in pq.read_table(path).to_pylist()
            if r["project_id"] == project and r["strategy"] == strategy and int(r["fold"]) == fold]
    return rows[-1] if rows else None


def tailor_curve(run_dir: Path) -> list[dict]:
    path = run_dir / "curve.parquet"
    if not path.exists():
        return []
    cols = ["step", "train_loss", "val_loss", "lr"]
    return [{c: r[c] for c in cols} for r in pq.read_table(path, columns=cols).to_pylist()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--strategy", required=True, choices=STRATEGIES)
    parser.add_argument("--tailor-row", action="store_true",
                        help="require tailor's row in OUT/tables/finetune.parquet (else: compare when present)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="max |tailor − PyTorch| test loss in nats (default 0.05; see docs/check-finetune.md)")
    parser.add_argument("--eval-tolerance", type=float, default=1e-4,
                        help="max |tailor row − tailor's best adapter evaluated in PyTorch|")
    parser.add_argument("--order", choices=("tailor", "shuffled"), default="tailor",
                        help="batch order: tailor's exact plan, or a fresh shuffle seeded by --seed")
    parser.add_argument("--seed", type=int, default=0, help="PyTorch's RNG (dropout, LoRA init) and --order shuffled")
    parser.add_argument("--base", type=Path, help="base model folder (default OUT/runs/baseline/<profile>/best)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the recipe's)")
    parser.add_argument("--json", type=Path, help="result file (default OUT/reports/check-finetune/<project>-<strategy>-fold<k>[-seed<N>].json)")
    parser.add_argument("--init-adapter", type=Path,
                        help="start from this tailor adapter's tensors (LoRA: tailor's own A draw, from a run with "
                             "finetune.train.max_steps=1 and warmup_steps=1, whose best/ is the untrained adapter)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    hf_logging.disable_progress_bar()
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))

    recipe, recipe_from = read_recipe(args.out, args.profile, args.project, args.fold, args.strategy)
    torch.set_num_threads(args.threads or int(recipe["train"].get("threads", 2)) or 2)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    fold_path = args.out / "runs" / "finetune" / args.profile / args.project / f"fold{args.fold}.json"
    parts = json.loads(fold_path.read_text(encoding="utf-8"))
    examples = read_examples(args.out, set(parts["train"]) | set(parts["valid"]) | set(parts["test"]))
    missing = [p for part in ("train", "valid", "test") for p in parts[part] if p not in examples]
    if missing:
        raise SystemExit(f"{len(missing)} pairs of {fold_path} are not in examples.parquet (e.g. {missing[:3]})")
    train, valid, test = ([examples[p] for p in parts[k]] for k in ("train", "valid", "test"))
    base = args.base or args.out / "runs" / "baseline" / args.profile / "best"
    run_dir = args.out / "runs" / "finetune" / args.profile / args.project / args.strategy / f"fold{args.fold}"
    row = tailor_row(args.out, args.project, args.strategy, args.fold)
    if args.tailor_row and (row is None or row.get("status") != "done"):
        raise SystemExit(f"no finished tailor row for {args.project}/{args.strategy}/fold{args.fold} in {args.out}/tables/finetune.parquet")
    budget = int(recipe["train"]["batch_tokens"])

    log(f"check-finetune: {args.project} fold {args.fold} {args.strategy}: {len(train)} train / {len(valid)} valid / "
        f"{len(test)} test pairs; recipe {recipe_from}; order {args.order}, seed {args.seed}")
    started = time.time()
    model = build_model(base, args.strategy, recipe, train)
    if args.init_adapter:
        log(f"  starting from {load_tailor_best(model, args.init_adapter, args.strategy)} tensors of {args.init_adapter}")
    decoder_start = int(model.config.decoder_start_token_id)
    base_test, test_tokens = evaluate(model, test, budget, decoder_start)
    outcome = train_loop(model, train, valid, recipe, args.order, args.seed, decoder_start, log)
    torch_test, _ = evaluate(model, test, budget, decoder_start)
    wall = time.time() - started

    result = {
        "project": args.project, "fold": args.fold, "strategy": args.strategy, "profile": args.profile,
        "recipe": recipe_from, "order": args.order, "seed": args.seed, "base": str(base),
        "init_adapter": str(args.init_adapter) if args.init_adapter else None,
        "train_examples": len(train), "valid_examples": len(valid), "test_examples": len(test),
        "test_tokens": test_tokens, "start_test_loss": base_test, "torch_test_loss": torch_test,
        "torch": {k: v for k, v in outcome.items() if k != "curve"}, "torch_curve": outcome["curve"],
        "wall_seconds": wall, "tolerance": args.tolerance, "eval_tolerance": args.eval_tolerance,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    if args.strategy == "lora":
        result["versions"]["peft"] = __import__("peft").__version__
    ok = True
    if row is not None and row.get("status") == "done":
        diff = torch_test - row["test_loss"]
        result.update({"tailor_test_loss": row["test_loss"], "difference": diff,
                       "tailor": {k: row[k] for k in ("steps", "best_val_loss", "test_tokens", "trainable_params", "epochs")},
                       "tailor_curve": tailor_curve(run_dir)})
        # The validation curves step by step (same steps when the recipe is the same).
        theirs = {p["step"]: p for p in result["tailor_curve"]}
        shared = [(p, theirs[p["step"]]) for p in outcome["curve"] if p["step"] in theirs]
        result["curve_steps_compared"] = len(shared)
        result["curve_max_abs_val_diff"] = max((abs(a["val_loss"] - b["val_loss"]) for a, b in shared), default=None)
        result["curve_max_abs_lr_diff"] = max((abs(a["lr"] - b["lr"]) for a, b in shared), default=None)
        ok = abs(diff) <= args.tolerance
        best = run_dir / "best"
        if (best / "adapter.safetensors").exists():
            reference = build_model(base, args.strategy, recipe, train)
            result["tailor_best_tensors"] = load_tailor_best(reference, best, args.strategy)
            own, _ = evaluate(reference, test, budget, decoder_start)
            result["tailor_best_in_torch"] = own
            result["eval_difference"] = own - row["test_loss"]
            ok = ok and abs(own - row["test_loss"]) <= args.eval_tolerance
        if row["test_tokens"] != test_tokens:
            result["problem"] = f"tailor counted {row['test_tokens']} test tokens, this script {test_tokens}"
            ok = False
    result["ok"] = ok

    suffix = f"-seed{args.seed}" if args.seed else ""
    suffix += "-shuffled" if args.order == "shuffled" else ""
    suffix += "-init" if args.init_adapter else ""
    path = args.json or args.out / "reports" / "check-finetune" / f"{args.project}-{args.strategy}-fold{args.fold}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"{args.project} fold {args.fold} {args.strategy}: start {base_test:.4f} · PyTorch {torch_test:.4f} "
          f"(best step {outcome['best_step']} of {outcome['steps']})", end="")
    if "tailor_test_loss" in result:
        print(f" · tailor {result['tailor_test_loss']:.4f} (best val {row['best_val_loss']:.4f}, {row['steps']} steps)"
              f" · difference {result['difference']:+.2e} (tolerance {args.tolerance})", end="")
        if "tailor_best_in_torch" in result:
            print(f" · tailor's best adapter in PyTorch {result['tailor_best_in_torch']:.5f} "
                  f"({result['eval_difference']:+.1e})", end="")
    print(f" · {'ok' if ok else 'FAIL'} · {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
