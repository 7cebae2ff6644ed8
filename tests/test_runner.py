"""The runner's decisions, in seconds and without TensorFlow: whether the export finished (read from its files,
never from a cell's outputs), what happens to a kernel that ignores the interrupt at the time limit, and which
limit stopped a cell when two fired."""

import asyncio
import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder.execution import run, runner
from autograder.limits import Limits
from autograder.sandbox.export_format import DONE_FILE, FACTS_FILE

TOKEN = "0123456789abcdef0123456789abcdef"


def _export_folder(tmp_path, token=TOKEN, facts=True) -> Path:
    folder = tmp_path / "export"
    folder.mkdir(parents=True)
    if facts:
        (folder / FACTS_FILE).write_text("{}")
    if token is not None:
        (folder / DONE_FILE).write_text(token)
    return folder


def test_the_export_is_complete_only_with_its_own_token_and_its_facts(tmp_path):
    assert runner.export_complete(_export_folder(tmp_path / "a"), TOKEN, Limits())
    assert not runner.export_complete(_export_folder(tmp_path / "b", token=None), TOKEN, Limits())
    assert not runner.export_complete(_export_folder(tmp_path / "c", token="f" * 32), TOKEN, Limits())
    assert not runner.export_complete(_export_folder(tmp_path / "d", facts=False), TOKEN, Limits())


def test_a_linked_or_fifo_marker_is_not_an_export(tmp_path):
    linked = _export_folder(tmp_path / "a", token=None)
    (tmp_path / "elsewhere").write_text(TOKEN)
    (linked / DONE_FILE).symlink_to(tmp_path / "elsewhere")
    assert not runner.export_complete(linked, TOKEN, Limits())
    fifo = _export_folder(tmp_path / "b", token=None)
    os.mkfifo(fifo / DONE_FILE)
    assert not runner.export_complete(fifo, TOKEN, Limits())  # and returns at once: a FIFO is never opened to block


class _Manager:
    """A kernel manager that only counts interrupts."""

    def __init__(self):
        self.interrupts = 0

    async def interrupt_kernel(self):
        self.interrupts += 1


def _client(limits: Limits) -> runner._LimitedClient:
    client = runner._LimitedClient(nbformat.v4.new_notebook(), limits=limits, km=_Manager(), interrupt_on_timeout=True)
    client.start_cell()
    return client


def _flood(client, cell_index=1):
    client._charge({"content": {"text": "x" * 200}}, cell_index)


def test_a_flood_stopped_by_the_output_limit_is_reported_so_even_if_time_also_ran_out():
    """Under load (--jobs 2) a flood's interrupt can land after the time limit: the output limit fired first."""
    limits = Limits(max_output_bytes=100)

    async def flood_then_time_out():
        client = _client(limits)
        _flood(client)
        await client._async_handle_timeout(5)
        await asyncio.sleep(0)
        return client

    client = asyncio.run(flood_then_time_out())
    assert client.km.interrupts == 2 and client.first_limit == "output"
    assert runner._stop_reason(client, "KeyboardInterrupt: ", True, limits) == (
        "stopped", f"it printed more than {limits.describe_output()}")


def test_a_cell_that_ran_out_of_time_first_is_reported_as_the_time_limit_even_if_it_then_flooded():
    limits = Limits(max_output_bytes=100)

    async def time_out_then_flood():
        client = _client(limits)
        await client._async_handle_timeout(5)
        _flood(client)
        await asyncio.sleep(0)
        return client

    client = asyncio.run(time_out_then_flood())
    assert client.first_limit == "time" and client.timed_out
    assert runner._stop_reason(client, None, True, limits) == ("timeout", "the time limit ran out")


def test_each_cell_starts_with_no_limit_fired():
    client = _client(Limits())
    client.first_limit, client.timed_out, client.went_idle = "time", True, True
    client.start_cell()
    assert (client.first_limit, client.timed_out, client.went_idle) == (None, False, False)


# Sleeping, not spinning: the runner sees the same (no reply until interrupted), and the suite keeps its cores.
SPIN_IGNORING_SIGINT = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
SPIN = "import time\nwhile True:\n    time.sleep(0.1)"


def _execute(tmp_path, sources, limits, monkeypatch):
    """Run ``sources`` with the real runner in a plain kernel (no sandbox; a setup cell without TensorFlow)."""
    monkeypatch.setattr(runner, "setup_source", lambda threads, seed: "# the grader's setup, without TensorFlow")
    folders = {name: tmp_path / name for name in ("work", "export", "code", "runtime", "private")}
    for folder in folders.values():
        folder.mkdir()
    run.stage_code(folders["code"])
    job = runner.Job(notebook="", **{name: str(folder) for name, folder in folders.items()}, limits={},
                     sandboxed=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    monkeypatch.setattr(runner.Job, "limits_", lambda self: limits)
    execution, _ = runner.execute_notebook(notebook, job)
    return execution, folders["export"]


LIMITS = Limits(timeout=10, interrupt_grace=2, export_timeout=30, replay_slack=20)


@pytest.mark.slow  # a real kernel, ~15 s: test_runner_decisions.py checks the same decision in seconds
def test_a_kernel_that_ignores_the_interrupt_is_killed_and_the_work_before_it_is_replayed_and_exported(
        tmp_path, monkeypatch):
    execution, export = _execute(tmp_path, ["test_acc = 0.5", SPIN_IGNORING_SIGINT, "test_acc = 0.9"], LIMITS,
                                 monkeypatch)
    assert execution.status == "timeout" and execution.exported, execution
    assert "cell 2 was stopped: the time limit ran out" in execution.message
    assert "ignored the interrupt and was stopped" in execution.message
    assert "replay" in execution.seconds
    # the export never waited behind the spinning kernel: the first run took the time limit and the grace, no more
    assert execution.seconds["run"] < LIMITS.timeout + LIMITS.interrupt_grace + 10 < LIMITS.export_timeout
    assert json.loads((export / FACTS_FILE).read_text())["test_acc"]["value"] == 0.5  # the cell before it, replayed


@pytest.mark.slow  # a real kernel, ~10 s: test_runner_decisions.py checks the same decision in seconds
def test_a_kernel_that_yields_to_the_interrupt_exports_in_place(tmp_path, monkeypatch):
    execution, export = _execute(tmp_path, ["test_acc = 0.5", SPIN], LIMITS, monkeypatch)
    assert execution.status == "timeout" and execution.exported and "replay" not in execution.seconds, execution
    assert (export / DONE_FILE).is_file()


@pytest.mark.slow  # a real kernel, ~10 s
def test_an_export_that_times_out_is_not_taken_as_done(tmp_path, monkeypatch):
    """nbclient answers a timed-out cell with a reply of its own and no error output: the export's files decide."""
    slow_save = "import time, numpy\nx_train = numpy.zeros(3)\nnumpy.save = lambda *args, **kwargs: time.sleep(60)"
    limits = Limits(timeout=60, interrupt_grace=1, export_timeout=3, replay_slack=20)
    execution, export = _execute(tmp_path, [slow_save], limits, monkeypatch)
    assert execution.status == "completed" and not execution.exported, execution
    assert "replay" in execution.seconds and "export did not finish" in execution.message
    assert not (export / DONE_FILE).exists()
