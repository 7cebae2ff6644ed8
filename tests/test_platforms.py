"""The hand-out is one notebook that checks and submits on Colab, Kaggle, VS Code and Jupyter.

Each platform is simulated by the mechanism the platform itself has, said in each test:

- Colab: a fresh virtualenv holding only what Colab preinstalls that matters here (TensorFlow,
  NumPy, Matplotlib, ipykernel, at the kit's pins) and no otter-grader; a working folder without
  the notebook (Colab keeps it in Drive, not on the kernel's disk); and an IPython shell whose
  class is ``google.colab._shell.Shell``, which is how Otter and the setup cell recognise Colab.
  The notebook's first cell installs otter-grader from the package registry.
- Kaggle: a working folder like ``/kaggle/working`` with no notebook in it, no notebook path.
- VS Code: a kernel working in the workspace root, the notebook in a subfolder, the path given
  only by ``__vsc_ipynb_file__``, the variable VS Code's Jupyter extension defines in the kernel.
- Jupyter: ``JPY_SESSION_NAME`` in the kernel's environment, as Jupyter's server sets it, in a
  folder with a second notebook; and a lone renamed notebook, which Otter finds by itself.

Tests named ``test_heavy_*`` are the expensive ones: the Colab run trains the model once (the
only training in a platform kernel), and its executed notebook is both the ".ipynb downloaded
from Colab" and the notebook exported to a zip in Jupyter; both are graded in one batch (two
more trainings). Building the Colab virtualenv takes about a minute the first time; it is
cached under a path keyed by the pins (``KIT_CACHE`` or ``~/.cache``) and rebuilt when missing.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from student_side import (KernelSession, RENAMED, TEMPLATE, answers, check_cell, export_cell, run_notebook,
                          solved_notebook, template_cell)

from autograder.paths import ROOT
from autograder.rubric import run_checks
from autograder.rubric.public import PUBLIC_VARIABLES, passed_summary
from autograder.rubric.student import CHECKS_FOLDER, HOW_TO_SUBMIT, OTTER_PIN

COLAB_PACKAGES = ("tensorflow-cpu", "keras", "numpy", "matplotlib", "ipykernel")
WRONG_MODEL = ("from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense, Flatten\n\n"
               "model = Sequential([Flatten(input_shape=(28, 28)), Dense(64, activation='relu'), Dense(10, activation='softmax')])")
# Its message ends in a quote, which Otter would strip from an exception's text: the hand-out keeps it.
WRONG_LOSS = "model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])"
NOT_SCALED = "from tensorflow.keras.datasets import fashion_mnist\n\n(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()"
# Colab's shell class, given to this kernel's shell by an IPython startup file (see ColabVenv).
COLAB_SHELL_STARTUP = '''\
# Google Colab runs IPython as google.colab._shell.Shell, a subclass of ipykernel's shell. Otter and the
# hand-out's setup cell recognise Colab by that name in str(get_ipython()). This gives this kernel's shell
# the same class name and module, as a subclass of its own class: nothing else changes.
def _as_colab_shell(shell):
    shell.__class__ = type("Shell", (type(shell),), {"__module__": "google.colab._shell"})
_as_colab_shell(get_ipython())
del _as_colab_shell
'''


def pinned(package: str) -> str:
    """``package==version`` as requirements.txt pins it: the Colab-like venv uses the kit's own versions."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == package:
            return line.strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


