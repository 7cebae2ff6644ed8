"""A student's side of the assignment, driven through a real Jupyter kernel: checks and export.

The student's folder is what they are handed (the template's ``rubric/``) plus their
notebook, solved with the fixtures' reference answers and saved under a new name. Cells
run in a fresh kernel whose working folder is that folder, as in Jupyter.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.paths import NOTEBOOK_NAME, STUDENT_TEMPLATE_DIR

TEMPLATE = STUDENT_TEMPLATE_DIR / NOTEBOOK_NAME
RENAMED = "My homework (final).ipynb"
BUILDER = Path(__file__).resolve().parent / "fixtures" / "build_fixtures.py"


def answers() -> dict[str, str]:
    """The reference answer for each answer cell, as the fixtures use them."""
    spec = importlib.util.spec_from_file_location("build_fixtures", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ANSWERS


def template_cell(cell_id: str) -> str:
    return next(cell.source for cell in nbformat.read(TEMPLATE, as_version=4).cells if cell.get("id") == cell_id)


def check_cell(question: str) -> str:
    """The template's locked ``grader.check`` cell for ``question``."""
    sources = [cell.source for cell in nbformat.read(TEMPLATE, as_version=4).cells if cell.cell_type == "code"]
    return next(source for source in sources if source.strip() == f'grader.check("{question}")')


def export_cell() -> str:
    sources = [cell.source for cell in nbformat.read(TEMPLATE, as_version=4).cells if cell.cell_type == "code"]
    return next(source for source in sources if "grader.export(" in source)


def solved_student_folder(folder: Path, name: str = RENAMED) -> Path:
    """``folder`` with the handed-out ``rubric/`` and the template solved and saved as ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STUDENT_TEMPLATE_DIR / "rubric", folder / "rubric", ignore=shutil.ignore_patterns("__pycache__"))
    notebook = nbformat.read(TEMPLATE, as_version=4)
    solutions = answers()
    for cell in notebook.cells:
        if cell.get("id", "").endswith("-solution"):
            cell.source = solutions[cell["id"].removesuffix("-solution")]
    nbformat.write(notebook, folder / name)
    return folder / name


def run_cells(folder: Path, sources: list[str], timeout: int = 300) -> list[nbformat.NotebookNode]:
    """Run ``sources`` as cells in a fresh kernel working in ``folder``; return the executed cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return notebook.cells


def text_of(cell) -> str:
    """Everything a student sees under a cell: printed text and the displayed result, as plain text."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
            parts.append(output.data.get("text/html", ""))
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
    return "\n".join(parts)


def export_solved_notebook(folder: Path) -> Path:
    """Solve the template under a new name, run only the init and export cells (no training), return the zip."""
    solved_student_folder(folder)
    run_cells(folder, [template_cell("init"), export_cell()])
    [archive] = folder.glob("*.zip")
    return archive
