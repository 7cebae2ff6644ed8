"""feedback.html and summary.html as a student and an instructor see them: rendered by headless Chromium.

Every image must load, every number on the pages must match grades.csv, the pages pass axe-core's
accessibility audit with no violation, and they read well on a wide screen, at 200% zoom and on a
phone (statuses and numbers on one line, no sideways scrolling of the page; at full width, none of the
class's table either). The pages are built from hand-made results (no training). Needs Debian's
``chromium`` and ``chromium-driver`` and axe-core from npm (``make browser`` installs all three; CI runs
it); skipped where Chromium is missing, failed where axe-core alone is.
"""

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from report_builders import NAMED, class_results, named_class, write_class_reports

from autograder.reports.report import submission_folder
from autograder.rubric import QUESTIONS

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"
AXE_VERSION = "4.10.3"  # the Makefile's AXE_VERSION
AXE = Path(__file__).resolve().parent.parent / "build" / "axe-core" / "node_modules" / "axe-core"
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not (CHROMIUM.is_file() and Path(CHROMEDRIVER).is_file()),
    reason="headless Chromium is not installed: run `make browser` (apt-get install chromium chromium-driver); CI has it",
)]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1200,2000", "--hide-scrollbars")
# Where the layout tests leave their screenshots, to look at (``SCREENSHOTS=dir pytest tests/test_browser.py``).
SCREENSHOTS = os.environ.get("SCREENSHOTS")

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


@pytest.fixture(scope="module")
def named_reports(tmp_path_factory):
    """A Canvas-named class with the roster's names: every status a page shows, long file names, a missing student."""
    out = tmp_path_factory.mktemp("named")
    results = named_class()
    return out, results, write_class_reports(results, out)


def open_page(browser, path: Path, *, disclosed: bool = False):
    """Load ``path``; with ``disclosed``, open every ``<details>`` (the plots' tables), as a curious reader would."""
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    if disclosed:
        opened = browser.execute_script("const all = document.querySelectorAll('details'); "
                                        "all.forEach(d => d.open = true); return all.length;")
        assert browser.execute_script("return document.querySelectorAll('details[open]').length") == opened


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
    ran = any(question.checks for question in results[index].questions)
    # A notebook that never ran shows no question scores: only its total (and overrides, if any).
    assert browser.execute_script(TEXT_BY.format("data-question")) == ({q: row[q] for q in QUESTIONS} if ran else {})
    totals = browser.execute_script(TEXT_BY.format("data-total"))
    assert (totals["score"], totals["max_score"], totals["status"]) == (row["score"], row["max_score"], row["status"])
    assert f"Score: {row['score']} / {row['max_score']}" in browser.find_element("css selector", "p.total").text


def test_summary_renders_with_loaded_images_and_every_row_of_grades_csv(browser, class_reports):
    out, _, rows = class_reports
    open_page(browser, out / "summary.html")
    assert_images_load(browser, 2)
    shown = dict(browser.execute_script(TABLE))
    expected = {name: {"name": name, "student": name, "message": row["message"],
                       "flags": f"{len(row['flags'].split('; '))} flags" if row["flags"] else "",
                       **{key: row[key] for key in ("status", "score", "max_score", *QUESTIONS)}} for name, row in rows.items()}
    assert shown == expected
    assert browser.execute_script(TEXT_BY.format("data-summary"))["count"] == str(len(rows))
    mean = sum(int(row["score"]) for row in rows.values()) / len(rows)
    assert browser.execute_script(TEXT_BY.format("data-summary"))["mean"] == f"{mean:.1f}"


def test_summary_puts_the_students_name_first_linked_to_the_feedback_and_the_file_small_beneath(browser, named_reports):
    out, results, rows = named_reports
    open_page(browser, out / "summary.html")
    shown = dict(browser.execute_script(TABLE))
    for key, (file, name, student_id) in NAMED.items():
        assert shown[file]["name"] == name and shown[file]["file"] == f"{file} · id {student_id}", key
        assert shown[file]["status"] == rows[file]["status"]
    link = browser.find_element("css selector", f'tr[data-submission="{NAMED["hopper"][0]}"] a')
    assert link.text == "Grace Hopper"
    link.click()
    assert browser.find_element("css selector", "h1").text.startswith("Feedback for Grace Hopper")
    open_page(browser, out / "summary.html")
    assert shown[""] == {"name": "Katherine Johnson", "file": "id 48221", "student": "Katherine Johnson\nid 48221",
                         "status": "missing", "score": "", "max_score": "22", "message": "no submission from this student",
                         "flags": "", **{q: "" for q in QUESTIONS}}


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


# --- accessibility: axe-core, in the same browser ------------------------------------------------------------------

AXE_RUN = """const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(results => done(results.violations.map(v =>
  ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 200))}))),
  error => done([{id: 'axe failed', help: String(error)}]));"""


