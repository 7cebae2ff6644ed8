"""Regenerate student_template/ and solutions/ from the master notebook with ``otter assign``.

The master notebook in assignment/ is the one hand-edited source of the assignment.
``otter assign`` strips the solutions into TODO stubs and keeps only public tests for
students; we copy its output into the committed folders. Otter gives the cells it adds
random ids, so ids are renumbered to make the output reproducible and ``--check``
meaningful: it fails when the committed files differ from what the master generates.

The hand-out must work as a lone notebook (Colab, Kaggle, VS Code): the first cell of both
generated notebooks is replaced by ``rubric.student.setup_cell_source()``, which carries the
rubric's sources packed into the cell. The master's own first cell stays short and hand-edited;
the packed cell is generated here, so ``--check`` also fails when the rubric changed since.

README's "What is graded" table is generated too (between ``TABLE_START`` and ``TABLE_END``), from
the same rubric the grader builds from ``solutions/expected_facts.json``: changing the homework
rewrites the table, and ``--check`` fails on a stale one.
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .exceptions import GenerationFailed, StaleGeneratedFiles
from .expectations import declarations
from .paths import LESSON, NOTEBOOK_NAME, RUBRIC_PACKAGE, Layout
from .rubric.checks import QUESTIONS, build_rubric, default_expected
from .rubric.expected import FILE_NAME as EXPECTED_FACTS_NAME
from .rubric.expected import from_json
from .rubric.public import PUBLIC_VARIABLES
from .rubric.student import package_files, setup_cell_source

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
TABLE_START = "<!-- rubric table: written by `make generate` from the rubric and solutions/expected_facts.json -->"
TABLE_END = "<!-- end of the rubric table -->"


def main(*, check: bool = False, layout: Layout = LESSON) -> list[str]:
    """Write (or with ``check``, compare) the generated files of ``layout``; return the paths that changed."""
    root = layout.root
    with tempfile.TemporaryDirectory(prefix="otter-assign-") as scratch:
        generated = _run_otter_assign(Path(scratch), layout)
        changed = [str(path.relative_to(root)) for path, content in generated.items() if _read(path) != content]
        stale = _stale_files(generated, layout)
        if check:
            if changed or stale:
                raise StaleGeneratedFiles(
                    f"generated files are out of date: {sorted(changed + stale)}: "
                    f"run `python -m autograder generate` and commit the result"
                )
            return []
        for path in stale:
            (root / path).unlink()
        for target, content in generated.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return sorted(changed + stale)


def _run_otter_assign(scratch: Path, layout: Layout) -> dict[Path, bytes]:
    stage, build = scratch / "master", scratch / "dist"
    stage.mkdir()
    shutil.copyfile(layout.master, stage / NOTEBOOK_NAME)
    shutil.copytree(RUBRIC_PACKAGE, stage / "rubric", ignore=IGNORED)
    if layout.expected_facts.is_file():  # the checks grade against it (a new assignment has none before calibration)
        shutil.copyfile(layout.expected_facts, stage / "rubric" / EXPECTED_FACTS_NAME)
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "assign", NOTEBOOK_NAME, str(build), "--no-run-tests"],
        cwd=stage, capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise GenerationFailed(f"otter assign failed on {layout.master}: {completed.stderr.strip()[-1500:]}")
    master = nbformat.read(layout.master, as_version=4)
    _check_public_tests(master)
    _check_points(master, declarations(layout.master)["switched_off"])
    master_ids = {cell.get("id") for cell in master.cells}
    files = package_files(stage / "rubric")
    generated = {
        layout.template_dir / NOTEBOOK_NAME: _normalised(build / "student" / NOTEBOOK_NAME, master_ids, files),
        layout.solution: _normalised(build / "autograder" / NOTEBOOK_NAME, master_ids, files),
    }
    packed = build / "student" / "rubric"
    for path in sorted([*packed.rglob("*.py"), *packed.glob(EXPECTED_FACTS_NAME)]):
        generated[layout.template_dir / "rubric" / path.relative_to(packed)] = path.read_bytes()
    generated.update(_readme_with_rubric_table(layout))
    return generated


def _readme_with_rubric_table(layout: Layout) -> dict[Path, bytes]:
    """README.md with its rubric table rewritten from the rubric graded against ``layout``'s expected facts; nothing
    when the folder has no README with the markers, or no record yet (a new assignment before calibration)."""
    readme = layout.root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if TABLE_START not in text or TABLE_END not in text or not layout.expected_facts.is_file():
        return {}
    head, rest = text.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    expected = dataclasses.replace(from_json(layout.expected_facts.read_text(encoding="utf-8")),
                                   switched_off=declarations(layout.master)["switched_off"])
    return {readme: f"{head}{TABLE_START}\n{rubric_table(build_rubric(expected))}{TABLE_END}{tail}".encode("utf-8")}


def rubric_table(rubric) -> str:
    """The rubric as README's Markdown table: one row per check, its points and where it runs."""
    rows = ["| question | check | points | runs |", "|---|---|---|---|"]
    rows += [f"| `{check.question}` | {check.description} | {check.points} | "
             f"{'at grading only' if check.hidden else 'in `grader.check` and at grading'} |" for check in rubric]
    return "\n".join(rows) + "\n"


