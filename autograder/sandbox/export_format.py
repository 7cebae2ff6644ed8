"""The export's format, owned here for both sides: its file names, and the schema of every value in it.

The kernel's exporter (``kernel_export``, in the sandbox) writes these files; the host copies
them (``execution.run``) and the trusted inspector reads them (``trusted.inspect_export``).
Whatever the kernel wrote is untrusted: student code ran first in that process and can put any
value in a History (``history.history["accuracy"][:] = [1e308, -1e308]``, through an alias no
scan sees) or make ``json`` write a 5,000-digit integer. So every value passes ``check_facts``
on the trusted side before anything uses it, and again when a record is read back for a
rescore (``ledger``): types, finite ranges, list lengths, integer sizes and string lengths. A
section (one of the lesson's variables) with a value outside the schema becomes unusable, with
a message naming the student's variable, what was wrong and what to do; nothing here raises
on a value, so no value can crash the host's plots or readers.

Integers are bounded before they are converted: ``parse_json`` hands the JSON text of each
integer to ``_bounded_int``, which counts its digits first (``int()`` of a million digits is
quadratic, and Python refuses past 4,300 digits by raising), and stands an ``Oversized`` in
for a larger one, which the schema then reports.

This module runs on both sides, so it imports only the standard library and the rubric's facts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing

from ..rubric.facts import HistoryFacts, SubmissionFacts

FACTS_FILE, MODEL_FILE, PROBLEMS_FILE = "kernel_facts.json", "model.keras", "export_problems.json"
EXPORTED_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "predictions")
ARRAY_FILES = {name: f"{name}.npy" for name in EXPORTED_ARRAYS}
SCALARS = ("test_loss", "test_acc")
DONE_FILE = "export_done"  # written by the export cell after everything else (``sandbox.cells.export_source``)

MAX_INT = 10**15  # any count in the facts (steps, epochs, parameters, a shape's sizes); also exact as a float
MAX_INT_DIGITS = 16  # "-" and 15 digits: anything longer is over MAX_INT, and is not converted at all
MAX_TEXT = 2000  # characters of any string: a layer's type, a metric's name, a problem's description
MAX_ITEMS = 1000  # items of any list: epochs in a training record, layers, a shape's dimensions
ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy")  # as rubric.describe reads them
UNIT_RANGE = (0.0, 1.0)  # accuracies and shares
# Fields whose values are shares of a whole (accuracies): the plots draw them on a 0-to-1 axis.
UNIT_FIELDS = {("history", "train_accuracy"), ("history", "val_accuracy"), ("grader", "test_accuracy"),
               ("grader", "argmax_agreement"), ("grader", "accuracy_threshold")}


@dataclasses.dataclass(frozen=True)
class Oversized:
    """Stands in for an integer whose JSON text has more than ``MAX_INT_DIGITS`` characters."""

    digits: int


def _bounded_int(text: str):
    return Oversized(len(text.lstrip("-"))) if len(text) > MAX_INT_DIGITS else int(text)


def parse_json(text: str):
    """``json.loads`` whose integers are bounded before conversion (``Oversized`` beyond ``MAX_INT_DIGITS``).

    NaN and infinities parse as floats; the schema refuses them. A document too long to hold
    only such integers is refused by size before it gets here (``Limits.max_json_bytes``).
    """
    return json.loads(text, parse_int=_bounded_int)


class SchemaError(ValueError):
    """A value outside the schema; ``str()`` says where and what, in the student's words."""


def check_facts(data) -> tuple[dict, list[str]]:
    """``data`` (``SubmissionFacts.to_dict()`` form) with every section that breaks the schema made unusable.

    Returns the checked dictionary, ready for ``SubmissionFacts.from_dict``, and the problems found
    (one per unusable section). Raises ``SchemaError`` only when ``data`` is not a description of a
    submission at all (not an object, or with sections the facts do not have).
    """
    if not isinstance(data, dict):
        raise SchemaError(f"holds a {type(data).__name__}, not an object of facts")
    sections = {field.name: field for field in dataclasses.fields(SubmissionFacts)}
    unknown = [str(key)[:40] for key in data if key not in sections]
    if unknown:
        raise SchemaError(f"has sections the facts do not have: {', '.join(sorted(unknown)[:5])}")
    hints = typing.get_type_hints(SubmissionFacts)
    checked, problems = {}, []
    for name, value in data.items():
        try:
            _check(hints[name], value, name, ())
            _check_complete(name, value)
        except SchemaError as error:
            unusable = _unusable(name, value, hints[name], str(error))
            checked[name] = unusable
            problems.append(f"{name} {unusable['problem']}")
        else:
            checked[name] = value
    return checked, problems


