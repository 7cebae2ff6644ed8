"""The cluster examples: the GitHub Actions workflow passes actionlint, the Slurm script passes shellcheck, and the
Slurm script's tasks, run by hand with SLURM_ARRAY_TASK_ID set, and its merge give one batch's grades."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.paths import ROOT

CLUSTER = ROOT / "examples" / "cluster"
WORKFLOW, SLURM = CLUSTER / "github_actions.yml", CLUSTER / "slurm_array.sh"
TOOLS = Path(sys.executable).parent  # requirements.txt installs both linters into the virtualenv


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: run `make setup` (requirements.txt pins it)"
    return found


def env(**extra):
    return {**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT), **extra}


def test_the_workflow_passes_actionlint_with_its_shell_steps_checked_by_shellcheck():
    completed = subprocess.run([tool("actionlint"), "-verbose", str(WORKFLOW)], capture_output=True, text=True, env=env())
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 'Rule "shellcheck" was disabled' not in completed.stderr  # the run: scripts were checked too


def test_the_workflow_grades_every_shard_and_merges_them_into_an_artifact():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    shards = workflow["jobs"]["grade"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    merge = workflow["jobs"]["merge"]
    assert merge["needs"] == "grade"
    uses = [step.get("uses", "") for step in merge["steps"]]
    assert any(u.startswith("actions/download-artifact@") for u in uses) and uses[-1].startswith("actions/upload-artifact@")


def test_the_slurm_script_passes_shellcheck():
    completed = subprocess.run([tool("shellcheck"), str(SLURM)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def cheap_class(folder: Path) -> Path:
    """Six submissions that are not notebooks: the whole pipeline runs, and no kernel."""
    for index, content in enumerate(["not json", "", "{}", '{"cells": 1}', "[1, 2]", "{\"nbformat\": 4"]):
        path = folder / f"student{index}" / "hw.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(content)
    return folder


@pytest.mark.slow  # three shards graded and merged, then one batch: ~25 s
def test_the_slurm_tasks_run_by_hand_then_the_merge_equal_one_batch(tmp_path):
    submissions, out = cheap_class(tmp_path / "class"), tmp_path / "out"
    for task in ("1", "2", "3"):
        completed = subprocess.run(["bash", str(SLURM), "task", str(submissions), str(out), "3"], capture_output=True,
                                   text=True, env=env(SLURM_ARRAY_TASK_ID=task, GRADE_OPTIONS="--jobs 1"))
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert (out / "shards" / task / "shard.json").is_file()
    completed = subprocess.run(["bash", str(SLURM), "merge", str(submissions), str(out), "3"], capture_output=True,
                               text=True, env=env())
    assert completed.returncode == 0, completed.stderr[-2000:]
    batch = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(tmp_path / "batch"),
                            "--jobs", "1"], capture_output=True, text=True, env=env())
    assert batch.returncode == 0, batch.stderr[-2000:]
    assert (out / "merged" / "grades.csv").read_bytes() == (tmp_path / "batch" / "grades.csv").read_bytes()


def test_a_task_without_its_array_index_says_what_is_missing(tmp_path):
    environment = {key: value for key, value in env().items() if key != "SLURM_ARRAY_TASK_ID"}
    completed = subprocess.run(["bash", str(SLURM), "task", str(tmp_path), str(tmp_path / "out"), "3"],
                               capture_output=True, text=True, env=environment)
    assert completed.returncode != 0 and "set SLURM_ARRAY_TASK_ID" in completed.stderr


def test_submit_queues_the_array_and_a_merge_that_waits_for_it(tmp_path):
    """sbatch is a stand-in that logs its arguments, as a login node's would be called."""
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch.log"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\necho "$*" >> {log}\necho "$(wc -l < {log});cluster"\n')
    (bin_dir / "sbatch").chmod(0o755)
    completed = subprocess.run(["bash", str(SLURM), "submit", "class", str(tmp_path / "out"), "4"], capture_output=True,
                               text=True, env=env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                                                  SBATCH_OPTIONS="--partition=cpu"))
    assert completed.returncode == 0, completed.stderr
    array, merge = log.read_text().splitlines()
    assert "--array=1-4" in array and array.endswith(f"{SLURM} task class {tmp_path / 'out'} 4")
    assert "--dependency=afterok:1 " in merge and merge.endswith(f"{SLURM} merge class {tmp_path / 'out'} 4")
    assert all("--partition=cpu" in line and f"KIT={ROOT}" in line for line in (array, merge))
    assert "job array 1 (1-4)" in completed.stdout and "merge as job 2" in completed.stdout
