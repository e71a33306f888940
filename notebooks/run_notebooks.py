"""Execute notebooks headless (nbclient) against a tailor output folder; exit non-zero on any
cell error. The notebooks stay output-free in git; executed copies go to OUT/notebooks/.

    python notebooks/run_notebooks.py --out out/smoke --profile smoke notebooks/*.ipynb
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="tailor output folder (with tables/ and runs/)")
    parser.add_argument("--profile", required=True, help="training profile of the runs (smoke, cpu, paper)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()

    out = Path(args.out).resolve()
    if not (out / "tables" / "metrics.parquet").exists():
        print(f"{out}/tables/metrics.parquet is missing: run `make evaluate OUT={args.out} PROFILE={args.profile}` first",
              file=sys.stderr)
        return 2
    # The notebooks read these; the kernel inherits the environment.
    os.environ["TAILOR_OUT"] = str(out)
    os.environ["TAILOR_PROFILE"] = args.profile
    executed = out / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        try:
            client.execute()
            print(f"ok      {path}")
        except CellExecutionError as err:
            failed.append(path)
            print(f"FAILED  {path}\n{err}", file=sys.stderr)
        nbformat.write(notebook, executed / path.name)
    print(f"executed copies: {executed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
