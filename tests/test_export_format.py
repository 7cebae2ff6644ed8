"""The export's schema: every value the kernel exports is checked before the host uses it, and a value
outside it makes its fact unusable with a message to the student, never an exception. No TensorFlow."""

import dataclasses
import json
import math
import time
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import ledger
from autograder.exceptions import ExportUnreadable
from autograder.results import SubmissionResult
from autograder.rubric import run_checks
from autograder.rubric.facts import SubmissionFacts
from autograder.sandbox import export_format, kernel_export
from autograder.sandbox.export_format import (
    FACTS_FILE, MAX_ITEMS, MAX_TEXT, SchemaError, check_facts, parse_json, read_facts,
)
from autograder.trusted import inspect_export
from facts_factory import perfect_facts


def _facts_json(**changes) -> dict:
    """The perfect facts as the kernel writes them, with ``changes`` ({"history.train_accuracy": value}) applied."""
    data = json.loads(json.dumps(perfect_facts().to_dict()))
    for place, value in changes.items():
        section, field = place.split(".")
        data[section][field] = value
    return data


def test_perfect_facts_pass_unchanged():
    data = _facts_json()
    checked, problems = check_facts(data)
    assert problems == [] and checked == data
    assert read_facts(data) == perfect_facts()


@pytest.mark.parametrize("field, value, words", [
    ("train_accuracy", [1e308, -1e308], "history.history['accuracy'] holds values outside 0 to 1: 1e+308, -1e+308"),
    ("train_accuracy", [0.5, float("nan")], "history.history['accuracy'] holds values that are not finite numbers: nan"),
    ("val_accuracy", [float("inf")], "history.history['val_accuracy'] holds values that are not finite numbers: inf"),
    ("train_accuracy", [0.5] * (MAX_ITEMS + 1), f"history.history['accuracy'] holds {MAX_ITEMS + 1:,} items"),
    ("epochs", -3, "history.params['epochs'] is -3, outside 0"),
    ("epochs", True, "history.params['epochs'] is true, not a whole number"),
    ("steps_per_epoch", 10**16, "history.params['steps'] is 10,000,000,000,000,000, outside 0"),
    ("metric_names", ["x" * 10_000_000], "the keys of history.history is 10,000,000 characters long"),
    ("metric_names", ["\ud800"], "not valid Unicode"),
    ("metric_names", ["accuracy"] * 1_000_000, "holds 1,000,000 items"),
])
def test_a_history_value_outside_the_schema_makes_the_history_unusable_and_says_why(field, value, words):
    facts = read_facts(_facts_json(**{f"history.{field}": value}))
    assert facts.history.defined and words in facts.history.problem, facts.history.problem
    assert facts.history.train_accuracy == () and facts.history.source == "history"
    assert dataclasses.replace(facts, history=perfect_facts().history) == perfect_facts()  # the rest is untouched
    message = next(c.message for c in run_checks(facts) if c.question == "q4_fit" and not c.passed)
    assert message.startswith("history cannot be graded: ") and words in message


def test_the_message_names_the_accuracy_key_the_student_used():
    data = _facts_json(**{"history.train_accuracy": [2.0], "history.metric_names": ["acc", "loss"]})
    assert "history.history['acc'] holds values outside 0 to 1: 2" in read_facts(data).history.problem


def test_a_huge_integer_is_bounded_before_it_is_converted():
    text = json.dumps(_facts_json()).replace('"epochs": 10', '"epochs": 1' + "0" * 5000)
    started = time.monotonic()
    facts = read_facts(parse_json(text))
    assert "history.params['epochs'] is an integer of 5,001 digits" in facts.history.problem
    million = parse_json("[" + "9" * 1_000_000 + "]")  # int() of it would be quadratic; Python refuses it anyway
    assert million == [export_format.Oversized(1_000_000)] and time.monotonic() - started < 2


@pytest.mark.parametrize("section, field, value, words", [
    ("test_acc", "value", float("nan"), "test_acc's value is nan, not a finite number"),
    ("test_loss", "value", "0.3", "test_loss's value is '0.3', not a number"),
    ("x_train", "shape", [60000, -28, 28], "x_train's shape is -28"),
    ("x_train", "shape", list(range(5000)), "x_train's shape holds 5,000 items"),
    ("model", "layers", [{"type": "Dense", "units": 10**20}], "outside 0"),
    ("model", "layers", [{"type": "Dense", "evil": 1}], "fields the facts do not have"),
    ("predictions", "minimum", float("-inf"), "predictions's minimum is -inf"),
    ("test_acc", "value", None, "test_acc is described as a number but holds none"),
    ("model", "optimizer", "a" * (MAX_TEXT + 1), f"{MAX_TEXT + 1:,} characters long"),
])
def test_every_section_is_checked_and_only_the_bad_one_is_lost(section, field, value, words):
    facts = read_facts(_facts_json(**{f"{section}.{field}": value}))
    problem = getattr(facts, section).problem
    assert problem and words in problem, problem
    assert dataclasses.replace(facts, **{section: getattr(perfect_facts(), section)}) == perfect_facts()


