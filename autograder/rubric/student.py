"""The hand-out's first cell, and the ``grader`` object it makes: one notebook that works anywhere.

The student receives a single ``.ipynb``. Its first cell (``setup_cell_source``, generated into the
template by ``autograder.generate``) carries this package's sources, packed into one string. Run,
it unpacks them into a folder (``CHECKS_FOLDER``) and calls ``setup``, which

- installs the pinned otter-grader when it is missing (Colab and Kaggle have network);
- writes Otter's test files for the public checks into ``CHECKS_FOLDER/tests``. Otter is always
  pointed at that folder: Colab accepts nothing else, and a folder never depends on Otter finding
  the notebook file (which a second notebook, a renamed one or VS Code defeats);
- returns ``Grader``: ``grader.check("q2_model")`` is Otter's check where Otter is installed, and
  the same public checks through ``public.assert_public`` where it is not (same messages);
  ``grader.export()`` is Otter's zip where the saved notebook file can be found, and otherwise
  (Colab, Kaggle) prints how to submit the ``.ipynb`` itself.

The instructor's grader runs this first cell too, in its sandbox (no network, Otter installed):
there it finds Otter, writes a few small files into the scratch folder and defines ``grader``,
which the grader never calls (it skips the check and export cells), so grading is unchanged; it
costs the import of Otter, about a second.
``is_setup_cell`` lets the integrity scan recognise this exact cell.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import zlib
from pathlib import Path

OTTER_PIN = "otter-grader==7.0.0"  # the same pin as the kit's requirements.txt (tests/test_platforms.py checks)
CHECKS_FOLDER = ".fashion_mnist_checks"
PACKAGE = "rubric"

HOW_TO_SUBMIT = {
    "colab": ("To submit from Google Colab: File > Download > Download .ipynb, then upload that .ipynb file to "
              "the course's LMS or Gradescope assignment. Colab keeps no notebook file that a zip could be made "
              "from, and none is needed: the grader runs the .ipynb itself, once, from the top."),
    "unknown": ("This notebook's file could not be found from here (on Kaggle, and in editors that do not say "
                "where the file is), so no zip was made. To submit: save the notebook, download it as .ipynb "
                "(File > Download > Download .ipynb; on Kaggle: File > Download Notebook), then upload that "
                ".ipynb file to the course's LMS or Gradescope assignment. The grader runs the .ipynb itself."),
}

# --- the generated first cell ----------------------------------------------------------------

_SETUP_HEAD = '''\
#@title Setup: run this cell first { display-mode: "form" }
# Installs {pin} if missing, unpacks the public checks packed into this cell, and creates `grader`.
def _setup_checks(packed):
    import base64, json, os, pathlib, sys, tempfile, zlib
    # TensorFlow's start-up lines (oneDNN, CUDA) say nothing to act on
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    files = json.loads(zlib.decompress(base64.b64decode(packed)))
    for base in (os.getcwd(), tempfile.gettempdir()):  # a temporary folder where this one is read-only
        folder = pathlib.Path(base, "{folder}")
        try:
            for name, text in files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(text, encoding="utf-8")
            break
        except OSError:
            continue
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    for module in [m for m in sys.modules if m.split(".")[0] == "{package}"]:
        del sys.modules[module]  # so that running this cell again loads the checks it just wrote
    from {package}.student import setup
    return setup(folder)

grader = _setup_checks('''

_SETUP_TAIL = ")\n"
_PACKED = re.compile(r'"([A-Za-z0-9+/=]*)"')
_MAX_UNPACKED = 4 * 1024 * 1024  # the scan reads the packed text of a student's cell: refuse a zip bomb


def _head() -> str:
    return _SETUP_HEAD.replace("{pin}", OTTER_PIN).replace("{folder}", CHECKS_FOLDER).replace("{package}", PACKAGE)


def package_files(package_dir: Path | None = None) -> dict[str, str]:
    """This package's sources, keyed ``rubric/<name>.py``, and the expected facts they grade against
    (``rubric/expected_facts.json``): what the first cell carries."""
    from .expected import FILE_NAME

    package_dir = package_dir or Path(__file__).resolve().parent
    files = {f"{PACKAGE}/{path.name}": path.read_text(encoding="utf-8") for path in sorted(package_dir.glob("*.py"))}
    # Beside the modules in the hand-out; in the kit, solutions/ (as ``expected.LOCATIONS``, from package_dir).
    for record in (package_dir / FILE_NAME, package_dir.parent.parent / "solutions" / FILE_NAME):
        if record.is_file():
            files[f"{PACKAGE}/{FILE_NAME}"] = record.read_text(encoding="utf-8")
            break
    return files


def setup_cell_source(files: dict[str, str] | None = None) -> str:
    """The hand-out's first cell, carrying ``files`` (by default this package's own sources)."""
    payload = json.dumps(files if files is not None else package_files(), sort_keys=True).encode("utf-8")
    packed = base64.b64encode(zlib.compress(payload, 9)).decode("ascii")
    return f'{_head()}"{packed}"{_SETUP_TAIL}'


def is_setup_cell(source: str, package_dir: Path | None = None) -> bool:
    """Whether ``source`` is exactly the first cell this package generates, carrying exactly its sources.

    The packed text is compared after unpacking, so a different zlib build (another machine's
    compressor) still matches, and a cell carrying any other code does not.
    """
    head = _head()
    if not source.startswith(head) or not source.rstrip("\n").endswith(")"):
        return False
    match = _PACKED.fullmatch(source[len(head):].rstrip("\n")[:-1])
    if match is None:
        return False
    try:
        unpacker = zlib.decompressobj()
        payload = unpacker.decompress(base64.b64decode(match.group(1), validate=True), _MAX_UNPACKED)
        if unpacker.unconsumed_tail:
            return False
        return json.loads(payload) == package_files(package_dir)
    except (ValueError, zlib.error):
        return False


# --- what the first cell does ----------------------------------------------------------------


def otter_test_file(question: str) -> str:
    """Otter's exception-style test file for ``question``: it calls ``public.assert_public``, as the master's test cell
    does."""
    from .checks import max_points
    from .public import PUBLIC_VARIABLES

    names = PUBLIC_VARIABLES[question]
    arguments = ", ".join(f"{name}={name}" for name in names)
    return (f'from otter.test_files import test_case\n\nOK_FORMAT = False\n\nname = "{question}"\n'
            f"points = {max_points(question)}\n\n@test_case(points=None, hidden=False)\n"
            f"def test_{question}({', '.join(names)}):\n"
            f"    from {PACKAGE}.public import assert_public\n"
            f"    assert_public({question!r}, {arguments})\n")


def setup(folder) -> "Grader":
    """Write the test files, make sure Otter is there (installing it if need be), and return ``grader``."""
    from .public import PUBLIC_VARIABLES

    tests = Path(folder) / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    for question in PUBLIC_VARIABLES:
        (tests / f"{question}.py").write_text(otter_test_file(question), encoding="utf-8")
    grader = Grader(tests, otter_installed=_ensure_otter())
    if grader.otter_installed:
        grader._notebook()  # import Otter now (about a second), so that the first check answers within a second
    _record_cells(grader)
    where = "Google Colab" if on_colab() else "this kernel"
    how = "Otter" if grader.otter_installed else "the public checks directly (without Otter)"
    print(f"Ready on {where}: grader.check(\"q1_load\") and the other check cells run {how}.")
    return grader


def _ensure_otter() -> bool:
    """Install the pinned otter-grader if it is missing; on failure say plainly what to install."""
    import importlib
    import importlib.util
    import subprocess

    if importlib.util.find_spec("otter") is not None:
        return True
    print(f"Installing {OTTER_PIN} (once per session; this can take a minute)...", flush=True)
    # Few retries and a short timeout: without network, the student should read the advice below soon.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--retries", "1", "--timeout", "20", OTTER_PIN]
    completed = subprocess.run(command, capture_output=True, text=True)
    importlib.invalidate_caches()
    if completed.returncode == 0 and importlib.util.find_spec("otter") is not None:
        return True
    reason = (completed.stderr.strip().splitlines() or ["pip failed"])[-1]
    print(f"Could not install {OTTER_PIN} ({reason}).\nInstall it yourself: run `%pip install {OTTER_PIN}` in a cell "
          f"(or `pip install {OTTER_PIN}` in a terminal, see requirements-student.txt), then run this cell again.\n"
          f"Until then, grader.check still runs the same public checks, without Otter; to submit, upload the .ipynb "
          f"file.")
    return False


def on_colab() -> bool:
    """Colab's shell is ``google.colab._shell.Shell``: Otter tells Colab apart the same way (its
    ``IPythonInterpreter``)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return "google.colab" in str(get_ipython())


