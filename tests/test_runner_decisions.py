"""The runner's stop, interrupt and replay decisions, against a fake kernel that scripts its replies.

nbclient's own tests drive ``NotebookClient`` with a mocked kernel client; here a fake kernel manager and client
(``_FakeManager``, ``_FakeClient``) stand in for Jupyter's, so ``runner.execute_notebook`` runs unchanged, in
seconds, without a real kernel or the sandbox. The only seam used is ``runner._KernelStart``, the object that says
which kernel manager class the runner starts: the test replaces it with one that hands out the fake.

Each student cell's source is a word that says what the fake kernel does with it (``_FakeKernel.run``):
``ok``; ``error NAME`` (the cell raises NAME); ``hang`` (never replies, yields to the interrupt); ``stubborn`` (never
replies, ignores the interrupt); ``flood`` (prints until interrupted); ``die`` (the kernel dies); ``malformed``
(a message without content). The export cell is recognised by its token and writes the files the real one writes.
The tests assert the runner's decisions: status, message, which cells each kernel ran, and ``exported`` as read
from the export folder.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from queue import Empty

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager

from autograder.execution import runner
from autograder.limits import Limits
from autograder.sandbox.cells import SETTLE_SOURCE
from autograder.sandbox.export_format import DONE_FILE, FACTS_FILE

_TOKEN = re.compile(r"write\('([0-9a-f]{32})'\)")
_ids = itertools.count()


class _Channel:
    """One of the kernel's channels as nbclient reads it: ``get_msg(timeout)`` raising ``Empty`` when nothing came."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()

    async def get_msg(self, timeout=None):
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            raise Empty from None


class _FakeKernel:
    """A kernel that answers each cell as its source says. ``log`` records (kernel number, cell source) in order."""

    log: list[tuple[int, str]] = []
    started = 0

    def __init__(self):
        _FakeKernel.started += 1
        self.number = _FakeKernel.started
        self.alive = True
        self.shell, self.iopub = _Channel(), _Channel()
        self.interrupted: asyncio.Event | None = None
        self.export_dir: Path | None = None
        self.tasks: list[asyncio.Task] = []
        self.spoiled = False

    def execute(self, source: str) -> str:
        msg_id = f"msg-{next(_ids)}"
        self.tasks.append(asyncio.ensure_future(self.run(source, msg_id)))
        return msg_id

    def _send(self, channel: _Channel, msg_type: str, content, msg_id: str) -> None:
        channel.queue.put_nowait({"msg_type": msg_type, "content": content, "parent_header": {"msg_id": msg_id},
                                  "header": {"msg_type": msg_type, "msg_id": f"reply-{next(_ids)}"}, "metadata": {}})

    def _finish(self, msg_id: str, error: tuple[str, str] | None = None) -> None:
        if error:
            content = {"ename": error[0], "evalue": error[1], "traceback": []}
            self._send(self.iopub, "error", content, msg_id)
            self._send(self.shell, "execute_reply", {**content, "status": "error"}, msg_id)
        else:
            self._send(self.shell, "execute_reply", {"status": "ok", "execution_count": 1}, msg_id)
        self._send(self.iopub, "status", {"execution_state": "idle"}, msg_id)

    async def run(self, source: str, msg_id: str) -> None:
        token = _TOKEN.search(source)
        word = "export" if token else source.split()[0] if source.split() else "ok"
        _FakeKernel.log.append((self.number, "export" if token else source))
        self._send(self.iopub, "status", {"execution_state": "busy"}, msg_id)
        if word == "export" and self.spoiled:  # replies ok and prints the token, but writes nothing
            self._send(self.iopub, "stream", {"name": "stdout", "text": token.group(1)}, msg_id)
            self._finish(msg_id)
        elif word == "export":
            folder = Path(re.search(r"_grader_export\(globals\(\), '([^']+)'\)", source).group(1))
            (folder / FACTS_FILE).write_text("{}")
            (folder / DONE_FILE).write_text(token.group(1))
            self._finish(msg_id)
        elif word == "error":
            self._finish(msg_id, (source.split()[1], " ".join(source.split()[2:]) or "raised by the cell"))
        elif word in ("hang", "stubborn"):
            self.interrupted = asyncio.Event()
            await self.interrupted.wait()
            if word == "hang":
                self._finish(msg_id, ("KeyboardInterrupt", ""))
            else:
                await asyncio.sleep(3600)  # ignores the interrupt: no reply, never idle
        elif word == "flood":
            self.interrupted = asyncio.Event()
            while not self.interrupted.is_set():
                self._send(self.iopub, "stream", {"name": "stdout", "text": "x" * 1000}, msg_id)
                await asyncio.sleep(0)
            self._finish(msg_id, ("KeyboardInterrupt", ""))
        elif word == "spoil":  # the first kernel's export will not write its files; a fresh kernel's will
            self.spoiled = self.number == 1
            self._finish(msg_id)
        elif word == "die":
            self.alive = False
        elif word == "malformed":
            self._send(self.iopub, "stream", "not a dict", msg_id)
            self._finish(msg_id)
        else:  # "ok", the grader's setup cell, the settle cell
            self._send(self.iopub, "stream", {"name": "stdout", "text": "done\n"}, msg_id)
            self._finish(msg_id)

    def interrupt(self) -> None:
        if self.interrupted is not None:
            self.interrupted.set()

    def stop(self) -> None:
        self.alive = False
        for task in self.tasks:
            task.cancel()