class ColabVenv:
    """A virtualenv like Colab's runtime: the pinned packages, a Colab-like kernel, and no otter-grader."""

    def __init__(self, root: Path):
        self.root = root
        self.python = root / "bin" / "python"
        self.kernels = root / "share" / "jupyter" / "kernels"
        self.base = root / "base-packages.txt"  # what was installed before any notebook ran

    def build(self) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(self.root)], check=True)
        subprocess.run([str(self.python), "-m", "pip", "install", "--quiet", *map(pinned, COLAB_PACKAGES)], check=True)
        startup = self.root / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab-shell.py").write_text(COLAB_SHELL_STARTUP)
        # No PYTHONPATH: nothing of the kit's own environment (its otter-grader) is visible to this kernel.
        self._kernel("colab-like", {})
        # The same kernel with the package registry unreachable, as without network: pip gets a refused
        # connection; the machine's pip configuration (local mirrors) is not read.
        empty = self.root / "no-wheels"
        empty.mkdir()
        self._kernel("colab-like-offline", {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
                                            "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": str(empty)})
        self.base.write_text(self._freeze())

    def _kernel(self, name: str, env: dict) -> None:
        spec = {"argv": [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": name, "language": "python",
                "env": {"IPYTHONDIR": str(self.root / "ipython"), "PYTHONPATH": "", **env}}
        (self.kernels / name).mkdir(parents=True)
        (self.kernels / name / "kernel.json").write_text(json.dumps(spec, indent=1))

    def _freeze(self) -> str:
        return subprocess.run([str(self.python), "-m", "pip", "freeze", "--all"], check=True, capture_output=True,
                              text=True).stdout

    def without_otter(self) -> "ColabVenv":
        """Remove what an earlier run's first cell installed (otter-grader and its dependencies): a fresh runtime."""
        base = {line.split("==")[0].lower() for line in self.base.read_text().splitlines()}
        extra = [line.split("==")[0] for line in self._freeze().splitlines() if line.split("==")[0].lower() not in base]
        if extra:
            uninstalled = subprocess.run([str(self.python), "-m", "pip", "uninstall", "--quiet", "--yes", *extra])
            if uninstalled.returncode != 0:  # a run interrupted mid-install left it broken: start from scratch
                self.build()
        assert subprocess.run([str(self.python), "-c", "import otter"], capture_output=True).returncode != 0
        return self

    def has_otter(self) -> str:
        completed = subprocess.run([str(self.python), "-m", "pip", "show", "otter-grader"], capture_output=True, text=True)
        return completed.stdout


@pytest.fixture(scope="session")
def colab_venv():
    """The Colab-like virtualenv, built once per set of pins and reused; a fresh clone (CI) builds it here.

    The lock is held for the whole session: the notebooks install into this virtualenv and each
    test resets it, so two sessions (two engineers, or two runs) take turns.
    """
    key = hashlib.sha256(json.dumps([sys.version, [pinned(p) for p in COLAB_PACKAGES]]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("KIT_CACHE", Path.home() / ".cache")) / "keras-homework-kit"
    cache.mkdir(parents=True, exist_ok=True)
    venv = ColabVenv(cache / f"colab-venv-{key}")
    with open(cache / f"colab-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv.base.is_file() and venv.python.is_file()):
            venv.build()
        yield venv


def grader_messages(question: str, **variables) -> list[str]:
    """The messages the instructor's rubric gives for these variables, described in this process."""
    from autograder.rubric.describe import facts_from_variables

    results = run_checks(facts_from_variables(**variables), questions=(question,), include_hidden=False)
    return [result.message for result in results if not result.passed]


def keras_objects():
    keras = pytest.importorskip("keras")
    from keras.datasets import fashion_mnist

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    return keras, x_train, y_train, x_test, y_test


def assert_graders_wording(shown: str, question: str, messages: list[str]) -> None:
    assert messages, "the mistake should fail some check"
    assert f"{question}: {len(messages)} of " in shown, shown
    for message in dict.fromkeys(messages):
        assert f"- {message}" in shown and shown.count(f"- {message}") == 1, (message, shown)
    assert "Traceback" not in shown and "Error at line" not in shown and "NameError" not in shown


def plain(cell) -> str:
    """What a student reads under a cell: printed text and the result's plain-text form (not its HTML twin)."""
    parts = [output.text for output in cell.outputs if output.output_type == "stream"]
    parts += [output.data.get("text/plain", "") for output in cell.outputs if output.output_type in ("execute_result", "display_data")]
    parts += ["\n".join(output.traceback) for output in cell.outputs if output.output_type == "error"]
    return "\n".join(parts)


def wrong_model(keras):
    """WRONG_MODEL, built in this process to be described by the grader's own code."""
    return keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def cells_of(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


# --- Colab -----------------------------------------------------------------------------------


@pytest.mark.slow  # builds the Colab-like virtualenv (pip) on a fresh machine
def test_colab_without_network_says_what_to_install_and_still_checks(colab_venv, tmp_path):
    """Colab-like runtime with the package registry unreachable (pip's connection is refused, as offline).

    The setup cell cannot install otter-grader: it says what to install, and the check cells still
    run the same public checks (no NameError), with the grader's words. The export cell gives
    Colab's download instructions.
    """
    colab_venv.without_otter()
    content = tmp_path / "content"
    content.mkdir()
    with KernelSession(content, kernel_name="colab-like-offline", kernel_dirs=[str(colab_venv.kernels)]) as kernel:
        setup = plain(kernel.run(template_cell("init")))
        assert f"Could not install {OTTER_PIN}" in setup and f"%pip install {OTTER_PIN}" in setup, setup
        kernel.run(answers()["q2"])
        passed = plain(kernel.run(check_cell("q2_model")))
        kernel.run(WRONG_MODEL)
        failed = plain(kernel.run(check_cell("q2_model")))
        submit = plain(kernel.run(export_cell()))
    assert passed.strip() == passed_summary("q2_model")
    keras = pytest.importorskip("keras")
    assert_graders_wording(failed, "q2_model", grader_messages("q2_model", model=wrong_model(keras)))
    assert submit.strip() == HOW_TO_SUBMIT["colab"]
    assert "otter" not in colab_venv.has_otter()


@pytest.fixture(scope="module")
def colab_session(colab_venv, tmp_path_factory):
    """The solved notebook run cell by cell in a Colab-like runtime, then three mistakes checked.

    The heavy part of the suite's platforms: it trains the model once. Returns the executed
    cells by label, the notebook as Colab's File > Download > .ipynb would save it (the solved
    template with its outputs), and the seconds the q2 check took.
    """
    colab_venv.without_otter()
    content = tmp_path_factory.mktemp("colab") / "content"  # Colab's working folder: the notebook is not in it
    content.mkdir()
    downloaded = solved_notebook()
    shown = {}
    with KernelSession(content, timeout=900, kernel_name="colab-like", kernel_dirs=[str(colab_venv.kernels)]) as kernel:
        for cell in cells_of(downloaded):
            started = time.perf_counter()
            ran = kernel.run(cell.source)
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
            label = cell.get("id", "")
            if cell.source.startswith("grader.check("):
                label = cell.source.split('"')[1]
                shown[f"{label} seconds"] = time.perf_counter() - started
            shown[label] = plain(ran)
        shown["shell"] = plain(kernel.run("print(get_ipython())"))
        shown["otter"] = plain(kernel.run("import otter\nprint(otter.__version__, otter.__file__)"))
        for name, source in (("wrong model", WRONG_MODEL), ("wrong loss", WRONG_LOSS), ("not scaled", NOT_SCALED)):
            kernel.run(source)
            question = {"wrong model": "q2_model", "wrong loss": "q3_compile", "not scaled": "q1_load"}[name]
            shown[name] = plain(kernel.run(check_cell(question)))
    return shown, downloaded


def test_heavy_colab_first_cell_installs_otter_from_the_registry(colab_session, colab_venv):
    """The runtime starts without otter-grader (Colab has none); the first cell installs the pinned one into it."""
    shown, _ = colab_session
    assert "google.colab._shell.Shell" in shown["shell"]  # what Otter's Colab detection reads
    assert f"Installing {OTTER_PIN}" in shown["init"] and "Ready on Google Colab" in shown["init"], shown["init"]
    version, location = shown["otter"].split()
    assert version == OTTER_PIN.split("==")[1] and location.startswith(str(colab_venv.root))
    assert pinned("otter-grader") == OTTER_PIN  # the hand-out installs the kit's own pin


def test_heavy_colab_solved_notebook_passes_every_public_check_in_the_graders_words(colab_session):
    """Every check cell of the solved notebook, run on Colab through Otter (tests in the first cell's folder)."""
    shown, _ = colab_session
    for question in PUBLIC_VARIABLES:
        assert shown[question].strip() == passed_summary(question), (question, shown[question])
    for text in shown.values():
        if isinstance(text, str):
            assert "All test cases passed" not in text and "Tests directory" not in text and "does not exist" not in text
    assert shown["q2_model seconds"] < 1.0


def test_heavy_colab_mistakes_get_the_graders_messages(colab_session):
    """Dense(64), a wrong loss and unscaled pixels, checked on Colab, read exactly as the grader words them."""
    shown, _ = colab_session
    keras, x_train, y_train, x_test, y_test = keras_objects()
    wrong = wrong_model(keras)
    assert_graders_wording(shown["wrong model"], "q2_model", grader_messages("q2_model", model=wrong))
    wrong.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    assert_graders_wording(shown["wrong loss"], "q3_compile", grader_messages("q3_compile", model=wrong, y_train=y_train))
    assert_graders_wording(shown["not scaled"], "q1_load",
                           grader_messages("q1_load", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test))
    assert shown["wrong loss"].rstrip().endswith("use 'sparse_categorical_crossentropy'")  # the closing quote kept


def test_heavy_colab_export_cell_prints_how_to_submit(colab_session):
    """On Colab, Otter's export cannot run (no notebook file); the last cell says how to download and upload instead."""
    shown, _ = colab_session
    [export_label] = [label for label in shown if label.startswith("otter-") and "Colab" in shown[label]]
    assert shown[export_label].strip() == HOW_TO_SUBMIT["colab"]
    assert "File > Download > Download .ipynb" in HOW_TO_SUBMIT["colab"] and "Traceback" not in shown[export_label]


# --- Kaggle, VS Code, Jupyter ----------------------------------------------------------------


def test_kaggle_like_checks_and_says_how_to_submit(tmp_path):
    """Kaggle runs the kernel in /kaggle/working and keeps the notebook elsewhere: no notebook path at all.

    Kaggle's image has no otter-grader either; here the kit's environment has it (the install is
    the Colab test's). Checks run through Otter; the export cell prints how to download and upload.
    """
    working = tmp_path / "kaggle" / "working"
    working.mkdir(parents=True)
    with KernelSession(working) as kernel:
        setup = plain(kernel.run(template_cell("init")))
        kernel.run(answers()["q2"])
        passed = plain(kernel.run(check_cell("q2_model")))
        submit = plain(kernel.run(export_cell()))
    assert "Ready on this kernel" in setup and (working / CHECKS_FOLDER / "tests" / "q2_model.py").is_file()
    assert passed.strip() == passed_summary("q2_model")
    assert submit.strip() == HOW_TO_SUBMIT["unknown"] and "Kaggle: File > Download Notebook" in submit
    assert not list(working.glob("*.zip"))


def test_vscode_like_exports_the_notebook_it_names(tmp_path):
    """VS Code starts the kernel in the workspace and names the notebook only in ``__vsc_ipynb_file__``.

    Without that name (an editor that gives no path) the export cell prints how to submit; with
    it, the saved notebook is zipped under its own name, beside it.
    """
    workspace = tmp_path / "workspace"
    notebook = workspace / "homework" / "Keras HW.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(solved_notebook(), notebook)
    with KernelSession(workspace) as kernel:
        kernel.run(template_cell("init"))
        kernel.run(answers()["q2"])
        passed = plain(kernel.run(check_cell("q2_model")))
        unnamed = plain(kernel.run(export_cell()))
        kernel.run_silently(f"__vsc_ipynb_file__ = {str(notebook)!r}")  # as VS Code's Jupyter extension defines it
        named = plain(kernel.run(export_cell()))
    assert passed.strip() == passed_summary("q2_model")
    assert unnamed.strip() == HOW_TO_SUBMIT["unknown"]
    [archive] = notebook.parent.glob("*.zip")
    with zipfile.ZipFile(archive) as contents:
        assert [n for n in contents.namelist() if n.endswith(".ipynb")] == [notebook.name]
    assert "Traceback" not in named


def test_jupyter_with_a_second_notebook_refuses_stale_files_and_exports_the_right_one(tmp_path):
    """Jupyter's server tells the kernel its notebook (``JPY_SESSION_NAME``), also beside a ``-Copy1``.

    The export refuses, saying why, while the saved file is older than the answers run (a cell
    edited and run but not saved) or still holds the template's placeholders the kernel has
    answered; once saved, it zips that notebook, not the copy.
    """
    folder = tmp_path / "jupyter"
    folder.mkdir()
    mine, copy = folder / "fashion_mnist_keras.ipynb", folder / "fashion_mnist_keras-Copy1.ipynb"
    nbformat.write(nbformat.read(TEMPLATE, as_version=4), copy)
    nbformat.write(nbformat.read(TEMPLATE, as_version=4), mine)  # the template, saved before any answer
    q2 = answers()["q2"]
    with KernelSession(folder, env={"JPY_SESSION_NAME": str(mine)}) as kernel:
        kernel.run(template_cell("init"))
        kernel.run(answers()["q1"])
        kernel.run(q2)
        passed = plain(kernel.run(check_cell("q2_model")))
        unsaved = plain(kernel.run(export_cell()))
        time.sleep(0.05)
        kernel.save(mine, nbformat.read(TEMPLATE, as_version=4))  # saved, but the answers went in new cells
        placeholder = plain(kernel.run(export_cell()))
        time.sleep(0.05)
        nbformat.write(solved_notebook(), mine)  # answered in place, and saved
        exported = plain(kernel.run(export_cell()))
    assert passed.strip() == passed_summary("q2_model")
    assert unsaved.startswith(f"Not exported: the saved file {mine.name} is older than your answers"), unsaved
    assert "Save the notebook (File > Save" in unsaved
    assert placeholder.startswith(f"Not exported: the saved file {mine.name} still holds the template's placeholder"), placeholder
    assert "Not exported" not in exported and "Traceback" not in exported
    [archive] = folder.glob("*.zip")
    assert archive.name.startswith("fashion_mnist_keras_")
    with zipfile.ZipFile(archive) as contents:
        saved = nbformat.reads(contents.read(mine.name).decode(), as_version=4)
    assert q2 in [cell.source for cell in saved.cells]


def test_renamed_lone_notebook_exports_under_its_new_name(tmp_path):
    """Classic Jupyter without a session name: Otter finds the lone notebook in the kernel's folder, renamed."""
    folder = tmp_path / "renamed"
    folder.mkdir()
    nbformat.write(solved_notebook(), folder / RENAMED)
    with KernelSession(folder) as kernel:
        kernel.run(template_cell("init"))
        exported = plain(kernel.run(export_cell()))
    assert "Not exported" not in exported and "Traceback" not in exported
    [archive] = folder.glob("*.zip")
    with zipfile.ZipFile(archive) as contents:
        assert [n for n in contents.namelist() if n.endswith(".ipynb")] == [RENAMED]


# --- what the grader makes of what students submit -------------------------------------------


def test_heavy_downloaded_ipynb_and_exported_zip_both_grade_full_marks(colab_session, tmp_path):
    """The .ipynb downloaded from Colab, and the same notebook exported to a zip from Jupyter, graded in one batch.

    The zip is made by the notebook's own export cell in a Jupyter-like kernel (the notebook saved
    with its Colab outputs, a second notebook beside it). Grading runs both from the top, the
    first cell included, in its sandbox without network: 22/22 each.
    """
    from autograder import grade

    _, downloaded = colab_session
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    nbformat.write(downloaded, submitted / "colab_download.ipynb")
    folder = tmp_path / "jupyter"
    folder.mkdir()
    nbformat.write(downloaded, folder / RENAMED)
    nbformat.write(nbformat.read(TEMPLATE, as_version=4), folder / "fashion_mnist_keras-Copy1.ipynb")
    with KernelSession(folder, env={"JPY_SESSION_NAME": str(folder / RENAMED)}) as kernel:
        kernel.run(template_cell("init"))
        kernel.run(export_cell())
    [archive] = folder.glob("*.zip")
    (submitted / archive.name).write_bytes(archive.read_bytes())

    out = tmp_path / "graded"
    exit_code = grade.main(paths=[submitted], out=out, jobs=2, quiet=True)
    with (out / "grades.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert exit_code == 0 and len(rows) == 2
    for row in rows:
        assert (row["status"], row["score"], row["max_score"]) == ("graded", "22", "22"), row
        assert row["flags"] == "", row  # the setup cell is the hand-out's own: nothing to review


def test_students_requirements_pin_the_kits_versions_and_nothing_of_the_instructors():
    """requirements-student.txt: TensorFlow and otter-grader at the kit's pins, without pytest or selenium."""
    from packaging.requirements import Requirement

    requirements = [Requirement(line) for line in (ROOT / "requirements-student.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    student = {r.name: str(r.specifier).removeprefix("==") for r in requirements if r.name not in ("tensorflow", "tensorflow-cpu")}
    # Exactly one TensorFlow on every platform, the kit's release: tensorflow-cpu where it is published (no GPU
    # libraries, a fraction of the download), the ordinary wheel elsewhere.
    tensorflow = [r for r in requirements if r.name in ("tensorflow", "tensorflow-cpu")]
    for platform, machine, wheel in (("linux", "x86_64", "tensorflow-cpu"), ("win32", "AMD64", "tensorflow-cpu"),
                                     ("darwin", "arm64", "tensorflow"), ("linux", "aarch64", "tensorflow")):
        chosen = [r for r in tensorflow if r.marker.evaluate({"sys_platform": platform, "platform_machine": machine})]
        assert [(r.name, str(r.specifier)) for r in chosen] == [(wheel, "==" + pinned("tensorflow-cpu").split("==")[1])], platform
    for package in ("keras", "numpy", "matplotlib", "ipykernel", "otter-grader"):
        assert f"{package}=={student[package]}" == pinned(package), package
    assert f"otter-grader=={student['otter-grader']}" == OTTER_PIN
    assert not {"pytest", "selenium"} & set(student)


def test_both_spellings_of_the_input_shape_pass_q2_and_the_hints_name_both():
    """Keras 3 warns about Flatten(input_shape=...); keras.Input first is the modern spelling. Both earn q2's checks."""
    keras = pytest.importorskip("keras")
    from autograder.rubric.public import assert_public

    layers = [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    modern = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), *layers])
    assert assert_public("q2_model", model=modern) == passed_summary("q2_model")
    classic = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(10, activation="softmax")])
    assert assert_public("q2_model", model=classic) == passed_summary("q2_model")
    unbuilt = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(AssertionError) as failure:
        assert_public("q2_model", model=unbuilt)
    assert "keras.Input(shape=(28, 28)) or give Flatten input_shape=(28, 28)" in str(failure.value)
    prompt = next(cell.source for cell in nbformat.read(TEMPLATE, as_version=4).cells if cell.get("id") == "q2-prompt")
    assert "harmless" in prompt and "keras.Input(shape=(28, 28))" in prompt and "full marks" in prompt
