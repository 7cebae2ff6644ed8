"""Gradescope: build ``autograder.zip``, and grade one submission inside Gradescope's container.

``main`` (``python -m autograder gradescope --out PATH``) runs on the instructor's machine.
The zip holds what Gradescope looks for at its top level, ``setup.sh`` and ``run_autograder``
(in ``gradescope_files/``), plus this package, the pinned requirements that grading
imports (``grading_requirements``: the kit's own tools, pytest, selenium and the linters,
stay out), the calibrated ``solutions/reference_metrics.json`` and the four Fashion-MNIST
files, so nothing is downloaded when a submission is graded.

``run`` (``python -m autograder.gradescope ROOT``, what ``run_autograder`` calls) grades
the file in ``ROOT/submission`` with the same engine and rubric as the ``grade`` command,
into a fresh folder under ``ROOT/grading`` (a second run in the same root, as when the zip
is tried locally, never meets the first's results), and copies that submission's own
results.json to ``ROOT/results/results.json``.
"""

from __future__ import annotations

import ast
import html
import importlib.metadata
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from .exceptions import KitError
from .limits import GiB, Limits
from .paths import EXPECTED_FACTS, REFERENCE_METRICS, ROOT
from .reference import read_threshold
from .trusted import dataset
from .trusted.load_submission import find_submissions

FILES = Path(__file__).resolve().parent / "gradescope_files"
ENTRY_POINTS = ("setup.sh", "run_autograder")
DATA_FOLDER = "data/fashion-mnist"
GRADER_RESERVE = GiB  # beside the kernel: the grader process and the exported arrays in the scratch tmpfs (~0.6 GB)


def main(*, out: Path) -> Path:
    """Write the Gradescope autograder zip to ``out``; return its path."""
    out = Path(out)
    if out.suffix != ".zip":
        raise KitError(f"--out {out} should name the zip to write, e.g. build/autograder.zip")
    read_threshold()  # an uncalibrated kit cannot grade: fail here, not on Gradescope
    data = dataset.provision()
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in ENTRY_POINTS:
                _add(archive, FILES / name, name, executable=True)
            _add_text(archive, grading_requirements(), "requirements.txt")
            _add(archive, REFERENCE_METRICS, "solutions/reference_metrics.json")
            _add(archive, EXPECTED_FACTS, "solutions/expected_facts.json")
            package = Path(__file__).resolve().parent
            for path in sorted(package.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    _add(archive, path, f"autograder/{path.relative_to(package).as_posix()}")
            for name in dataset.FILES:
                _add(archive, data / name, f"{DATA_FOLDER}/{name}", compress=False)
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return out


def run(root: Path) -> int:
    """Grade the submission in ``root/submission`` into ``root/results/results.json``; return the exit code."""
    from . import grade

    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    folder = root / "submission"
    candidates = find_submissions([folder]) if folder.is_dir() else []
    if not candidates:
        _write_failure(results_path, "No notebook was found in your submission: upload your .ipynb file, "
                                     "or the zip that the notebook's last cell exports.")
        return 0
    # a notebook over a zip
    chosen = min(candidates, key=lambda s: (bool(s.problem), s.path.suffix != ".ipynb", s.name))
    if chosen.problem:  # a link (a zip upload can hold one) or a FIFO: grade.main would follow a path it is given
        _write_failure(results_path, chosen.problem)
        return 0
    try:
        out = _fresh_folder(root / "grading")
        grade.main(paths=[chosen.path], out=out, memory_bytes=memory_limit(), jobs=1)
        from .reports.report import RESULTS_FILE, submission_folder

        # find_submissions names a file given directly by its file name, as grade.main did
        graded = submission_folder(out, chosen.path.name)
        payload = _with_pictures(graded, json.loads((graded / RESULTS_FILE).read_text(encoding="utf-8")))
    except Exception as error:  # noqa: BLE001 - Gradescope must always get a results.json
        _write_failure(results_path, "The autograder could not grade this submission. Your instructor can see "
                                     "why in the autograder output.")
        print(f"grading failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if len(candidates) > 1:
        others = ", ".join(s.name for s in candidates if s is not chosen)
        said = f"Graded {chosen.name}; also submitted, not graded: {others}."  # names the student chose: escaped
        payload["output"] += f"<p>{html.escape(said)}</p>" if payload.get("output_format") == "html" else f"\n{said}"
    _write(results_path, payload)
    return 0


def _with_pictures(folder: Path, payload: dict) -> dict:
    """``payload`` (the submission's results.json) as Gradescope's students get it: with feedback.html's pictures.

    Drawn from the ledger's record of the same result (its plots are reused from the grading's cache);
    if the record says anything else than ``payload``, or cannot be read, the text alone is kept.
    """
    from . import ledger
    from .reports import plots
    from .reports.report import gradescope_results

    try:
        read_back = ledger.read(folder)
        if read_back is None or gradescope_results(read_back[1]) != payload:
            return payload
        with plots.cached_in(folder / plots.CACHE_FOLDER):
            return gradescope_results(read_back[1], pictures=True)
    except Exception as error:  # noqa: BLE001 - the pictures are a bonus: never lose the grade for them
        print(f"note: results.json without pictures ({type(error).__name__}: {error})", file=sys.stderr)
        return payload


def _fresh_folder(parent: Path) -> Path:
    """A new, empty folder under ``parent`` for this run; earlier runs' folders are removed first.

    Gradescope grades each submission in a new container, but an instructor trying the zip locally
    runs twice in one root: the first run's results must never be read as the second's, nor its
    ledger reuse a result for a file that changed under the same name.
    """
    if parent.is_dir():
        for earlier in parent.iterdir():
            if earlier.is_dir() and not earlier.is_symlink():
                shutil.rmtree(earlier, ignore_errors=True)  # best effort: the new run never reads them anyway
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=parent))


