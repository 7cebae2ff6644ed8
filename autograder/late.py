"""Late submissions: which ones are late, by how much, and the instructor's late policy (``--late-policy``).

What each layout says about lateness (``lateness``):

- **Canvas** marks a late file ``LATE`` in its name, but gives no time: it is late by an unknown
  amount, counted as one day for a per-day penalty (the least it can be), and a grace period
  cannot apply (set it in Canvas's due date instead).
- **Gradescope**'s export gives each submission's ``created_at``: with ``--due`` it is late by
  ``created_at - due``. Without ``--due`` nothing is known (the export carries no due date).
- **Anything else** (folders, loose files) holds no submission time (a file's modification time is
  when it was copied, not submitted): never late.

A policy is one line, ``key=value`` pairs separated by commas, any subset of:

| key | what |
|---|---|
| ``grace`` | time after the due date that is not late, ``30m``, ``2h`` or ``1d`` (default 0) |
| ``per-day`` | the share of the score taken for each day or part of a day late after the grace, ``10%`` |
| ``max`` | the most ``per-day`` takes in all, ``50%`` (default 100%) |
| ``cap`` | the most a late submission can score, as a share of the maximum, ``80%`` |

e.g. ``grace=2h,per-day=10%,max=50%`` or ``cap=80%``. It is applied after the rubric and the
overrides, to the whole score, every time grades are finished (so changing it rewrites the grades
and feedback, and runs no notebook), and is kept in the output folder like the overrides
(``KEPT_FILE``); ``--late-policy none`` drops it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import sys
from pathlib import Path

from .exceptions import KitError
from .trusted.identity import Identity

KEPT_FILE = "late_policy.json"  # in the output folder: the policy and due date a later run reuses
NONE = "none"
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
SECONDS = {"m": 60, "h": 3600, "d": 86400}
DAY = 86400


@dataclasses.dataclass(frozen=True)
class LatePolicy:
    text: str  # as the instructor wrote it, for messages and the student's page
    grace_seconds: float = 0
    per_day: float = 0  # a share of the score, 0.1 for 10%
    max_penalty: float = 1.0
    cap: float | None = None  # a share of the maximum score
    due: dt.datetime | None = None  # for layouts that give a submission time (Gradescope)


@dataclasses.dataclass(frozen=True)
class Lateness:
    late: bool
    seconds: float | None = None  # after the due date; None when the LMS says late without saying by how much
    source: str = ""  # how it is known, for the student's page


def parse_policy(text: str, due: str | None = None) -> LatePolicy | None:
    """The policy ``text`` says (None for ``none``); a ``KitError`` names the part that is wrong."""
    text = " ".join(text.split())
    if text.lower() == NONE:
        return None
    values: dict = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in ("grace", "per-day", "max", "cap") or key in values:
            raise KitError(f"--late-policy {text!r}: {part!r} is not one of grace=DURATION, per-day=N%, max=N%, cap=N% "
                           f"(each once), e.g. grace=2h,per-day=10%,max=50%")
        values[key] = _duration(value, text) if key == "grace" else _share(value, key, text)
    if not values.get("per-day") and "cap" not in values:
        raise KitError(f"--late-policy {text!r} takes nothing away: give per-day=N% or cap=N% (or none)")
    return LatePolicy(text, values.get("grace", 0), values.get("per-day", 0), values.get("max", 1.0),
                      values.get("cap"), parse_due(due) if due else None)


def parse_due(text: str) -> dt.datetime:
    """``--due``: an ISO date and time with its UTC offset, e.g. ``2026-03-01T23:59-05:00`` (UTC if none is given)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise KitError(f"--due {text!r} is not a date and time: write it as 2026-03-01T23:59-05:00 (ISO 8601, with "
                       f"the offset of your time zone)") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _duration(value: str, text: str) -> float:
    if (match := DURATION.match(value.lower())) is None:
        raise KitError(f"--late-policy {text!r}: grace={value!r} is not a duration: write 30m, 2h or 1d")
    return float(match[1]) * SECONDS[match[2]]


def _share(value: str, key: str, text: str) -> float:
    if (match := PERCENT.match(value)) is None or float(match[1]) > 100:
        raise KitError(f"--late-policy {text!r}: {key}={value!r} is not a percentage from 0% to 100%: write e.g. 10%")
    return float(match[1]) / 100


