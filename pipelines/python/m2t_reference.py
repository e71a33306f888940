"""Runs Microsoft's Methods2Test mapping heuristics on one project folder; writes the pairs as CSV.

The reference is the published code itself, not a re-implementation: this harness imports
`scripts/find_map_test_cases.py` and `scripts/TestParser.py` from the user's own clone of
https://github.com/microsoft/methods2test (tailor ships none of its code) and calls its
`find_map_test_cases` on the folder. Two things are adapted, both outside the heuristics:

- tree-sitter set-up. `TestParser.__init__` loads a compiled grammar with the pre-0.22
  py-tree-sitter API (`Language(path, "java")`, `Parser.set_language`), which current
  py-tree-sitter no longer has; it is replaced by one that builds the same parser from the
  `tree-sitter-java` wheel (0.23.5, the grammar tailor links). Everything else in TestParser
  (the walk over top-level `class_declaration`s, `@Test` detection in modifiers, invocation
  names) runs unchanged.
- output. `export_mtc` writes one JSON file per mapped test case; it is replaced by a function
  that keeps the mapped test cases in memory so they can be written as one CSV.

`find_map_test_cases` changes the working directory to the project and shells out to
`grep -l -r @Test` and `find`, as published; the harness restores the working directory
afterwards. Its log (`log.txt`, per test class what was mapped and how) is copied next to the
CSV as `<csv>.log`. Their file reads use the locale's encoding: run with `PYTHONUTF8=1` (the
make target does) so results do not depend on the machine's locale.

CSV columns: test_file, test_class, test_method, focal_file, focal_class, focal_method,
focal_parameters, heuristic. Paths are relative to the project folder, as their scripts see
them. `heuristic` is `name` when the lower-cased test name with every "test" removed equals the
focal method's name (their first strategy), else `unique_call`: the same test their code applies.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

COLUMNS = [
    "test_file",
    "test_class",
    "test_method",
    "focal_file",
    "focal_class",
    "focal_method",
    "focal_parameters",
    "heuristic",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--m2t",
        required=True,
        type=Path,
        help="a clone of microsoft/methods2test (or its scripts/ folder)",
    )
    parser.add_argument("--project", required=True, type=Path, help="the Java project folder")
    parser.add_argument("--out", required=True, type=Path, help="CSV to write")
    return parser.parse_args(argv)


def scripts_folder(m2t: Path) -> Path:
    """The folder holding find_map_test_cases.py and TestParser.py."""
    for candidate in (m2t / "scripts", m2t):
        if (candidate / "find_map_test_cases.py").is_file() and (
            candidate / "TestParser.py"
        ).is_file():
            return candidate.resolve()
    raise SystemExit(
        f"{m2t}: no scripts/find_map_test_cases.py and scripts/TestParser.py here; "
        "pass a clone of https://github.com/microsoft/methods2test"
    )


def import_reference(scripts: Path) -> types.ModuleType:
    """Imports their modules with the tree-sitter set-up adapted (see the module doc)."""
    from tree_sitter import Language, Parser
    import tree_sitter_java

    java = Language(tree_sitter_java.language())
    sys.path.insert(0, str(scripts))
    import TestParser as test_parser_module  # their module

    def init(self, grammar_file, language):  # replaces TestParser.__init__
        del grammar_file, language  # the wheel's grammar replaces their compiled one
        self.parser = Parser(java)

    test_parser_module.TestParser.__init__ = init
    import find_map_test_cases as reference  # their module; imports the patched class

    return reference


def heuristic(test_method: str, focal_method: str) -> str:
    """Which of their two strategies mapped the pair (their name test, reproduced)."""
    return "name" if test_method.lower().replace("test", "") == focal_method.lower() else "unique_call"


def rows(mapped: list[list[dict]]) -> list[dict]:
    """One CSV row per mapped test case, from their in-memory records."""
    out = []
    for per_class in mapped:
        for mtc in per_class:
            test_case, focal = mtc["test_case"], mtc["focal_method"]
            out.append(
                {
                    "test_file": test_case["class"]["file"],
                    "test_class": test_case["class"]["identifier"],
                    "test_method": test_case["identifier"],
                    "focal_file": focal["class"]["file"],
                    "focal_class": focal["class"]["identifier"],
                    "focal_method": focal["identifier"],
                    "focal_parameters": focal["parameters"],
                    "heuristic": heuristic(test_case["identifier"], focal["identifier"]),
                }
            )
    return out


def run(m2t: Path, project: Path, out: Path) -> tuple[list[dict], tuple[int, int, int, int]]:
    if not project.is_dir():
        raise SystemExit(f"{project}: not a folder")
    reference = import_reference(scripts_folder(m2t))
    captured: list[list[dict]] = []
    reference.export_mtc = lambda repo, mtc_list, output: captured.extend(mtc_list)

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="m2t-") as output:
        try:
            stats = reference.find_map_test_cases(
                str(project.resolve()),
                None,  # grammar file: unused by the adapted TestParser
                "java",
                output,
                {"url": str(project), "repo_id": project.name},
            )
        finally:
            os.chdir(cwd)
        out.parent.mkdir(parents=True, exist_ok=True)
        log = Path(output) / "log.txt"
        if log.is_file():
            shutil.copyfile(log, out.with_name(out.name + ".log"))
    return rows(captured), stats


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    found, (test_classes, test_cases, mapped_classes, mapped_cases) = run(
        args.m2t, args.project, args.out
    )
    found.sort(key=lambda row: [row[c] for c in COLUMNS])
    with open(args.out, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(found)
    print(
        f"methods2test on {args.project}: {test_classes} test classes ({mapped_classes} mapped), "
        f"{test_cases} test cases, {mapped_cases} mapped -> {args.out}"
    )
    if test_classes == 0:
        print(
            f"  (zero test classes: their grep found no @Test, or failed; see {args.out}.log)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
