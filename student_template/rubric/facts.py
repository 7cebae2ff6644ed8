"""Plain facts about a submission: the only thing the rubric ever looks at.

Facts are small frozen dataclasses of numbers, strings and tuples. They can be
built from live objects in a student's kernel (see ``describe``) or read back
from JSON written by the grading engine, and they never hold a reference to an
object that student code could have tampered with.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArrayFacts:
    """What a data array looks like: shape, dtype and value range."""

    name: str
    defined: bool = False
    problem: str | None = None  # why it is not a usable numeric array
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    dtype_kind: str | None = None  # numpy's dtype.kind: 'f', 'u', 'i', ...
    minimum: float | None = None
    maximum: float | None = None
    placeholder: bool = False  # it still holds the template's `...`, as opposed to never assigned


@dataclass(frozen=True)
class LayerFacts:
    """One layer as built: its type and the attributes that define it (None where the type has none)."""

    type: str
    units: int | None = None
    activation: str | None = None
    filters: int | None = None
    kernel_size: tuple[int, ...] | None = None
    pool_size: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    padding: str | None = None
    rate: float | None = None  # Dropout's
    target_shape: tuple[int, ...] | None = None  # Reshape's
    scale: float | None = None  # Rescaling's, when one number
    offset: float | None = None
    param_count: int | None = None


@dataclass(frozen=True)
class ModelFacts:
    """Architecture and compile configuration of ``model``."""

    defined: bool = False
    problem: str | None = None
    layers: tuple[LayerFacts, ...] = ()
    operations: tuple[str, ...] = ()  # a functional graph's steps that are not layers (keras.ops: 'Square', 'Add')
    input_shape: tuple[int | None, ...] | None = None
    param_count: int | None = None
    compiled: bool = False
    optimizer: str | None = None  # normalised: 'adam', 'sgd', ...
    learning_rate: float | None = None  # the optimizer's, when a plain number
    loss: str | None = None  # normalised: 'sparse_categorical_crossentropy', ...
    metrics: tuple[str, ...] = ()  # normalised: 'accuracy', ...
    optimizer_iterations: int | None = None  # training steps taken so far
    read_from_file: bool = False  # True: read from the saved file as data (safe mode refused it), never run
    placeholder: bool = False  # it still holds the template's `...`, as opposed to never assigned


@dataclass(frozen=True)
class HistoryFacts:
    """The training record returned by ``fit`` (``history`` or ``model.history``)."""

    defined: bool = False
    source: str | None = None  # 'history' or 'model.history'
    problem: str | None = None
    epochs: int | None = None  # epochs asked for (history.params['epochs'])
    steps_per_epoch: int | None = None  # history.params['steps']
    epochs_recorded: int | None = None  # len(history.history['loss'])
    metric_names: tuple[str, ...] = ()
    train_accuracy: tuple[float, ...] = ()
    val_accuracy: tuple[float, ...] = ()
    placeholder: bool = False  # it still holds the template's `...`, as opposed to never assigned


@dataclass(frozen=True)
class ScalarFacts:
    name: str
    defined: bool = False
    problem: str | None = None
    value: float | None = None
    placeholder: bool = False  # it still holds the template's `...`, as opposed to never assigned


@dataclass(frozen=True)
class PredictionFacts:
    defined: bool = False
    problem: str | None = None
    shape: tuple[int, ...] | None = None
    minimum: float | None = None
    max_row_sum_error: float | None = None  # max |sum(row) - 1|
    placeholder: bool = False  # it still holds the template's `...`, as opposed to never assigned


@dataclass(frozen=True)
class GraderFacts:
    """Figures the grader computed itself, in a process that never ran student code."""

    problem: str | None = None  # why the grader could not evaluate the model
    test_accuracy: float | None = None  # the grader's evaluation of the saved model
    argmax_agreement: float | None = None  # share of rows where predictions agree with the grader's
    accuracy_threshold: float | None = None
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None  # rows: true class, columns: the model's class
    # How the student's arrays relate to Fashion-MNIST as load_data() returns it, checked value by value:
    # (a, b) when the array is a * pixels + b (a rescaling, raw pixels being (1, 0)); None when it is not
    # those images in that order, or could not be compared.
    x_train_scaling: tuple[float, ...] | None = None
    x_test_scaling: tuple[float, ...] | None = None
    y_train_matches: bool | None = None  # equal to load_data()'s labels
    y_test_matches: bool | None = None
    evaluated_on: str | None = None  # which test images the grader gave the model, in the student's words


@dataclass(frozen=True)
class SubmissionFacts:
    x_train: ArrayFacts = field(default_factory=lambda: ArrayFacts("x_train"))
    y_train: ArrayFacts = field(default_factory=lambda: ArrayFacts("y_train"))
    x_test: ArrayFacts = field(default_factory=lambda: ArrayFacts("x_test"))
    y_test: ArrayFacts = field(default_factory=lambda: ArrayFacts("y_test"))
    model: ModelFacts = field(default_factory=ModelFacts)
    history: HistoryFacts = field(default_factory=HistoryFacts)
    test_loss: ScalarFacts = field(default_factory=lambda: ScalarFacts("test_loss"))
    test_acc: ScalarFacts = field(default_factory=lambda: ScalarFacts("test_acc"))
    predictions: PredictionFacts = field(default_factory=PredictionFacts)
    grader: GraderFacts | None = None  # None in the student's notebook

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionFacts":
        return from_dict(cls, data)


def from_dict(cls, data):
    """Build dataclass ``cls`` from ``asdict`` output, restoring nested dataclasses and tuples.

    Unknown keys are rejected so that a malformed facts file fails loudly.
    """
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise TypeError(f"{cls.__name__}: unexpected fields {sorted(unknown)}")
    return cls(**{name: _convert(hints[name], value) for name, value in data.items()})


def _convert(hint, value):
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        item = args[0] if args else typing.Any
        return tuple(_convert(item, v) for v in value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value