# --- grader ----------------------------------------------------------------------------------


class Grader:
    """``grader`` in the notebook: ``check`` and ``export`` that work wherever the notebook runs."""

    def __init__(self, tests_dir: Path, otter_installed: bool):
        self.tests_dir = Path(tests_dir)
        self.otter_installed = otter_installed
        self.cells: list[tuple[float, str]] = []  # (time started, source) of each cell run since setup
        self._otter = None

    def __repr__(self) -> str:
        return f"<grader: public checks in {self.tests_dir}, {'Otter' if self.otter_installed else 'without Otter'}>"

    def check(self, question: str, global_env: dict | None = None):
        """Run the public checks of ``question`` on the caller's variables, as the grader words them."""
        env = global_env if global_env is not None else sys._getframe(1).f_globals
        if self.otter_installed:
            from .otter_display import install

            install()  # Otter's result reads in the rubric's words even if the check cannot start
            return self._notebook().check(question, env)
        return direct_check(question, env)

    def check_all(self, global_env: dict | None = None):
        from .public import PUBLIC_VARIABLES

        env = global_env if global_env is not None else sys._getframe(1).f_globals
        return [self.check(question, env) for question in PUBLIC_VARIABLES]

    def export(self, nb_path: str | None = None, pdf: bool = False, **kwargs):
        """Otter's submission zip of the saved notebook, or, where there can be none, how to submit."""
        if on_colab():
            print(HOW_TO_SUBMIT["colab"])
            return None
        path = Path(nb_path) if nb_path else notebook_path()
        if path is None or not path.is_file():
            print(HOW_TO_SUBMIT["unknown"])
            return None
        if refusal := stale_notebook(path, self.cells, sys._getframe(1).f_globals):
            print(refusal)
            return None
        if not self.otter_installed:
            print(f"otter-grader is not installed, so no zip was made: upload the saved notebook {path.name} itself.")
            return None
        return self._export_zip(path, pdf=pdf, **kwargs)

    def _notebook(self):
        """Otter's ``Notebook`` with the tests written by ``setup`` (made once)."""
        if self._otter is None:
            import otter

            self._otter = otter.Notebook(tests_dir=str(self.tests_dir))
        return self._otter

    def _export_zip(self, path: Path, **kwargs):
        # Otter names the notebook in the zip by the path it is given: give it the bare file name, from its folder.
        previous = os.getcwd()
        os.chdir(path.parent)
        try:
            return self._notebook().export(nb_path=path.name, **kwargs)
        finally:
            os.chdir(previous)