def test_the_graders_own_figures_pass_the_schema_too():
    data = _facts_json(**{"grader.test_accuracy": float("nan")})
    facts = read_facts(data)
    assert facts.grader.problem.startswith("its figures are outside the schema: the grader's test accuracy is nan")
    assert facts.grader.confusion_matrix is None


def test_a_section_without_its_required_name_or_under_another_name_is_unusable():
    assert "x_train lacks its name" in read_facts(_facts_json() | {"x_train": {"defined": True}}).x_train.problem
    renamed = read_facts(_facts_json(**{"test_acc.name": "test_loss"}))
    assert renamed.test_acc.name == "test_acc" and "described under another name" in renamed.test_acc.problem


@pytest.mark.parametrize("data", [[], "facts", {"unknown_section": {}}, None])
def test_what_is_not_facts_at_all_is_refused_as_a_whole(data):
    with pytest.raises(SchemaError):
        read_facts(data)


def _hints(cls):
    for field in dataclasses.fields(cls):
        yield cls, field.name, typing.get_type_hints(cls)[field.name]


def _leaf_types(hint):
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        for _, _, inner in _hints(hint):
            yield from _leaf_types(inner)
    elif args:
        for arg in args:
            if arg not in (type(None), Ellipsis):
                yield from _leaf_types(arg)
    else:
        yield hint


def test_every_field_of_the_facts_has_a_type_the_schema_describes():
    """A field added to rubric/facts.py with a new kind of value fails here, not in a student's grade."""
    assert set(_leaf_types(SubmissionFacts)) <= {bool, int, float, str}


def test_the_export_format_has_one_owner():
    assert kernel_export.FACTS_FILE is export_format.FACTS_FILE and kernel_export.ARRAY_FILES is export_format.ARRAY_FILES
    assert inspect_export.FACTS_FILE is export_format.FACTS_FILE and inspect_export.ARRAY_FILES is export_format.ARRAY_FILES


# --- the trusted reader and the ledger use it ---------------------------------------------


def _export(tmp_path, text: str):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / FACTS_FILE).write_text(text)
    return folder


def test_the_inspector_reads_an_out_of_schema_export_into_facts_not_an_exception(tmp_path):
    data = perfect_facts().to_dict() | {"grader": None}
    for name in ("x_train", "y_train", "x_test", "y_test", "predictions", "model"):
        data[name] = {"name": name} if name not in ("predictions", "model") else {}  # not defined: no files to read
    text = json.dumps(data).replace('"epochs": 10', '"epochs": 1' + "0" * 5000)
    text = text.replace('"train_accuracy": [0.8', '"train_accuracy": [1e308, -1e308, NaN, 0.8')
    facts = inspect_export.inspect_export(_export(tmp_path, text))
    assert "an integer of 5,001 digits" in facts.history.problem
    assert facts.test_acc.value == pytest.approx(0.8812)


def test_json_the_host_cannot_parse_is_an_unusable_export_not_a_crash(tmp_path):
    folder = _export(tmp_path, '{"history": {"epochs": 1' + "0" * 5000 + "}")  # broken, and too long an integer
    with pytest.raises(ExportUnreadable, match="is not valid JSON"):
        inspect_export.inspect_export(folder)


def test_a_rescore_reads_recorded_facts_through_the_schema(tmp_path):
    result = SubmissionResult.from_checks("hw.ipynb", "graded", "", run_checks(perfect_facts()), "d", facts=perfect_facts())
    prints = ledger.Fingerprints("e", "r", 0.868)
    ledger.save(tmp_path, result, prints)
    record = (tmp_path / ledger.RECORD).read_text()
    edited = record.replace('"train_accuracy": [0.8', '"train_accuracy": [1e308').replace('"epochs": 10', '"epochs": 1' + "0" * 5000)
    (tmp_path / ledger.RECORD).write_text(edited)
    _, read_back = ledger.read(tmp_path)
    assert "history.params['epochs'] is an integer of 5,001 digits" in read_back.facts.history.problem
    assert read_back.facts.test_acc == perfect_facts().test_acc


# --- properties: nothing in any field can raise, and what passes can be drawn -----------------

_JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50),
                         st.builds(export_format.Oversized, st.integers(0, 10**6)))
_JSON = st.recursive(_JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                     max_leaves=20)
_PLACES = [(section, field.name) for section in ("x_train", "model", "history", "test_acc", "predictions", "grader")
           for field in dataclasses.fields(type(getattr(perfect_facts(), section)))]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_PLACES), value=_JSON)
def test_any_value_in_any_field_gives_facts_or_a_problem_never_an_exception(place, value):
    section, field = place
    facts = read_facts(_facts_json(**{f"{section}.{field}": value}))
    if section in ("history", "test_acc"):  # the kernel's own description reaches the rubric as it is
        run_checks(facts)
    for series in (facts.history.train_accuracy, facts.history.val_accuracy):
        assert len(series) <= MAX_ITEMS and all(math.isfinite(v) and 0 <= v <= 1 for v in series)


def test_the_widest_training_record_the_schema_allows_is_drawn():
    from autograder.reports import plots

    extremes = [0.0, 1.0] * (MAX_ITEMS // 2)
    uri = plots.learning_curves({"train_accuracy": extremes, "val_accuracy": extremes[::-1]}, None)
    assert uri.startswith("data:image/png;base64,")
