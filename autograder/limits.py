"""Every limit and budget of a grading run, in one place.

The command line takes its defaults from ``Limits``; the host side of execution
(``execution``), the trusted inspector (``trusted.inspector``) and the messages that name a
limit all read them from here. The enforcement lives beside the code that needs it:
``execution.confine`` (rlimits, cgroups, capped tmpfs), ``execution.runner`` (time and
output), ``trusted.inspector`` (inspection time and memory), ``trusted.capped`` (reading and scanning
a notebook).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GiB, MiB = 1024**3, 1024**2


@dataclass(frozen=True)
class Limits:
    # The student's notebook, in the sandbox.
    timeout: float = 15 * 60  # seconds of wall-clock time for all the student's cells together
    memory_bytes: int = 4 * GiB  # RLIMIT_DATA of every process in the sandbox; the cgroup backs it up
    max_processes: int = 512  # tasks in the sandbox's cgroup, threads included: TensorFlow and the kernel use ~100
    max_output_bytes: int = 20 * MiB  # printed output kept from the student's cells; past it the cell is interrupted
    max_disk_bytes: int = 2 * GiB  # the working folder's tmpfs, and RLIMIT_FSIZE for any one file

    # The grader's own steps around the student's cells.
    export_timeout: float = 120  # seconds for the export cell: saving the lesson's model and arrays takes a few
    export_bytes: int = 1 * GiB  # the export folder's tmpfs: ~450 MB of arrays for the lesson
    kill_grace: float = 120  # past the run's budget (``run_budget``), the runner is killed outright
    settle_timeout: float = 30  # the pause before the export in which a late interrupt for a flood lands
    interrupt_grace: float = 10  # seconds a timed-out cell's kernel has to yield to the interrupt before it is killed
    replay_slack: float = 30  # a replay may take as long as its cells took the first time, plus 10% and this
    export_output_bytes: int = 64 * 1024  # the export cell's own output budget: its errors, whatever the cells printed
    max_message_bytes: int = 64 * MiB  # any one message from the kernel; a larger one is refused by the socket
    zygote_start: float = 120  # seconds for the kernel zygote to import TensorFlow before kernels start cold

    # The trusted inspector, per submission, counted from the start of that inspection.
    inspection_timeout: float = 600  # seconds to load, describe and evaluate one exported model
    # RLIMIT_AS of an inspector process: TensorFlow reserves ~3 GB of address space
    inspection_memory_bytes: int = 6 * GiB
    inspector_start: float = 300  # seconds for a new inspector process to import TensorFlow and say it is ready
    inspector_stop_grace: float = 5  # seconds for an inspector process to leave when asked, before it is killed

    # What the grader reads from a submission, and from the sandbox (through ``trusted.safe_files``).
    max_notebook_bytes: int = 50 * MiB  # a submitted notebook, or the one inside an export zip
    max_record_bytes: int = 128 * MiB  # the runner's record, the executed notebook included
    max_array_bytes: int = 512 * MiB  # one exported array: x_train as float64 is 376 MB
    max_model_bytes: int = 200 * MiB  # the exported .keras file
    # The kernel's facts and problems: ~2 KB from a lesson. Up to this size the export's schema judges each value,
    # so a 10 MB history key costs the history (its fact), not the whole export.
    max_json_bytes: int = 32 * MiB
    max_json_depth: int = 64  # nesting of any JSON read from a submission or an export

    # Reading and scanning a submitted notebook, in a worker of its own (``trusted.capped``).
    read_timeout: float = 120  # seconds to read and validate the notebook: a 49 MB one takes a few (BENCHMARKS.md)
    read_memory_bytes: int = 2 * GiB  # RLIMIT_AS of that worker, for the read and the scan
    scan_timeout: float = 60  # seconds for the integrity scan of the notebook's code
    max_scan_source_bytes: int = 512 * 1024  # code scanned at most: syntax trees cost ~300 bytes per byte of code

    def describe_memory(self) -> str:
        return f"the {self.memory_bytes / GiB:g} GiB memory limit"

    def describe_disk(self) -> str:
        return f"the {self.max_disk_bytes / GiB:g} GiB disk limit"

    def describe_output(self) -> str:
        return f"the {self.max_output_bytes // MiB} MB output limit"

    @property
    def run_budget(self) -> float:
        """Seconds after which the runner itself is killed: the cells and the export, once more for a replay
        (a dead kernel or a failed export), the pause before an export, and a grace period."""
        return 2 * (self.timeout + self.export_timeout + self.settle_timeout) + self.kill_grace


# The flag "claimed training inconsistent with the CPU spent" (trusted.training_cpu): a notebook whose export
# claims N training steps while its cells used less than this share of what N steps cost the reference, as
# calibration measured it, is flagged for the instructor. Honest training costs about the reference's
# figure or more (steps_per_execution, threads and a slower machine only add); a forged step count costs
# next to nothing. Claims that would cost the reference under MIN_CHECKED_TRAINING_CPU core-seconds are too
# small to tell from measurement noise and are not checked.
TRAINING_CPU_SHARE = 0.25
MIN_CHECKED_TRAINING_CPU = 2.0

TYPICAL_WORKER_BYTES = 2 * GiB  # a graded lesson notebook peaks at 1.7 to 2 GiB (BENCHMARKS.md)


def plan_workers(requested: int | None, tasks: int) -> tuple[int, int]:
    """(jobs, TensorFlow threads per job); never more jobs than tasks.

    By default one job per core plus one: while one worker's kernel starts or its result is
    checked, the spare worker keeps the cores busy (BENCHMARKS.md). The default also stays
    within the memory available for about 2 GiB per job. Each job gets its share of the cores
    for TensorFlow, at least one thread.
    """
    cores = os.cpu_count() or 1
    default = max(1, min(cores + 1, _available_memory() // TYPICAL_WORKER_BYTES))
    jobs = max(1, min(requested or default, tasks))
    return jobs, max(1, cores // jobs)


def _available_memory() -> int:
    """MemAvailable from /proc/meminfo; unlimited where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 1 << 62

# Gradescope's results.json for one student, pictures included. Its specification states no size; the plots
# (two PNGs of ~30-60 KB as base64) are dropped, with a note, past this, so a page always loads quickly.
GRADESCOPE_RESULTS_BYTES = 512 * 1024
