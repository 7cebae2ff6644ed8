"""grades.csv, canvas.csv and grades_long.csv opened by a real spreadsheet: no cell is ever a formula.

Names, messages and roster fields come from students. Each file is built from hand-made results
(nothing is graded), opened by LibreOffice Calc headless with ``,`` and with ``;`` as the separator
(many European locales), converted to flat XML, and every cell is read back: none may hold a
formula. A control file written without the kit's quoting shows that the same reading does find
formulas. Needs Debian's ``libreoffice-calc`` (``make libreoffice``; CI installs it); skipped where
it is missing.
"""

import dataclasses
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest
from facts_factory import perfect_facts

from autograder.reports.lms import canvas_csv, grades_long_csv
from autograder.reports.report import grades_csv
from autograder.results import SubmissionResult
from autograder.roster import Student
from autograder.rubric import run_checks

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = [pytest.mark.office, pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed: run `make libreoffice` (apt-get install libreoffice-calc); CI has it")]
SEPARATORS = {"comma": "44", "semicolon": "59"}  # LibreOffice's CSV filter options: separator, quote ("), UTF-8, line 1
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
ATTACKS = (
    "x;=cmd|' -C calc'!A0.ipynb",  # the issue's: a formula behind the other separator
    "y,=1+1.ipynb", "z\t@SUM(1).ipynb", "w;  -2+3.ipynb", "v\n+4+5.ipynb", "u\r=6+7.ipynb",
    "=HYPERLINK(\"http://example.com\";\"click\")", "@SUM(1;2)", "+1+1", "-1+1", "\t=1", "\r=1",
)


def row(name, student_id, student_name, message="", status="graded"):
    if status == "graded":
        result = SubmissionResult.from_checks(name, status, message, run_checks(perfect_facts()), "d")
    else:
        result = SubmissionResult.ungraded(name, status, message, "d")
    return dataclasses.replace(result, student_id=student_id, name=student_name, flags=(message,) if message else ())


def attack_files(folder):
    """The three files, every text field of every row an attack string."""
    rows, students = [], {}
    for index, attack in enumerate(ATTACKS):
        student_id = f"{attack}{index}"
        rows.append(row(attack, student_id, attack, message=attack, status="graded" if index % 2 else "invalid"))
        students[student_id] = Student(student_id, attack, sis_user_id=attack, sis_login_id=attack, section=attack)
    files = {"grades.csv": grades_csv(rows), "canvas.csv": canvas_csv(rows, students, ATTACKS[0]),
             "grades_long.csv": grades_long_csv(rows)}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return list(files)


def open_in_calc(folder, names, separator):
    """Each CSV in ``folder`` as LibreOffice reads it with ``separator``: a list of (formula or None, text) per cell."""
    out = folder / f"as_{separator}"
    completed = subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{folder}/profile", "--headless", "--norestore",
         f"--infilter=CSV:{SEPARATORS[separator]},34,76,1", "--convert-to", "fods", "--outdir", str(out),
         *(str(folder / name) for name in names)],
        capture_output=True, text=True, timeout=180)
    cells = {}
    for name in names:
        converted = out / name.replace(".csv", ".fods")
        assert converted.is_file(), f"LibreOffice did not convert {name}: {completed.stdout} {completed.stderr}"
        cells[name] = [(cell.get(f"{{{TABLE}}}formula"), "\n".join("".join(p.itertext()) for p in cell.iter(f"{{{TEXT}}}p")))
                       for cell in ElementTree.parse(converted).iter(f"{{{TABLE}}}table-cell")]
    return cells


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("csv_formulas")


def test_the_reading_finds_formulas_in_a_file_written_without_the_kits_rules(folder):
    (folder / "control.csv").write_text("a,b\n=1+1,\"x;=2+3\"\n", encoding="utf-8")
    for separator in SEPARATORS:
        formulas = [f for f, _ in open_in_calc(folder, ["control.csv"], separator)["control.csv"] if f]
        assert formulas, f"LibreOffice read no formula from an unprotected file with the {separator} separator"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_no_cell_of_the_kits_csv_files_is_a_formula(folder, separator):
    names = attack_files(folder)
    for name, cells in open_in_calc(folder, names, separator).items():
        formulas = [(formula, text) for formula, text in cells if formula]
        assert not formulas, f"{name} opened with the {separator} separator holds formulas: {formulas[:5]}"
        texts = [text for _, text in cells]
        assert any("=cmd|' -C calc'!A0" in text for text in texts), f"{name}: the attack text is not shown as text"
        assert not any(line.lstrip().startswith(("=", "+", "@")) for text in texts for line in text.splitlines()
                       if not line.lstrip().lstrip("-").replace(".", "").isdigit()), name
