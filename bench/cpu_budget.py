"""Where the CPU goes when a batch is graded: core-seconds per notebook, by process.

    .venv/bin/python bench/cpu_budget.py [--copies 4] [--jobs 2] [--cold-kernels]

Grades ``--copies`` copies of the reference solution and reports, per notebook, the CPU time of its
sandbox (the kernel with the student's cells), read from the sandbox's own cgroup; the CPU time of
the grader's own processes (the command itself, which writes the reports, the runner that drives
each kernel from outside the sandbox, and the trusted inspector); the CPU time of the kernel zygote (its one TensorFlow
import per batch, and forking the kernels' handlers); and, for scale, what importing TensorFlow and Keras
costs a fresh process. On a machine that is busy all the time, wall time is this CPU total divided by
the number of cores, so it says what any further speed-up has to remove. Needs root and cgroups
(v1 with ``cpuacct``, or v2), like the grader's own limits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import grade  # noqa: E402
from autograder.execution import confine, run, warm_kernels  # noqa: E402
from autograder.limits import Limits  # noqa: E402

SOLUTION = ROOT / "solutions" / "fashion_mnist_keras.ipynb"


class MeteredGroup(confine.ResourceGroup):
    """The grader's cgroup for one sandbox, plus a CPU account read just before it is removed."""

    seconds: list[float] = []

    def __init__(self, limits_: Limits):
        super().__init__(limits_)
        self._usage_file = None
        v2 = next((path for path in self.paths if (path / "cpu.stat").is_file()), None)
        if v2 is not None:
            self._usage_file = v2 / "cpu.stat"
        elif (confine.CGROUP_ROOT / "cpuacct").is_dir() and self.paths:
            group = confine.CGROUP_ROOT / "cpuacct" / self.paths[0].name
            group.mkdir()
            self.paths.append(group)
            self._usage_file = group / "cpuacct.usage"

    def close(self) -> None:
        if self._usage_file is not None:
            text = self._usage_file.read_text()
            if self._usage_file.name == "cpu.stat":
                MeteredGroup.seconds.append(int(text.split("usage_usec")[1].split()[0]) / 1e6)
            else:
                MeteredGroup.seconds.append(int(text) / 1e9)
            self._usage_file = None
        super().close()


class MeteredZygote:
    """The grader's kernel zygote, plus its own CPU time read just before it stops.

    Its own: its children's times would count each kernel's training again, since a handler reaps
    its kernel. A handler's own work (taking on the sandbox and forking the kernel) is milliseconds.
    """

    seconds: list[float] = []
    original = staticmethod(warm_kernels.kernel_zygote)

    @classmethod
    @contextlib.contextmanager
    def start(cls, threads: int, limits_: Limits = Limits()):  # noqa: B008 - Limits is frozen: one shared default is safe
        with cls.original(threads, limits_) as zygote:
            try:
                yield zygote
            finally:
                if zygote is not None:
                    pid = zygote.process.pid
                    [server] = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
                    fields = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
                    ticks = int(fields[11]) + int(fields[12])  # utime, stime
                    cls.seconds.append(ticks / os.sysconf("SC_CLK_TCK"))


def import_seconds() -> float:
    """CPU seconds a fresh process spends importing TensorFlow and Keras."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import tensorflow, keras"], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cold-kernels", action="store_true", help="every kernel imports TensorFlow itself (no "
                                                                    "zygote)")
    args = parser.parse_args()
    run.ResourceGroup = MeteredGroup
    grade.kernel_zygote = MeteredZygote.start
    tensorflow_import = import_seconds()
    with tempfile.TemporaryDirectory(prefix="cpu-budget-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "set").mkdir()
        for index in range(1, args.copies + 1):
            shutil.copyfile(SOLUTION, scratch / "set" / f"reference_{index}.ipynb")
        before_self, before_children = (resource.getrusage(who)
                                        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        started = time.monotonic()
        grade.main(paths=[scratch / "set"], out=scratch / "out", jobs=args.jobs, quiet=True,
                   warm_kernels=not args.cold_kernels)
        wall = time.monotonic() - started
        after_self, after_children = (resource.getrusage(who)
                                       for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    cpu = lambda before, after: (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)  # noqa: E731
    sandboxes = MeteredGroup.seconds
    if len(sandboxes) != args.copies:
        raise SystemExit(f"measured {len(sandboxes)} sandboxes for {args.copies} notebooks: are cgroups writable here?")
    own = cpu(before_self, after_self) + cpu(before_children, after_children)
    report = {
        "notebooks": args.copies, "jobs": args.jobs, "kernels": "cold" if args.cold_kernels else "forked from the "
                                                                                                 "zygote",
        "wall_s": round(wall, 1),
        "sandbox_core_s_median": round(statistics.median(sandboxes), 2),
        "sandbox_core_s": [round(s, 2) for s in sandboxes],
        "grader_processes_core_s_per_notebook": round(own / args.copies, 2),
        "kernel_zygote_core_s_per_batch": round(sum(MeteredZygote.seconds), 2),
        "tensorflow_keras_import_core_s": round(tensorflow_import, 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
