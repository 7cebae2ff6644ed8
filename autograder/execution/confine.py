"""Enforce a submission's limits (``limits.Limits``) on the processes and folders of its sandbox.

Three layers, each used where the machine allows it:
- rlimits, set by a tiny exec shim (this file run as a script) so they bind the
  sandbox from its first instruction: RLIMIT_DATA turns a memory bomb into a
  ``MemoryError`` the kernel survives; RLIMIT_FSIZE caps any one file; no core dumps.
- a cgroup (v2, or v1 ``pids`` and ``memory``), joined by the same shim before it execs:
  a process cap that stops a fork bomb, and a hard memory backstop for the whole tree. The
  same group measures the sandbox's CPU time (v2 ``cpu.stat``, v1 ``cpuacct``), which the
  runner reads around each cell: a measurement nothing inside the sandbox can alias or edit.
- size-capped tmpfs mounts as the sandbox's only writable folders (``ScratchSpace``),
  owned by the sandbox's unprivileged user.
Whatever cannot be enforced is reported to the instructor, never silently skipped.
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
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class ResourceGroup:
    """A cgroup for one submission, or nothing (with the reason) where cgroups are not writable."""

    def __init__(self, limits):
        self.paths: list[Path] = []
        self.problem: str | None = None
        self.cpu_file: Path | None = None  # the group's CPU time: v2 cpu.stat, v1 cpuacct.usage (read_cpu_seconds)
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        try:
            if (CGROUP_ROOT / "cgroup.controllers").is_file():  # cgroup v2
                group = CGROUP_ROOT / name
                group.mkdir()
                self.paths.append(group)
                (group / "pids.max").write_text(str(limits.max_processes))
                (group / "memory.max").write_text(str(limits.memory_bytes + limits.max_disk_bytes))
                if (group / "cpu.stat").is_file():  # a core file of every v2 group, controller or not
                    self.cpu_file = group / "cpu.stat"
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
            self.problem = ("the process cap and the memory backstop are not enforced: cgroups are not writable here "
                            f"({error.strerror})")
            return
        if self.cpu_file is None and not (CGROUP_ROOT / "cgroup.controllers").is_file():
            self._join_cpuacct(name)

    def _join_cpuacct(self, name: str) -> None:
        """cgroup v1: a cpuacct group beside the others, where the controller is mounted (it only measures)."""
        group = CGROUP_ROOT / "cpuacct" / name
        try:
            group.mkdir()
        except OSError:
            return  # the CPU flag is then unavailable, and the run says so (execution.run)
        self.paths.append(group)
        self.cpu_file = group / "cpuacct.usage"

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths]

    def out_of_memory(self) -> bool:
        for path in self.paths:
            for name in ("memory.events", "memory.oom_control"):
                if (path / name).is_file():
                    text = (path / name).read_text()
                    if any(line.split()[0] in ("oom_kill", "oom") and line.split()[1] != "0"
                           for line in text.splitlines()):
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


def read_cpu_seconds(cpu_file: str | Path) -> float | None:
    """Core-seconds used so far by every process that was in the group: v2 ``usage_usec``, v1 nanoseconds."""
    try:
        text = Path(cpu_file).read_text()
        if Path(cpu_file).name == "cpu.stat":
            return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec ")) / 1e6
        return int(text.strip()) / 1e9
    except (OSError, ValueError, IndexError, StopIteration):
        return None


class ScratchSpace:
    """One submission's folders on the host, in a private folder only the host can enter.

    ``work`` (the notebook's working folder, capped at the disk limit) and ``export`` (where
    the grader's export cell writes, capped separately so that a notebook that fills its disk
    still gets its earlier work exported) are the sandbox's only writable folders: each a
    size-capped tmpfs where one can be mounted, owned by the sandbox's user. ``code`` and
    ``runtime`` (the kernel's connection file) are bound read-only; ``private`` never enters
    the sandbox. The host reads nothing from ``work`` and reads ``export`` only through
    ``trusted.safe_files``.
    """

    def __init__(self, limits, *, owner: tuple[int, int] | None = None):
        self.path = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.work, self.export = self.path / "work", self.path / "export"
        self.code, self.runtime, self.private = self.path / "code", self.path / "runtime", self.path / "private"
        self.mounts: list[Path] = []
        self.problem: str | None = None
        for folder, size in ((self.work, limits.max_disk_bytes), (self.export, limits.export_bytes)):
            folder.mkdir()
            if os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755,nosuid,nodev", "tmpfs", str(folder)],
                capture_output=True,
            ).returncode == 0:
                self.mounts.append(folder)
            if owner is not None:
                os.chown(folder, *owner)
        for folder in (self.code, self.runtime, self.private):
            folder.mkdir(mode=0o755)
        if self.work not in self.mounts:
            self.problem = (f"disk use is capped per file only ({limits.max_disk_bytes // 2**20} MB): no size-capped "
                            "tmpfs here (needs root)")

    def close(self) -> None:
        for folder in self.mounts:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)  # fd-based: never follows a link the sandbox left


SECCOMP_FD = "{seccomp_fd}"  # in ``argv``, replaced by the descriptor the shim opens on ``seccomp``


def confine_command(argv: list[str], limits, cgroup_procs, *, seccomp: Path | None = None) -> list[str]:
    """``argv`` prefixed by the shim that applies rlimits and joins the cgroups (their ``cgroup.procs`` files) before
    exec.

    With ``seccomp``, the shim opens that file and puts its descriptor where ``argv`` says ``SECCOMP_FD``
    (bubblewrap's ``--seccomp FD``). The shim is this file run as a script, so it needs nothing on the
    child's PYTHONPATH.
    """
    shim = [sys.executable, str(Path(__file__).resolve()), str(limits.memory_bytes), str(limits.max_disk_bytes)]
    for procs in cgroup_procs:
        shim += ["--cgroup", procs]
    if seccomp is not None:
        shim += ["--seccomp", str(seccomp)]
    return [*shim, "--", *argv]


def _exec_confined(args: list[str]) -> None:
    memory, file_size, rest = int(args[0]), int(args[1]), args[2:]
    while rest and rest[0] == "--cgroup":
        Path(rest[1]).write_text(str(os.getpid()))
        rest = rest[2:]
    descriptor = None
    if rest and rest[0] == "--seccomp":
        descriptor = os.open(rest[1], os.O_RDONLY)
        os.set_inheritable(descriptor, True)
        rest = rest[2:]
    command = [str(descriptor) if part == SECCOMP_FD else part for part in rest[1:]]  # after "--"
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized file fails with an OSError, not a killed kernel
    os.execvp(command[0], command)


if __name__ == "__main__":
    _exec_confined(sys.argv[1:])
