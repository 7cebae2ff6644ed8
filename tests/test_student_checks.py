"""The student's side in a real kernel: grader.check is fast and honest, and a renamed notebook exports.

The cells run are the template's own locked cells (init, check, export) in a folder holding
what is handed out, the notebook alone, renamed. Nothing is trained.
"""

import time
import zipfile

import pytest
from student_side import (RENAMED, answers, check_cell, export_cell, export_solved_notebook, run_cells, solved_student_folder,
                          template_cell, text_of)

from autograder.trusted.load_submission import find_submissions, read_notebook
from autograder.rubric import run_checks
from autograder.rubric.describe import facts_from_variables

WRONG_MODEL = "model = Sequential([Flatten(input_shape=(28, 28)), Dense(64, activation='sigmoid'), Dense(10, activation='softmax')])"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One kernel session: check q2 (timed), check a wrong q2, check q5, then export; returns (folder, cells)."""
    folder = tmp_path_factory.mktemp("student")
    solved_student_folder(folder)
    started = time.monotonic()
    cells = run_cells(folder, [
        template_cell("init"),
        answers()["q2"],
        "import time\n_started = time.perf_counter()",
        check_cell("q2_model"),
        "print(f'check took {time.perf_counter() - _started:.3f} s')",
        WRONG_MODEL,
        check_cell("q2_model"),
        "test_loss, test_acc = 0.34, 0.88",
        check_cell("q5_evaluate"),
        export_cell(),
    ])
    return folder, cells, time.monotonic() - started


def test_q2_check_answers_within_a_second_with_the_honest_wording(session):
    _, cells, _ = session
    seconds = float(text_of(cells[4]).split()[2])
    assert seconds < 1.0, f"grader.check('q2_model') took {seconds} s"
    shown = text_of(cells[3])
    assert "q2_model: public checks passed (5 of 5). This question has no hidden checks" in shown
    assert "Hidden checks" not in shown  # q2 has none: the summary does not talk about them
    for cell in cells:
        assert "All test cases passed" not in text_of(cell) and "passed!" not in text_of(cell)


def test_failed_check_shows_the_graders_own_messages(session):
    _, cells, _ = session
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(64, activation="sigmoid"),
                              keras.layers.Dense(10, activation="softmax")])  # WRONG_MODEL, described in this process
    expected = [r.message for r in run_checks(facts_from_variables(model=model), questions=("q2_model",), include_hidden=False)
                if not r.passed]
    shown = text_of(cells[6])
    assert f"q2_model: {len(expected)} of 5 public checks failed:" in shown
    assert all(f"- {message}" in shown for message in expected), shown
    assert "Traceback" not in shown and "Error at line" not in shown


def test_check_of_a_question_with_hidden_checks_names_them(session):
    _, cells, _ = session
    shown = text_of(cells[8])
    assert "q5_evaluate: public checks passed (1 of 1); 2 hidden check(s) of this question did not run here" in shown
    assert "test accuracy reaches the threshold" in shown


def test_export_refuses_a_saved_file_older_than_the_answers_run(session):
    folder, cells, _ = session
    shown = text_of(cells[9])  # cells were run (the wrong model...) that the saved file does not hold
    assert shown.startswith(f"Not exported: the saved file {RENAMED} is older than your answers"), shown
    assert "Save the notebook (File > Save" in shown and not list(folder.glob("*.zip"))


def test_renamed_notebook_exports_a_zip_the_grader_reads_without_training(tmp_path):
    started = time.monotonic()
    archive = export_solved_notebook(tmp_path)
    seconds = time.monotonic() - started
    assert archive.name.startswith(RENAMED.removesuffix(".ipynb"))
    with zipfile.ZipFile(archive) as contents:
        notebooks = [name for name in contents.namelist() if name.endswith(".ipynb")]
        assert notebooks == [RENAMED] and not any(name.startswith("rubric/") for name in contents.namelist())
    assert "run_tests=True" not in export_cell() and seconds < 60  # export re-runs nothing, so nothing retrains
    [submission] = find_submissions([archive])
    notebook = read_notebook(submission)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert all(answer in code for answer in answers().values())


def test_init_cell_is_the_generated_setup_cell_and_names_no_file():
    from autograder.rubric.student import is_setup_cell

    source = template_cell("init")
    assert is_setup_cell(source) and ".ipynb" not in source
    assert source.startswith("#@title ") and len(source.splitlines()) < 30  # a Colab form: the packed checks hidden


def test_fit_run_twice_says_the_grader_runs_the_notebook_once_from_the_top():
    """Student side (no grader facts): restart and run all clears it. Graded: the notebook itself fits twice."""
    from dataclasses import replace

    from facts_factory import perfect_facts

    from autograder.rubric.checks import default_expected, trained_once

    facts = perfect_facts()
    twice = replace(facts, model=replace(facts.model, optimizer_iterations=30_000))
    student = trained_once(replace(twice, grader=None), default_expected())
    assert "model took 30,000 training steps but expected 15,000" in student
    assert "the grader runs your notebook once from the top" in student and "Restart & Run All" in student
    graded = trained_once(twice, default_expected())
    assert "run from the top, the notebook trains the same model more than once" in graded and "Restart" not in graded