class _FakeClient:
    def __init__(self, kernel: _FakeKernel):
        self.kernel = kernel
        self.shell_channel, self.iopub_channel = kernel.shell, kernel.iopub

    def start_channels(self):
        return None

    async def wait_for_ready(self, timeout=None):
        return None

    def stop_channels(self):
        return None

    def execute(self, source, store_history=True, stop_on_error=False):
        return self.kernel.execute(source)

    async def is_alive(self):
        return self.kernel.alive


class _FakeManager(AsyncKernelManager):
    """What nbclient asks of a kernel manager, for the fake kernel (nbclient accepts only a KernelManager's subclass)."""

    kernel: _FakeKernel | None = None

    @property
    def ipykernel(self) -> bool:
        return False

    async def start_kernel(self, **kwargs):
        self.kernel = _FakeKernel()

    def client(self):
        return _FakeClient(self.kernel)

    async def is_alive(self):
        return self.kernel is not None and self.kernel.alive

    async def interrupt_kernel(self):
        self.kernel.interrupt()

    async def shutdown_kernel(self, now=False):
        self.kernel.stop()

    async def cleanup_resources(self):
        if self.kernel is not None:
            self.kernel.stop()


class _FakeStart:
    """Stands in for ``runner._KernelStart``: the fake manager, no start arguments, no CPU measured."""

    def __init__(self, job, limits):
        self.manager, self.arguments, self.cpu_file = _FakeManager, {}, None


