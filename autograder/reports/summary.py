"""The instructor's class summary: ``summary.html`` beside ``grades.csv``.

Score histogram, pass rate of every check, the most common failure messages, the
submissions the instructor should look at (the grader failed, the integrity checks
flagged them, or their test accuracy lies within ``NEAR_THRESHOLD`` of the threshold), those
that were stopped or not graded, and every submission's scores with a link to its feedback.
One self-contained page; the plots are embedded PNGs, each with its numbers as a table.
The table of all submissions takes the window's width: each row starts with the student's
name (linked to their feedback) above the file name, and numbers and statuses never wrap.
"""

from __future__ import annotations

import statistics
from collections import Counter
from html import escape
from pathlib import Path

from ..results import STATUS_MEANINGS, STATUSES, SubmissionResult
from ..rubric import QUESTIONS, RUBRIC
from . import plots
from .page import breakable, data_table, disclosure, image, note, page, scrolling
from .report import FEEDBACK_FILE, submission_folder, write_atomic

SUMMARY_FILE = "summary.html"
TOP_MESSAGES = 15
# A fresh grade retrains every model, and a retrained model's test accuracy moves by about this much from run to run
# (the reference's own, over the calibration seeds: "stdev" in solutions/reference_metrics.json): a submission this
# close to the threshold may pass on one run and fail on the next.
NEAR_THRESHOLD = 0.005
STOPPED_OR_NOT_GRADED = ("stopped", "invalid")
NOT_FINAL = "not kept as the grade: the grader failed, and the next run grades it again"
FLAGS_EXPLAINED = (
    "Flags never change a score: grading cannot tell a forged training record from a real one without retraining, "
    "so the code that did something a fair solution has no need to do is listed here for you to judge."
)


def write_class_summary(results: list[SubmissionResult], out_dir: Path, *, notes: list[str] = (),
                        unmatched: list[str] = (), **extras) -> Path:
    path = Path(out_dir) / SUMMARY_FILE
    write_atomic(path, summary_html(results, Path(out_dir), notes=notes, unmatched=unmatched, **extras))
    return path


def summary_html(results: list[SubmissionResult], out_dir: Path, *, notes: list[str] = (), unmatched: list[str] = (),
                 attention: dict[str, str] | None = None, overrides_dropped: list[str] = (),
                 lms_notes: list[str] = (), late_policy: str = "") -> str:
    """The page; ``notes`` say what this machine did not enforce (the console says them too, once);
    ``unmatched`` are the submissions that match nobody on the roster; ``attention``, those assigned to
    nobody because their ids disagree, with why; ``overrides_dropped`` the rows of the earlier overrides
    file the new one no longer has; ``lms_notes`` what canvas.csv could match wrongly; ``late_policy``
    the policy applied, if any."""
    everything, graded = results, [result for result in results if result.is_grade]
    body = ["<h1>Class summary</h1>", _headline(results), _threshold(results), _legend()]
    if notes:
        items = "".join(f"<li>{escape(line)}</li>" for line in notes)
        body += ["<h2>Limits this machine did not enforce</h2>", f'<ul class="notes">{items}</ul>']
    if unmatched or any(result.status == "missing" for result in results):
        body += ["<h2>Roster</h2>", _roster(results, unmatched)]
    body += ["<h2>Overrides</h2>", _dropped_overrides(overrides_dropped), _overrides(results)]
    body.append(_late_section(results, late_policy))
    body.append(_lms_notes(lms_notes))
    results = graded  # from here on, only rows that hold a grade: statistics leave out superseded and missing
    body += ["<h2>Needs your attention</h2>", _attention(results, attention or {})]
    body += ["<h2>Flagged for review</h2>", f'<div id="flagged">{_flagged(results)}</div>']  # the table's flag links
    body += ["<h2>Near the accuracy threshold</h2>", _near_threshold(results)]
    body += ["<h2>Scores</h2>", _histogram(results)]
    body += ["<h2>Pass rate per check</h2>", _pass_rates(results)]
    body += ["<h2>Most common failure messages</h2>", _failures(results)]
    body += ["<h2>Stopped or not graded</h2>", _problems(results)]
    body += ["<h2>All submissions</h2>", _table(everything, out_dir)]
    return page("Class summary", "\n".join(body), wide=True)