def read_facts(data) -> SubmissionFacts:
    """``SubmissionFacts`` from ``data`` after ``check_facts``; ``SchemaError`` when it is not facts at all."""
    checked, _ = check_facts(data)
    try:
        return SubmissionFacts.from_dict(checked)
    except (TypeError, ValueError, KeyError) as error:  # unreachable for checked data; kept as a guard
        raise SchemaError(f"does not describe a submission ({error})") from error


def check_problems(data) -> dict[str, str]:
    """The exporter's ``{variable: why it could not be saved}``, kept to the lesson's variables and short text."""
    if not isinstance(data, dict):
        return {}
    known = (*EXPORTED_ARRAYS, "model")
    return {key: _shorten(value) for key, value in data.items()
            if key in known and isinstance(value, str) and _is_unicode(value)}


# --- the checks ------------------------------------------------------------------------------


def _check(hint, value, section: str, path: tuple) -> None:
    """Raise ``SchemaError`` when ``value`` is not a valid ``hint`` (a facts dataclass or a field's type)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return
        if len(options) != 1:
            raise SchemaError(f"{_where(section, path)} has a type the schema does not describe")
        return _check(options[0], value, section, path)
    if dataclasses.is_dataclass(hint):
        return _check_object(hint, value, section, path)
    if origin is tuple:
        return _check_list(hint, value, section, path)
    if hint is bool:
        if type(value) is not bool:
            raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not true or false")
    elif hint is int:
        _check_int(value, section, path)
    elif hint is float:
        _check_float(value, section, path)
    elif hint is str:
        if type(value) is not str:
            raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not text")
        if len(value) > MAX_TEXT:
            raise SchemaError(f"{_where(section, path)} is {len(value):,} characters long, over {MAX_TEXT:,}")
        if not _is_unicode(value):  # a lone surrogate ("\ud800") parses, but no file can be written with it
            raise SchemaError(f"{_where(section, path)} holds text that is not valid Unicode")
    else:
        raise SchemaError(f"{_where(section, path)} has a type the schema does not describe")


def _check_object(cls, value, section: str, path: tuple) -> None:
    if not isinstance(value, dict):
        raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not an object")
    hints = typing.get_type_hints(cls)
    unknown = [key for key in value if key not in hints]
    if unknown:
        raise SchemaError(f"{_where(section, path)} has fields the facts do not have ({str(unknown[0])[:40]})")
    required = [field.name for field in dataclasses.fields(cls) if field.name not in value
                and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
    if required:
        raise SchemaError(f"{_where(section, path)} lacks its {required[0]}")
    if not path and "name" in hints and value["name"] != section:  # x_train's facts describe x_train
        raise SchemaError(f"{section} is described under another name ({_kind(value['name'])})")
    for key, item in value.items():
        _check(hints[key], item, section, (*path, key))


def _check_list(hint, value, section: str, path: tuple) -> None:
    if not isinstance(value, (list, tuple)):  # JSON gives lists; asdict, tuples
        raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not a list")
    if len(value) > MAX_ITEMS:
        raise SchemaError(f"{_where(section, path)} holds {len(value):,} items, over {MAX_ITEMS:,}")
    item = (typing.get_args(hint) or (typing.Any,))[0]
    if item is float:  # one message for the whole series, naming its first bad values
        bad = [v for v in value if not _is_number(v) or not math.isfinite(v)]
        if bad:
            raise SchemaError(f"{_where(section, path)} holds values that are not finite numbers: {_sample(bad)}")
        if _field(section, path) in UNIT_FIELDS:
            low, high = UNIT_RANGE
            outside = [v for v in value if not low <= v <= high]
            if outside:
                raise SchemaError(f"{_where(section, path)} holds values outside {low:g} to {high:g}: "
                                  f"{_sample(outside)}")
        return
    for index, entry in enumerate(value):
        _check(item, entry, section, (*path, index))


def _check_complete(section: str, value) -> None:
    """A number described as defined and usable holds a number: the rubric compares it without asking."""
    if section in SCALARS and isinstance(value, dict) and value.get("defined") and not value.get("problem") \
            and value.get("value") is None:
        raise SchemaError(f"{section} is described as a number but holds none")


def _check_int(value, section: str, path: tuple) -> None:
    if isinstance(value, Oversized):
        raise SchemaError(f"{_where(section, path)} is an integer of {value.digits:,} digits, too long to read")
    if type(value) is not int:
        raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not a whole number")
    if not 0 <= value <= MAX_INT:  # every integer in the facts is a count
        raise SchemaError(f"{_where(section, path)} is {_show_int(value)}, outside 0 to {MAX_INT:,}")


def _check_float(value, section: str, path: tuple) -> None:
    if not _is_number(value):
        raise SchemaError(f"{_where(section, path)} is {_kind(value)}, not a number")
    if not math.isfinite(value):
        raise SchemaError(f"{_where(section, path)} is {value}, not a finite number")
    if _field(section, path) in UNIT_FIELDS and not UNIT_RANGE[0] <= value <= UNIT_RANGE[1]:
        raise SchemaError(f"{_where(section, path)} is {value:g}, outside {UNIT_RANGE[0]:g} to {UNIT_RANGE[1]:g}")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_number(value) -> bool:
    return type(value) in (int, float) and (type(value) is float or abs(value) <= MAX_INT)


def _field(section: str, path: tuple) -> tuple[str, str]:
    names = [part for part in path if isinstance(part, str)]
    return section, names[-1] if names else ""


# --- messages in the student's words ---------------------------------------------------------

# Where a history fact comes from in the student's own History object ({source} is history or model.history).
_HISTORY_PLACES = {"epochs": "{source}.params['epochs']", "steps_per_epoch": "{source}.params['steps']",
                   "epochs_recorded": "len({source}.history['loss'])", "metric_names": "the keys of {source}.history",
                   "train_accuracy": "{source}.history['accuracy']", "val_accuracy": "{source}.history['val_accuracy']",
                   "source": "{source}"}


def _where(section: str, path: tuple) -> str:
    """``history.history['accuracy']``, ``x_train's shape``, ...: the place in the student's words."""
    fields = [part for part in path if isinstance(part, str)]
    if section == "history" and fields and fields[0] in _HISTORY_PLACES:
        return _HISTORY_PLACES[fields[0]]
    if section in EXPORTED_ARRAYS or section in ("test_loss", "test_acc"):
        return f"{section}'s {fields[0].replace('_', ' ')}" if fields else section
    if section == "grader":
        return f"the grader's {' '.join(fields).replace('_', ' ')}" if fields else "the grader's figures"
    return f"{section}'s {' '.join(fields).replace('_', ' ')}" if fields else section


def _unusable(name: str, value, hint, why: str) -> dict:
    """The section ``name`` as a fact that says why it cannot be used (``defined``, ``problem``)."""
    hint = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
    fields = {field.name for field in dataclasses.fields(hint)}
    section = {"problem": None}
    source = value.get("source") if isinstance(value, dict) else None
    source = source if source in ("history", "model.history") else "history"
    why = why.replace("{source}", source)
    names = value.get("metric_names") if isinstance(value, dict) else None
    accuracy = next((n for n in ACCURACY_NAMES if isinstance(names, list) and n in names), "accuracy")
    why = why.replace("['accuracy']", f"[{accuracy!r}]").replace("['val_accuracy']", f"['val_{accuracy}']")
    if name == "grader":
        section["problem"] = _shorten(f"its figures are outside the schema: {why}")
    else:
        section["problem"] = _shorten(f"cannot be graded: {why}")  # the rubric's message adds what to do
    if "name" in fields:
        section["name"] = name
    if "defined" in fields:
        section["defined"] = True
    if hint is HistoryFacts:
        section["source"] = source
    return section


def _sample(values: list) -> str:
    shown = ", ".join(_show(value) for value in values[:3])
    return shown + (f" and {len(values) - 3:,} more" if len(values) > 3 else "")


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return _show_int(value)
    if isinstance(value, Oversized):
        return f"an integer of {value.digits:,} digits"
    return _kind(value)


def _show_int(value: int) -> str:
    return f"{value:,}" if abs(value) < 10**30 else f"an integer of about {value.bit_length() * 3 // 10:,} digits"


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, Oversized):
        return f"an integer of {value.digits:,} digits"
    if isinstance(value, str):
        return f"text of {len(value):,} characters" if len(value) > 40 else repr(value)
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'object'} of {len(value):,} items"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _show_int(value)
    return f"a {type(value).__name__}"


def _shorten(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
