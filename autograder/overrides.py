"""The instructor's overrides (``--overrides overrides.csv``): points changed by hand, each with a reason.

Columns (a header row; names ignore case, spaces and underscores):

| column | what |
|---|---|
| ``student`` or ``submission`` | whose grade: a roster ``student_id`` (or, without a roster, the id Canvas or Gradescope gives), or a ``submission`` name as grades.csv writes it. Fill one per row. |
| ``question`` or ``check`` | what: a question (``q5_evaluate``) or one check, by its description as the feedback shows it (``test accuracy reaches the threshold``). Fill one, or both when the check's question is given too. Leave both empty (or write ``total``) to override the whole score. |
| ``points`` | the new score of that question, check or total (``3``), or, written with a sign, a change to it (``+1``, ``-2``). The result is kept between 0 and the maximum. Half points are allowed. |
| ``reason`` | required; the student sees it in their feedback. |

Overrides are applied after the rubric, every time grades are finished: the ledger keeps the
rubric's own result, so a rerun or a rescore never applies one twice. Checks' overrides come
first, then questions', then the whole score's, each in file order. An override that names a
student, submission, question or check that does not exist is an error before anything is graded.

The file given replaces the one kept from an earlier run as a whole; ``dropped`` names the earlier
rows that the new file no longer has, for the console and summary.html.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .exceptions import KitError
from .results import Adjustment, QuestionResult, SubmissionResult, _number
from .roster import csv_rows
from .rubric import QUESTIONS, RUBRIC, max_points

TOTAL = ""  # Override.question for one that overrides the whole score
TOTAL_WORDS = ("", "total")  # what the question column may say for it
KEPT_FILE = "overrides.csv"  # the copy in the output folder, reused by a later run given no --overrides
MAX_OVERRIDES_BYTES = 5 * 1024 * 1024
NUMBER = re.compile(r"^([+-])?(\d+(?:\.\d+)?|\.\d+)$")


@dataclasses.dataclass(frozen=True)
class Override:
    line: int  # in the file, for messages
    student: str  # "" when it names a submission
    submission: str  # "" when it names a student
    question: str  # TOTAL ("") for the whole score
    check: str  # a check's description, "" for the whole question
    points: float
    relative: bool  # a signed change rather than a new score
    reason: str

    @property
    def target(self) -> str:
        return f"student {self.student!r}" if self.student else f"submission {self.submission!r}"

    @property
    def what(self) -> str:
        """Whose and what it changes, one line: how the console names a dropped override."""
        return f"{self.student or self.submission} {self.check or self.question or 'total'}"


@dataclasses.dataclass(frozen=True)
class Overrides:
    rows: tuple[Override, ...]
    source: str  # the file, for messages
    text: str  # the file's content, kept in the output folder as it was given


def read_overrides(path: Path) -> Overrides:
    """Parse ``path``; a ``KitError`` says which line is wrong and how."""
    path = Path(path)
    try:
        raw = path.read_bytes()[:MAX_OVERRIDES_BYTES + 1]
        text = raw.decode("utf-8-sig")
    except OSError as error:
        raise KitError(f"cannot read the overrides {path}: {error.strerror}: pass a CSV file with "
                       "--overrides") from error
    except UnicodeDecodeError as error:
        raise KitError(f"the overrides {path} are not UTF-8 text: save the file as 'CSV UTF-8'") from error
    if len(raw) > MAX_OVERRIDES_BYTES:
        raise KitError(f"the overrides {path} are over {MAX_OVERRIDES_BYTES:,} bytes: is it the right file?")
    return parse_overrides(text, str(path))


def parse_overrides(text: str, source: str) -> Overrides:
    reader = csv_rows(text, f"the overrides {source}")
    header = [cell.strip().lower().replace(" ", "").replace("_", "") for cell in next(reader, [])]
    missing = [name for name, options in (("student or submission", ("student", "submission")),
                                         ("question or check", ("question", "check")),
                                         ("points", ("points",)), ("reason", ("reason",)))
               if not any(option in header for option in options)]
    if missing:
        raise KitError(f"the overrides {source} have no {' and no '.join(m + ' column' for m in missing)}: the header "
                       f"row needs student (or submission), question (or check), points, reason")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: (row[index].strip() if index < len(row) else "") for index, name in enumerate(header)}
        rows.append(_override(cells, line, source))
    return Overrides(tuple(rows), source, text)


def _override(cells: dict[str, str], line: int, source: str) -> Override:
    where = f"the overrides {source}, line {line},"
    student, submission = cells.get("student", ""), cells.get("submission", "")
    if bool(student) == bool(submission):
        raise KitError(f"{where} must name a student or a submission (one of them)")
    question, check = cells.get("question", ""), cells.get("check", "")
    if check:
        matches = [c for c in RUBRIC if c.description.lower() == check.lower() and question in ("", c.question)]
        if not matches:
            raise KitError(f"{where} names no check {check!r}{f' in {question}' if question else ''}: copy the "
                           f"check's description from the feedback page or summary.html")
        question, check = matches[0].question, matches[0].description
    elif question.lower() in TOTAL_WORDS:
        question = TOTAL
    elif question not in QUESTIONS:
        raise KitError(f"{where} names no question {question!r}: use one of {', '.join(QUESTIONS)}, a check, or "
                       f"leave both empty (or write total) to override the whole score")
    if (number := NUMBER.match(cells.get("points", ""))) is None:
        raise KitError(f"{where} has points {cells.get('points', '')!r}: write a new score (3) or a change (+1, -2)")
    sign, value = number.group(1), float(number.group(2))
    limit = (next(c.points for c in RUBRIC if c.description == check) if check else
             max_points(question) if question else sum(map(max_points, QUESTIONS)))
    if not sign and value > limit:
        raise KitError(f"{where} gives {value:g} points to {check or question or 'the total'}, which is worth {limit}")
    if not cells.get("reason"):
        raise KitError(f"{where} has no reason: give one, the student sees it in their feedback")
    return Override(line, student, submission, question, check, _number(-value if sign == "-" else value),
                    bool(sign), cells["reason"])


def check_targets(overrides: Overrides, *, submissions: set[str], students: set[str],
                  without_submission: frozenset[str] | set[str] = frozenset(), superseded: dict[str, str] | None = None) -> None:
    """Refuse an override naming a submission or student that is not in the batch (before anything is graded)."""
    superseded = superseded or {}
    for override in overrides.rows:
        where = f"the overrides {overrides.source}, line {override.line},"
        if override.submission and override.submission not in submissions:
            raise KitError(f"{where} names submission {override.submission!r}, which is not in this batch: use the "
                           f"name in grades.csv's submission column")
        if override.submission in superseded:
            raise KitError(f"{where} names submission {override.submission!r}, which is superseded by "
                           f"{superseded[override.submission]!r}, the one graded: override that one, or the student")
        if override.student in without_submission:
            raise KitError(f"{where} names student {override.student!r}, who has no submission: add their notebook "
                           f"to the submissions, or remove the line")
        if override.student and override.student not in students:
            raise KitError(f"{where} names student {override.student!r}, who is not in this batch: use a student_id "
                           f"from the roster (or from grades.csv)")


def dropped(earlier: Overrides | None, given: Overrides) -> list[Override]:
    """The rows of ``earlier`` (the kept file) that ``given`` no longer has: same target, question, check and change."""
    if earlier is None:
        return []
    kept = {_identity(row) for row in given.rows}
    return [row for row in earlier.rows if _identity(row) not in kept]


def _identity(row: Override) -> tuple:
    return row.student, row.submission, row.question, row.check, row.points, row.relative, row.reason


def apply(result: SubmissionResult, overrides: list[Override]) -> SubmissionResult:
    """``result`` with ``overrides`` (all for it) applied in file order; a check's before its question's, the total's
    last."""
    if not overrides:
        return result
    result = _apply_to_questions(result, [o for o in overrides if o.question != TOTAL])
    for override in sorted((o for o in overrides if o.question == TOTAL), key=lambda o: o.line):
        result = adjust_total(result, override.points if override.relative else override.points - result.score,
                              override.reason)
    return result


def adjust_total(result: SubmissionResult, change: float, reason: str) -> SubmissionResult:
    """``result`` with its whole score changed by ``change``, kept between 0 and its maximum; ``reason`` for the
    student."""
    kept = _number(min(max(result.score + change, 0), result.max_score) - result.score)
    return dataclasses.replace(result, total_adjustments=(*result.total_adjustments,
                                                          Adjustment(TOTAL, "", kept, reason)))


def _apply_to_questions(result: SubmissionResult, overrides: list[Override]) -> SubmissionResult:
    if not overrides:
        return result
    ordered = sorted(overrides, key=lambda o: (not o.check, o.line))
    questions = []
    for question in result.questions:
        adjustments = list(question.adjustments)
        for override in (o for o in ordered if o.question == question.name):
            current = QuestionResult(question.name, question.checks, tuple(adjustments)).score
            adjustments.append(Adjustment(question.name, override.check,
                                          _change(override, question, current), override.reason))
        questions.append(dataclasses.replace(question, adjustments=tuple(adjustments)))
    return dataclasses.replace(result, questions=tuple(questions))


def _change(override: Override, question: QuestionResult, current: float) -> float:
    """The points the override adds to the question's score, kept so that the score stays within 0 and its maximum."""
    if override.check:
        earned = next((c.score for c in question.checks if c.description == override.check), 0)
        wanted = earned + override.points if override.relative else override.points
        points = next(c.points for c in RUBRIC if c.description == override.check)
        change = min(max(wanted, 0), points) - earned
    else:
        change = override.points if override.relative else override.points - current
    return _number(min(max(current + change, 0), question.max_score) - current)
