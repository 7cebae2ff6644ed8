"""Resource limits for one submission: memory, processes, file sizes, disk.

Three layers, each used where the machine allows it:
- rlimits, set by a tiny exec shim (this file run as a script) so they bind the
  sandbox from its first instruction: RLIMIT_DATA turns a memory bomb into a
  ``MemoryError`` the kernel survives; RLIMIT_FSIZE caps any one file; no core dumps.
- a cgroup (v2, or v1 ``pids`` and ``memory``), joined by the same shim before it execs:
  a process cap that stops a fork bomb, and a hard memory backstop for the whole tree.
- a size-capped tmpfs as the submission's only writable folder (``ScratchSpace``).
Whatever cannot be enforced is reported, never silently skipped.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

GiB, MiB = 1024**3, 1024**2
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    timeout: float = 15 * 60  # seconds for the student's cells
    memory_bytes: int = 4 * GiB
    max_processes: int = 512  # tasks, threads included: TensorFlow and the kernel use ~100
    max_output_bytes: int = 20 * MiB
    max_disk_bytes: int = 2 * GiB  # the exported arrays alone can take ~450 MB

    def describe_memory(self) -> str:
        return f"the {self.memory_bytes / GiB:g} GiB memory limit"

    def describe_disk(self) -> str:
        return f"the {self.max_disk_bytes / GiB:g} GiB disk limit"


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


class ResourceGroup:
    """A cgroup for one submission, or nothing (with the reason) where cgroups are not writable."""

    def __init__(self, limits: Limits):
        self.paths: list[Path] = []
        self.problem: str | None = None
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        try:
            if (CGROUP_ROOT / "cgroup.controllers").is_file():  # cgroup v2
                group = CGROUP_ROOT / name
                group.mkdir()
                self.paths.append(group)
                (group / "pids.max").write_text(str(limits.max_processes))
                (group / "memory.max").write_text(str(limits.memory_bytes + limits.max_disk_bytes))
            else:  # cgroup v1
                for controller, settings in (
                    ("pids", {"pids.max": limits.max_processes}),
                    ("memory", {"memory.limit_in_bytes": limits.memory_bytes + limits.max_disk_bytes}),
                ):
                    group = CGROUP_ROOT / controller / name
                    group.mkdir()
                    self.paths.append(group)
                    for key, value in settings.items():
                        (group / key).write_text(str(value))
        except OSError as error:
            self.close()
            self.problem = f"process and memory caps not enforced: cgroups are not writable here ({error.strerror})"

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths]

    def out_of_memory(self) -> bool:
        for path in self.paths:
            for name in ("memory.events", "memory.oom_control"):
                if (path / name).is_file():
                    text = (path / name).read_text()
                    if any(line.split()[0] in ("oom_kill", "oom") and line.split()[1] != "0" for line in text.splitlines()):
                        return True
        return False

    def close(self) -> None:
        """Kill whatever is left in the group and remove it."""
        for path in self.paths:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.1)
            try:
                path.rmdir()
            except OSError:
                pass
        self.paths = []


RESULTS_BYTES = 1 * GiB  # the grader's own outputs: the export (~450 MB of arrays) and the executed notebook


class ScratchSpace:
    """Private folders for one submission, each a size-capped tmpfs where one can be mounted.

    ``work`` is the notebook's working folder, capped at the disk limit. ``results`` is where the
    grader's code in the sandbox writes the export and the executed notebook: a separate cap, so a
    notebook that fills its disk still gets its earlier work exported and graded.
    """

    def __init__(self, limits: Limits):
        self.path = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.work, self.results = self.path / "work", self.path / "results"
        self.mounts: list[Path] = []
        self.problem: str | None = None
        for folder, size in ((self.work, limits.max_disk_bytes), (self.results, RESULTS_BYTES)):
            folder.mkdir()
            if os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)], capture_output=True,
            ).returncode == 0:
                self.mounts.append(folder)
        if self.work not in self.mounts:
            self.problem = f"disk use capped per file only ({limits.max_disk_bytes // MiB} MB): no size-capped tmpfs here"

    def close(self) -> None:
        for folder in self.mounts:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)


def confine_command(argv: list[str], limits: Limits, group: ResourceGroup) -> list[str]:
    """``argv`` prefixed by the shim that applies rlimits and joins ``group`` before exec.

    The shim is this file run as a script, so it needs nothing on the child's PYTHONPATH.
    """
    shim = [sys.executable, str(Path(__file__).resolve()), str(limits.memory_bytes), str(limits.max_disk_bytes)]
    for procs in group.procs_files:
        shim += ["--cgroup", procs]
    return [*shim, "--", *argv]


def _exec_confined(args: list[str]) -> None:
    memory, file_size, rest = int(args[0]), int(args[1]), args[2:]
    while rest and rest[0] == "--cgroup":
        Path(rest[1]).write_text(str(os.getpid()))
        rest = rest[2:]
    command = rest[1:]  # after "--"
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized file fails with an OSError, not a killed kernel
    os.execvp(command[0], command)


if __name__ == "__main__":
    _exec_confined(sys.argv[1:])