def _headline(results) -> str:
    counts = Counter(result.status for result in results)
    statuses = ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status])
    scores = [result.score for result in results if result.is_grade]
    maximum = results[0].max_score if results else 0
    averages = (f" Mean score <span data-summary=\"mean\">{statistics.mean(scores):.1f}</span> / {maximum}, "
                f"median {statistics.median(scores):g}.") if scores else ""
    return f'<p><span data-summary="count">{len(results)}</span> submission(s): {statuses}.{averages}</p>'


def _threshold(results) -> str:
    """The accuracy threshold the scores were computed with (recorded in each graded result's facts)."""
    used = sorted({r.facts.grader.accuracy_threshold for r in results
                   if r.facts is not None and r.facts.grader is not None
                   and r.facts.grader.accuracy_threshold is not None})
    if not used:
        return ""
    shown = ", ".join(f'<span data-summary="threshold">{value:g}</span>' for value in used)
    return (f"<p>Accuracy threshold in use: {shown} (a model's test accuracy, evaluated by the grader, must reach "
            "it).</p>")


def _legend() -> str:
    items = "".join(f"<li><strong>{escape(status)}</strong>: "
                    f"{escape(STATUS_MEANINGS[status])}</li>" for status in STATUSES)
    return f'<ul class="legend">{items}</ul>'


def _roster(results, unmatched) -> str:
    """Who the roster expected and did not get, and what came in from someone not on it."""
    parts = []
    missing = [r for r in results if r.status == "missing"]
    if missing:
        items = "".join(f'<li data-missing="{escape(r.student_id)}">{escape(r.name)} '
                        f'({escape(r.student_id)})</li>' for r in missing)
        parts.append(f"<p>{len(missing)} student(s) on the roster have no submission:</p><ul>{items}</ul>")
    if unmatched:
        items = "".join(f'<li data-unmatched="{escape(name)}">{escape(name)}</li>' for name in unmatched)
        parts.append(f"<p>{len(unmatched)} submission(s) match nobody on the roster: they are graded, with an empty "
                     f"student_id, and left out of canvas.csv. Rename the folder or file after the student's id, or "
                     f"add the student to the roster.</p><ul>{items}</ul>")
    return "".join(parts)


def _overrides(results) -> str:
    rows = "".join(
        f'<tr data-override="{escape(r.submission)}"><td>{escape(r.submission)}</td>'
        f'<td>{escape(r.name or r.student_id)}</td>'
        f"<td>{escape(a.question or 'total')}</td><td>{escape(a.check)}</td>"
        f'<td class="number">{"+" if a.points >= 0 else ""}{a.points:g}</td><td>{escape(a.reason)}</td></tr>'
        for r in results if r.status != "superseded" for a in r.adjustments
    )
    if not rows:
        return note("None: every score is the rubric's own.")
    return scrolling('<table class="overrides"><tr><th>submission</th><th>student</th><th>question</th><th>check</th>'
                     f'<th class="number">change</th><th>reason</th></tr>{rows}</table>', "Overrides")


def _dropped_overrides(lines: list[str]) -> str:
    """The earlier overrides file's rows that the one given this time no longer has (it replaced them)."""
    if not lines:
        return ""
    items = "".join(f'<li data-dropped-override="">{escape(line)}</li>' for line in lines)
    return (f'<p class="dropped-overrides">{len(lines)} override(s) of the previous file were dropped: the file given '
            f"replaces the one kept in this folder. To keep them, add them back to the file and grade again.</p>"
            f"<ul>{items}</ul>")


def late_marker(result: SubmissionResult) -> str:
    """A small marker beside a late submission's status (text, not only colour)."""
    return ' <span class="late" data-late="yes">(late)</span>' if result.late else ""


def _late_section(results, policy: str) -> str:
    """The late submissions and the policy applied to them, if any were late."""
    late_rows = [r for r in results if r.late]
    if not late_rows:
        return ""
    items = "".join(f'<li data-late-row="{escape(r.submission)}">{escape(r.name or r.submission)}</li>'
                    for r in late_rows)
    said = (f"Late policy applied: <code>{escape(policy)}</code>; the points taken are listed under Overrides."
            if policy else "No late policy was given (--late-policy): their scores are the rubric's.")
    return f"<h2>Late</h2><p>{len(late_rows)} submission(s) came after the due date. {said}</p><ul>{items}</ul>"


def _lms_notes(lines: list[str]) -> str:
    """What canvas.csv holds that Canvas could match wrongly, or leaves out, and why."""
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<h2>LMS files</h2><ul class="lms-notes">{items}</ul>'


