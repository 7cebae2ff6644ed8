"""Stage 6: write what instructors and LMSs read. Every file is written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
from html import escape
from pathlib import Path

from ..reference import reference_curves
from ..results import SubmissionResult
from ..rubric import QUESTIONS, RUBRIC
from . import plots, spreadsheet
from .feedback_html import feedback_html, feedback_title
from .spreadsheet import safe_cell as _cell  # noqa: F401 - the CSV cell rule's name here before it had its own module

# The files of a submission's output folder (``submission_folder``); ``ledger.RECORD`` is the ledger's own.
RESULTS_FILE, FEEDBACK_FILE, EXECUTED_FILE = "results.json", "feedback.html", "executed.ipynb"
GRADES_COLUMNS = ("submission", "student_id", "name", "status", "late", "score", "max_score", *QUESTIONS, "message",
                  "flags")
READABLE_NAME_LENGTH = 80
BEFORE_TITLE = 1024  # characters of feedback.html before its <title> (doctype, charset, viewport, CSP), with room


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; reports are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def submission_folder(out_dir: Path, submission: str) -> Path:
    """``alice/hw.ipynb`` -> ``OUT/submissions/alice__hw.ipynb-1a2b3c4d``: one folder per submission, no nesting.

    Sanitising alone maps different names to one folder (``ann smith.ipynb`` and ``ann_smith.ipynb``,
    ``alice/hw.ipynb`` and ``alice__hw.ipynb``), so a hash of the exact name always follows the readable part.
    """
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", submission.replace("/", "__"))[:READABLE_NAME_LENGTH] or "submission"
    digest = hashlib.sha256(submission.encode("utf-8")).hexdigest()[:8]
    return out_dir / "submissions" / f"{readable}-{digest}"


def grades_csv(results: list[SubmissionResult]) -> str:
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow(GRADES_COLUMNS)
    for result in results:
        scores = (result.score, result.max_score, *(result.question_score(name) for name in QUESTIONS))
        if not result.is_grade:  # a superseded submission or a missing student: listed, not scored
            scores = ("", result.max_score, *("" for _ in QUESTIONS))
        writer.writerow([_cell(value) for value in (
            result.submission, result.student_id, result.name, result.status, "yes" if result.late else "", *scores,
            result.message,
            "; ".join(result.flags),
        )])
    return buffer.getvalue()


def gradescope_results(result: SubmissionResult, *, pictures: bool = False) -> dict:
    """Gradescope's results.json: one visible test per question, and its hidden checks after publishing.

    Students read it, so it holds no ``flags``: those are for the instructor's review (summary.html, grades.csv).
    An override touching a hidden check (or a question that has one) is shown only after publishing
    too, like the check. With ``pictures`` (what Gradescope's students get), the output is HTML with
    feedback.html's curves and confusion matrix (``gradescope_page``); the copy kept in each output
    folder is text only, so that finishing grades never draws.
    """
    tests = []
    for question in result.questions:
        for hidden, visibility, suffix in ((False, "visible", ""), (True, "after_published", " (hidden checks)")):
            checks = [check for check in question.checks if check.hidden == hidden]
            if not checks and (hidden or question.checks):
                continue
            tests.append({
                "name": question.name + suffix,
                "score": sum(check.score for check in checks),
                "max_score": sum(check.points for check in checks) if checks else question.max_score,
                "output": "\n".join(_check_line(check) for check in checks) or result.message,
                "visibility": visibility,
            })
        tests += [_adjustment_test(adjustment, True) for adjustment in question.adjustments]  # after their checks
    tests += [_adjustment_test(adjustment, False) for adjustment in result.total_adjustments]
    payload = {
        "score": result.score,
        "output": f"status: {result.status}" + (" (submitted late)" if result.late else "")
                  + (f"\n{result.message}" if result.message else ""),
        "visibility": "visible",
        "tests": tests,
    }
    if pictures:
        from .gradescope_page import with_pictures  # draws: only for the copy Gradescope shows

        payload = with_pictures(payload, result)
    return payload


def _adjustment_test(adjustment, of_question: bool) -> dict:
    """An override as a test of its own: Gradescope adds its score, and shows the reason as its output.

    It is shown when the checks it adjusts are: after publishing for a hidden check, or for a
    whole question that has one (its points would tell the hidden checks' outcome early).
    """
    what = (f"{adjustment.question}: {adjustment.check}" if adjustment.check else adjustment.question) or "total"
    hidden = of_question and any(  # from the rubric: an ungraded question has no check results to ask
        check.hidden for check in RUBRIC
        if check.question == adjustment.question and adjustment.check in ("", check.description))
    return {"name": f"{what} (adjusted by your instructor)", "score": adjustment.points, "max_score": 0,
            "output": adjustment.reason, "visibility": "after_published" if hidden else "visible"}


def gradescope_failure(output: str) -> dict:
    """Gradescope's results.json when there is nothing to grade: zero points and ``output`` telling the student why."""
    return {"score": 0, "output": output, "visibility": "visible", "tests": []}


def write_submission_reports(result: SubmissionResult, out_dir: Path) -> Path:
    """results.json and feedback.html; the page's plots are kept in the folder and reused while what they draw is the
    same."""
    folder = submission_folder(out_dir, result.submission)
    write_atomic(folder / RESULTS_FILE, _results_text(result))
    with contextlib.nullcontext() if plots.caching() else plots.cached_in(folder / plots.CACHE_FOLDER):
        write_atomic(folder / FEEDBACK_FILE, feedback_html(result, reference_curves()))
    return folder


def refresh_reports(rows: list[SubmissionResult], out_dir: Path) -> set[str]:
    """``refresh_submission_reports`` once per submission, its page addressed to all its rows' students (a group's
    members share one page); returns the submissions whose reports were rewritten."""
    by_submission: dict[str, list[SubmissionResult]] = {}
    for row in rows:
        if row.submission:
            by_submission.setdefault(row.submission, []).append(row)
    return {name for name, group in by_submission.items()
            if refresh_submission_reports(dataclasses.replace(group[0], name=addressee(group)), out_dir)}


def addressee(rows: list[SubmissionResult]) -> str:
    """Whom a submission's page is for: its students' names ("" when no roster or layout names anyone)."""
    names = list(dict.fromkeys(row.name for row in rows if row.name))
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def refresh_submission_reports(result: SubmissionResult, out_dir: Path) -> bool:
    """Rewrite the reports of ``result`` when what it now says (an override, superseded, the student's name) differs.

    results.json changes with every score, status or override, so comparing it tells whether the
    feedback page, costlier to draw, is stale too; the page's title tells whom it is addressed to.
    An unchanged submission costs two small reads.
    """
    folder = submission_folder(out_dir, result.submission)
    try:
        same = (folder / RESULTS_FILE).read_text(encoding="utf-8") == _results_text(result)
        if same and _addressed_to(folder, result):
            return False
    except OSError:
        pass
    write_submission_reports(result, out_dir)
    return True


def _addressed_to(folder: Path, result: SubmissionResult) -> bool:
    """Whether the feedback page exists and its title names whom ``result`` is for (the title is in its first bytes)."""
    title = f"<title>{escape(feedback_title(result))}</title>"
    with open(folder / FEEDBACK_FILE, encoding="utf-8", errors="replace") as stream:
        return title in stream.read(BEFORE_TITLE + len(title))


def _results_text(result: SubmissionResult) -> str:
    return json.dumps(gradescope_results(result), indent=2) + "\n"


def format_table(results: list[SubmissionResult]) -> str:
    header = ["submission", "student", "status", "score", *QUESTIONS]
    rows = [
        [r.submission or "-", r.name or r.student_id or "-", r.status + (" (late)" if r.late else ""),
         f"{r.score}/{r.max_score}" if r.is_grade else "-",
         *(str(r.question_score(q)) if r.is_grade else "-" for q in QUESTIONS)]
        for r in results
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *rows])


def _check_line(check) -> str:
    mark = "PASS" if check.passed else "FAIL"
    text = f"[{mark}] {check.description} ({check.score}/{check.points})"
    return text if check.passed else f"{text}: {check.message}"
