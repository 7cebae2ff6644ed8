"""How a student's ``grader.check`` result reads in Jupyter: in the rubric's words.

``grader.check`` returns Otter's ``TestFile``, which Jupyter shows as "q2_model results:
All test cases passed!" although only the public checks ran. ``install`` registers IPython
display formatters for Otter's result types, so the same object shows the rubric's own
summary instead: "public checks passed", which checks run only at grading, or the
failed checks' messages, exactly as the grader words them. Otter still runs the check;
only its display changes. ``assert_public`` installs them on the first check.
"""

from __future__ import annotations

from html import escape

_FAILURE_MARKER = "\nAssertionError: "  # Otter's failure text ends with the exception's type and message


def summary(test_file) -> str:
    """The student-facing text for one of Otter's ``TestFile`` results."""
    from .public import passed_summary

    if test_file.passed_all:
        return passed_summary(test_file.name)
    texts = []
    for result in test_file.test_case_results:
        if result.passed:
            continue
        _, found, text = (result.message or "").partition(_FAILURE_MARKER)
        texts.append(text.strip() if found else f"{test_file.name}: the check could not "
                                                f"run:\n{(result.message or '').strip()}")
    return "\n".join(texts)


def install() -> bool:
    """Register the display formatters in the running IPython; False where there is none (plain Python)."""
    try:
        from IPython import get_ipython
        from otter.test_files import GradingResults, TestFile
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/plain"].for_type(TestFile, lambda result, printer, cycle: printer.text(summary(result)))
    formatters["text/html"].for_type(TestFile, lambda result: f"<pre>{escape(summary(result))}</pre>")
    formatters["text/plain"].for_type(GradingResults, lambda results, printer, cycle: printer.text(_all(results)))
    formatters["text/html"].for_type(GradingResults, lambda results: f"<pre>{escape(_all(results))}</pre>")
    return True


def _all(results) -> str:
    return "\n\n".join(summary(test_file) for test_file in results.results.values())