def _normalised(path: Path, master_ids: set, files: dict[str, str]) -> bytes:
    notebook = nbformat.read(path, as_version=4)
    # The author's declarations for the rubric are read from the master by calibrate, never handed out.
    notebook.cells = [cell for cell in notebook.cells
                      if not (cell.cell_type == "raw" and cell.source.lstrip().startswith("# RUBRIC"))]
    for index, cell in enumerate(notebook.cells):
        if cell.get("id") not in master_ids:
            cell["id"] = f"otter-{index}"
    _insert_setup_cell(notebook, files)
    return nbformat.writes(notebook).encode("utf-8") + b"\n"


def _insert_setup_cell(notebook, files: dict[str, str]) -> None:
    """Make the first cell (id ``init``) the hand-out's setup cell: the checks packed in, Colab's form view, folded in
    Jupyter."""
    [init] = [cell for cell in notebook.cells if cell.get("id") == "init"]
    init.source = setup_cell_source(files)
    init.metadata["cellView"] = "form"  # Colab shows the #@title form and hides the packed code
    init.metadata["jupyter"] = {"source_hidden": True}  # JupyterLab and Notebook 7 fold it


def _check_public_tests(master) -> None:
    """The master's test cells pass the variables ``rubric.public.PUBLIC_VARIABLES`` names, from which the hand-out
    writes Otter's tests."""
    found = {}
    for cell in master.cells:
        if cell.cell_type == "code" and str(cell.get("id", "")).endswith("-test"):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    found[node.name.removeprefix("test_")] = tuple(arg.arg for arg in node.args.args)
    if found != PUBLIC_VARIABLES:
        raise GenerationFailed(
            f"the master's test cells pass {found} but rubric/public.py's PUBLIC_VARIABLES says {PUBLIC_VARIABLES}: "
            f"make them agree (the hand-out writes its Otter tests from PUBLIC_VARIABLES)"
        )


def _check_points(master, switched_off: tuple[str, ...]) -> None:
    """Each question's ``points:`` in the master is what the rubric's checks of that question add up to, without
    the checks the master switches off."""
    import yaml

    declared = {}
    for cell in master.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            declared[config.get("name")] = config.get("points")
    rubric_for = build_rubric(dataclasses.replace(default_expected(), switched_off=switched_off))
    rubric = {question: sum(check.points for check in rubric_for if check.question == question)
              for question in QUESTIONS}
    if declared != rubric:
        raise GenerationFailed(f"the master's questions declare points {declared} but the rubric's checks add up to "
                               f"{rubric}: make each question's `points:` the sum of its checks (README: What is "
                               f"graded)")


def _stale_files(generated: dict[Path, bytes], layout: Layout) -> list[str]:
    """Files in student_template/rubric that the master no longer generates."""
    folder = layout.template_dir / "rubric"
    existing = set(folder.rglob("*.py")) if folder.is_dir() else set()
    return sorted(str(path.relative_to(layout.root)) for path in existing - set(generated))


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None
