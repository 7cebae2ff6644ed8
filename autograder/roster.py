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

Canvas's ``Points Possible`` row (no id) is skipped, and so is its Test Student (the instructor's
"student view", named ``Test Student`` or ``Student, Test``, with no SIS id): never a missing
student, never a row of canvas.csv; ``Roster.left_out`` names it for the console. A submission
belongs to the roster student whose ``student_id``, ``sis_user_id``, ``sis_login_id`` or ``email``
equals (ignoring case) what its origin says: the Canvas user id in its file name, its Gradescope submitters' SIDs and emails, or
the name of a folder in its path. Without a roster, only Canvas and Gradescope name students.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from pathlib import Path

from .exceptions import KitError
from .trusted.identity import Identity

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
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise KitError(f"the roster {path} is empty: it needs a header row with at least student_id and name")
    columns = _columns(header, path)
    students, seen, left_out = [], {}, []
    for line, row in enumerate(reader, start=2):
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


def assign(identities: dict[str, Identity], roster: Roster | None) -> Assignment:
    """Match each submission (name -> identity) to its students, and keep each student's latest submission.

    The latest is the one with the greatest ``Identity.order`` (Canvas submission id, Gradescope
    ``created_at``, file modification time), a notebook before a zip on a tie, then the last name.
    """
    students = {name: _students_of(identity, roster) for name, identity in identities.items()}
    by_student = defaultdict(list)
    for name, people in students.items():
        for student in people:
            by_student[student.student_id].append(name)
    superseded = {}
    for names in by_student.values():
        latest = max(names, key=lambda name: (identities[name].order, name.endswith(".ipynb"), name))
        superseded.update({name: latest for name in names if name != latest})
    missing = tuple(s for s in roster.students if s.student_id not in by_student) if roster else ()
    unmatched = tuple(name for name, people in students.items() if roster is not None and not people)
    return Assignment(students, superseded, missing, unmatched)


def _students_of(identity: Identity, roster: Roster | None) -> tuple[Student, ...]:
    if roster is None:  # only an LMS names students for certain; a folder name alone is not an id
        return tuple(Student(person.sid or person.email, person.name, person.email)
                     for person in identity.submitters if person.sid or person.email)
    found = [roster.find((person.sid, person.email)) for person in identity.submitters]
    if not identity.submitters:
        # Folder names, innermost last: ``sec1/alice/hw.ipynb`` is alice's; only the first that matches counts.
        found = [next((s for folder in identity.folders if (s := roster.find((folder,))) is not None), None)]
    return tuple(dict.fromkeys(student for student in found if student is not None))