def _attention(results, unassigned: dict[str, str]) -> str:
    """The grader's own failures (the score may be wrong through no fault of the student), and the submissions
    assigned to nobody because what names their student disagrees (``roster.assign``): whose each is, the
    instructor decides."""
    needing = [r for r in results if r.status == "error" or not r.final]
    if not needing and not unassigned:
        return note("Nothing: the grader, its inspector and every kernel worked.")
    rows = "".join(
        f'<tr data-attention="{escape(r.submission)}"><td>{escape(r.submission)}</td><td>{escape(r.status)}</td>'
        f"<td>{escape(_why_attention(r))}</td><td>{escape(r.message)}</td></tr>"
        for r in needing
    )
    rows += "".join(
        f'<tr data-attention="{escape(name)}" data-unassigned="{escape(name)}"><td>{escape(name)}</td><td>assigned to '
        f"nobody</td><td>{escape(reason)}</td><td>graded with an empty student_id and left out of canvas.csv</td></tr>"
        for name, reason in sorted(unassigned.items())
    )
    return scrolling('<table class="attention"><tr><th>submission</th><th>status</th><th>why</th><th>message</th></tr>'
                     f"{rows}</table>", "Needs your attention")


def _why_attention(result: SubmissionResult) -> str:
    reasons = [STATUS_MEANINGS["error"]] if result.status == "error" else []
    return "; ".join(reasons + ([] if result.final else [NOT_FINAL]))


def _flagged(results) -> str:
    flagged = [r for r in results if r.flags]
    if not flagged:
        return note("No submission was flagged.")
    rows = "".join(
        f'<tr data-flagged="{escape(r.submission)}"><td>{escape(r.submission)}</td><td '
        f'class="number">{r.score}</td><td><ul '
        f'class="flags">{"".join(f"<li>{escape(flag)}</li>" for flag in r.flags)}</ul></td></tr>'
        for r in flagged
    )
    return (f'<p>{escape(FLAGS_EXPLAINED)}</p>'
            + scrolling(f'<table class="flagged"><tr><th>submission</th><th '
                        f'class="number">score</th><th>flags</th></tr>{rows}</table>',
                        "Flagged for review"))


def _histogram(results) -> str:
    if not results:
        return note("No submissions.")
    scores = [r.score for r in results]
    counts = sorted(Counter(scores).items())
    table = data_table("histogram", ["score", "submissions"], [[f"{score:g}", str(count)] for score, count in counts],
                       caption="Submissions per score")
    return (image(plots.score_histogram(scores, results[0].max_score), "Histogram of scores (numbers below)")
            + disclosure("The scores as a table", table))


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
            f"<tr><td>{escape(check.question)}</td>"
            f"<td>{escape(check.description)}{' (hidden)' if check.hidden else ''}</td>"
            f'<td class="number">{count}</td><td class="number">{len(checked)}</td>'
            f'<td class="number">{rate:.0%}</td></tr>'
        )
    table = scrolling(f'<table class="pass-rates"><tr><th>question</th><th>check</th><th class="number">passed</th><th '
                      f'class="number">of</th><th '
                      f'class="number">rate</th></tr>{"".join(rows)}</table>', "Pass rate per check")
    return image(plots.pass_rates(labels, rates), "Share of graded submissions passing each check (* hidden; "
                 "the table below has the numbers)") + table


def _failures(results) -> str:
    # One count per submission: a message that fails five checks of one notebook is one student's mistake.
    messages = Counter()
    for result in _checked(results):
        messages.update({
            (check.question, check.message)
            for question in result.questions for check in question.checks if not check.passed
        })
    if not messages:
        return note("No check failed.")
    rows = "".join(
        f'<tr><td class="number">{count}</td><td>{escape(question)}</td><td>{escape(message)}</td></tr>'
        for (question, message), count in messages.most_common(TOP_MESSAGES)
    )
    return scrolling(f'<table class="failures"><tr><th '
                     f'class="number">submissions</th><th>question</th><th>message</th></tr>{rows}</table>',
                     "Most common failure messages")


def _problems(results) -> str:
    problems = [result for result in results if result.status in STOPPED_OR_NOT_GRADED]
    if not problems:
        return note("None: every notebook was read and ran to its end.")
    rows = "".join(
        f'<tr><td>{escape(r.submission)}</td><td '
        f'class="status">{escape(r.status)}</td><td>{escape(r.message)}</td></tr>'
        for r in problems
    )
    return scrolling(f'<table '
                     f'class="problems"><tr><th>submission</th><th>status</th><th>message</th></tr>{rows}</table>',
                     "Stopped or not graded")