def lateness(identity: Identity, due: dt.datetime | None) -> Lateness:
    """What the submission's layout says about its lateness (see the module's docstring)."""
    if identity.layout == "gradescope" and due is not None and (submitted := submitted_at(identity)) is not None:
        seconds = (submitted - due).total_seconds()
        return Lateness(seconds > 0, seconds, f"submitted on Gradescope at {submitted:%Y-%m-%d %H:%M} UTC")
    if identity.late:  # the LMS's own mark (Canvas's LATE), without a time
        return Lateness(True, None, f"{identity.layout.capitalize() if identity.layout == 'canvas' else 'Your LMS'} "
                                    f"marked it late")
    return Lateness(False)


def submitted_at(identity: Identity) -> dt.datetime | None:
    """A Gradescope submission's ``created_at`` (its identity's order, ``gradescope:<time>|<id>``, in UTC), or None."""
    stamp = identity.order.removeprefix("gradescope:").split("|", 1)[0]  # orders recorded before kinds had no prefix
    try:
        return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def penalty(policy: LatePolicy, how_late: Lateness, score: float, max_score: float) -> tuple[float, str]:
    """The points to take from ``score`` and the sentence the student reads; (0, "") when nothing is taken."""
    if not how_late.late:
        return 0, ""
    if how_late.seconds is None:
        days, when = 1, f"{how_late.source}, without saying by how much: counted as 1 day late"
    else:
        days = max(0, math.ceil((how_late.seconds - policy.grace_seconds) / DAY))
        when = f"{how_late.source}, {_duration_text(how_late.seconds)} after the due date"
        if days == 0:
            return 0, ""  # within the grace period
    share = min(policy.per_day * days, policy.max_penalty)
    taken = score * share
    if policy.cap is not None:
        taken = max(taken, score - policy.cap * max_score)
    taken = round(max(taken, 0), 4)
    return taken, f"Late: {when}. Late policy ({policy.text}): -{taken:g} point(s)."


def _duration_text(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


# --- kept in the output folder, like the overrides ------------------------------------------------


def policy_to_use(given: str | None, due: str | None, out: Path) -> LatePolicy | None:
    """The policy given, or else the one an earlier run kept in ``out`` (said once); ``keep`` keeps a given one."""
    path = Path(out) / KEPT_FILE
    if given is None and due is None:
        if not path.is_file():
            return None
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            policy = parse_policy(str(kept["policy"]), kept.get("due"))
            if policy is None:  # a kept "none": no policy, as given
                return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KitError(f"cannot read the late policy kept in {path} ({error}): give --late-policy again, or "
                           f"--late-policy none") from error
        print(f"note: applying the late policy kept in {path} by an earlier run ({policy.text}"
              f"{f', due {policy.due.isoformat()}' if policy and policy.due else ''}; --late-policy none drops it)",
              file=sys.stderr)
        return policy
    if given is None:  # only --due: keep the kept policy, with the new date
        previous = policy_to_use(None, None, out)
        given = previous.text if previous else None
        if given is None:
            raise KitError("--due without a late policy changes nothing: add --late-policy, e.g. "
                           "--late-policy 'grace=2h,per-day=10%,max=50%'")
    if due is None and given.strip().lower() != NONE and path.is_file():  # a new policy keeps the kept due date
        try:
            due = json.loads(path.read_text(encoding="utf-8")).get("due")
        except (OSError, ValueError, AttributeError):
            due = None
        if due:
            print(f"note: the late policy uses the due date kept in {path} ({due}); give --due to change it",
                  file=sys.stderr)
    return parse_policy(given, due)


def keep(policy: LatePolicy | None, out: Path) -> None:
    """Keep ``policy``, given on the command line, in ``out`` for later runs (None, from ``none``, removes it)."""
    from .reports.report import write_atomic  # the output folder's owner

    path = Path(out) / KEPT_FILE
    if policy is None:
        path.unlink(missing_ok=True)
        return
    record = {"policy": policy.text, "due": policy.due.isoformat() if policy.due else None}
    write_atomic(path, json.dumps(record) + "\n")


KEPT = "kept"  # finish's default: the policy kept in the output folder, if any


def resolve(given: str | None, due: str | None, out: Path):
    """For ``grade`` and ``merge``: what the command line says, checked now (before anything runs), or ``KEPT``."""
    if given is None and due is None:
        return KEPT
    return policy_to_use(given, due, out)
