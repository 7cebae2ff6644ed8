"""One record per graded submission, so an interrupted batch resumes where it stopped.

``OUT/submissions/<name>/grade.json`` holds the result with the submission's content hash
and a fingerprint of what the grade depends on: the threshold and every module that shapes a
grade (the rubric, the sandbox-side code, the host side of execution, the trusted readers,
the limits and the grading pipeline; not the reports). It is written atomically right after
the submission's reports. A later run reuses a record only when both still match and the
grade is final: a changed submission, changed grading code or threshold, or a grade the
grader failed to compute (``SubmissionResult.final`` is False) is graded again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from .reports.report import write_atomic
from .results import SubmissionResult
from .rubric.facts import from_dict

RECORD = "grade.json"
PACKAGE = Path(__file__).resolve().parent
GRADE_SHAPING = ("rubric", "sandbox", "execution", "trusted", "limits.py", "text.py", "grade.py", "results.py")


def fingerprint(threshold: float | None) -> str:
    hasher = hashlib.sha256(repr(threshold).encode())
    for source in _grade_shaping_sources():
        hasher.update(source.relative_to(PACKAGE).as_posix().encode() + b"\0" + source.read_bytes())
    return hasher.hexdigest()[:16]


def _grade_shaping_sources() -> list[Path]:
    sources = []
    for name in GRADE_SHAPING:
        path = PACKAGE / name
        sources += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return sources


def save(folder: Path, result: SubmissionResult, fingerprint: str, *, seconds: float | None = None) -> None:
    """Record ``result``; ``seconds`` is how long grading it took (for instructors and bench/)."""
    record = {"digest": result.digest, "fingerprint": fingerprint, "seconds": seconds, "result": dataclasses.asdict(result)}
    write_atomic(folder / RECORD, json.dumps(record) + "\n")


def load(folder: Path, digest: str, fingerprint: str) -> SubmissionResult | None:
    """The recorded result, or None when there is none, it is unreadable, or it is out of date."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if record["digest"] != digest or record["fingerprint"] != fingerprint or not digest:
            return None
        result = from_dict(SubmissionResult, record["result"])
        return result if result.final else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
