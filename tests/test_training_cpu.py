"""The flag from a trusted measurement: the sandbox's CPU time per cell, read from its cgroup on the host,
against the training the export claims. The comparison, the record's validation and calibration's figures
run without TensorFlow; one sandboxed run (no training, a busy loop) shows the measurement itself."""

import contextlib
import json
import math

import nbformat
import pytest

from autograder import calibrate, reference
from autograder.execution import bubblewrap, run
from autograder.execution.confine import ResourceGroup, ScratchSpace, read_cpu_seconds
from autograder.execution.runner import Execution, _charge_cpu
from autograder.limits import MIN_CHECKED_TRAINING_CPU, TRAINING_CPU_SHARE, Limits
from autograder.rubric.facts import HistoryFacts, ModelFacts, SubmissionFacts
from autograder.trusted.training_cpu import PHRASE, claimed_steps, training_cpu_flag

# What calibration measured for the reference, in the record's own words (seconds_per_step x 15,000 = 13.5).
REFERENCE = {"seconds_per_step": 0.0009, "other_cells": 2.0}


def _facts(iterations=None, epochs=None, steps=None) -> SubmissionFacts:
    return SubmissionFacts(model=ModelFacts(defined=True, optimizer_iterations=iterations),
                           history=HistoryFacts(defined=True, epochs_recorded=epochs, steps_per_epoch=steps))


def test_the_claim_is_the_larger_of_the_optimizer_and_the_history():
    assert claimed_steps(_facts(15000)) == 15000
    assert claimed_steps(_facts(1, epochs=10, steps=1500)) == 15000  # a History edited to claim the lesson
    assert claimed_steps(_facts(15000, epochs=1, steps=1)) == 15000
    assert claimed_steps(_facts()) is None and claimed_steps(_facts(0)) is None


def test_a_claim_paid_for_in_a_fraction_of_the_cpu_is_flagged_with_the_figures():
    flag = training_cpu_flag(15000, 3.2, REFERENCE)  # one real step, the rest forged: 1.2 s beyond the other cells
    assert flag == (f"{PHRASE}: the notebook claims 15,000 steps but the sandbox used 3.2 core-seconds, about 9% of "
                    f"what they cost the reference (13.5 core-seconds for 15,000 steps, besides 2.0 for its other cells)")


@pytest.mark.parametrize("steps, cpu, why", [
    (15000, 15.5, "the lesson's training at the reference's cost"),
    (15000, 2.0 + 13.5 * TRAINING_CPU_SHARE, "exactly the limit"),
    (15000, 8.0, "a faster machine, or training without evaluating: still far above a forgery"),
    (30000, 40.0, "twice the lesson, paid for"),
    (1000, 0.5, "a claim too small to tell from noise"),
    (None, 0.1, "no claim"),
    (15000, None, "CPU not measured (no cgroup): no figure, no guess"),
])
def test_honest_or_unmeasured_runs_are_not_flagged(steps, cpu, why):
    assert training_cpu_flag(steps, cpu, REFERENCE) is None, why


def test_without_the_reference_figure_nothing_is_guessed():
    assert training_cpu_flag(15000, 0.1, None) is None


def test_the_smallest_checked_claim_is_a_named_limit():
    smallest = math.ceil(MIN_CHECKED_TRAINING_CPU / REFERENCE["seconds_per_step"])
    assert training_cpu_flag(smallest, 0.0, REFERENCE) and training_cpu_flag(smallest - 10, 0.0, REFERENCE) is None


@pytest.mark.parametrize("cell_cpu", [
    [1.0], {"7": float("nan")}, {"7": -1.0}, {"7": 1e12}, {"x": 1.0}, {"7": "1.0"}, {"7": True}, {"1" * 10: 1.0},
])
def test_the_record_refuses_cpu_times_that_are_not_measurements(cell_cpu):
    with pytest.raises(ValueError, match="CPU times"):
        Execution.from_dict({"status": "completed", "message": "", "cell_cpu": cell_cpu})


def test_the_record_keeps_measured_cpu_and_an_older_record_has_none():
    record = Execution.from_dict({"status": "completed", "message": "", "cell_cpu": {"3": 1, "7": 12.5}})
    assert record.cell_cpu == {"3": 1.0, "7": 12.5} and record.cpu_seconds == 13.5
    assert Execution.from_dict({"status": "completed", "message": ""}).cpu_seconds is None


def test_cells_are_charged_by_the_students_number_over_runs_and_the_graders_own_cells_are_not():
    execution = Execution(cell_cpu={})
    _charge_cpu(execution, None, 0.0, 4.0)  # the grader's setup cell (imports TensorFlow)
    _charge_cpu(execution, 7, 4.0, 5.5)
    _charge_cpu(execution, 7, 10.0, 11.0)  # the same cell again, in a replay
    assert execution.cell_cpu == {"7": 2.5}
    _charge_cpu(execution, 8, 11.0, None)  # the group could not be read: no figure rather than a wrong one
    assert execution.cell_cpu is None and execution.cpu_seconds is None


