"""What reading and scanning a large notebook costs the grader: peak memory and wall time.

    .venv/bin/python bench/scan_cost.py [--out bench/results]

Builds four notebooks (file sizes) as an attacker or an honest student with big outputs would: one code cell of 3 MB,
one of 49 MB (just under the 50 MiB cap), 49 MB of saved outputs under a small cell, and 500 KB of code, just under the
scan's cap, which is therefore scanned. Each is read and scanned as ``grade`` does before it runs anything
(``trusted.capped.read_and_scan``: a worker under ``Limits.read_memory_bytes`` and the read and scan timeouts), in a
fresh process per notebook, after one small notebook has started the worker server. Reported per notebook: wall time,
the grader's own peak resident memory (its process, holding the notebook it gets back), the worker's peak, and what came
out (flags or the ``invalid`` message). The issue's figure for the old in-process scan of the 3 MB notebook was 2.9 GB
and 2 minutes. Results go to ``--out`` as JSON and as a Markdown table for BENCHMARKS.md. """

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
CASES = {  # name -> (kind, size of the .ipynb file in bytes)
    "3 MB of code in one cell": ("code", 3 * MB),
    "49 MB of code in one cell": ("code", 49 * MB),
    "49 MB of saved outputs": ("outputs", 49 * MB),
    "500 KB of code in one cell (just under the scan's cap: scanned)": ("code", 500 * 1000),
}
LINE = "x = [1, 2, 3] + [value * 2 for value in range(10)]\n"


def build(kind: str, file_bytes: int, path: Path) -> None:
    """A notebook of about ``file_bytes`` on disk: one cell of code, or a small cell with that much output."""
    import nbformat

    def write(lines: int) -> int:
        if kind == "code":
            cells = [nbformat.v4.new_code_cell(LINE * lines)]
        else:
            cells = [nbformat.v4.new_code_cell("print('x')")]
            cells[0].outputs = [nbformat.v4.new_output("stream", text=("x" * 99 + "\n") * lines)]
        path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))
        return path.stat().st_size

    per_line = write(1000) / 1000  # JSON's quoting and the list of lines: scale to the file size asked for
    write(int(file_bytes / per_line))


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
            "grader_peak_mb": round(_high_water() / MB),
            "worker_peak_mb": None if worker is None else round(worker / MB)}


def _high_water() -> int:
    """This process's peak resident memory since it started (VmHWM; ru_maxrss would include its parent's at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one notebook, in a fresh process
    parser.add_argument("--build", nargs=3, help=argparse.SUPPRESS)  # internal: kind, bytes, path
    args = parser.parse_args()
    if args.build:
        build(args.build[0], int(args.build[1]), Path(args.build[2]))
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, size) in CASES.items():
            path = Path(folder) / f"{kind}-{size}.ipynb"
            subprocess.run([str(PYTHON), __file__, "--build", kind, str(size), str(path)], check=True, cwd=ROOT)
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
              f"{'-' if r['worker_peak_mb'] is None else str(r['worker_peak_mb']) + ' MB'} | "
              f"{r['outcome']} |" for r in rows]
    (args.out / "scan_cost.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    print(f"load average (1, 5, 15 min) at the end: {report['load_average_1_5_15']} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
