"""Who a submission belongs to, read from where it came from: its path, its LMS file name, its LMS metadata.

The layout is decided once for each folder the instructor passes (``decide_layout``), said on the
console, and only that layout's reading applies to the files in it:

- **Gradescope "export submissions"**: the folder holds a readable ``submission_metadata.yml``, with
  one ``submission_<id>/`` folder per submission. The metadata names each submission's submitters
  (name, SID, email) and its ``created_at``, which orders them. A file in no folder the metadata
  names belongs to nobody.
- **A folder per student**: some file sits in a subfolder. Each file belongs to the folder directly
  under the one given (``alice/nested/hw.ipynb`` is ``alice``'s), whatever its own name says: a
  file called ``bob_1002_9999_hw.ipynb`` in Alice's folder is Alice's. Files directly in the folder
  given belong to nobody. Ordered by file modification time.
- **Canvas bulk download**: every file directly in the folder, some named
  ``lastfirst_<user id>_<submission id>_<original name>`` (``lastfirst_LATE_...`` when late). The
  user id is Canvas's own ``ID``; submissions are ordered by the submission id, an integer Canvas
  numbers as they arrive. A file not named so belongs to nobody.
- **Loose files** (no subfolder, no Canvas name; also the files given on the command line one by
  one, unless they all sit in one Canvas download): they belong to nobody. Ordered by modification time.

``Identity.order`` records its kind with its value (``canvas:``, ``gradescope:``, ``time:``):
submissions are only ever compared by values of one kind (``order_key``), never a Canvas id
against a time as text.

File names and metadata are untrusted (students choose the names; the metadata file sits among
their uploads): the metadata is read through ``safe_files`` (no links, a size cap) with a safe
YAML loader that builds nothing but plain data, and anything that does not parse as expected
falls back to the other layouts, with a note for the instructor, never a failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from pathlib import Path, PurePosixPath

import yaml

from ..exceptions import ExportUnreadable
from .safe_files import read_bytes

GRADESCOPE_METADATA = "submission_metadata.yml"
MAX_METADATA_BYTES = 20 * 1024 * 1024  # about 10 KB a submission in Gradescope's exports: room for 2,000
IDENTITY_FILE = "identity.json"  # in each submission's output folder, so that a merge or a rescore finds it
CANVAS_NAME = re.compile(r"^(?P<who>[^_/]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d{1,20})$")  # a bounded number: int() of it never fails


@dataclasses.dataclass(frozen=True)
class Submitter:
    """A student as the LMS names them; any field may be empty."""

    name: str = ""
    sid: str = ""  # Gradescope's student id (the course's own), or Canvas's user id
    email: str = ""


@dataclasses.dataclass(frozen=True)
class Identity:
    """What a submission's origin says about its student, and where it stands among their submissions."""

    layout: str = "file"  # how it was named: "canvas", "gradescope", "folder", or "file" (by nothing)
    submitters: tuple[Submitter, ...] = ()  # named by the LMS: certain, even without a roster
    folders: tuple[str, ...] = ()  # folder names in the submission's name: matched against a roster only
    order: str = ""  # "<kind>:<value>", sorts a student's submissions oldest first (``order_key``); ties go by name
    late: bool = False  # Canvas marked it LATE


LAYOUTS = {  # what the console says about each folder given
    "gradescope": "a Gradescope export: submission_metadata.yml names each submission's submitters",
    "folder": "a folder per student: each file belongs to the folder it is in, directly under this one",
    "canvas": "a Canvas download: files named lastfirst_<user id>_<submission id>_<name>",
    "files": "loose files: nothing names their students",
}


def decide_layout(names: list[str], metadata: dict | None) -> str:
    """The layout of a folder (see the module), from its files' names relative to it and its Gradescope metadata."""
    if metadata is not None:
        return "gradescope"
    if any("/" in name for name in names):
        return "folder"
    if any(CANVAS_NAME.match(name) for name in names):
        return "canvas"
    return "files"


def identify(name: str, path: Path, metadata: dict[str, tuple[tuple[Submitter, ...], str]] | None,
             layout: str | None = None) -> Identity:
    """The identity of the submission called ``name`` (relative to its folder), at ``path``, read as ``layout`` says.

    ``metadata`` is what ``read_gradescope_metadata`` made of the folder's metadata file, if it has one;
    ``layout`` is the folder's (``decide_layout``), or else decided from this one name.
    """
    layout = layout or decide_layout([name], metadata)
    parts = PurePosixPath(name).parts
    folders = tuple(parts[:-1])
    if layout == "gradescope" and folders and (found := (metadata or {}).get(folders[0])) is not None:
        submitters, created_at = found
        return Identity("gradescope", submitters, (), created_at)
    if layout == "canvas" and not folders and (canvas := CANVAS_NAME.match(parts[-1])) is not None:
        return Identity("canvas", (Submitter(canvas["who"], canvas["user"]),), (),
                        _order_number(canvas["submission"]), late=bool(canvas["late"]))
    if layout == "folder" and folders:
        return Identity("folder", (), folders[:1], _order_mtime(path))  # the student's folder, never one inside it
    return Identity("file", (), (), _order_mtime(path))


