"""The class list (``--roster``), and which submission counts for which student.

A roster is a CSV file with a header row. Column names are matched ignoring case, spaces and
underscores, so a Canvas gradebook export works as it is:

| column | required | also accepted as |
|---|---|---|
| ``student_id`` | yes | ``ID``, ``SID``, ``student id`` |
| ``name`` | yes | ``Student``, ``student name`` |
| ``email`` | no | ``e-mail`` |
| ``sis_user_id`` | no | ``SIS User ID`` |
| ``sis_login_id`` | no | ``SIS Login ID``, ``login`` |
| ``section`` | no | ``Section`` |

Canvas's ``Points Possible`` row (no id) is skipped, and so is its Test Student (the instructor's "student view", named
``Test Student`` or ``Student, Test``, with no SIS id): never a missing student, never a row of canvas.csv;
``Roster.left_out`` names it for the console. A submission belongs to the roster student whose ``student_id``,
``sis_user_id``, ``sis_login_id`` or ``email`` equals (ignoring case) what its origin says (``trusted.identity``, one
layout per folder): the Canvas user id in its file name, its Gradescope submitters' SIDs and emails, or the name of the
student's folder it is in. Without a roster, only Canvas and Gradescope name students.

A submission whose ids disagree (a Gradescope submitter whose SID is one student's and whose email
is another's, or not the email the roster has for them), or whose student's submissions cannot be
ordered by one kind of value (a Canvas id against a file time), is assigned to nobody and listed
as needing the instructor's attention, with the reason: no file name or metadata field a student
controls can take another student's grade.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from pathlib import Path

from .exceptions import KitError
from .trusted.identity import Identity, Submitter, order_key

COLUMNS = {  # our name -> the header names accepted for it, normalised (see _normalise)
    "student_id": ("studentid", "id", "sid"),
    "name": ("name", "student", "studentname"),
    "email": ("email", "e-mail"),
    "sis_user_id": ("sisuserid",),
    "sis_login_id": ("sisloginid", "login"),
    "section": ("section",),
}
REQUIRED = ("student_id", "name")
MATCHED_BY = ("student_id", "sis_user_id", "sis_login_id", "email")  # in this order of precedence
MAX_ROSTER_BYTES = 50 * 1024 * 1024
CANVAS_TEST_STUDENT = ("test student", "student, test")  # Canvas's student view, in its export's Student column


@dataclasses.dataclass(frozen=True)
class Student:
    student_id: str
    name: str
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclasses.dataclass(frozen=True)
class Roster:
    students: tuple[Student, ...]
    source: str = "roster"  # the file it was read from, for messages
    left_out: tuple[str, ...] = ()  # rows skipped as Canvas's Test Student, "name (id)", for the console

    def find(self, keys) -> Student | None:
        """The student any of ``keys`` names, trying student ids first, then SIS ids, logins and emails."""
        wanted = [key.strip().lower() for key in keys if key and key.strip()]
        for column in MATCHED_BY:
            for student in self.students:
                if (value := getattr(student, column).strip().lower()) and value in wanted:
                    return student
        return None


def read_roster(path: Path) -> Roster:
    """Read ``path``; a ``KitError`` names what is wrong with it and what to do."""
    path = Path(path)
    try:
        raw = path.read_bytes()[:MAX_ROSTER_BYTES + 1]
    except OSError as error:
        raise KitError(f"cannot read the roster {path}: {error.strerror}: pass a CSV file with --roster") from error
    if len(raw) > MAX_ROSTER_BYTES:
        raise KitError(f"the roster {path} is over {MAX_ROSTER_BYTES:,} bytes: is it the right file?")
    try:
        text = raw.decode("utf-8-sig")  # Excel saves UTF-8 with a byte-order mark
    except UnicodeDecodeError as error:
        raise KitError(f"the roster {path} is not UTF-8 text: save it as 'CSV UTF-8'") from error
    rows = csv_rows(text, f"the roster {path}")
    header = next(rows, None)
    if not header:
        raise KitError(f"the roster {path} is empty: it needs a header row with at least student_id and name")
    columns = _columns(header, path)
    students: list[Student] = []
    seen: dict[str, int] = {}  # student_id -> the line it is on
    left_out: list[str] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {ours: (row[index].strip() if index < len(row) else "") for ours, index in columns.items()}
        if not values["student_id"]:
            if values["name"].lower() == "points possible":  # the second row of a Canvas gradebook export
                continue
            raise KitError(f"the roster {path}, line {line}, has no student id: give every student one")
        if values["student_id"] in seen:
            raise KitError(f"the roster {path} lists student id {values['student_id']!r} twice (lines "
                           f"{seen[values['student_id']]} and {line}): keep each student once")
        seen[values["student_id"]] = line
        if _is_canvas_test_student(values):
            left_out.append(f"{values['name']} ({values['student_id']})")
            continue
        students.append(Student(**{**values, "name": values["name"] or values["student_id"]}))
    return Roster(tuple(students), str(path), tuple(left_out))


def _is_canvas_test_student(values: dict[str, str]) -> bool:
    """Canvas's Test Student: its name, and no SIS id (a real student who happens to bear the name has one)."""
    return (" ".join(values["name"].lower().split()) in CANVAS_TEST_STUDENT
            and not values.get("sis_user_id") and not values.get("sis_login_id"))


