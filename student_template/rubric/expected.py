"""What the reference solution established: the facts every submission is compared with.

``solutions/expected_facts.json`` is derived by ``python -m autograder calibrate``, which runs the
reference solution through the same engine that grades students (``autograder.expectations``), and
is read here: this module owns its format. It is plain data, so a change of the homework shows in
review, and it travels into the hand-out with the packed rubric (``student.package_files``), so
``grader.check`` compares with the same record as the instructor's grader.

Attributes the reference leaves at Keras' defaults are not recorded, and so not graded, unless
the author names them in ``graded_defaults``: a student who spells out ``padding='valid'`` or
leaves it out answers the same question.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .facts import from_dict

FILE_NAME = "expected_facts.json"

# Where the record is found: beside these modules in the hand-out (the setup cell unpacks it there),
# else in the kit's solutions/ folder, two levels up from autograder/rubric/. The rubric imports
# nothing else from the kit, so it cannot ask autograder.paths.
LOCATIONS = (Path(__file__).resolve().parent / FILE_NAME,
             Path(__file__).resolve().parent.parent.parent / "solutions" / FILE_NAME)

# A layer's attributes that define it, in the order messages name them. ``units``, ``filters``,
# ``kernel_size``, ``rate`` and ``target_shape`` have no Keras default: they are always graded.
LAYER_ATTRIBUTES = ("units", "filters", "kernel_size", "pool_size", "strides", "padding", "rate", "target_shape",
                    "scale", "offset", "activation")
# Keras' defaults, per attribute (a layer type's own default first): values the reference may leave out.
KERAS_DEFAULTS = {
    "activation": {None: "linear"},
    "padding": {None: "valid"},
    "strides": {"Conv2D": (1, 1)},  # a pooling layer's strides default to its pool_size (see ``is_default``)
    "pool_size": {None: (2, 2)},
    "offset": {None: 0.0},
}
# Each optimizer's default learning rate: a reference that keeps it sets none.
DEFAULT_LEARNING_RATES = {"adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "sgd": 0.01, "adagrad": 0.001,
                          "adadelta": 0.001, "adamax": 0.001, "nadam": 0.001, "ftrl": 0.001, "lion": 0.001}


@dataclass(frozen=True)
class ExpectedArray:
    shape: tuple[int, ...]
    dtype_kind: str | None = None  # numpy's kind of the reference's images: 'f' once scaled
    scaling: tuple[float, ...] | None = None  # (a, b): the reference's images are a * pixels + b
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class ExpectedData:
    x_train: ExpectedArray
    y_train: ExpectedArray
    x_test: ExpectedArray
    y_test: ExpectedArray
    classes: int = 10


@dataclass(frozen=True)
class ExpectedLayer:
    """One layer: its type and the attributes graded (None: not graded)."""

    type: str
    units: int | None = None
    filters: int | None = None
    kernel_size: tuple[int, ...] | None = None
    pool_size: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    padding: str | None = None
    rate: float | None = None
    target_shape: tuple[int, ...] | None = None
    scale: float | None = None
    offset: float | None = None
    activation: str | None = None
    param_count: int | None = None  # for the parameter count's explanation, not graded by itself

    def attributes(self) -> dict:
        """The graded attributes other than the activation, in ``LAYER_ATTRIBUTES`` order."""
        return {name: getattr(self, name) for name in LAYER_ATTRIBUTES
                if name != "activation" and getattr(self, name) is not None}


@dataclass(frozen=True)
class ExpectedModel:
    layers: tuple[ExpectedLayer, ...]
    input_shape: tuple[int | None, ...] | None
    param_count: int


@dataclass(frozen=True)
class ExpectedCompile:
    optimizer: str
    loss: str
    metrics: tuple[str, ...] = ()
    learning_rate: float | None = None  # graded only when the reference sets one


@dataclass(frozen=True)
class ExpectedFit:
    epochs: int
    steps_per_epoch: int
    validation: bool  # the history records val_loss and val_accuracy
    batch_size: int | None = None  # as the reference's fit call spells them, for hints
    validation_split: float | None = None
    validation_data: bool = False


@dataclass(frozen=True)
class Expected:
    data: ExpectedData
    model: ExpectedModel
    compile: ExpectedCompile
    fit: ExpectedFit
    predictions_shape: tuple[int, ...]
    graded_defaults: tuple[str, ...] = ()  # attributes graded even where the reference keeps Keras' default
    switched_off: tuple[str, ...] = ()  # checks (by function name) the author left out of this assignment
    seeds: tuple[int, ...] = ()  # the calibration runs that agreed on all of the above
    about: str = ""

    @property
    def training_steps(self) -> int:
        return self.fit.epochs * self.fit.steps_per_epoch

    def to_json(self) -> str:
        """Readable in review: what is not graded (None) is left out, a list of numbers stays on one line."""
        text = json.dumps(_without_none(asdict(self)), indent=2)
        return re.sub(r"\[[^\[\]{}]*\]", lambda match: re.sub(r"\s+", " ", match.group(0)).replace("[ ", "[")
                      .replace(" ]", "]"), text) + "\n"


def _without_none(value):
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(item) for item in value]
    return value


def from_json(text: str) -> Expected:
    return from_dict(Expected, json.loads(text))


def is_default(layer_type: str, name: str, value, layer: dict | None = None) -> bool:
    """Whether ``value`` is Keras' default for attribute ``name`` of a ``layer_type`` layer."""
    if name == "strides" and layer_type.endswith("Pooling2D"):
        return value is None or tuple(value) == tuple((layer or {}).get("pool_size") or (2, 2))
    defaults = KERAS_DEFAULTS.get(name, {})
    default = defaults.get(layer_type, defaults.get(None, _NO_DEFAULT))
    if default is _NO_DEFAULT:
        return False
    return (tuple(value) if isinstance(value, (list, tuple)) else value) == default


_NO_DEFAULT = object()


class ExpectedMissing(Exception):
    """No record of expected facts where the rubric looks for one."""


def load(locations=LOCATIONS) -> Expected:
    """The record of the first of ``locations`` that exists."""
    for path in locations:
        if path.is_file():
            try:
                return from_json(path.read_text(encoding="utf-8"))
            except (ValueError, TypeError) as error:
                raise ExpectedMissing(f"{path} is not a valid record of expected facts ({error}): "
                                      f"run `make assignment` to derive it again") from error
    raise ExpectedMissing(f"no record of expected facts at {' or '.join(str(p) for p in locations)}: "
                          f"run `make assignment` to derive it from the reference solution")
