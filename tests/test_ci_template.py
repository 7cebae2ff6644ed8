"""The CI template for an instructor's fork: the workflow, .ci/run and the Make targets they call agree."""

import csv
import subprocess
import sys

import yaml

from autograder.paths import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
EXPECT_FULL_MARKS = ROOT / ".ci" / "expect_full_marks.py"


def workflow_commands() -> list[str]:
    [job] = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return [step.get("run", step.get("uses", "")).strip() for step in job["steps"]]


def test_workflow_sets_up_regenerates_grades_the_reference_and_tests_in_that_order():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    [job] = workflow["jobs"].values()
    assert "3.11" in job["container"]["image"]
    commands = workflow_commands()
    assert commands[0].startswith("actions/checkout@")
    order = ["make setup", "make check-generated", "make check-reference", ".ci/run"]
    positions = [next(i for i, command in enumerate(commands) if command.endswith(wanted)) for wanted in order]
    assert positions == sorted(positions), commands
    assert any("sys.version_info[:2] == (3, 11)" in command for command in commands)


def test_ci_run_installs_chromium_then_runs_the_readmes_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("make browser") < lines.index("make test") == len(lines) - 1
    assert lines.index("make test-nonroot") < lines.index("make test")  # the sandbox's tests without root, too


def test_ci_runs_the_complete_suite_the_readme_names_and_test_fast_leaves_out_only_the_slow_and_the_tools():
    """The README's Tests section names `make test` (everything, CI's last command) and `make test-fast`; the
    complete suite deselects nothing, and the fast one only the slow, browser and office markers."""
    tests_section = (ROOT / "README.md").read_text().split("\n## Tests\n", 1)[1].split("\n## ", 1)[0]
    assert "`make test`" in tests_section and "`make test-fast`" in tests_section
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"
    dry = subprocess.run(["make", "-n", "test", "test-fast"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    pytest_lines = [line for line in dry.stdout.splitlines() if " -m pytest" in line]
    assert [line.split(" -m pytest", 1)[1] for line in pytest_lines] == ["", ' -m "not slow and not browser and not office"']
    config = (ROOT / "pytest.ini").read_text()
    assert "--strict-markers" in config and all(f"    {m}:" in config for m in ("slow", "sandbox", "browser", "office"))


def test_make_targets_exist_and_run_the_documented_commands():
    dry = subprocess.run(["make", "-n", "check-reference", "browser", "gradescope"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "-m autograder grade solutions/fashion_mnist_keras.ipynb --out grades" in dry.stdout
    assert ".ci/expect_full_marks.py grades/grades.csv solutions/fashion_mnist_keras.ipynb" in dry.stdout
    assert "apt-get install -y -qq chromium chromium-driver" in dry.stdout
    assert "-m autograder gradescope --out build/autograder.zip" in dry.stdout


def write_grades(path, score, status="graded"):
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["submission", "status", "score", "max_score", "message"])
        writer.writerow(["solutions/fashion_mnist_keras.ipynb", status, score, 22, "" if score == 22 else "lost points"])


def test_check_reference_fails_unless_the_reference_scores_full_marks(tmp_path):
    def expect(score, status="graded"):
        write_grades(tmp_path / "grades.csv", score, status)
        return subprocess.run([sys.executable, str(EXPECT_FULL_MARKS), str(tmp_path / "grades.csv"),
                               "solutions/fashion_mnist_keras.ipynb"], capture_output=True, text=True)

    assert expect(22).returncode == 0
    failed = expect(21)
    assert failed.returncode == 1 and "scored 21/22 (graded): lost points" in failed.stderr
    assert expect(22, "timeout").returncode == 1


def test_ci_run_installs_libreoffice_for_the_csv_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("make libreoffice") < lines.index("make test")
    dry = subprocess.run(["make", "-n", "libreoffice"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0 and "apt-get install -y -qq --no-install-recommends libreoffice-calc" in dry.stdout
