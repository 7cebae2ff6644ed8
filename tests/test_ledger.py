"""The ledger keeps a grade only while nothing that shaped it has changed, rescores it when only the rubric
side changed, and never keeps the grader's own failures."""

import shutil

import pytest

from autograder import ledger, shards
from autograder.results import SubmissionResult

# (file changed, which fingerprint changes: "execution", "rubric" or None)
SIDES = (
    ("trusted/inspect_export.py", "execution"), ("execution/runner.py", "execution"), ("execution/seeding.py", "execution"),
    ("sandbox/kernel_export.py", "execution"), ("limits.py", "execution"), ("text.py", "execution"),
    ("rubric/describe.py", "execution"), ("rubric/facts.py", "execution"), ("rubric/student.py", "execution"),
    ("rubric/checks.py", "rubric"), ("rubric/public.py", "rubric"), ("results.py", "rubric"),
    ("reports/summary.py", None), ("cli.py", None), ("ledger.py", None),
)


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    copy = tmp_path / "autograder"
    shutil.copytree(ledger.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(ledger, "PACKAGE", copy)
    return copy


@pytest.mark.parametrize("changed, side", SIDES)
def test_each_module_is_on_the_side_that_it_shapes(package_copy, changed, side):
    before = ledger.fingerprints(0.857)
    (package_copy / changed).write_text((package_copy / changed).read_text() + "\n# changed\n")
    after = ledger.fingerprints(0.857)
    assert (after.execution != before.execution, after.rubric != before.rubric) == (side == "execution", side == "rubric")


def test_a_rubric_module_that_execution_starts_to_import_moves_to_the_execution_side(package_copy):
    display = package_copy / "rubric" / "otter_display.py"
    before = ledger.fingerprints(0.857)
    display.write_text(display.read_text() + "\n# changed\n")
    assert ledger.fingerprints(0.857).execution == before.execution  # the rubric's, while execution does not import it
    integrity = package_copy / "trusted" / "integrity.py"
    integrity.write_text(integrity.read_text() + "\nfrom ..rubric.otter_display import install  # noqa\n")
    before = ledger.fingerprints(0.857)
    display.write_text(display.read_text() + "\n# changed again\n")
    after = ledger.fingerprints(0.857)
    assert after.execution != before.execution and after.rubric == before.rubric


def test_the_threshold_is_on_the_rubric_side():
    before, after = ledger.fingerprints(0.857), ledger.fingerprints(0.858)
    assert after.execution == before.execution and after.rubric != before.rubric


@pytest.mark.parametrize("definition, side", [("collect_facts", "execution"), ("STATUS_OF_RUN", "execution"),
                                              ("score_facts", "rubric"), ("grade_all", None), ("main", None)])
def test_grade_py_is_fingerprinted_by_definition_not_as_a_whole(package_copy, definition, side):
    source = (package_copy / "grade.py").read_text()
    before = ledger.fingerprints(0.857)
    marker = f"def {definition}(" if definition != "STATUS_OF_RUN" else "STATUS_OF_RUN = {"
    assert marker in source
    changed = source.replace(marker, marker + ("\n    # changed\n" if marker.startswith("def") else '"changed": "graded", '), 1)
    (package_copy / "grade.py").write_text(changed)
    after = ledger.fingerprints(0.857)
    assert (after.execution != before.execution, after.rubric != before.rubric) == (side == "execution", side == "rubric")


def test_every_fingerprinted_definition_of_grade_py_exists():
    assert b"<absent>" not in ledger._definitions(ledger.FACT_MAKERS + ledger.SCORERS)


def test_classify_reuses_rescores_or_runs(tmp_path):
    prints = ledger.Fingerprints("e1", "r1", 0.857)
    result = SubmissionResult.ungraded("b.ipynb", "invalid", "is empty", "d2")
    ledger.save(tmp_path, result, prints, seconds=3.5)
    assert ledger.classify(tmp_path, "d2", prints) == ledger.Verdict(ledger.REUSE, "", result, 3.5)
    assert ledger.classify(tmp_path, "other", prints).reason == ledger.CHANGED
    assert ledger.classify(tmp_path, "d2", ledger.Fingerprints("e2", "r1", 0.857)).reason == ledger.EXECUTION_CHANGED
    assert ledger.classify(tmp_path, "d2", ledger.Fingerprints("e2", "r2", 0.9)).action == ledger.RUN
    rescore = ledger.classify(tmp_path, "d2", ledger.Fingerprints("e1", "r2", 0.9))
    assert (rescore.action, rescore.reason, rescore.result) == (ledger.RESCORE, ledger.THRESHOLD_CHANGED, result)
    assert ledger.classify(tmp_path, "d2", ledger.Fingerprints("e1", "r2", 0.857)).reason == ledger.RUBRIC_CHANGED
    assert ledger.classify(tmp_path / "none", "d2", prints).reason == ledger.NEW
    (tmp_path / ledger.RECORD).write_text("{not json")
    assert ledger.classify(tmp_path, "d2", prints).reason == ledger.UNREADABLE


def test_a_grade_the_grader_failed_to_compute_is_not_kept_nor_rescored(tmp_path):
    prints = ledger.Fingerprints("e", "r")
    failed = SubmissionResult.ungraded("a.ipynb", "error", "the grader's check process crashed", "d1", final=False)
    graded = SubmissionResult.ungraded("b.ipynb", "invalid", "is empty", "d2")
    ledger.save(tmp_path / "a", failed, prints)
    ledger.save(tmp_path / "b", graded, prints)
    assert ledger.load(tmp_path / "a", "d1", prints) is None
    assert ledger.classify(tmp_path / "a", "d1", ledger.Fingerprints("e", "other rubric")).reason == ledger.NOT_FINAL
    assert ledger.load(tmp_path / "b", "d2", prints) == graded
    assert ledger.load(tmp_path / "b", "d2", ledger.Fingerprints("other", "r")) is None


def test_a_record_of_the_single_fingerprint_format_is_run_again(tmp_path):
    (tmp_path / ledger.RECORD).write_text('{"digest": "d", "fingerprint": "f", "seconds": 1, "result": {}}')
    assert ledger.classify(tmp_path, "d", ledger.Fingerprints("e", "r")).action == ledger.RUN


# --- rescoring a graded batch: the rubric side changed, no notebook runs --------------------------------------

@pytest.fixture
def frozen_fingerprints(monkeypatch):
    """The kit's code as it was when the test started: colleagues' edits to the working tree mid-test change nothing."""
    import functools

    monkeypatch.setattr(ledger, "fingerprints", functools.lru_cache(maxsize=None)(ledger.fingerprints))


def _grade(inputs, out, capsys, **options):
    from autograder import grade

    code = grade.main(paths=[inputs], out=out, quiet=True, jobs=2, warm_kernels=False, **options)
    return code, capsys.readouterr().err


def _raise_one_checks_points(monkeypatch):
    """A rubric edit: the parameter-count check is worth 3 points instead of 1 (and the rubric's fingerprint moves)."""
    import dataclasses

    from autograder.rubric import checks

    changed = tuple(dataclasses.replace(check, points=3) if "parameters" in check.description else check
                    for check in checks.RUBRIC)
    assert changed != checks.RUBRIC
    monkeypatch.setattr(checks, "RUBRIC", changed)
    real = ledger.fingerprints
    monkeypatch.setattr(ledger, "fingerprints", lambda threshold: dataclasses.replace(
        real(threshold), rubric=real(threshold).rubric + "-edited"))


@pytest.mark.parametrize("change", ["threshold", "--threshold", "points"])
def test_a_rubric_side_change_rescores_without_running_and_equals_a_full_regrade(tmp_path, monkeypatch, capsys, change,
                                                                                  frozen_fingerprints):
    """A recalibrated threshold, the instructor's ``--threshold`` for a run, or a check's points."""
    from autograder import grade
    from autograder.reference import read_threshold
    from seeded import forbid_running, replay_execution, seed_records, submission_files, write_inputs

    inputs, out, regraded = write_inputs(tmp_path / "in", 6, corrupted=1), tmp_path / "out", tmp_path / "regraded"
    before = read_threshold()
    seed_records(inputs, out, before)
    assert _grade(inputs, out, capsys)[0] == 0  # the corrupted file is graded for real; the rest reused
    grades_before = (out / "grades.csv").read_text()

    new_threshold = round(before + 0.004, 3)  # a threshold in the seeded accuracies' range: some pass, some fail
    options = {"threshold": new_threshold} if change == "--threshold" else {}
    if change == "threshold":
        monkeypatch.setattr(grade, "read_threshold", lambda: new_threshold)
    elif change == "points":
        _raise_one_checks_points(monkeypatch)
    drawn = {path: path.stat().st_mtime_ns for path in out.glob("submissions/*/plot_cache/*")}
    with monkeypatch.context() as running:
        forbid_running(running)
        code, console = _grade(inputs, out, capsys, **options)
    assert code == 0
    assert drawn and drawn == {path: path.stat().st_mtime_ns for path in out.glob("submissions/*/plot_cache/*")}  # reused
    why = (f"the accuracy threshold changed (now {new_threshold})" if "threshold" in change
           else "the rubric, its points or the scoring code changed")
    in_use = before if change == "points" else new_threshold
    assert console.count("accuracy threshold: ") == 1 and f"accuracy threshold: {in_use:g} (" in console
    assert f'Accuracy threshold in use: <span data-summary="threshold">{in_use:g}</span>' in (out / "summary.html").read_text()
    if change == "--threshold":  # recorded where a later run and a merge look for it
        assert f"accuracy threshold: {new_threshold:g} (--threshold; the calibrated one is {before:g})" in console
        assert shards.read_manifest(out).threshold == new_threshold
        assert {ledger.read(folder)[0]["threshold"] for folder in out.glob("submissions/student*")} == {new_threshold}
    assert console.count("ledger: ") == 1
    assert "ledger: rescored 7 submission(s) from their recorded facts, no notebook run: " + why in console
    assert "; 0 run again" in console
    assert (out / "grades.csv").read_text() != grades_before  # the change made a difference

    replay_execution(monkeypatch, inputs)  # a full regrade: every notebook "runs" again, into a fresh folder
    assert _grade(inputs, regraded, capsys, **options)[0] == 0
    assert (out / "grades.csv").read_bytes() == (regraded / "grades.csv").read_bytes()
    assert submission_files(out, inputs) == submission_files(regraded, inputs)

    with monkeypatch.context() as running:  # rescored records are current now: a third run reuses them all
        forbid_running(running)
        code, console = _grade(inputs, out, capsys, **options)
    assert "ledger: 0 run again; 7 kept as recorded" in console
    if change == "--threshold":  # a run without the option is back at the calibrated threshold: rescored again
        with monkeypatch.context() as running:
            forbid_running(running)
            code, console = _grade(inputs, out, capsys)
        assert f"no notebook run: the accuracy threshold changed (now {before})" in console
        assert (out / "grades.csv").read_text() == grades_before


def test_an_execution_side_change_runs_notebooks_again_and_says_why(tmp_path, monkeypatch, capsys, frozen_fingerprints):
    import dataclasses

    from autograder.reference import read_threshold
    from seeded import replay_execution, seed_records, write_inputs

    inputs, out = write_inputs(tmp_path / "in", 3, corrupted=0), tmp_path / "out"
    seed_records(inputs, out, read_threshold())
    real = ledger.fingerprints
    monkeypatch.setattr(ledger, "fingerprints", lambda threshold: dataclasses.replace(
        real(threshold), execution=real(threshold).execution + "-edited"))
    replay_execution(monkeypatch, inputs)
    assert _grade(inputs, out, capsys)[1].count("ledger: 3 run again (3 grading code that produces facts changed)") == 1


def test_the_real_batch_rescores_from_its_records_keeping_what_each_run_said(graded_batch, tmp_path, monkeypatch, capsys):
    """The suite's one real batch (facts from real trainings and inspections, every status the fixtures reach),
    rescored at a threshold no model reaches, with nothing allowed to run."""
    import csv
    import dataclasses
    import json

    from autograder import grade
    from autograder.rubric import RUBRIC
    from conftest import EXAMPLE_BATCH, FIXTURES
    from seeded import forbid_running

    out, _, before = graded_batch
    copy = tmp_path / "graded"
    shutil.copytree(out, copy)
    # The execution side as the batch was graded: during a development session other edits may land in between.
    recorded = json.loads(next(copy.glob(f"submissions/*/{ledger.RECORD}")).read_text())["execution"]
    real = ledger.fingerprints
    monkeypatch.setattr(ledger, "fingerprints", lambda t: dataclasses.replace(real(t), execution=recorded))
    monkeypatch.setattr(grade, "read_threshold", lambda: 0.999)
    forbid_running(monkeypatch)
    assert grade.main(paths=[*EXAMPLE_BATCH, *sorted(FIXTURES.glob("*.ipynb"))], out=copy, jobs=2, quiet=True,
                      warm_kernels=False) == 0
    graded = {name for name, row in before.items() if row["status"] != "superseded"}  # a superseded one is never run
    assert f"ledger: rescored {len(graded)} submission(s) from their recorded facts" in capsys.readouterr().err
    with (copy / "grades.csv").open(newline="") as stream:
        after = {row["submission"]: row for row in csv.DictReader(stream)}
    threshold_points = sum(check.points for check in RUBRIC if "threshold" in check.description)
    assert after.keys() == before.keys()
    for name, row in after.items():
        assert (row["status"], row["message"], row["flags"]) == (before[name]["status"], before[name]["message"],
                                                                 before[name]["flags"]), name
        if name in graded:
            assert 0 <= float(before[name]["score"]) - float(row["score"]) <= threshold_points, name
        else:
            assert row["score"] == before[name]["score"] == "", name
    assert float(after["solutions/fashion_mnist_keras.ipynb"]["score"]) == 22 - threshold_points
