"""Stage 1: turn the paths an instructor gives into submissions, one per input file.

A submission is a notebook (``.ipynb``) or an Otter export zip holding one. Anything
else becomes an ``InvalidSubmission`` with a message saying what was wrong, so the
batch still gives it a row. Saved outputs are dropped here: nothing a notebook
claims to have printed is ever used for grading.

Everything here is read defensively, as files a student (or an unzip tool) made:

- folders are walked without following a link; a link or a FIFO with a submission's name is a
  submission of its own, ``invalid`` with the reason, and is never opened;
- names are kept in a printable form (``shown``): a byte that is not UTF-8, as ``unzip`` leaves
  cp437 names, shows as ``\\x81``, a control or direction character as ``\\u202e``, so that no
  write, CSV, HTML page or console line fails on it;
- whatever a zip or a notebook holds, reading it ends in a notebook or an ``InvalidSubmission``
  (encrypted or unusually compressed zips, damaged files, JSON no Jupyter writes).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import stat
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from ..exceptions import InvalidSubmission
from ..limits import Limits
from .identity import LAYOUTS, Identity, decide_layout, identify, read_gradescope_metadata
from .safe_files import json_depth

SUFFIXES = (".ipynb", ".zip")
# Jupyter's own autosaves, and the AppleDouble copies a Mac puts in a zip: never a submission, and a subfolder
# of them must not turn a Canvas download into a folder per student.
SKIPPED_FOLDERS = (".ipynb_checkpoints", "__MACOSX")
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                     zipfile.ZIP_LZMA: "lzma"}
# What the standard library raises on a damaged zip member besides BadZipFile: a bad stream in each
# decompressor, a short read, a bad header field. Any of them is the file's own fault, hence invalid.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
               struct.error, OverflowError, IndexError, KeyError, NotImplementedError, RuntimeError)
AGAIN = "download it again and re-upload it"  # what a student can do about a damaged or cut-short file


@dataclass(frozen=True)
class Submission:
    name: str  # unique within the batch, printable (``shown``); the `submission` column of grades.csv
    path: Path
    digest: str  # sha256 of the input file
    identity: Identity = Identity()  # who it belongs to, as its origin says (trusted.identity)
    problem: str = ""  # why it is not a file to read at all (a link, a FIFO): read_notebook refuses it with this


def find_submissions(paths, notes: list[str] | None = None, layouts: list[str] | None = None) -> list[Submission]:
    """Expand folders into the notebooks and zips inside them and give each file a unique, printable name.

    A file inside a folder given on the command line is named by its path relative to that folder
    (``alice/hw.ipynb``); a file given directly, by its file name. Only names that still clash (the
    same relative path under two folders given) are lengthened with the folders above them. Each
    folder's layout (``identity.decide_layout``) is decided once, and a line for the console saying
    which is added to ``layouts``; ``notes`` collects what the instructor should know about a
    Gradescope metadata file that could not be read. A path given on the command line is the
    instructor's own and is followed if it is a link; nothing inside a folder is.
    """
    notes = [] if notes is None else notes
    layouts = [] if layouts is None else layouts
    # file -> (its parts, where its name starts, identity, problem)
    found: dict[Path, tuple[tuple[str, ...], int, Identity, str]] = {}
    loose = []
    for path in map(Path, paths):
        if not path.is_dir():
            loose.append(path.resolve())
            continue
        folder = path.resolve()
        files = _walk(folder)
        metadata = read_gradescope_metadata(folder, notes)
        relative = {parts: "/".join(map(shown, parts)) for parts, _ in files}
        layout = decide_layout(list(relative.values()), metadata)
        layouts.append(f"{shown(str(path))}: {LAYOUTS[layout]} ({len(files)} file(s))")
        for parts, problem in files:
            file = folder.joinpath(*parts)
            identity = identify(relative[parts], file, metadata, layout)
            found.setdefault(file, (tuple(map(shown, file.parts)), len(folder.parts), identity, problem))
    # Files given one by one: a Canvas download only if they all sit in one folder (a shell's `downloads/*.ipynb`).
    one_folder = len({p.parent for p in loose}) == 1
    layout = decide_layout([shown(path.name) for path in loose], None) if one_folder else "files"
    if loose:
        layouts.append(f"the {len(loose)} file(s) given one by one: {LAYOUTS[layout]}")
    for file in loose:
        problem = "" if file.is_file() else f"{shown(file.name)} is not a regular file: pass a notebook or a zip"
        identity = identify(shown(file.name), file, None, layout)
        found.setdefault(file, (tuple(map(shown, file.parts)), len(file.parts) - 1, identity, problem))
    names = _unique_names({file: (parts, start) for file, (parts, start, _, _) in found.items()})
    return [Submission(names[file], file, "" if problem else _digest(file), identity, problem)
            for file, (_, _, identity, problem) in found.items()]


def shown(text: str) -> str:
    """``text`` as it can be printed, written and compared anywhere: no undecodable byte, no invisible character.

    A byte that is not UTF-8 (kept by Python as a lone surrogate) shows as ``\\xNN``; any other character
    Python does not call printable (controls, direction overrides, unassigned code points, spaces other
    than " ") as ``\\uNNNN``. Ordinary names, in any script, are unchanged.
    """
    if text.isprintable():  # the common case, and fast
        return text
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif not char.isprintable():  # controls, format and direction characters, unassigned ones, odd spaces
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def _walk(folder: Path) -> list[tuple[tuple[str, ...], str]]:
    """The submissions under ``folder`` as (relative parts, problem), sorted; links are listed, never followed."""
    found, pending = [], [()]
    while pending:
        relative = pending.pop()
        try:
            entries = list(os.scandir(folder.joinpath(*relative)))
        except OSError:
            continue  # a folder this user cannot list holds nothing it could read
        for entry in entries:
            parts, named = (*relative, entry.name), PurePosixPath(entry.name).suffix in SUFFIXES
            try:
                if entry.is_symlink():
                    if named or entry.is_dir():
                        found.append((parts, f"{shown('/'.join(parts))} is a symbolic link, which the grader does not "
                                             f"follow (it could lead anywhere on this machine): put the file itself "
                                             f"there"))
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_FOLDERS:
                        pending.append(parts)
                elif named:
                    regular = entry.is_file(follow_symlinks=False)
                    found.append((parts, "" if regular else f"{shown('/'.join(parts))} is not a regular file (a FIFO, "
                                                            f"socket or device): pass a notebook or a zip"))
            except OSError:
                continue  # gone while the folder was listed
    return sorted(found)


def read_notebook(submission: Submission, limits: Limits = Limits()) -> nbformat.NotebookNode:  # noqa: B008 - Limits is frozen: one shared default is safe
    """Read the submission's notebook, without outputs, or raise InvalidSubmission saying why."""
    if submission.problem:
        raise InvalidSubmission(submission.problem)
    cap, name = limits.max_notebook_bytes, submission.name
    with _open_regular(submission.path, name) as stream:
        if submission.path.suffix == ".zip" or _is_zip(stream):
            raw, origin = _notebook_from_zip(stream, name, cap)
        else:
            raw, origin = stream.read(cap + 1), name
    notebook = _parse_notebook(raw, origin, cap, limits.max_json_depth)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def _open_regular(path: Path, name: str):
    """``path`` opened for reading if it is a regular file (no link, no FIFO), as it is now, not as it was found."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise InvalidSubmission(f"{name} cannot be read ({error.strerror}): it is a link, gone, or not readable; "
                                f"put the file itself there") from error
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise InvalidSubmission(f"{name} is not a regular file: pass a notebook or a zip")
    return os.fdopen(descriptor, "rb")


def _is_zip(stream) -> bool:
    try:
        return zipfile.is_zipfile(stream)
    finally:
        stream.seek(0)


def _notebook_from_zip(stream, name: str, cap: int) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(stream) as archive:
            notebooks = [
                info for info in archive.infolist()
                if info.filename.endswith(".ipynb") and not info.is_dir()
                and "__MACOSX" not in info.filename and ".ipynb_checkpoints" not in info.filename
            ]
            if not notebooks:
                raise InvalidSubmission(f"{name} is a zip without a notebook: submit the zip made by the export cell, "
                                        f"or the .ipynb itself")
            if len(notebooks) > 1:
                names = [shown(info.filename) for info in notebooks[:10]]
                raise InvalidSubmission(f"{name} holds {len(notebooks)} notebooks {names}: submit exactly one")
            info = notebooks[0]
            member = f"{shown(info.filename)} in {name}"
            if info.flag_bits & 0x1:
                raise InvalidSubmission(f"{member} is encrypted: submit the zip made by the export cell, without a "
                                        f"password")
            if info.compress_type not in _READABLE_METHODS:
                raise InvalidSubmission(f"{member} is compressed with method {info.compress_type}, which the grader "
                                        f"does not read: submit the zip made by the export cell, or the .ipynb itself")
            if info.file_size > cap:
                raise InvalidSubmission(f"{member} is {info.file_size:,} bytes, over the {cap:,}-byte limit")
            with archive.open(info) as member_stream:
                raw = member_stream.read(cap + 1)
            return raw, f"{name}:{shown(info.filename)}"
    except InvalidSubmission:
        raise
    except _ZIP_ERRORS as error:
        reason = shown(" ".join(str(error).split())[:200]) or type(error).__name__
        raise InvalidSubmission(f"{name} is not a readable zip ({reason}): it is damaged or cut short; "
                                f"{AGAIN}") from error


def _parse_notebook(raw: bytes, origin: str, cap: int, max_depth: int) -> nbformat.NotebookNode:
    if not raw.strip():
        raise InvalidSubmission(f"{origin} is empty: submit the saved notebook")
    if len(raw) > cap:
        raise InvalidSubmission(f"{origin} is over the {cap:,}-byte limit: clear the outputs and save again")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSubmission(f"{origin} is not UTF-8 text ({error.reason} at byte {error.start}): it is not a "
                                f"notebook file") from error
    if json_depth(text) > max_depth:  # counted before parsing, so that no parser recurses that deep
        raise InvalidSubmission(f"{origin} nests its JSON more than {max_depth} levels deep, which no notebook does: "
                                f"submit the .ipynb saved by Jupyter")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"{origin} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}): "
                                f"it is damaged or cut short; {AGAIN}") from error
    except ValueError as error:  # a number with more digits than Python converts, and the like
        raise InvalidSubmission(f"{origin} holds JSON no notebook holds ({shown(str(error)[:200])}): "
                                f"submit the .ipynb saved by Jupyter") from error
    if not isinstance(content, dict) or "cells" not in content and "worksheets" not in content:
        raise InvalidSubmission(f"{origin} is JSON but not a Jupyter notebook (no cells): submit the .ipynb file")
    try:
        json.dumps(content, ensure_ascii=False).encode("utf-8")  # a lone surrogate escape ("\\ud800") is not text
    except UnicodeEncodeError as error:
        raise InvalidSubmission(f"{origin} holds an escape that is no character (a lone surrogate such as \\ud800), "
                                f"which Jupyter never writes: submit the .ipynb saved by Jupyter") from error
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        first = shown((str(error).strip().splitlines() or [type(error).__name__])[0][:300])
        raise InvalidSubmission(f"{origin} is not a valid notebook ({first}): open it in Jupyter and save "
                                "it again") from error
    return notebook


def _unique_names(files: dict[Path, tuple[tuple[str, ...], int]]) -> dict[Path, str]:
    """Each file's parts from ``start`` on, started earlier (one folder up at a time) only where two names clash.

    Paths made printable can be equal (an undecodable byte in one name, its printed form typed out in
    another): the later of those, in path order, get ``~2``, ``~3``... after their file name first.
    """
    files, seen = dict(files), Counter()
    for path in sorted(files, key=str):
        parts, first = files[path]
        seen[parts] += 1
        if seen[parts] > 1:
            files[path] = ((*parts[:-1], f"{parts[-1]}~{seen[parts]}"), first)
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
    hasher = hashlib.sha256()
    try:
        with _open_regular(path, path.name) as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                hasher.update(block)
    except (InvalidSubmission, OSError):
        return ""  # read_notebook says why
    return hasher.hexdigest()
