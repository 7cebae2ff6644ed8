"""Who a submission belongs to, read from where it came from: its path, its LMS file name, its LMS metadata.

Three layouts are recognised, each from what the LMS itself writes:

- **Canvas bulk download**: ``lastfirst_<user id>_<submission id>_<original name>``, with ``LATE``
  after the name part for a late one (``lastfirst_LATE_<user id>_...``). The user id is Canvas's
  own ``ID``; submissions are ordered by the submission id, which Canvas numbers as they arrive.
- **Gradescope "export submissions"**: a folder holding ``submission_metadata.yml`` and one
  ``submission_<id>/`` folder per submission. The metadata names each submission's submitters
  (name, SID, email) and its ``created_at``, which orders them.
- **Anything else** (a folder per student, loose files): the folders of the submission's name are
  candidates for a roster's ids, and submissions are ordered by file modification time.

File names and metadata are untrusted (students choose the names; the metadata file sits among
their uploads): the metadata is read through ``safe_files`` (no links, a size cap) with a safe
YAML loader that builds nothing but plain data, and anything that does not parse as expected
falls back to the layout's plain reading, with a note for the instructor, never a failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path, PurePosixPath

import yaml

from ..exceptions import ExportUnreadable
from .safe_files import read_bytes

GRADESCOPE_METADATA = "submission_metadata.yml"
MAX_METADATA_BYTES = 20 * 1024 * 1024  # about 10 KB a submission in Gradescope's exports: room for 2,000
IDENTITY_FILE = "identity.json"  # in each submission's output folder, so that a merge or a rescore finds it
CANVAS_NAME = re.compile(r"^(?P<who>[^_/]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


@dataclasses.dataclass(frozen=True)
class Submitter:
    """A student as the LMS names them; any field may be empty."""

    name: str = ""
    sid: str = ""  # Gradescope's student id (the course's own), or Canvas's user id
    email: str = ""


@dataclasses.dataclass(frozen=True)
class Identity:
    """What a submission's origin says about its student, and where it stands among their submissions."""

    layout: str = "file"  # "canvas", "gradescope", "folder" or "file"
    submitters: tuple[Submitter, ...] = ()  # named by the LMS: certain, even without a roster
    folders: tuple[str, ...] = ()  # folder names in the submission's name: matched against a roster only
    order: str = ""  # sorts a student's submissions, oldest first (see ``_order_*``); ties go by name
    late: bool = False  # Canvas marked it LATE


def identify(name: str, path: Path, metadata: dict[str, tuple[tuple[Submitter, ...], str]] | None) -> Identity:
    """The identity of the submission called ``name`` (relative to its folder), at ``path``.

    ``metadata`` is what ``read_gradescope_metadata`` made of the folder's metadata file, if it has one.
    """
    parts = PurePosixPath(name).parts
    folders = tuple(parts[:-1])
    if metadata is not None and folders and (found := metadata.get(folders[0])) is not None:
        submitters, created_at = found
        return Identity("gradescope", submitters, folders, created_at)
    if (canvas := CANVAS_NAME.match(parts[-1])) is not None:
        return Identity("canvas", (Submitter(canvas["who"], canvas["user"]),), folders,
                        _order_number(canvas["submission"]), late=bool(canvas["late"]))
    return Identity("folder" if folders else "file", (), folders, _order_mtime(path))


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
    stamp = _utc(created) if isinstance(created, dt.datetime) else ""
    return f"{stamp}|{_order_number(GRADESCOPE_FOLDER.match(key)['id'])}"  # the id breaks ties, and stands in for a missing date


def _order_number(number: str) -> str:
    return number.rjust(20, "0")  # ids compare as numbers when compared as text


def _order_mtime(path: Path) -> str:
    try:
        return _utc(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc))
    except OSError:
        return ""


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
    except (OSError, ValueError, KeyError, TypeError):  # none recorded: a Canvas name still names its student
        return identify(name, Path("/nonexistent"), None)