def read_gradescope_metadata(folder: Path, notes: list[str]) -> dict[str, tuple[tuple[Submitter, ...], str]] | None:
    """``submission_<id>`` -> (submitters, order) from ``folder/submission_metadata.yml``; None when there is none.

    A file that cannot be read safely or parsed adds a note for the instructor and counts as absent.
    """
    if not (folder / GRADESCOPE_METADATA).exists() and not (folder / GRADESCOPE_METADATA).is_symlink():
        return None
    where = folder / GRADESCOPE_METADATA
    try:
        data = yaml.safe_load(read_bytes(folder, GRADESCOPE_METADATA, MAX_METADATA_BYTES))
    except (ExportUnreadable, OSError, yaml.YAMLError, ValueError, RecursionError) as error:
        notes.append(f"{where} could not be read ({_first_line(error)}): its submissions are named by folder only")
        return None
    if not isinstance(data, dict):
        notes.append(f"{where} is not a mapping of submission folders: its submissions are named by folder only")
        return None
    entries = {}
    for key, entry in data.items():
        if isinstance(key, str) and GRADESCOPE_FOLDER.match(key) and isinstance(entry, dict):
            entries[key] = (_submitters(entry), _order_gradescope(entry, key))
    return entries


def _submitters(entry: dict) -> tuple[Submitter, ...]:
    # Gradescope writes Ruby symbols as keys (":submitters:" reads as ":submitters"); accept plain keys too.
    people = _field(entry, "submitters")
    if not isinstance(people, list):
        return ()
    return tuple(
        Submitter(_text(_field(person, "name")), _text(_field(person, "sid")), _text(_field(person, "email")))
        for person in people if isinstance(person, dict)
    )


def _field(mapping: dict, key: str):
    return mapping.get(f":{key}", mapping.get(key))


def _text(value) -> str:
    """A metadata value as one line of text: SIDs may parse as numbers, and nothing else is wanted."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return " ".join(str(value).split())[:200]


def _order_gradescope(entry: dict, key: str) -> str:
    created = _field(entry, "created_at")
    if isinstance(created, str):
        try:
            created = dt.datetime.fromisoformat(created.strip())
        except ValueError:
            created = None
    try:
        stamp = _utc(created) if isinstance(created, dt.datetime) else ""
    except (ValueError, OverflowError):  # a date no clock reaches (year 1 in another time zone)
        stamp = ""
    # the id breaks ties, and stands in for a missing date
    return f"gradescope:{stamp}|{int(GRADESCOPE_FOLDER.match(key)['id'])}"


def _order_number(number: str) -> str:
    return f"canvas:{int(number)}"  # a file name is at most 255 bytes: the number is never too long to convert


def _order_mtime(path: Path) -> str:
    try:
        return "time:" + _utc(dt.datetime.fromtimestamp(os.lstat(path).st_mtime, dt.timezone.utc))
    except (OSError, ValueError, OverflowError):
        return ""


def order_key(order: str) -> tuple[str, tuple]:
    """``Identity.order`` as (its kind, a value comparable with the same kind's only): Canvas ids as integers, times as
    times.

    Orders recorded before kinds were (a 20-digit Canvas id, ``<time>|<id>`` for Gradescope, a time) are read as such.
    """
    kind, _, value = order.partition(":") if order.startswith(("canvas:", "gradescope:", "time:")) else ("", "", order)
    if not kind:
        kind = "canvas" if value.isdigit() else "gradescope" if "|" in value else "time" if value else "none"
    try:
        if kind == "canvas":
            return kind, (int(value),)
        if kind == "gradescope":
            stamp, _, number = value.partition("|")
            moment = _moment(stamp) if stamp else None
            earliest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
            return kind, (moment is not None, moment or earliest, int(number or 0))
        if kind == "time":
            return kind, (_moment(value),)
    except ValueError:
        pass
    return "none", ()


def _moment(text: str) -> dt.datetime:
    return _aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


# --- kept beside each submission's reports ---------------------------------------------------


def identity_json(identity: Identity) -> str:
    return json.dumps(dataclasses.asdict(identity), indent=1) + "\n"


def load_identity(folder: Path, name: str) -> Identity:
    """The identity recorded in ``folder`` by the run that found the submission, or what its name alone says."""
    try:
        data = json.loads((folder / IDENTITY_FILE).read_text(encoding="utf-8"))
        return Identity(
            layout=str(data["layout"]), folders=tuple(map(str, data["folders"])), order=str(data["order"]),
            late=bool(data["late"]),
            submitters=tuple(Submitter(str(s["name"]), str(s["sid"]), str(s["email"])) for s in data["submitters"]),
        )
    # none recorded: a Canvas name at the top still names its student
    except (OSError, ValueError, KeyError, TypeError):
        return identify(name, Path("/nonexistent"), None)
