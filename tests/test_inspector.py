"""The trusted inspector's pool: each submission's time and memory are its own.

The targets below stand in for the real inspection (no TensorFlow): they are module-level
so that the "spawn" workers can unpickle them, and they pick their behaviour from the
export directory's name.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from autograder.limits import MiB, Limits
from autograder.rubric.facts import SubmissionFacts
from autograder.trusted.inspector import Inspection, Inspector

SLOW_SECONDS = 30
CAP = 512 * MiB


def facts_target(export_dir: str, refused: dict) -> dict:
    return {"facts": SubmissionFacts().to_dict()}


def error_target(export_dir: str, refused: dict) -> dict:
    return {"error": f"model.keras is missing from {export_dir}"}


def refused_target(export_dir: str, refused: dict) -> dict:
    return {"error": f"refused {sorted(refused.items())}"}


def slow_target(export_dir: str, refused: dict) -> dict:
    if Path(export_dir).name == "slow":
        time.sleep(SLOW_SECONDS)
    if Path(export_dir).name.startswith("nap"):
        time.sleep(0.5)
    return facts_target(export_dir, refused)


def crash_target(export_dir: str, refused: dict) -> dict:
    if Path(export_dir).name == "crash":
        os._exit(1)
    return facts_target(export_dir, refused)


def raise_target(export_dir: str, refused: dict) -> dict:
    if Path(export_dir).name == "raise":
        raise RuntimeError("the grader's own bug")
    return facts_target(export_dir, refused)


def hungry_target(export_dir: str, refused: dict) -> dict:
    if Path(export_dir).name == "hungry":
        hoard = bytearray(CAP * 2)
        return {"error": f"allocated {len(hoard)} bytes"}
    return facts_target(export_dir, refused)


def _timed(inspector: Inspector, export_dir: str) -> tuple[Inspection, float]:
    started = time.monotonic()
    inspection = inspector.inspect(Path(export_dir))
    return inspection, time.monotonic() - started


def _in_thread(inspector: Inspector, export_dir: str) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run():
        box["inspection"], box["seconds"] = _timed(inspector, export_dir)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def _assert_graded(inspection: Inspection) -> None:
    assert inspection == Inspection(SubmissionFacts())


def test_facts_round_trip():
    with Inspector(target=facts_target, workers=1) as inspector:
        inspection = inspector.inspect(Path("ok"))
    assert inspection.facts == SubmissionFacts()
    assert (inspection.problem, inspection.grader_failed) == ("", False)


def test_unusable_export_is_the_notebooks_problem():
    with Inspector(target=error_target, workers=1) as inspector:
        inspection = inspector.inspect(Path("/exports/ada"))
        refused = Inspector(target=refused_target, workers=1)
        with refused:
            passed = refused.inspect(Path("ada"), {"model": "not a keras.Model"})
    assert inspection.facts is None and not inspection.grader_failed
    assert inspection.problem == "the notebook's export is unusable: model.keras is missing from /exports/ada"
    assert passed.problem == "the notebook's export is unusable: refused [('model', 'not a keras.Model')]"


def test_a_slow_export_times_out_and_the_job_queued_behind_it_is_graded_as_if_alone():
    with Inspector(limits=Limits(inspection_timeout=2), target=slow_target, workers=1) as inspector:
        slow, slow_box = _in_thread(inspector, "slow")
        time.sleep(0.5)  # the slow job holds the only worker
        honest, honest_seconds = _timed(inspector, "honest")
        slow.join()
    assert slow_box["inspection"] == Inspection(None, "checking the exported model took over 2 seconds",
                                                grader_failed=True)
    _assert_graded(honest)
    assert honest_seconds > 1.2  # it waited in the queue, and the wait did not count against its 2 s
    assert honest_seconds < SLOW_SECONDS / 2


def test_with_two_workers_a_slow_export_does_not_delay_the_others():
    with Inspector(limits=Limits(inspection_timeout=3), target=slow_target, workers=2) as inspector:
        naps = [_in_thread(inspector, f"nap-{n}") for n in range(2)]  # both workers started, then idle
        for thread, _ in naps:
            thread.join()
        slow, slow_box = _in_thread(inspector, "slow")
        time.sleep(0.2)
        honest, honest_seconds = _timed(inspector, "honest")
        assert slow.is_alive()
        _assert_graded(honest)
        assert honest_seconds < 1.5
        slow.join()
    assert slow_box["inspection"] == Inspection(None, "checking the exported model took over 3 seconds",
                                                grader_failed=True)


def test_a_crashed_worker_fails_its_export_only():
    with Inspector(target=crash_target, workers=1) as inspector:
        crashed = inspector.inspect(Path("crash"))
        after = inspector.inspect(Path("honest"))
    assert crashed == Inspection(None, "the grader's check process crashed on this export", grader_failed=True)
    _assert_graded(after)


def test_an_exception_in_the_grader_is_the_graders_failure():
    with Inspector(target=raise_target, workers=1) as inspector:
        failed = inspector.inspect(Path("raise"))
        after = inspector.inspect(Path("honest"))
    assert failed.facts is None and failed.grader_failed
    assert "RuntimeError: the grader's own bug" in failed.problem
    _assert_graded(after)


def test_memory_is_capped_per_worker():
    with Inspector(limits=Limits(inspection_memory_bytes=CAP), target=hungry_target, workers=1) as inspector:
        hungry = inspector.inspect(Path("hungry"))
        after = inspector.inspect(Path("honest"))
    assert hungry.facts is None and hungry.grader_failed
    assert "memory" in hungry.problem
    _assert_graded(after)


def test_close_leaves_no_worker():
    inspector = Inspector(target=facts_target, workers=2)
    threads = [_in_thread(inspector, f"job-{n}") for n in range(4)]
    for thread, _ in threads:
        thread.join()
    assert all(box["inspection"] == Inspection(SubmissionFacts()) for _, box in threads)
    workers = list(inspector._all)
    assert 1 <= len(workers) <= 2
    inspector.close()
    assert not any(worker.process.is_alive() for worker in workers)
    assert not [child for child in multiprocessing.active_children() if child.name == "autograder-inspector"]
    with pytest.raises(RuntimeError):
        inspector.inspect(Path("late"))