# A pinned line of requirements.txt: its distribution's name, then ==.
REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*==")


def grading_requirements(text: str | None = None) -> str:
    """The lines of requirements.txt (or ``text``) whose distribution the ``autograder`` package imports.

    Derived, not listed by hand: each top-level module the package's code imports is mapped to the
    installed distribution that provides it (``importlib.metadata.packages_distributions``), so a
    tool only the kit's own tests or CI use (pytest, selenium, the linters) never reaches Gradescope,
    and a new import reaches it without anyone remembering to add it.
    """
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8") if text is None else text
    provided = importlib.metadata.packages_distributions()
    needed = {_canonical(dist) for module in _imported_modules() for dist in provided.get(module, ())}
    kept = [line for line in text.splitlines() if (m := REQUIREMENT.match(line)) and _canonical(m["name"]) in needed]
    return "# Derived from the kit's requirements.txt: what grading imports (autograder/gradescope.py).\n" + \
        "\n".join(kept) + "\n"


def _imported_modules() -> set[str]:
    """Top-level names of every module imported (absolutely) anywhere in the ``autograder`` package."""
    modules: set[str] = set()
    for path in Path(__file__).resolve().parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def memory_limit() -> int:
    """The notebook's memory limit: the usual one, or less where the container leaves less beside the grader."""
    total = _container_memory()
    if total is None:
        return Limits.memory_bytes
    return max(GiB, min(Limits.memory_bytes, total - GRADER_RESERVE))


def _container_memory() -> int | None:
    for path in (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            value = path.read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 1 << 50:
            return int(value)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def _write_failure(path: Path, output: str) -> None:
    from .reports.report import gradescope_failure  # imported late, like _write's, to keep `main` free of matplotlib

    _write(path, gradescope_failure(output))


def _write(path: Path, payload: dict) -> None:
    from .reports.report import write_atomic

    write_atomic(path, json.dumps(payload, indent=2) + "\n")


def _add_text(archive: zipfile.ZipFile, text: str, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text.encode("utf-8"))


def _add(archive: zipfile.ZipFile, source: Path, name: str, *, executable: bool = False, compress: bool = True) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    archive.writestr(info, source.read_bytes())


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/autograder")))