@pytest.fixture(scope="module")
def axe_source():
    script = AXE / "axe.min.js"
    if not script.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make browser` (it installs axe-core {AXE_VERSION} from npm)")
    version = json.loads((AXE / "package.json").read_text())["version"]
    assert version == AXE_VERSION, f"axe-core {version} is installed, the tests expect {AXE_VERSION}: run `make browser`"
    return script.read_text(encoding="utf-8")


def axe_violations(browser, axe_source) -> list[dict]:
    """axe-core's violations on the open page, every rule it runs by default (WCAG 2 A/AA and its best practices).

    The script is given through WebDriver, which the page's Content-Security-Policy does not apply to: the page
    itself still loads nothing.
    """
    browser.execute_script(axe_source)
    browser.set_script_timeout(60)
    return browser.execute_async_script(AXE_RUN)


FEEDBACK_PAGES = ("hopper", "turing", "lovelace", "dijkstra", "liskov", "liskov_first", "hamilton")  # every status


@pytest.mark.parametrize("key", FEEDBACK_PAGES)
def test_feedback_pages_pass_axe_with_no_violation(browser, named_reports, axe_source, key):
    out, _, _ = named_reports
    open_page(browser, submission_folder(out, NAMED[key][0]) / "feedback.html", disclosed=True)
    assert axe_violations(browser, axe_source) == []


@pytest.mark.parametrize("fixture", ["named_reports", "class_reports"])
def test_summary_passes_axe_with_no_violation(browser, axe_source, request, fixture):
    out, _, _ = request.getfixturevalue(fixture)
    open_page(browser, out / "summary.html", disclosed=True)
    assert axe_violations(browser, axe_source) == []


def test_an_inaccessible_page_would_be_caught(browser, axe_source, tmp_path):
    page = tmp_path / "inaccessible.html"
    page.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,iVBORw0KGgo=">'
                    '<p style="color:#bbb">grey on white</p></body></html>')
    open_page(browser, page)
    found = {violation["id"] for violation in axe_violations(browser, axe_source)}
    assert {"image-alt", "color-contrast", "html-has-lang"} <= found, found


# --- layout: wide screen, 200% zoom, phone ------------------------------------------------------------------------

# (CSS width, device pixels per CSS pixel, phone): 1280 px at 200% zoom lays out as 640 CSS px at twice the pixels.
SCREENS = {"1280": (1280, 1, False), "zoom200": (640, 2, False), "phone390": (390, 3, True)}
# Each number or status is one line: the height of its text is under one and a half of its line height.
ONE_LINE = """return Array.from(document.querySelectorAll(arguments[0])).filter(e => e.innerText.trim()).map(e => {
  const range = document.createRange(); range.selectNodeContents(e);
  const style = getComputedStyle(e), line = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
  return [e.innerText.trim(), range.getBoundingClientRect().height, line]; });"""
LAYOUT = """const table = document.querySelector('table.submissions'), box = table && table.closest('.table-scroll');
return {pageScroll: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
  bodyScroll: document.body.scrollWidth, table: box ? [box.scrollWidth, box.clientWidth] : null};"""
SINGLE_LINE = {"summary": "td.status, td.number, [data-column=flags]",  # headers may wrap: q3_ over compile
               "feedback": "[data-total], p.total strong, td.number"}


@pytest.fixture
def screen(browser):
    def set_screen(name):
        width, scale, phone = SCREENS[name]
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": scale, "mobile": phone})
    yield set_screen
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def screenshot(browser, name: str, tmp_path: Path) -> Path:
    """The whole page as a PNG (kept in $SCREENSHOTS when set, to look at)."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    data = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000
    return path


def assert_single_lines(browser, selector: str):
    measured = browser.execute_script(ONE_LINE, selector)
    assert measured, f"nothing matched {selector}"
    wrapped = [(text, height, line) for text, height, line in measured if height > 1.5 * line]
    assert not wrapped, f"wrapped over more than one line (text, height, line height): {wrapped}"


def assert_no_sideways_scroll(browser, name: str, *, table_fits: bool):
    layout = browser.execute_script(LAYOUT)
    assert layout["pageScroll"] <= layout["window"] and layout["bodyScroll"] <= layout["window"], (name, layout)
    if table_fits and layout["table"]:
        scroll, client = layout["table"]
        assert scroll <= client, f"{name}: the class's table scrolls sideways ({scroll} > {client} px)"


@pytest.mark.parametrize("name", SCREENS)
def test_summary_reads_on_every_screen(browser, named_reports, screen, tmp_path, name):
    out, _, _ = named_reports
    screen(name)
    open_page(browser, out / "summary.html", disclosed=True)
    screenshot(browser, f"summary-{name}", tmp_path)
    assert_single_lines(browser, SINGLE_LINE["summary"])
    # At full width the class's table fits the window; narrower, it may scroll in its own box, never the page.
    assert_no_sideways_scroll(browser, name, table_fits=name == "1280")


@pytest.mark.parametrize("name", SCREENS)
@pytest.mark.parametrize("key", ["turing", "liskov", "liskov_first"])
def test_feedback_reads_on_every_screen(browser, named_reports, screen, tmp_path, name, key):
    out, _, _ = named_reports
    screen(name)
    open_page(browser, submission_folder(out, NAMED[key][0]) / "feedback.html", disclosed=True)
    screenshot(browser, f"feedback-{key}-{name}", tmp_path)
    assert_single_lines(browser, SINGLE_LINE["feedback"])
    assert_no_sideways_scroll(browser, name, table_fits=True)


def test_a_wrapped_status_or_a_sideways_page_would_be_caught(browser, screen, tmp_path):
    page = tmp_path / "cramped.html"
    page.write_text('<!DOCTYPE html><html lang="en"><body><table style="width:3rem"><tr>'
                    '<td class="status" style="white-space:normal">not graded at all</td></tr></table>'
                    '<div style="width:2000px">wide</div></body></html>')
    screen("phone390")
    open_page(browser, page)
    with pytest.raises(AssertionError, match="wrapped"):
        assert_single_lines(browser, "td.status")
    with pytest.raises(AssertionError):
        assert_no_sideways_scroll(browser, "cramped", table_fits=True)
