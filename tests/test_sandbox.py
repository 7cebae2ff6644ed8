"""The sandbox never fails silently: where bubblewrap cannot start, the notebook still runs
under the same limits and both stderr and the grade say loudly that it was not sandboxed."""

from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.grade import grade_submission
from autograder.inspector import Inspector
from autograder.limits import Limits
from autograder.load_submission import find_submissions


def test_unsandboxed_fallback_is_loud_and_still_grades(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bubblewrap switched off for this test")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np\nx_train = np.zeros((3, 28, 28))")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    [submission] = find_submissions([path])
    with Inspector() as inspector:
        result = grade_submission(submission, out=tmp_path / "out", limits=Limits(timeout=60), threshold=0.857,
                                  inspector=inspector)
    assert result.status == "graded"
    assert "WARNING: ran WITHOUT a sandbox" in result.message and "switched off" in result.message
    assert "WARNING: ran WITHOUT a sandbox" in capfd.readouterr().err
    messages = [check.message for question in result.questions for check in question.checks if check.message]
    assert any("x_train has shape (3, 28, 28)" in message for message in messages)


def test_sandbox_sees_no_kit_files_and_writes_only_its_own_folders(tmp_path):
    command = sandbox.bubblewrap_command(["true"], work=tmp_path / "w", results=tmp_path / "r", code=tmp_path / "c")
    binds = [command[i + 1:i + 3] for i, part in enumerate(command) if part == "--bind"]
    assert [target for _, target in binds] == [sandbox.SANDBOX_WORK, sandbox.SANDBOX_RESULTS]
    mounted = " ".join(command)
    for secret in ("solutions", "reference_metrics", "rubric/checks.py", "tests"):
        assert secret not in mounted
    assert "--unshare-all" in command and "--clearenv" in command
    assert not (Path(sandbox.__file__).parent / "rubric" / "checks.py").as_posix() in mounted