class DirectResult:
    """A check's result without Otter: shown as the same text Otter's result shows (``otter_display``)."""

    def __init__(self, question: str, passed: bool, text: str):
        self.name, self.passed, self.text = question, passed, text

    def __repr__(self) -> str:
        return self.text


def direct_check(question: str, env: dict) -> DirectResult:
    """The public checks of ``question`` on ``env``'s variables, passed by name as Otter passes them (None if
    missing)."""
    from .public import PUBLIC_VARIABLES, assert_public

    variables = {name: env.get(name) for name in PUBLIC_VARIABLES[question]}
    try:
        return DirectResult(question, True, assert_public(question, **variables))
    except AssertionError as failure:
        return DirectResult(question, False, str(failure).strip())


# --- finding and vetting the saved notebook --------------------------------------------------


def notebook_path() -> Path | None:
    """The saved notebook's file, where the platform says it: VS Code, Jupyter's server, or a lone notebook here."""
    try:
        from IPython import get_ipython

        namespace = get_ipython().user_ns
    except (ImportError, AttributeError):
        namespace = {}
    # VS Code's kernel sets __vsc_ipynb_file__; Jupyter's server passes JPY_SESSION_NAME, which
    # ipykernel puts in __session__ (relative to the server's root or absolute, depending on version).
    for named in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if isinstance(named, str) and named.endswith(".ipynb") and Path(named).is_file():
            return Path(named).resolve()
    notebooks = sorted(Path.cwd().glob("*.ipynb"))
    return notebooks[0].resolve() if len(notebooks) == 1 else None


