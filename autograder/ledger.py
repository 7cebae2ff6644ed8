"""One record per graded submission: an interrupted batch resumes, a rubric change rescores in seconds.

``OUT/submissions/<name>/grade.json`` holds the result (its facts included, never the arrays) with
the submission's content hash and two fingerprints of what the grade depends on:

- **execution**: the code that turns a notebook into facts: the sandbox-side code, the host side
  of execution, the trusted readers and inspector, the limits, the messages' shortening, every
  rubric module these import (``facts``, the record's schema; ``describe``, run inside the kernel
  and by the inspector; ``student``, which the integrity check reads), and the definitions of
  ``grade.py`` that collect facts (``FACT_MAKERS``);
- **rubric**: what turns facts into points: the rest of ``rubric/`` (the checks and their points,
  the student-side display), ``results.py``, ``grade.score_facts`` and the accuracy threshold.

The reports (feedback, grades.csv, summary.html) are in neither: they are written from results.
A record is written atomically right after the submission's reports. A later run decides per
submission (``classify``): **reuse** the record when the digest and both fingerprints match and the
grade is final; **rescore** it from its kept facts, without any kernel, when only the rubric side
changed; **run** the notebook again when it is new, its file changed, the execution side changed,
or the grader failed on it last time (``SubmissionResult.final`` is False).

Only ``grade.py``'s named definitions are fingerprinted, not the whole file: its orchestration
(``main``, ``grade_all``) changes no grade, nor does ``gradebook`` (the class files), and a change
there must not make a class's 300 notebooks train again.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from pathlib import Path

from .paths import EXPECTED_FACTS
from .reports.report import write_atomic
from .results import SubmissionResult
from .rubric.facts import from_dict
from .sandbox.export_format import check_facts, parse_json

RECORD = "grade.json"
PACKAGE = Path(__file__).resolve().parent
GRADE_MODULE = "grade.py"
# Paths under the package; a folder stands for every .py file in it.
EXECUTION_SIDE = ("sandbox", "execution", "trusted", "limits.py", "text.py")  # and the rubric modules they import
RUBRIC_SIDE = ("rubric", "results.py")  # minus the rubric modules on the execution side
RUBRIC = "rubric"
FACT_MAKERS = ("Collected", "STATUS_OF_RUN", "collect_facts", "_summarise", "_join")  # grade.py, execution side
SCORERS = ("score_facts",)  # grade.py, rubric side
NAMING_ONLY = ("trusted/identity.py",)  # who a submission belongs to: written anew by every run, shapes no grade

# What ``classify`` decides, and why a notebook runs again (for the console's one line).
REUSE, RESCORE, RUN = "reuse", "rescore", "run"
NEW, UNREADABLE, CHANGED, EXECUTION_CHANGED, NOT_FINAL = (
    "new", "unreadable record", "file changed", "grading code that produces facts changed", "grader failed last time")
THRESHOLD_CHANGED, RUBRIC_CHANGED = "threshold", "rubric"  # why RESCORE


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    execution: str  # the code that produces facts
    rubric: str  # the code and threshold that score them
    threshold: float | None = None  # recorded beside them, to say "the threshold changed" rather than "the rubric"


@dataclasses.dataclass(frozen=True)
class Verdict:
    action: str  # REUSE, RESCORE or RUN
    reason: str  # why RUN (NEW, CHANGED, ...) or RESCORE ("threshold" or "rubric"); "" for REUSE
    result: SubmissionResult | None = None  # the recorded result, for REUSE and RESCORE
    seconds: float | None = None  # how long grading it took when it last ran


def fingerprints(threshold: float | None) -> Fingerprints:
    execution = _sources(EXECUTION_SIDE, exclude=NAMING_ONLY)
    execution += _rubric_modules_imported_by(execution)
    # The expected facts decide scores, and the hand-out's setup cell carries them (its integrity flag).
    expected = EXPECTED_FACTS.read_bytes() if EXPECTED_FACTS.is_file() else b""
    return Fingerprints(
        execution=_hash(execution, _definitions(FACT_MAKERS), expected),
        rubric=_hash([path for path in _sources(RUBRIC_SIDE) if path not in execution], _definitions(SCORERS),
                     repr(threshold).encode(), expected),
        threshold=threshold,
    )


def _rubric_modules_imported_by(sources: list[Path]) -> list[Path]:
    """The rubric's modules that ``sources`` import, found by parsing them.

    ``facts`` and ``describe`` run inside the kernel and in the inspector, ``student`` tells the
    integrity check the hand-out's own cell: what they do shapes facts and flags, so they belong to
    the execution side, and an import added tomorrow puts its module there too. Only direct imports
    count: ``student`` imports the checks to pack them into the hand-out, and the flags that reading
    made are kept as they are by a rescore, like the run's status and message.
    """
    return sorted({module for source in sources for module in _imported_modules(source)
                   if module.parent == PACKAGE / RUBRIC and module.name != "__init__.py"})


def _imported_modules(source: Path) -> list[Path]:
    """The files of this package that ``source`` imports with ``from ... import`` (relative or absolute)."""
    modules = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = source.parent
            for _ in range(node.level - 1):
                base = base.parent
        elif (node.module or "").split(".")[0] == PACKAGE.name:
            base, node.module = PACKAGE, ".".join((node.module or "").split(".")[1:]) or None
        else:
            continue
        stem = base.joinpath(*node.module.split(".")) if node.module else base
        for candidate in (stem.with_suffix(".py"), *(stem / f"{alias.name}.py" for alias in node.names)):
            if candidate.is_file():
                modules.append(candidate)
    return modules


def _hash(sources: list[Path], *extra: bytes) -> str:
    hasher = hashlib.sha256()
    for source in sources:
        hasher.update(source.relative_to(PACKAGE).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    for part in extra:
        hasher.update(part + b"\0")
    return hasher.hexdigest()[:16]


def _sources(names, *, exclude=()) -> list[Path]:
    excluded = {PACKAGE / name for name in exclude}
    sources = []
    for name in names:
        path = PACKAGE / name
        sources += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [source for source in sources if source not in excluded]


def _definitions(names) -> bytes:
    """The source text of ``grade.py``'s top-level definitions ``names``, found by parsing the file.

    A name that is no longer defined hashes as absent (a test keeps the lists in step with grade.py).
    """
    source = (PACKAGE / GRADE_MODULE).read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    found = {}
    for node in ast.parse(source).body:
        targets = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [
            target.id for target in getattr(node, "targets", [getattr(node, "target", None)])
            if isinstance(target, ast.Name)]
        first = min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", ()))])
        for name in targets:
            found[name] = "".join(lines[first - 1:node.end_lineno])  # with its decorators, e.g. @dataclass
    return "\0".join(f"{name}={found.get(name, '<absent>')}" for name in names).encode()


def save(folder: Path, result: SubmissionResult, prints: Fingerprints, *, seconds: float | None = None) -> None:
    """Record ``result``; ``seconds`` is how long running and grading it took (for instructors and bench/)."""
    record = {"digest": result.digest, "execution": prints.execution, "rubric": prints.rubric,
              "threshold": prints.threshold, "seconds": seconds, "result": dataclasses.asdict(result)}
    write_atomic(folder / RECORD, json.dumps(record) + "\n")


def read(folder: Path) -> tuple[dict, SubmissionResult] | None:
    """The record as written and its result, whatever its fingerprints; None when absent or unreadable.

    The facts a rescore scores pass the export's schema again (``export_format.check_facts``), as they
    did when the inspector made them: a record is a file in a folder anyone may have edited.
    """
    try:
        record = parse_json((folder / RECORD).read_text(encoding="utf-8"))
        result = dict(record["result"])
        if result.get("facts") is not None:
            result["facts"], _ = check_facts(result["facts"])
        return record, from_dict(SubmissionResult, result)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # SchemaError is a ValueError
        return None


def classify(folder: Path, digest: str, prints: Fingerprints) -> Verdict:
    """What to do with one submission given its record: reuse it, rescore its facts, or run the notebook."""
    read_back = read(folder)
    if read_back is None:
        return Verdict(RUN, NEW if not (folder / RECORD).exists() else UNREADABLE)
    record, result = read_back
    seconds = record.get("seconds")
    if not digest or record.get("digest") != digest:
        return Verdict(RUN, CHANGED)
    if record.get("execution") != prints.execution:
        return Verdict(RUN, EXECUTION_CHANGED)
    if not result.final:
        return Verdict(RUN, NOT_FINAL)
    if record.get("rubric") != prints.rubric:
        reason = THRESHOLD_CHANGED if record.get("threshold") != prints.threshold else RUBRIC_CHANGED
        return Verdict(RESCORE, reason, result, seconds)
    return Verdict(REUSE, "", result, seconds)


def load(folder: Path, digest: str, prints: Fingerprints) -> SubmissionResult | None:
    """The recorded result when it can be reused as it is; None otherwise (see ``classify``)."""
    verdict = classify(folder, digest, prints)
    return verdict.result if verdict.action == REUSE else None
