"""Results as small dataclasses whose scores are derived, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rubric import QUESTIONS, CheckResult, SubmissionFacts, max_points

STATUSES = ("graded", "stopped", "error", "invalid", "superseded", "missing")
NOT_A_GRADE = ("superseded", "missing")  # rows that list a submission or a student but hold no score
STATUS_MEANINGS = {  # one line each, for README, the console and the class summary
    "graded": "the notebook ran to its end (cell errors included) and was graded",
    "stopped": "a limit (time, memory, output, disk or processes) stopped a cell; the work before it was graded",
    "error": "the grader, its inspector or the notebook's kernel failed: the instructor should look",
    "invalid": "the file is not a gradable notebook (not JSON, not a notebook, empty, or a zip without one)",
    "superseded": "the student submitted again later; only their latest submission is run and graded",
    "missing": "a student on the roster with no submission",
}


@dataclass(frozen=True)
class Adjustment:
    """An instructor's override of a question's points (``autograder.overrides``), with its reason."""

    question: str  # "" when it adjusts the whole score (an override of the total, a late penalty)
    check: str  # the check's description, or "" when it adjusts the question as a whole
    points: float  # the change it made to the question's score (after keeping it within 0 and the maximum)
    reason: str  # shown to the student


@dataclass(frozen=True)
class QuestionResult:
    name: str
    checks: tuple[CheckResult, ...]
    adjustments: tuple[Adjustment, ...] = ()  # applied after the rubric, never recorded in the ledger

    @property
    def rubric_score(self) -> int:
        return sum(check.score for check in self.checks)

    @property
    def score(self) -> float:
        return _number(self.rubric_score + sum(adjustment.points for adjustment in self.adjustments))

    @property
    def max_score(self) -> int:
        return max_points(self.name)


@dataclass(frozen=True)
class SubmissionResult:
    submission: str
    status: str
    message: str
    questions: tuple[QuestionResult, ...]
    digest: str = ""
    facts: SubmissionFacts | None = field(default=None, compare=False, repr=False)  # what the plots in reports draw
    flags: tuple[str, ...] = ()  # for the instructor's review (trusted.integrity), never a score change
    final: bool = True  # False when the grader itself failed: not kept as the grade, retried by the next run
    student_id: str = ""  # set when grades are finished (roster or LMS identity); "" when unknown
    name: str = ""  # the student's name, likewise
    late: bool = False  # its LMS says it came after the due date (set when grades are finished)
    total_adjustments: tuple[Adjustment, ...] = ()  # of the whole score, after the questions' (overrides, late policy)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    @property
    def score(self) -> float:
        return _number(self.questions_score + sum(adjustment.points for adjustment in self.total_adjustments))

    @property
    def questions_score(self) -> float:
        """The sum of the questions' scores, before any adjustment of the whole score."""
        return _number(sum(question.score for question in self.questions))

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return (*(adjustment for question in self.questions for adjustment in question.adjustments),
                *self.total_adjustments)

    @property
    def is_grade(self) -> bool:
        """False for rows that only list a superseded submission or a missing student."""
        return self.status not in NOT_A_GRADE

    @property
    def max_score(self) -> int:
        return sum(max_points(name) for name in QUESTIONS)

    def question_score(self, name: str) -> float:
        return next((q.score for q in self.questions if q.name == name), 0)

    @classmethod
    def from_checks(cls, submission: str, status: str, message: str, checks, digest: str = "", *,
                    facts: SubmissionFacts | None = None, flags: tuple[str, ...] = ()) -> "SubmissionResult":
        questions = tuple(
            QuestionResult(name, tuple(check for check in checks if check.question == name)) for name in QUESTIONS
        )
        return cls(submission, status, message, questions, digest, facts, flags)

    @classmethod
    def ungraded(cls, submission: str, status: str, message: str, digest: str = "", *, flags: tuple[str, ...] = (),
                 final: bool = True) -> "SubmissionResult":
        """A submission that earned nothing because it could not be run or read."""
        return cls(submission, status, message, tuple(QuestionResult(name, ()) for name in QUESTIONS), digest,
                   flags=flags, final=final)


def _number(value: float) -> float:
    """Whole points as an int (``22``, not ``22.0``, in every file); an override may add half points."""
    return int(value) if float(value).is_integer() else round(float(value), 4)
