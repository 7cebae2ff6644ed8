"""A student's side of the assignment, driven through a real Jupyter kernel: checks and export.

The student's folder holds what they are handed, the notebook alone, solved with the
fixtures' reference answers and saved under a new name. Cells run in a fresh kernel whose
working folder is that folder, as in Jupyter, or another folder, kernel and environment
(``run_cells``'s options), as on the platforms ``test_platforms.py`` simulates.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
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


def solved_notebook(**changed: str) -> nbformat.NotebookNode:
    """The template with every answer cell solved; ``changed`` replaces answers by question ("q2": "...")."""
    notebook = nbformat.read(TEMPLATE, as_version=4)
    solutions = {**answers(), **changed}
    for cell in notebook.cells:
        if cell.get("id", "").endswith("-solution"):
            cell.source = solutions[cell["id"].removesuffix("-solution")]
    return notebook


def solved_student_folder(folder: Path, name: str = RENAMED) -> Path:
    """``folder`` holding only the template, solved and saved as ``name``: the hand-out is one notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(solved_notebook(), folder / name)
    return folder / name


def run_cells(folder: Path, sources: list[str], timeout: int = 300, **kernel) -> list[nbformat.NotebookNode]:
    """Run ``sources`` as cells in a fresh kernel working in ``folder``; return the executed cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    return run_notebook(notebook, folder, timeout=timeout, **kernel).cells


def run_notebook(notebook, folder: Path, timeout: int = 300, kernel_name: str = "python3", kernel_dirs=None,
                 env: dict | None = None, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Execute ``notebook`` in place in a fresh kernel working in ``folder``, as a student's front end does.

    ``kernel_dirs`` finds ``kernel_name`` among kernel specs of another environment (another
    virtualenv); ``env`` adds variables to the kernel's environment, as a notebook server does.
    """
    notebook.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": "python"}
    manager = AsyncKernelManager(kernel_name=kernel_name, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)) \
        if kernel_dirs else None
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name, allow_errors=allow_errors, km=manager,
                            resources={"metadata": {"path": str(folder)}})
    if env:
        import os

        client.execute(env={**os.environ, **env})
    else:
        client.execute()
    return notebook


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


class KernelSession:
    """One kernel a test drives cell by cell, as a student does, so that files can change between cells.

    ``run`` executes one cell and returns it with its outputs; ``save`` writes the notebook file
    as a front end's File > Save does: the given notebook, with the cells run so far appended
    (their sources, as the student typed them). Options are ``run_notebook``'s.
    """

    def __init__(self, folder: Path, timeout: int = 300, kernel_name: str = "python3", kernel_dirs=None,
                 env: dict | None = None):
        import contextlib
        import os

        self.notebook = nbformat.v4.new_notebook()
        self.notebook.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": "python"}
        manager = AsyncKernelManager(kernel_name=kernel_name, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)) \
            if kernel_dirs else None
        self.client = NotebookClient(self.notebook, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
                                     km=manager, resources={"metadata": {"path": str(folder)}})
        self._stack = contextlib.ExitStack()
        self._env = {"env": {**os.environ, **env}} if env else {}

    def __enter__(self) -> "KernelSession":
        self._stack.enter_context(self.client.setup_kernel(**self._env))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def run(self, source: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        self.notebook.cells.append(cell)
        self.client.execute_cell(cell, len(self.notebook.cells) - 1)
        return cell

    def run_silently(self, source: str) -> None:
        """Execute ``source`` as a front end's own code: silent, not in the history, no cell events (VS Code's set-up)."""
        from nbclient.util import run_sync

        msg_id = self.client.kc.execute(source, silent=True, store_history=False)
        reply = run_sync(self.client.kc.get_shell_msg)(timeout=60)
        assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok", reply["content"]

    def save(self, path: Path, notebook: nbformat.NotebookNode) -> None:
        saved = nbformat.from_dict(notebook)
        known = {cell.source for cell in saved.cells}
        saved.cells += [nbformat.v4.new_code_cell(c.source) for c in self.notebook.cells if c.source not in known]
        nbformat.write(saved, path)
