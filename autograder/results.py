"""Results as small dataclasses whose scores are derived, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rubric import QUESTIONS, CheckResult, SubmissionFacts, max_points

STATUSES = ("graded", "stopped", "error", "invalid")
STATUS_MEANINGS = {  # one line each, for README, the console and the class summary
    "graded": "the notebook ran to its end (cell errors included) and was graded",
    "stopped": "a limit (time, memory, output, disk or processes) stopped a cell; the work before it was graded",
    "error": "the grader, its inspector or the notebook's kernel failed: the instructor should look",
    "invalid": "the file is not a gradable notebook (not JSON, not a notebook, empty, or a zip without one)",
}


@dataclass(frozen=True)
class QuestionResult:
    name: str
    checks: tuple[CheckResult, ...]

    @property
    def score(self) -> int:
        return sum(check.score for check in self.checks)

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

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    @property
    def score(self) -> int:
        return sum(question.score for question in self.questions)

    @property
    def max_score(self) -> int:
        return sum(max_points(name) for name in QUESTIONS)

    def question_score(self, name: str) -> int:
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