def test_cgroup_files_of_both_versions_are_read(tmp_path):
    (tmp_path / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    (tmp_path / "cpuacct.usage").write_text("1500000000\n")
    assert read_cpu_seconds(tmp_path / "cpu.stat") == 2.5 and read_cpu_seconds(tmp_path / "cpuacct.usage") == 1.5
    (tmp_path / "cpuacct.usage").write_text("garbage")
    assert read_cpu_seconds(tmp_path / "cpuacct.usage") is None and read_cpu_seconds(tmp_path / "absent") is None


class _Run:
    def __init__(self, cells, iterations):
        self.cell_cpu, self.facts = cells, _facts(iterations)


def test_calibration_keeps_the_cheapest_seed_for_each_figure():
    runs = [_Run({"1": 1.5, "2": 0.2, "4": 14.0, "5": 0.8}, 15000), _Run({"1": 1.2, "2": 0.1, "4": 13.5, "5": 0.9}, 15000)]
    figures = calibrate._training_cpu(runs)
    assert figures["seconds_per_step"] == 0.0009 and figures["other_cells"] == 2.2
    assert figures["training_seconds"] == [14.0, 13.5] and figures["steps"] == 15000
    assert calibrate._training_cpu([_Run(None, 15000), *runs]) is None  # one seed unmeasured: no figure


def test_the_reference_figures_are_read_from_calibrations_record(tmp_path, monkeypatch):
    path = tmp_path / "reference_metrics.json"
    monkeypatch.setattr(reference, "REFERENCE_METRICS", path)
    for record, expected in [({"training_cpu": {"seconds_per_step": 0.0009, "other_cells": 2.2, "steps": 15000}},
                              {"seconds_per_step": 0.0009, "other_cells": 2.2}),
                             ({"training_cpu": None}, None), ({}, None),
                             ({"training_cpu": {"seconds_per_step": 0, "other_cells": 2}}, None)]:
        path.write_text(json.dumps(record))
        reference._metrics.cache_clear()
        assert reference.reference_training_cpu() == expected
    reference._metrics.cache_clear()


def test_the_recorded_reference_figure_is_the_lessons_order_of_magnitude():
    figures = reference.reference_training_cpu()
    assert figures is not None, "solutions/reference_metrics.json has no training_cpu: run `make calibrate`"
    assert 2.0 < figures["seconds_per_step"] * 15000 < 60.0  # the issue measured about 13 core-seconds


def _cpu_unmeasured() -> bool:
    group = ResourceGroup(Limits())
    group.close()
    return group.cpu_file is None


BUSY = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end:\n    pass"
FORKS = """import os, time
def spin():
    end = time.process_time() + 1.0
    while time.process_time() < end:
        pass
if os.fork() == 0:
    spin()
    os._exit(0)
spin()
os.wait()"""


@pytest.mark.sandbox
@pytest.mark.slow  # TensorFlow in a sandboxed kernel, ~25 s each
@pytest.mark.skipif(bubblewrap.bubblewrap_problem() is not None or _cpu_unmeasured(),
                    reason="needs the sandbox and a cgroup that measures CPU (root)")
@pytest.mark.parametrize("warm", [False, True], ids=["cold_kernel", "forked_from_the_zygote"])
def test_the_sandbox_cpu_of_each_cell_is_measured_on_the_host(warm):
    """A busy cell, a sleeping one, and one whose child process spins too: all counted, in either kernel."""
    from autograder.execution.warm_kernels import kernel_zygote

    cells = [BUSY, "import time\ntime.sleep(1.5)", FORKS]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    limits = Limits(timeout=120)
    with (kernel_zygote(1, limits) if warm else contextlib.nullcontext(None)) as zygote:
        if warm and zygote is None:
            pytest.skip("no kernel zygote on this machine (see execution.warm_kernels)")
        scratch = ScratchSpace(limits, owner=bubblewrap.sandbox_owner())
        try:
            result = run.run_sandboxed(notebook, scratch, limits=limits, threads=1, zygote=zygote)
        finally:
            scratch.close()
    cpu = result.execution.cell_cpu
    assert set(cpu) == {"1", "2", "3"}, cpu  # the student's cells only: not the grader's setup (TensorFlow) or export
    assert 1.4 <= cpu["1"] < 3.0 and cpu["2"] < 0.5 and 1.8 <= cpu["3"] < 4.0, cpu
    assert run.CPU_UNMEASURED not in result.warnings
