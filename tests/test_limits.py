"""How many notebooks run at once, and with how many TensorFlow threads each."""

import pytest

from autograder import limits
from autograder.limits import GiB, plan_workers


@pytest.fixture
def machine(monkeypatch):
    def set_machine(cores, memory_gib):
        monkeypatch.setattr(limits.os, "cpu_count", lambda: cores)
        monkeypatch.setattr(limits, "_available_memory", lambda: int(memory_gib * GiB))
    return set_machine


def test_default_is_one_job_per_core_plus_a_spare_with_one_thread_each(machine):
    machine(cores=2, memory_gib=20)
    assert plan_workers(None, tasks=20) == (3, 1)
    machine(cores=8, memory_gib=64)
    assert plan_workers(None, tasks=20) == (9, 1)


def test_default_stays_within_available_memory(machine):
    machine(cores=8, memory_gib=5)
    assert plan_workers(None, tasks=20) == (2, 4)
    machine(cores=2, memory_gib=1)
    assert plan_workers(None, tasks=20) == (1, 2)


def test_never_more_jobs_than_notebooks_and_a_lone_job_gets_every_core(machine):
    machine(cores=4, memory_gib=32)
    assert plan_workers(None, tasks=1) == (1, 4)
    assert plan_workers(None, tasks=2) == (2, 2)


def test_an_explicit_jobs_wins_over_the_default(machine):
    machine(cores=2, memory_gib=1)
    assert plan_workers(3, tasks=20) == (3, 1)
    assert plan_workers(1, tasks=20) == (1, 2)


def test_available_memory_is_read_from_proc_meminfo():
    assert 0 < limits._available_memory() < 1 << 62
