"""Compares Methods2Test's pairs (m2t_reference.py's CSV) with tailor's `pairs.parquet`.

A pair is identified by (test_file, test_class, test_method, focal_file, focal_class,
focal_method): names, not signatures, because their scripts identify a focal method by its
name (they pick the first overload). Pairs found by both are further checked for the overload:
their `focal_parameters` against the parameter list at the end of our `focal_signature`
(whitespace ignored); a difference is reported as "both, other overload".

Prints the counts theirs-only / ours-only / both and lists the theirs-only pairs (issue 8:
every pair they map must be mapped by us, except documented heuristic errors) and, up to
`--show`, the ours-only pairs. `--fail-on-theirs-only` makes theirs-only pairs an error
(exit status 1), for scripted checks.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import polars as pl

KEY = ["test_file", "test_class", "test_method", "focal_file", "focal_class", "focal_method"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theirs", required=True, type=Path, help="m2t_reference.py's CSV")
    parser.add_argument("--ours", required=True, type=Path, help="tailor's pairs.parquet")
    parser.add_argument(
        "--project-id",
        help="project_id in pairs.parquet (needed when it holds several projects)",
    )
    parser.add_argument("--show", type=int, default=50, help="ours-only pairs to list")
    parser.add_argument("--json", type=Path, help="also write the comparison here as JSON")
    parser.add_argument("--fail-on-theirs-only", action="store_true")
    return parser.parse_args(argv)


def normalise_path(path: str) -> str:
    path = path.replace("\\", "/")
    return path[2:] if path.startswith("./") else path


def key(row: dict) -> tuple[str, ...]:
    return tuple(normalise_path(row[c]) if c.endswith("_file") else row[c] for c in KEY)


def read_theirs(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        missing = set(KEY + ["focal_parameters"]) - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"{path}: missing columns {sorted(missing)} (not m2t_reference.py's CSV?)")
        return list(reader)


def read_ours(path: Path, project_id: str | None) -> list[dict]:
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # polars raises several types for unreadable files
        raise SystemExit(f"{path}: cannot read as Parquet: {error}") from error
    missing = set(KEY + ["project_id", "focal_signature"]) - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)} (not tailor's pairs table?)")
    projects = sorted(frame["project_id"].unique().to_list())
    if project_id is None:
        if len(projects) > 1:
            raise SystemExit(f"{path} holds {len(projects)} projects; pick one with --project-id: {projects}")
    else:
        if project_id not in projects:
            raise SystemExit(f"{path}: no project_id {project_id!r}; it has {projects}")
        frame = frame.filter(pl.col("project_id") == project_id)
    return frame.select(KEY + ["focal_signature"]).to_dicts()


def parameters(signature: str, name: str) -> str:
    """The parameter list after `name` in a signature, balanced parentheses, whitespace removed."""
    match = re.search(rf"\b{re.escape(name)}\s*\(", signature)
    if not match:
        return ""
    depth, start = 0, match.end() - 1
    for index in range(start, len(signature)):
        depth += {"(": 1, ")": -1}.get(signature[index], 0)
        if depth == 0:
            return re.sub(r"\s+", "", signature[start : index + 1])
    return ""


def compare(theirs: list[dict], ours: list[dict]) -> dict:
    theirs_by_key = {key(row): row for row in theirs}
    ours_by_key = {key(row): row for row in ours}
    both = sorted(theirs_by_key.keys() & ours_by_key.keys())
    other_overload = [
        {
            "pair": dict(zip(KEY, k)),
            "theirs": theirs_by_key[k]["focal_parameters"],
            "ours": ours_by_key[k]["focal_signature"],
        }
        for k in both
        if re.sub(r"\s+", "", theirs_by_key[k]["focal_parameters"])
        != parameters(ours_by_key[k]["focal_signature"], k[KEY.index("focal_method")])
    ]
    return {
        "theirs": len(theirs_by_key),
        "ours": len(ours_by_key),
        "duplicates": {"theirs": len(theirs) - len(theirs_by_key), "ours": len(ours) - len(ours_by_key)},
        "both": len(both),
        "theirs_only": [dict(zip(KEY, k)) | {"heuristic": theirs_by_key[k].get("heuristic", "")}
                        for k in sorted(theirs_by_key.keys() - ours_by_key.keys())],
        "ours_only": [dict(zip(KEY, k)) for k in sorted(ours_by_key.keys() - theirs_by_key.keys())],
        "other_overload": other_overload,
    }


def describe(pair: dict) -> str:
    return (
        f"{pair['test_file']} {pair['test_class']}.{pair['test_method']} -> "
        f"{pair['focal_file']} {pair['focal_class']}.{pair['focal_method']}"
    )


def report(result: dict, show: int) -> None:
    print(
        f"pairs: theirs {result['theirs']}, ours {result['ours']}; both {result['both']}, "
        f"theirs-only {len(result['theirs_only'])}, ours-only {len(result['ours_only'])}, "
        f"both but other overload {len(result['other_overload'])}"
    )
    if any(result["duplicates"].values()):
        print(f"duplicate keys dropped: {result['duplicates']}")
    if result["theirs_only"]:
        print("theirs-only (mapped by methods2test, not by tailor):")
        for pair in result["theirs_only"]:
            print(f"  [{pair['heuristic']}] {describe(pair)}")
    if result["ours_only"]:
        print(f"ours-only (first {min(show, len(result['ours_only']))}):")
        for pair in result["ours_only"][:show]:
            print(f"  {describe(pair)}")
    for item in result["other_overload"]:
        print(f"other overload: {describe(item['pair'])}: theirs {item['theirs']}, ours {item['ours']}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    result = compare(read_theirs(args.theirs), read_ours(args.ours, args.project_id))
    report(result, args.show)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 1 if args.fail_on_theirs_only and result["theirs_only"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