def _table(results, out_dir: Path) -> str:
    """Every row: the student (linked to the feedback) above the file name, status, scores, message, flags."""
    header = "".join(f'<th scope="col" class="number">{breakable(q)}</th>' for q in QUESTIONS)  # q3_<wbr>compile
    rows = []
    for result in results:
        shown = (lambda value: value) if result.is_grade else (lambda value: "")  # superseded, missing: no score
        cells = "".join(
            f'<td class="number" data-question="{escape(q)}">{shown(result.question_score(q))}</td>' for q in QUESTIONS
        )
        rows.append(
            f'<tr data-submission="{escape(result.submission)}">{_student_cell(result, out_dir)}'
            f'<td class="status" data-column="status">{escape(result.status)}{late_marker(result)}</td>'
            f'<td class="number" data-column="score">{shown(result.score)}</td>'
            f'<td class="number" data-column="max_score">{result.max_score}</td>{cells}'
            f'<td class="text" data-column="message">{escape(result.message)}</td>'
            f'<td data-column="flags">{_flag_count(result)}</td></tr>'
        )
    return scrolling(
        '<table class="submissions full"><thead><tr><th scope="col">student</th><th scope="col">status</th>'
        f'<th scope="col" class="number">score</th><th scope="col" class="number">of</th>{header}'
        f'<th scope="col">message</th><th scope="col">flags</th></tr></thead><tbody>{"".join(rows)}</tbody></table>',
        "All submissions")


def _student_cell(result: SubmissionResult, out_dir: Path) -> str:
    """The student's name (or, when nobody is known, the file name) linked to the feedback; the file name and id
    small."""
    who = escape(result.name) if result.name else breakable(result.submission)
    if result.submission:  # a missing student has no submission, so nothing to link to
        link = (submission_folder(out_dir, result.submission) / FEEDBACK_FILE).relative_to(out_dir).as_posix()
        who = f'<a href="{escape(link)}">{who}</a>'
    small = [breakable(result.submission)] if result.name and result.submission else []
    small += [f"id {escape(result.student_id)}"] if result.student_id else []
    details = f'<span class="file" data-column="file">{" &middot; ".join(small)}</span>' if small else ""
    return f'<td class="student" data-column="student"><span data-column="name">{who}</span>{details}</td>'


def _flag_count(result: SubmissionResult) -> str:
    if not result.flags:
        return ""
    return f'<a class="nowrap" href="#flagged">{len(result.flags)} flag{"s" if len(result.flags) > 1 else ""}</a>'


def _near_threshold(results) -> str:
    """Submissions whose test accuracy a retraining could move across the threshold: worth a look before publishing."""
    near = []
    for result in results:
        grader = result.facts.grader if result.facts else None
        if grader and grader.test_accuracy is not None and grader.accuracy_threshold is not None:
            # Rounded: 0.857 - 0.852 is 0.005000000000000004 in floating point, and 0.005 away is near.
            if round(abs(grader.test_accuracy - grader.accuracy_threshold), 9) <= NEAR_THRESHOLD:
                near.append((result, grader.test_accuracy, grader.accuracy_threshold))
    if not near:
        return note(f"None: every test accuracy is more than {NEAR_THRESHOLD} from the threshold (or was not "
                    "measured).")
    rows = "".join(
        f'<tr data-near-threshold="{escape(r.submission)}"><td>{escape(r.name or r.submission)}</td><td '
        f'class="number">{accuracy:.4f}</td><td class="number">{threshold:.4f}</td><td '
        f'class="number">{accuracy - threshold:+.4f}</td><td '
        f'class="status">{"at or above" if accuracy >= threshold else "below"}</td></tr>'
        for r, accuracy, threshold in near
    )
    explained = (f"Their test accuracy lies within {NEAR_THRESHOLD} of the threshold. A fresh grade retrains each "
                 f"model, and retraining moves the accuracy by about that much, so these may pass on one run and fail "
                 "on another (a rescore or a merge reuses the recorded accuracy and does not move them). Look at them "
                 "before you publish.")
    return f"<p>{escape(explained)}</p>" + scrolling(
        '<table class="near-threshold"><tr><th>student</th><th class="number">test accuracy</th>'
        f'<th class="number">threshold</th><th class="number">difference</th><th>accuracy</th></tr>{rows}</table>',
        "Near the accuracy threshold")
