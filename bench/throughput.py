"""Grading throughput: our grader against stock ``otter run``, side by side in one run.

    .venv/bin/python bench/throughput.py [--copies 4] [--repeats 2] [--out bench/results]

The set: the reference solution ``--copies`` times plus every rubric fixture
(tests/fixtures/submissions). It is graded

  (a) by ``python -m autograder grade`` (``--repeats`` times, to show the scores do not move), and
  (b) by stock ``otter run`` with the autograder zip Otter Assign generates from the same master
      notebook, one submission after another, as Otter grades without Docker.

Reported: total wall time, median seconds per submission, peak memory per worker (the largest
resident set of one worker's processes, sampled from /proc every 0.2 s), how busy the machine's
cores were (from /proc/stat), and the throughput ratio (b)/(a) of wall times. ``--also-jobs N``
adds one more run of (a) with ``--jobs N``, to show what the default number of workers is worth;
``--also-cold`` one with ``--cold-kernels``, to show what forking kernels from the zygote is worth.
Also the time a student's structure check takes. Results go to ``--out`` as JSON and as a Markdown
table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
SOLUTION = ROOT / "solutions" / "fashion_mnist_keras.ipynb"
QUESTIONS = ("q1_load", "q2_model", "q3_compile", "q4_fit", "q5_evaluate", "q6_predict")


class PeakMemory:
    """Samples /proc every 0.2 s: the largest summed RSS of one group of processes.

    A group is the process tree of a process whose command line contains ``marker``. With
    ``namespaces``, a group also takes in every process in the PID namespaces its tree made: a
    kernel forked by the zygote lives in its sandbox's namespace but is the zygote's descendant.
    With ``single``, a group is one matching process on its own (the zygote: its handlers are
    forks that share its memory).
    """

    def __init__(self, marker: str, *, namespaces: bool = False, single: bool = False):
        self.marker, self.namespaces, self.single = marker, namespaces, single
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._host_namespace = os.readlink("/proc/self/ns/pid")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(0.2)

    def _sample(self) -> int:
        parents, rss, namespace, roots = {}, {}, {}, []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                namespace[int(entry.name)] = os.readlink(entry / "ns" / "pid")
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid = int(entry.name)
            parents[pid] = int(fields.get("PPid", "0").strip())
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
            if self.marker in command and namespace[pid] == self._host_namespace:
                roots.append(pid)
        if self.single:
            return max((rss[pid] for pid in roots), default=0)
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)

        def tree(pid) -> set[int]:
            return {pid}.union(*(tree(child) for child in children.get(pid, [])))

        roots_set = set(roots)
        groups = [tree(pid) for pid in roots if not _has_ancestor_in(parents, pid, roots_set)]
        if self.namespaces:
            for group in groups:
                made = {namespace[pid] for pid in group if pid in namespace} - {self._host_namespace}
                group.update(pid for pid, inode in namespace.items() if inode in made)
        return max((sum(rss.get(pid, 0) for pid in group) for group in groups), default=0)


class BusyCores:
    """The share of all cores' time spent busy (not idle or waiting for I/O), from /proc/stat."""

    def __enter__(self):
        self._start = self._read()
        return self

    def __exit__(self, *exc):
        busy, total = (end - start for end, start in zip(self._read(), self._start, strict=True))
        self.share = busy / total if total else 0.0

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)


def _has_ancestor_in(parents: dict, pid: int, candidates: set) -> bool:
    for _ in range(64):
        pid = parents.get(pid, 0)
        if pid in candidates:
            return True
        if pid <= 1:
            return False
    return False


def build_otter_zip(scratch: Path) -> Path:
    """Otter Assign's own autograder zip for the same master notebook (generate switched on)."""
    stage = scratch / "master"
    stage.mkdir()
    master = (ROOT / "assignment" / "fashion_mnist_keras.ipynb").read_text()
    (stage / "fashion_mnist_keras.ipynb").write_text(master.replace("generate: false", "generate: true"))
    shutil.copytree(ROOT / "autograder" / "rubric", stage / "rubric", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(PYTHON), "-m", "otter", "assign", "fashion_mnist_keras.ipynb", str(scratch / "dist"),
                    "--no-run-tests"], cwd=stage, check=True, capture_output=True)
    [archive] = (scratch / "dist" / "autograder").glob("*.zip")
    return archive


def submission_set(folder: Path, copies: int) -> list[Path]:
    folder.mkdir()
    for index in range(1, copies + 1):
        shutil.copyfile(SOLUTION, folder / f"reference_{index}.ipynb")
    for fixture in sorted(FIXTURES.glob("*.ipynb")):
        shutil.copyfile(fixture, folder / fixture.name)
    return sorted(folder.glob("*.ipynb"))


def run_ours(folder: Path, out: Path, options: tuple[str, ...] = ()) -> dict:
    started = time.monotonic()
    command = [str(PYTHON), "-m", "autograder", "grade", str(folder), "--out", str(out), *options]
    with (PeakMemory("autograder.execution.runner", namespaces=True) as memory,
          PeakMemory("multiprocessing.spawn") as inspector,
          PeakMemory("kernel_zygote.py", single=True) as zygote, BusyCores() as busy):
        completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"our grader failed: {completed.stderr[-2000:]}")
    seconds = [json.loads(p.read_text())["seconds"] for p in out.glob("submissions/*/grade.json")]
    with (out / "grades.csv").open() as stream:
        scores = {row["submission"]: [row["score"], *(row[q] for q in QUESTIONS)] for row in csv.DictReader(stream)}
    return {"wall_s": round(wall, 1), "median_s": round(statistics.median(seconds), 1),
            "peak_worker_bytes": memory.peak, "peak_inspector_bytes": inspector.peak,
            "peak_zygote_bytes": zygote.peak, "busy_cores": round(busy.share, 3),
            "options": " ".join(options),
            "scores": scores}


