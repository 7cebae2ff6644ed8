"""feedback.html and summary.html as a student and an instructor see them: rendered by headless Chromium.

Every image must load, and every number on the pages must match grades.csv. The pages are
built from hand-made results (no training). Needs Debian's ``chromium`` and ``chromium-driver``
(``make browser``; CI installs them); skipped where they are missing.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from report_builders import class_results, write_class_reports

from autograder.reports.report import submission_folder
from autograder.rubric import QUESTIONS

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and Path(CHROMEDRIVER).is_file()),
    reason="headless Chromium is not installed: run `make browser` (apt-get install chromium chromium-driver); CI has it",
)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1200,2000")

IMAGES = "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]);"
TEXT_BY = "return Object.fromEntries(Array.from(document.querySelectorAll('[{0}]')).map(e => [e.getAttribute('{0}'), e.innerText.trim()]));"
TABLE = """return Array.from(document.querySelectorAll('tr[data-submission]')).map(row => [row.dataset.submission,
  Object.fromEntries(Array.from(row.querySelectorAll('[data-column],[data-question]'))
    .map(cell => [cell.dataset.column || cell.dataset.question, cell.innerText.trim()]))]);"""


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def class_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    results = class_results()
    return out, results, write_class_reports(results, out)


def open_page(browser, path: Path):
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def assert_images_load(browser, expected: int):
    images = browser.execute_script(IMAGES)
    assert len(images) == expected, images
    for complete, width, height, alt in images:
        assert complete and width > 0 and height > 0, f"image {alt!r} did not load"


@pytest.mark.parametrize("index, images", [(0, 2), (1, 2), (2, 0), (3, 0), (4, 0)])
def test_feedback_renders_with_loaded_images_and_the_numbers_of_grades_csv(browser, class_reports, index, images):
    out, results, rows = class_reports
    name = results[index].submission
    open_page(browser, submission_folder(out, name) / "feedback.html")
    assert_images_load(browser, images)
    row = rows[name]
    assert browser.execute_script(TEXT_BY.format("data-question")) == {q: row[q] for q in QUESTIONS}
    totals = browser.execute_script(TEXT_BY.format("data-total"))
    assert (totals["score"], totals["max_score"], totals["status"]) == (row["score"], row["max_score"], row["status"])
    assert f"Score: {row['score']} / {row['max_score']}" in browser.find_element("css selector", "p.total").text


def test_summary_renders_with_loaded_images_and_every_row_of_grades_csv(browser, class_reports):
    out, _, rows = class_reports
    open_page(browser, out / "summary.html")
    assert_images_load(browser, 2)
    shown = dict(browser.execute_script(TABLE))
    expected = {name: {"student": f"{row['name']} ({row['student_id']})" if row["student_id"] else row["name"],
                       **{key: row[key] for key in ("status", "score", "max_score", *QUESTIONS)}} for name, row in rows.items()}
    assert shown == expected
    assert browser.execute_script(TEXT_BY.format("data-summary"))["count"] == str(len(rows))
    mean = sum(int(row["score"]) for row in rows.values()) / len(rows)
    assert browser.execute_script(TEXT_BY.format("data-summary"))["mean"] == f"{mean:.1f}"


def test_a_broken_image_would_be_caught(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><img src="data:image/png;base64,iVBORw0KGgoAAAA" alt="broken">')
    open_page(browser, page)
    with pytest.raises(AssertionError, match="did not load"):
        assert_images_load(browser, 1)


WIDTHS = """return {page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
  tables: Array.from(document.querySelectorAll('table')).map(t => {
    const box = t.closest('.table-scroll') || t; return [t.className, box.getBoundingClientRect().right]; })};"""


def test_summary_shows_what_needs_the_instructor_and_no_table_is_wider_than_the_page(browser, class_reports):
    """At 1200 px, the page never scrolls sideways: a wide table scrolls inside its own box."""
    out, results, _ = class_reports
    open_page(browser, out / "summary.html")
    attention = browser.execute_script(TEXT_BY.format("data-attention"))
    assert set(attention) == {r.submission for r in results if r.status == "error" or not r.final}
    headings = [h.text for h in browser.find_elements("css selector", "h2")]
    assert "Needs your attention" in headings
    widths = browser.execute_script(WIDTHS)
    assert widths["page"] <= widths["window"], widths
    assert all(right <= widths["window"] for _, right in widths["tables"]), widths