def csv_rows(text: str, what: str):
    """The rows of a CSV file the instructor gives (roster, overrides); a ``KitError`` naming the line it cannot read.

    Python's reader refuses a field over 131,072 characters (often an unclosed quote swallowing the
    rest of the file) and a few other shapes, with a ``csv.Error`` that would otherwise end the command.
    """
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise KitError(f"{what}, line {reader.line_num}, cannot be read as CSV ({error}): look for a quote that "
                           f"is never closed, or a cell far too long, and save it again as CSV") from error
        yield row


def _columns(header: list[str], path: Path) -> dict[str, int]:
    normalised = [_normalise(cell) for cell in header]
    columns = {}
    for ours, accepted in COLUMNS.items():
        found = [index for index, cell in enumerate(normalised) if cell in accepted]
        if found:
            columns[ours] = found[0]
    missing = [ours for ours in REQUIRED if ours not in columns]
    if missing:
        wanted = "; ".join(f"{ours} (or {', '.join(COLUMNS[ours][1:])})" for ours in missing)
        raise KitError(f"the roster {path} has no {wanted} column; its columns are {', '.join(header)}: "
                       f"add the missing column to its header row")
    return columns


def _normalise(cell: str) -> str:
    return cell.strip().lower().replace(" ", "").replace("_", "")


# --- which submission counts ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Assignment:
    """The outcome of matching a batch's submissions to students."""

    students: dict[str, tuple[Student, ...]]  # submission name -> its students (several for a group, none if unknown)
    superseded: dict[str, str]  # submission name -> the later submission that counts instead
    missing: tuple[Student, ...]  # roster students with no submission
    unmatched: tuple[str, ...]  # submissions a roster was given for but that match nobody on it
    attention: dict[str, str] = dataclasses.field(default_factory=dict)  # submission -> why it is assigned to nobody


def assign(identities: dict[str, Identity], roster: Roster | None) -> Assignment:
    """Match each submission (name -> identity) to its students, and keep each student's latest submission.

    The latest is the one with the greatest ``Identity.order`` (Canvas submission id, Gradescope
    ``created_at``, file modification time: ``identity.order_key``), a notebook before a zip on a tie,
    then the last name. Submissions whose ids disagree, or a student's submissions whose orders are of
    different kinds, are assigned to nobody and listed in ``attention``.
    """
    students, attention = {}, {}
    for name, identity in identities.items():
        students[name], problem = _students_of(identity, roster)
        if problem:
            attention[name] = problem
    keys = {name: order_key(identity.order) for name, identity in identities.items()}
    for student_id, names in _by_student(students).items():
        kinds = sorted({keys[name][0] for name in names})
        if len(kinds) > 1:
            for name in names:
                attention[name] = (f"student {student_id} has submissions from different sources ({', '.join(kinds)}): "
                                   f"which is the latest cannot be told; keep one of them")
    students = {name: (() if name in attention else people) for name, people in students.items()}
    superseded = {}
    for names in _by_student(students).values():
        latest = max(names, key=lambda name: (keys[name][1], name.endswith(".ipynb"), name))
        superseded.update({name: latest for name in names if name != latest})
    by_student = _by_student(students)
    missing = tuple(s for s in roster.students if s.student_id not in by_student) if roster else ()
    unmatched = tuple(name for name, people in students.items()
                      if roster is not None and not people and name not in attention)
    return Assignment(students, superseded, missing, unmatched, attention)


def _by_student(students: dict[str, tuple[Student, ...]]) -> dict[str, list[str]]:
    by_student = defaultdict(list)
    for name, people in students.items():
        for student in people:
            by_student[student.student_id].append(name)
    return by_student


def _students_of(identity: Identity, roster: Roster | None) -> tuple[tuple[Student, ...], str]:
    """The students ``identity`` names, and why none when its ids disagree ("" when they agree)."""
    if roster is None:  # only an LMS names students for certain; a folder name alone is not an id
        return tuple(Student(person.sid or person.email, person.name, person.email)
                     for person in identity.submitters if person.sid or person.email), ""
    if not identity.submitters:
        # The student's folder (``trusted.identity``: only the one directly under the folder given).
        found = [next((s for folder in identity.folders if (s := roster.find((folder,))) is not None), None)]
        return tuple(student for student in found if student is not None), ""
    found = []
    for person in identity.submitters:
        student, problem = _submitter(person, roster)
        if problem:
            return (), problem
        found.append(student)
    return tuple(dict.fromkeys(student for student in found if student is not None)), ""


def _submitter(person: Submitter, roster: Roster) -> tuple[Student | None, str]:
    """The roster student an LMS submitter is, when all their ids agree; else None and why."""
    by_sid = roster.find((person.sid,)) if person.sid else None
    by_email = roster.find((person.email,)) if person.email else None
    if by_sid is not None and by_email is not None and by_sid != by_email:
        return None, (f"its submitter's SID {person.sid!r} is {by_sid.name}'s ({by_sid.student_id}) on the roster, but "
                      f"their email {person.email!r} is {by_email.name}'s ({by_email.student_id}): check who submitted "
                      f"it")
    student = by_sid or by_email
    if (student is not None and person.email and student.email
            and person.email.strip().lower() != student.email.strip().lower()):
        return None, (f"its submitter's SID {person.sid!r} is {student.name}'s ({student.student_id}) on the roster, "
                      f"but their email {person.email!r} is not the roster's {student.email!r}: check who submitted it")
    return student, ""
