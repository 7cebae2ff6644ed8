"""Stage 1: turn the paths an instructor gives into submissions, one per input file.

A submission is a notebook (``.ipynb``) or an Otter export zip holding one. Anything
else becomes an ``InvalidSubmission`` with a message saying what was wrong, so the
batch still gives it a row. Saved outputs are dropped here: nothing a notebook
claims to have printed is ever used for grading.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from ..exceptions import InvalidSubmission
from ..limits import Limits
from .identity import Identity, identify, read_gradescope_metadata
from .safe_files import json_depth

SUFFIXES = (".ipynb", ".zip")


@dataclass(frozen=True)
class Submission:
    name: str  # unique within the batch; the `submission` column of grades.csv
    path: Path
    digest: str  # sha256 of the input file
    identity: Identity = Identity()  # who it belongs to, as its origin says (trusted.identity)


def find_submissions(paths, notes: list[str] | None = None) -> list[Submission]:
    """Expand folders into the notebooks and zips inside them and give each file a unique name.

    A file inside a folder given on the command line is named by its path relative to that folder
    (``alice/hw.ipynb``); a file given directly, by its file name. Only names that still clash (the
    same relative path under two folders given) are lengthened with the folders above them. A folder
    holding a Gradescope ``submission_metadata.yml`` names its submitters; ``notes`` collects what the
    instructor should know about such a file that could not be read.
    """
    notes = [] if notes is None else notes
    found: dict[Path, tuple[tuple[str, ...], int, dict | None]] = {}  # file -> (its path's parts, where its name starts, metadata)
    for path in map(Path, paths):
        if path.is_dir():
            metadata = read_gradescope_metadata(path, notes)
            base = len(path.resolve().parts)
            for file in sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                               and ".ipynb_checkpoints" not in p.parts):
                found.setdefault(file.resolve(), (file.resolve().parts, base, metadata))
        else:
            resolved = path.resolve()
            found.setdefault(resolved, (resolved.parts, len(resolved.parts) - 1, None))
    names = _unique_names({file: (parts, start) for file, (parts, start, _) in found.items()})
    # Identity reads the path relative to the folder given, where Gradescope's ``submission_<id>`` comes first.
    return [Submission(names[file], file, _digest(file), identify("/".join(parts[start:]), file, metadata))
            for file, (parts, start, metadata) in found.items()]


def read_notebook(submission: Submission, limits: Limits = Limits()) -> nbformat.NotebookNode:
    """Read the submission's notebook, without outputs, or raise InvalidSubmission saying why."""
    path = submission.path
    if not path.is_file():
        raise InvalidSubmission(f"{path} does not exist or is not a file")
    cap = limits.max_notebook_bytes
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        raw, origin = _notebook_from_zip(path, cap)
    else:
        with path.open("rb") as stream:
            raw, origin = stream.read(cap + 1), path.name
    notebook = _parse_notebook(raw, origin, cap, limits.max_json_depth)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def _notebook_from_zip(path: Path, cap: int) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(path) as archive:
            notebooks = [
                info for info in archive.infolist()
                if info.filename.endswith(".ipynb") and not info.is_dir()
                and "__MACOSX" not in info.filename and ".ipynb_checkpoints" not in info.filename
            ]
            if not notebooks:
                raise InvalidSubmission(f"{path.name} is a zip without a notebook: submit the zip made by the export cell, or the .ipynb itself")
            if len(notebooks) > 1:
                names = [info.filename for info in notebooks]
                raise InvalidSubmission(f"{path.name} holds {len(notebooks)} notebooks {names}: submit exactly one")
            info = notebooks[0]
            if info.file_size > cap:
                raise InvalidSubmission(f"{info.filename} in {path.name} is {info.file_size:,} bytes, over the {cap:,}-byte limit")
            with archive.open(info) as stream:
                raw = stream.read(cap + 1)
            return raw, f"{path.name}:{info.filename}"
    except zipfile.BadZipFile as error:
        raise InvalidSubmission(f"{path.name} is not a readable zip ({error}): re-export the notebook") from error


def _parse_notebook(raw: bytes, origin: str, cap: int, max_depth: int) -> nbformat.NotebookNode:
    if not raw.strip():
        raise InvalidSubmission(f"{origin} is empty: submit the saved notebook")
    if len(raw) > cap:
        raise InvalidSubmission(f"{origin} is over the {cap:,}-byte limit: clear the outputs and save again")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSubmission(f"{origin} is not UTF-8 text ({error.reason} at byte {error.start}): it is not a notebook file") from error
    if json_depth(text) > max_depth:  # counted before parsing, so that no parser recurses that deep
        raise InvalidSubmission(f"{origin} nests its JSON more than {max_depth} levels deep, which no notebook does: "
                                f"submit the .ipynb saved by Jupyter")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"{origin} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}): open it in Jupyter and save it again") from error
    if not isinstance(content, dict) or "cells" not in content and "worksheets" not in content:
        raise InvalidSubmission(f"{origin} is JSON but not a Jupyter notebook (no cells): submit the .ipynb file")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        raise InvalidSubmission(f"{origin} is not a valid notebook ({str(error).splitlines()[0]}): open it in Jupyter and save it again") from error
    return notebook


def _unique_names(files: dict[Path, tuple[tuple[str, ...], int]]) -> dict[Path, str]:
    """Each file's parts from ``start`` on, started earlier (one folder up at a time) only where two names clash."""
    start = {path: first for path, (_, first) in files.items()}
    while True:
        names = {path: "/".join(files[path][0][start[path]:]) for path in files}
        counts = Counter(names.values())
        clashing = [path for path in files if counts[names[path]] > 1 and start[path] > 1]
        if not clashing:
            return {path: str(PurePosixPath(name)) for path, name in names.items()}
        for path in clashing:
            start[path] -= 1


def _digest(path: Path) -> str:
    if not path.is_file():
        return ""
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()
