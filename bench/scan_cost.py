"""What reading and scanning a large notebook costs the grader: peak memory and wall time.

    .venv/bin/python bench/scan_cost.py [--out bench/results]

Builds three notebooks just as an attacker or an honest student with big outputs would: one code
cell of 3 MB, one code cell of 49 MB (just under the 50 MB cap), and 49 MB of saved outputs under
a small cell. Each is read and scanned as ``grade`` does before it runs anything
(``trusted.capped.read_and_scan``: a worker under ``Limits.read_memory_bytes`` and the read and
scan timeouts), in a fresh process per notebook, after one small notebook has started the
worker server. Reported per notebook: wall time, the grader's own peak resident memory (its
process, holding the notebook it gets back), the worker's peak, and what came out (flags or the
``invalid`` message). The issue's figure for the old in-process scan of the 3 MB notebook was
2.9 GB and 2 minutes. Results go to ``--out`` as JSON and as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
MB = 1000 * 1000
CASES = {  # name -> (kind, bytes)
    "3 MB of code in one cell": ("code", 3 * MB),
    "49 MB of code in one cell": ("code", 49 * MB),
    "49 MB of saved outputs": ("outputs", 49 * MB),
}


def build(kind: str, size: int, path: Path) -> None:
    import nbformat

    line = "x = [1, 2, 3] + [value * 2 for value in range(10)]\n"
    if kind == "code":
        cells = [nbformat.v4.new_code_cell(line * (size // len(line)))]
    else:
        cells = [nbformat.v4.new_code_cell("print('x')")]
        cells[0].outputs = [nbformat.v4.new_output("stream", text=("x" * 99 + "\n") * (size // 100))]
    path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))


def measure(path: Path) -> dict:
    """In this process: read and scan ``path`` as ``grade`` does; the figures as a dict."""
    sys.path.insert(0, str(ROOT))
    from autograder.exceptions import InvalidSubmission
    from autograder.limits import Limits
    from autograder.trusted.capped import read_and_scan
    from autograder.trusted.load_submission import Submission

    with tempfile.TemporaryDirectory() as folder:  # start the worker server first: its one-off start is not the cost
        small = Path(folder) / "small.ipynb"
        build("code", 100, small)
        read_and_scan(Submission("small.ipynb", small, ""))
    started = time.monotonic()
    try:
        read = read_and_scan(Submission(path.name, path, ""), Limits())
        outcome, worker = "; ".join(read.flags) or "no flag", read.peak_bytes
    except InvalidSubmission as error:
        outcome, worker = f"invalid: {error}", None
    return {"seconds": round(time.monotonic() - started, 2), "outcome": outcome[:160],
            "grader_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB),
            "worker_peak_mb": None if worker is None else round(worker / MB)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one notebook, in a fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, size) in CASES.items():
            path = Path(folder) / f"{kind}-{size}.ipynb"
            build(kind, size, path)
            done = subprocess.run([str(PYTHON), __file__, "--measure", str(path)], capture_output=True, text=True,
                                  check=True, cwd=ROOT)
            rows.append({"notebook": name, "file_mb": round(path.stat().st_size / MB, 1),
                         **json.loads(done.stdout.strip().splitlines()[-1])})
            print(rows[-1], file=sys.stderr)
    load = os.getloadavg()
    report = {"cases": rows, "load_average_1_5_15": [round(v, 2) for v in load], "cores": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scan_cost.json").write_text(json.dumps(report, indent=2) + "\n")
    table = ["| notebook | file | wall time | grader's peak memory | worker's peak memory | outcome |",
             "|---|---|---|---|---|---|"]
    table += [f"| {r['notebook']} | {r['file_mb']} MB | {r['seconds']} s | {r['grader_peak_mb']} MB | "
              f"{'-' if r['worker_peak_mb'] is None else str(r['worker_peak_mb']) + ' MB'} | {r['outcome']} |" for r in rows]
    (args.out / "scan_cost.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    print(f"load average (1, 5, 15 min) at the end: {report['load_average_1_5_15']} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