_PLACEHOLDER = re.compile(r"^\s*(?P<targets>[A-Za-z_][\w\s,()]*?)\s*=\s*\.\.\.\s*(?:#.*)?$|^\s*\.\.\.\s*(?:#.*)?$")
_GRADER_CALL = re.compile(r"^\s*(grader\.\w+\(.*\)|#.*)?\s*$")


def stale_notebook(path: Path, cells: list[tuple[float, str]], namespace: dict) -> str | None:
    """Why the saved file at ``path`` is not what the student answered, or None when it is fine to zip.

    Two signs, both read from the file as saved: cells run since it was saved that it does not
    contain (edits not saved yet), and template placeholders (`x_train = ...`) for variables the
    kernel has answered. A notebook still entirely the template is refused too: it is a missing
    save, not a submission. Work that is merely unfinished is exported, with a note.
    """
    import nbformat

    try:
        saved = nbformat.read(str(path), as_version=4)
    except Exception as error:  # noqa: BLE001 - an unreadable file is reported, not raised
        return (f"Not exported: {path.name} could not be read as a notebook ({error}). Save it (File > Save), then "
                "run this cell again.")
    code = [cell for cell in saved.cells if cell.get("cell_type") == "code"]
    saved_sources = {_normalised(cell.get("source", "")) for cell in code}
    modified = path.stat().st_mtime
    unsaved = [source for started, source in cells if started > modified
               and _normalised(source) not in saved_sources and not _GRADER_CALL.match(_normalised(source) or "#")]
    save = "Save the notebook (File > Save, or Ctrl+S), then run this cell again."
    if unsaved:
        first = _normalised(unsaved[0]).splitlines()[0][:60]
        return (f"Not exported: the saved file {path.name} is older than your answers: {len(unsaved)} cell(s) you ran "
                f"since it was saved are not in it (the first begins `{first}`). {save}")
    answers = [cell for cell in code if "otter_answer_cell" in cell.get("metadata", {}).get("tags", ())] or code
    stubs = [(number, line) for number, cell in enumerate(answers, start=1)
             for line in _normalised(cell.get("source", "")).splitlines() if _PLACEHOLDER.match(line)]
    answered = [(number, line) for number, line in stubs if _kernel_answered(line, namespace)]
    if answered:
        number, line = answered[0]
        return (f"Not exported: the saved file {path.name} still holds the template's placeholder `{line.strip()}` "
                f"(answer cell {number}) although your kernel has answered it. {save}")
    if stubs and len({number for number, _ in stubs}) == len(answers):
        return (f"Not exported: every answer cell of the saved file {path.name} still holds the template's "
                f"placeholder `...`. {save}")
    if stubs:
        print(f"Note: {len({n for n, _ in stubs})} answer cell(s) still hold the placeholder `...`; exporting anyway.")
    return None


def _kernel_answered(line: str, namespace: dict) -> bool:
    targets = _PLACEHOLDER.match(line).group("targets")
    names = re.findall(r"[A-Za-z_]\w*", targets or "")
    return any(name in namespace and namespace[name] is not Ellipsis and namespace[name] is not None for name in names)


def _normalised(source) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().splitlines())


def _record_cells(grader: Grader) -> None:
    """Note each cell the kernel runs from now on (when and what), for ``stale_notebook``."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    callbacks = shell.events.callbacks["pre_run_cell"]
    for callback in [c for c in callbacks if getattr(c, "__qualname__", "") == "_record_cells.<locals>.record"]:
        shell.events.unregister("pre_run_cell", callback)  # the previous run of the first cell's recorder

    def record(info):
        grader.cells.append((time.time(), info.raw_cell or ""))

    shell.events.register("pre_run_cell", record)
