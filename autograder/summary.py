"""The instructor's class summary: ``summary.html`` beside ``grades.csv``.

Score histogram, pass rate of every check, the most common failure messages, the
submissions that could not be graded normally, and every submission's scores with a
link to its feedback. One self-contained page; the plots are embedded PNGs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from html import escape
from pathlib import Path

from . import plots
from .page import image, note, page
from .report import submission_folder, write_atomic
from .results import SubmissionResult
from .rubric import QUESTIONS, RUBRIC

SUMMARY_FILE = "summary.html"
TOP_MESSAGES = 15
NOT_GRADED = ("error", "timeout", "invalid")


def write_class_summary(results: list[SubmissionResult], out_dir: Path) -> Path:
    path = Path(out_dir) / SUMMARY_FILE
    write_atomic(path, summary_html(results, Path(out_dir)))
    return path


def summary_html(results: list[SubmissionResult], out_dir: Path) -> str:
    body = ["<h1>Class summary</h1>", _headline(results)]
    body += ["<h2>Scores</h2>", _histogram(results)]
    body += ["<h2>Pass rate per check</h2>", _pass_rates(results)]
    body += ["<h2>Most common failure messages</h2>", _failures(results)]
    body += ["<h2>Submissions that errored or timed out</h2>", _problems(results)]
    body += ["<h2>All submissions</h2>", _table(results, out_dir)]
    return page("Class summary", "\n".join(body))


def _headline(results) -> str:
    counts = Counter(result.status for result in results)
    statuses = ", ".join(f"{counts[status]} {status}" for status in ("graded", *NOT_GRADED) if counts[status])
    scores = [result.score for result in results]
    maximum = results[0].max_score if results else 0
    averages = (f" Mean score <span data-summary=\"mean\">{statistics.mean(scores):.1f}</span> / {maximum}, "
                f"median {statistics.median(scores):g}.") if scores else ""
    return f'<p><span data-summary="count">{len(results)}</span> submission(s): {statuses}.{averages}</p>'


def _histogram(results) -> str:
    if not results:
        return note("No submissions.")
    return image(plots.score_histogram([r.score for r in results], results[0].max_score), "Histogram of scores")


def _checked(results) -> list[SubmissionResult]:
    """Submissions the rubric ran on (those that errored or were invalid have no check results)."""
    return [result for result in results if any(question.checks for question in result.questions)]


def _pass_rates(results) -> str:
    checked = _checked(results)
    if not checked:
        return note("No submission could be checked.")
    passed = Counter(
        (check.question, check.description)
        for result in checked for question in result.questions for check in question.checks if check.passed
    )
    rows, labels, rates = [], [], []
    for check in RUBRIC:
        count = passed[(check.question, check.description)]
        rate = count / len(checked)
        labels.append(f"{check.question}: {check.description}" + (" *" if check.hidden else ""))
        rates.append(rate)
        rows.append(
            f"<tr><td>{escape(check.question)}</td><td>{escape(check.description)}{' (hidden)' if check.hidden else ''}</td>"
            f'<td class="number">{count}</td><td class="number">{len(checked)}</td><td class="number">{rate:.0%}</td></tr>'
        )
    table = ('<table class="pass-rates"><tr><th>question</th><th>check</th><th class="number">passed</th>'
             f'<th class="number">of</th><th class="number">rate</th></tr>{"".join(rows)}</table>')
    return image(plots.pass_rates(labels, rates), "Share of graded submissions passing each check (* hidden)") + table


def _failures(results) -> str:
    messages = Counter(
        (check.question, check.message)
        for result in _checked(results) for question in result.questions for check in question.checks if not check.passed
    )
    if not messages:
        return note("No check failed.")
    rows = "".join(
        f'<tr><td class="number">{count}</td><td>{escape(question)}</td><td>{escape(message)}</td></tr>'
        for (question, message), count in messages.most_common(TOP_MESSAGES)
    )
    return f'<table class="failures"><tr><th class="number">submissions</th><th>question</th><th>message</th></tr>{rows}</table>'


def _problems(results) -> str:
    problems = [result for result in results if result.status in NOT_GRADED]
    if not problems:
        return note("None: every submission ran to the end.")
    rows = "".join(
        f"<tr><td>{escape(r.submission)}</td><td>{escape(r.status)}</td><td>{escape(r.message)}</td></tr>" for r in problems
    )
    return f'<table class="problems"><tr><th>submission</th><th>status</th><th>message</th></tr>{rows}</table>'


def _table(results, out_dir: Path) -> str:
    header = "".join(f'<th class="number">{escape(q)}</th>' for q in QUESTIONS)
    rows = []
    for result in results:
        link = (submission_folder(out_dir, result.submission) / "feedback.html").relative_to(out_dir).as_posix()
        cells = "".join(
            f'<td class="number" data-question="{escape(q)}">{result.question_score(q)}</td>' for q in QUESTIONS
        )
        rows.append(
            f'<tr data-submission="{escape(result.submission)}"><td><a href="{escape(link)}">{escape(result.submission)}</a></td>'
            f'<td data-column="status">{escape(result.status)}</td>'
            f'<td class="number" data-column="score">{result.score}</td><td class="number" data-column="max_score">{result.max_score}</td>'
            f"{cells}</tr>"
        )
    return (f'<table class="submissions"><tr><th>submission</th><th>status</th><th class="number">score</th>'
            f'<th class="number">of</th>{header}</tr>{"".join(rows)}</table>')
