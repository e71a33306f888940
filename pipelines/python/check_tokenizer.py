"""Checks that Python loads tailor's tokenizer folder and gives tailor's ids.

`tailor examples --dump-texts FILE` writes real model inputs and targets with the ids tailor's
Rust `tokenizers` gave them (JSON lines: pair_id, split, kind, text, ids). This script loads the
folder three ways -- `tokenizers.Tokenizer.from_file(tokenizer.json)`,
`transformers.PreTrainedTokenizerFast.from_pretrained(dir)` and
`transformers.AutoTokenizer.from_pretrained(dir)` -- and requires, for every text, the same ids
from each, the same special-token ids (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask> last), and that
decoding the ids without special tokens gives the text back. Exits 1 on any mismatch, printing
the first few and the counts compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer-dir", required=True, type=Path)
    parser.add_argument("--texts", required=True, type=Path, help="tailor examples --dump-texts output")
    parser.add_argument("--show", type=int, default=5, help="mismatches to print")
    args = parser.parse_args(argv)

    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    directory = args.tokenizer_dir
    raw = Tokenizer.from_file(str(directory / "tokenizer.json"))
    fast = PreTrainedTokenizerFast.from_pretrained(str(directory))
    auto = AutoTokenizer.from_pretrained(str(directory))

    problems: list[str] = []
    size = raw.get_vocab_size(with_added_tokens=True)
    for name, tok in (("PreTrainedTokenizerFast", fast), ("AutoTokenizer", auto)):
        expected = {"bos": 0, "pad": 1, "eos": 2, "unk": 3, "mask": size - 1}
        found = {
            "bos": tok.bos_token_id,
            "pad": tok.pad_token_id,
            "eos": tok.eos_token_id,
            "unk": tok.unk_token_id,
            "mask": tok.mask_token_id,
        }
        if found != expected:
            problems.append(f"{name} special ids {found}, expected {expected}")
        if len(tok) != size:
            problems.append(f"{name} has {len(tok)} tokens, tokenizer.json {size}")
    for token, id_ in SPECIALS.items():
        if raw.token_to_id(token) != id_:
            problems.append(f"tokenizers: {token} has id {raw.token_to_id(token)}, expected {id_}")
    if raw.token_to_id("<mask>") != size - 1:
        problems.append(f"tokenizers: <mask> has id {raw.token_to_id('<mask>')}, expected {size - 1}")

    compared = {"input": 0, "target": 0}
    mismatched = 0
    tokens = 0
    with args.texts.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            row = json.loads(line)
            text, ids = row["text"], row["ids"]
            got = {
                "tokenizers": raw.encode(text).ids,
                "PreTrainedTokenizerFast": fast(text)["input_ids"],
                "AutoTokenizer": auto(text)["input_ids"],
            }
            decoded = fast.decode(ids, skip_special_tokens=True)
            bad = [name for name, value in got.items() if value != ids]
            if decoded != text:
                bad.append("decode")
            compared[row["kind"]] = compared.get(row["kind"], 0) + 1
            tokens += len(ids)
            if bad:
                mismatched += 1
                if mismatched <= args.show:
                    problems.append(
                        f"line {number} ({row['kind']} of pair {row['pair_id']}): {', '.join(bad)} differ"
                        f"\n  text: {text[:200]!r}\n  tailor: {ids[:30]}\n  python: {got['tokenizers'][:30]}"
                    )

    total = sum(compared.values())
    print(
        f"compared {total} texts ({compared['input']} inputs, {compared['target']} targets, "
        f"{tokens} tokens) with tokenizers, PreTrainedTokenizerFast and AutoTokenizer "
        f"(vocabulary {size}): {total - mismatched} identical, {mismatched} mismatched"
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    if total == 0:
        print(f"{args.texts}: no texts to compare", file=sys.stderr)
        return 1
    return 1 if problems or mismatched else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