LIMITS = Limits(timeout=2, interrupt_grace=1, export_timeout=5, settle_timeout=1, replay_slack=2,
                max_output_bytes=20_000)


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run a notebook whose student cells are ``sources`` through ``runner.execute_notebook``, on the fake kernel."""
    monkeypatch.setattr(runner, "_KernelStart", _FakeStart)
    _FakeKernel.log, _FakeKernel.started = [], 0

    def run_sources(*sources, limits=LIMITS):
        folders = {name: tmp_path / name for name in ("work", "export", "code", "runtime", "private")}
        for folder in folders.values():
            folder.mkdir(exist_ok=True)
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
        job = runner.Job(notebook="unused", **{name: str(path) for name, path in folders.items()},
                         limits=vars(limits), sandboxed=False)
        execution, _ = runner.execute_notebook(notebook, job)
        return execution, _by_kernel(_FakeKernel.log)

    return run_sources


def _by_kernel(log):
    """The student's cells and the export each kernel ran, in order, without the grader's setup and settle cells."""
    kernels: dict[int, list[str]] = {}
    for number, source in log:
        if source.startswith("ok") or source.split()[0] in ("error", "hang", "stubborn", "flood", "die", "malformed", "spoil", "export"):
            kernels.setdefault(number, []).append(source)
        elif source != SETTLE_SOURCE:
            kernels.setdefault(number, [])
    return kernels


def test_a_run_that_completes_exports_once_and_keeps_cell_errors(run):
    execution, kernels = run("ok 1", "error NameError name 'model' is not defined", "ok 3")
    assert (execution.status, execution.message, execution.exported) == ("completed", "", True)
    assert execution.cell_errors == ["cell 2: NameError: name 'model' is not defined"]
    assert kernels == {1: ["ok 1", "error NameError name 'model' is not defined", "ok 3", "export"]}
    assert "replay" not in execution.seconds


def test_a_cell_that_times_out_and_yields_skips_the_rest_and_exports_in_the_same_kernel(run):
    execution, kernels = run("ok 1", "hang", "ok 3")
    assert (execution.status, execution.exported) == ("timeout", True)
    assert execution.message == ("cell 2 was stopped: the time limit ran out; "
                                 "later cells were skipped and the work before it was graded")
    assert kernels == {1: ["ok 1", "hang", "export"]}  # no replay: nbclient's timeout reply is not the export's failure


def test_a_kernel_that_ignores_the_interrupt_is_dropped_and_the_cells_before_are_replayed(run):
    execution, kernels = run("ok 1", "stubborn", "ok 3")
    assert (execution.status, execution.exported) == ("timeout", True)
    assert execution.message.startswith("cell 2 was stopped: the time limit ran out")
    assert "its kernel ignored the interrupt and was stopped" in execution.message
    assert kernels == {1: ["ok 1", "stubborn"], 2: ["ok 1", "export"]}  # the export never ran in the first kernel
    assert "replay" in execution.seconds


def test_an_output_flood_is_stopped_by_the_output_limit_and_the_export_still_runs(run):
    execution, kernels = run("ok 1", "flood", "ok 3")
    assert (execution.status, execution.exported) == ("stopped", True)
    assert execution.message.startswith(f"cell 2 was stopped: it printed more than {LIMITS.describe_output()}")
    assert kernels == {1: ["ok 1", "flood", "export"]}


def test_a_dead_kernel_is_replaced_and_the_cells_before_the_death_replayed(run):
    execution, kernels = run("ok 1", "ok 2", "die", "ok 4")
    assert (execution.status, execution.exported) == ("dead", True)
    assert execution.message.startswith("the kernel died while running cell 3")
    assert kernels == {1: ["ok 1", "ok 2", "die"], 2: ["ok 1", "ok 2", "export"]}


def test_a_message_the_runner_cannot_read_stops_the_cell_like_a_limit(run):
    execution, kernels = run("ok 1", "malformed", "ok 3")
    assert (execution.status, execution.exported) == ("stopped", True)
    assert execution.message.startswith("cell 2 was stopped: its kernel sent the grader a 'stream' message without content")
    assert kernels == {1: ["ok 1", "malformed"], 2: ["ok 1", "export"]}


@pytest.mark.parametrize(("error", "expected"), [
    ("error MemoryError", f"it exceeded {LIMITS.describe_memory()}"),
    ("error BlockingIOError [Errno 11] Resource temporarily unavailable", "it started more processes than the process limit allows"),
    ("error OSError [Errno 28] No space left on device", f"it wrote more than {LIMITS.describe_disk()}"),
])
def test_an_error_that_is_a_sandbox_limit_stops_the_run(run, error, expected):
    execution, kernels = run("ok 1", error, "ok 3")
    assert (execution.status, execution.exported) == ("stopped", True)
    assert execution.message.startswith(f"cell 2 was stopped: {expected};")
    assert execution.cell_errors == []
    assert kernels == {1: ["ok 1", error, "export"]}


def test_exported_is_read_from_the_export_folder_not_from_the_cells(run):
    """An export cell that replies ok, and prints its token, but leaves no files is not exported: the notebook is
    run again in a fresh kernel, whose export is."""
    execution, kernels = run("ok 1", "spoil", "ok 3")
    assert (execution.status, execution.exported) == ("completed", True)
    assert execution.message == ("the grader's export did not finish in the first kernel, so the notebook was run "
                                 "again in a fresh kernel up to the stopped cell and exported")
    assert kernels == {1: ["ok 1", "spoil", "ok 3", "export"], 2: ["ok 1", "spoil", "ok 3", "export"]}


def test_an_export_that_never_finishes_is_not_exported(run, monkeypatch):
    monkeypatch.setattr(runner, "export_complete", lambda folder, token, limits: False)  # no export ever writes
    execution, kernels = run("ok 1")
    assert (execution.status, execution.exported) == ("completed", False)
    assert kernels == {1: ["ok 1", "export"], 2: ["ok 1", "export"]}


def test_export_complete_needs_the_token_and_the_facts(tmp_path):
    token = "ab" * 16
    assert not runner.export_complete(tmp_path, token, LIMITS)
    (tmp_path / DONE_FILE).write_text(token)
    assert not runner.export_complete(tmp_path, token, LIMITS)  # no facts
    (tmp_path / FACTS_FILE).write_text("{}")
    assert runner.export_complete(tmp_path, token, LIMITS)
    (tmp_path / DONE_FILE).write_text("cd" * 16)  # an earlier cell's guess
    assert not runner.export_complete(tmp_path, token, LIMITS)
    (tmp_path / DONE_FILE).unlink()
    (tmp_path / DONE_FILE).symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text(token)
    assert not runner.export_complete(tmp_path, token, LIMITS)  # a link is never followed