def run_otter(archive: Path, submissions: list[Path], scratch: Path) -> dict:
    seconds, totals = [], {}
    started = time.monotonic()
    with PeakMemory("otter run") as memory, BusyCores() as busy:
        for submission in submissions:
            out = scratch / submission.stem
            out.mkdir(parents=True)
            shutil.copyfile(submission, out / submission.name)
            began = time.monotonic()
            subprocess.run([str(ROOT / ".venv" / "bin" / "otter"), "run", "-a", str(archive), "-o", str(out),
                            submission.name], cwd=out, capture_output=True, text=True)
            seconds.append(time.monotonic() - began)
            results = out / "results.json"
            totals[submission.name] = (sum(t.get("score") or 0 for t in json.loads(results.read_text())["tests"])
                                       if results.is_file() else None)
    return {"wall_s": round(time.monotonic() - started, 1), "median_s": round(statistics.median(seconds), 1),
            "peak_worker_bytes": memory.peak, "busy_cores": round(busy.share, 3), "public_test_points": totals}


def structure_check_seconds() -> float:
    """Seconds for grader.check("q2_model") in the student template, model already built."""
    code = """
import time, otter
from tensorflow import keras
grader = otter.Notebook("fashion_mnist_keras.ipynb")
model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
started = time.perf_counter()
grader.check("q2_model")
print("SECONDS", time.perf_counter() - started)
"""
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT / "student_template", scratch, dirs_exist_ok=True)
        completed = subprocess.run([str(PYTHON), "-c", code], cwd=scratch, capture_output=True, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = next(line for line in completed.stdout.splitlines() if line.startswith("SECONDS"))
    return round(float(line.split()[1]), 3)


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return (f"{os.cpu_count()} cores ({model}), {memory / 1024**2:.0f} GiB, {platform.platform()}, "
            f"Python {platform.python_version()}")


def markdown(report: dict) -> str:
    ours, otter = report["ours"][0], report["otter"]
    gib = lambda b: f"{b / 1024**3:.2f} GiB"  # noqa: E731
    rows = [
        "| grader | submissions | total wall time | median per submission | peak memory per worker | cores busy | "
        "throughput |",
        "|---|---|---|---|---|---|---|",
        f"| stock `otter run`, one after another | {report['submissions']} | {otter['wall_s']:.0f} s | "
        f"{otter['median_s']:.0f} s | {gib(otter['peak_worker_bytes'])} | {otter['busy_cores']:.0%} | 1.00x |",
    ]
    for index, run in enumerate(report["ours"] + report["ours_other"], start=1):
        name = f"run {index}" if index <= len(report["ours"]) else f"`{run['options']}`"
        rows.append(f"| `python -m autograder grade` ({name}) | {report['submissions']} | {run['wall_s']:.0f} s | "
                    f"{run['median_s']:.0f} s | {gib(run['peak_worker_bytes'])} | {run['busy_cores']:.0%} | "
                    f"**{otter['wall_s'] / run['wall_s']:.2f}x** |")
    rows += ["", "- Our grader also runs one trusted inspector process for the whole batch (TensorFlow and the test "
             f"set loaded once): peak {gib(ours['peak_inspector_bytes'])}; and one kernel zygote (TensorFlow imported "
             f"once, kernels forked from it): peak {gib(ours['peak_zygote_bytes'])}.",
             f"- Scores identical across our {len(report['ours']) + len(report['ours_other'])} runs: "
             f"**{report['scores_identical']}**",
             f"- Student structure check, `grader.check(\"q2_model\")`: {report['structure_check_s']:.3f} s",
             f"- Machine: {report['machine']}", f"- Measured {report['date']} with `{report['command']}`"]
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the reference solution in the set")
    parser.add_argument("--repeats", type=int, default=2, help="runs of our grader (scores must not move)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N submissions (a quick trial)")
    parser.add_argument("--also-jobs", type=int, default=None, help="one more run of our grader with --jobs N")
    parser.add_argument("--also-cold", action="store_true", help="one more run of our grader with --cold-kernels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        submissions = submission_set(scratch / "set", args.copies)
        for extra in submissions[args.limit:] if args.limit else []:
            extra.unlink()
        submissions = submissions[:args.limit] if args.limit else submissions
        archive = build_otter_zip(scratch)
        print(f"grading {len(submissions)} submissions with stock otter run ...", flush=True)
        otter = run_otter(archive, submissions, scratch / "otter")
        ours = []
        for repeat in range(args.repeats):
            print(f"grading them with python -m autograder grade (run {repeat + 1}) ...", flush=True)
            ours.append(run_ours(scratch / "set", scratch / f"ours-{repeat}"))
        other = []
        if args.also_jobs:
            print(f"grading them with python -m autograder grade --jobs {args.also_jobs} ...", flush=True)
            other.append(run_ours(scratch / "set", scratch / "ours-jobs", ("--jobs", str(args.also_jobs))))
        if args.also_cold:
            print("grading them with python -m autograder grade --cold-kernels ...", flush=True)
            other.append(run_ours(scratch / "set", scratch / "ours-cold", ("--cold-kernels",)))
    report = {
        "submissions": len(submissions), "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/throughput.py " + " ".join(sys.argv[1:]),
        "otter": otter, "ours": ours, "ours_other": other, "structure_check_s": structure_check_seconds(),
        "scores_identical": all(run["scores"] == ours[0]["scores"] for run in ours + other),
        "throughput_ratio": round(otter["wall_s"] / ours[0]["wall_s"], 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "throughput.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if report["scores_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
