"""The rubric: one small function per check, over ``SubmissionFacts`` and the ``Expected`` record.

A check returns ``None`` when it passes, or one message that names the student's
variable, the expected and the observed value, and a hint. Every expected value, in
the comparison and in the words, comes from the reference solution's record
(``expected.Expected``, derived by calibration), never from a constant here. The same
functions serve the student's ``grader.check`` (public checks only) and the
instructor's grader (all checks, with the grader's own figures in ``facts.grader``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

from . import expected as expected_record
from .expected import Expected, ExpectedArray
from .facts import ArrayFacts, ModelFacts, SubmissionFacts

QUESTIONS = ("q1_load", "q2_model", "q3_compile", "q4_fit", "q5_evaluate", "q6_predict")

ACCURACY_TOLERANCE = 0.005  # test_acc may differ this much from the grader's own evaluation
MIN_ARGMAX_AGREEMENT = 0.999  # float noise may flip a near-tie on a handful of images


@dataclass(frozen=True)
class Check:
    question: str
    description: str
    points: int
    hidden: bool
    function: Callable[[SubmissionFacts, Expected], str | None]
    # Checks whose failure already charged this one's mistake: then this one is feedback only (0 points).
    excused_by: tuple[Callable, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    question: str
    description: str
    points: int
    hidden: bool
    message: str | None  # None when the check passed
    excused: bool = False  # failed, but another check already charged the same mistake: feedback only

    @property
    def passed(self) -> bool:
        return self.message is None

    @property
    def score(self) -> int:
        return self.points if self.passed or self.excused else 0


# --- helpers that phrase the common failures -----------------------------------------------


def _not_defined(name: str, placeholder: bool = False) -> str:
    if placeholder:  # the template's `x_train = ...` was run but not yet replaced
        return f"{name} still holds the placeholder `...`: replace the `...` with your code, then run that cell"
    return f"{name} is not defined: run the cell that assigns {name} (and every cell above it)"


def _unusable(name: str, variable, hint: str) -> str | None:
    """The message for a variable that is missing or not usable at all (a list, a string...)."""
    if not variable.defined:
        return _not_defined(name, variable.placeholder)
    if variable.problem:
        return f"{name} {variable.problem}: {hint}"
    return None


def _array_unusable(array: ArrayFacts) -> str | None:
    return _unusable(array.name, array, "keep the arrays returned by fashion_mnist.load_data()")


def _model_unusable(model: ModelFacts) -> str | None:
    if not model.defined:
        return _not_defined("model", model.placeholder)
    if model.problem:
        return f"model {model.problem}: build it with Sequential([...])"
    return None


def _first(*messages: str | None) -> str | None:
    return next((message for message in messages if message), None)


def _fmt(number: float) -> str:
    return f"{number:,.4g}" if abs(number) < 1000 else f"{number:,.0f}"


def _shape(shape) -> str:
    return "x".join(str(n) for n in shape)


def _count_word(n: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _and(items) -> str:
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- q1_load ---------------------------------------------------------------------------------


def _shape_problem(array: ArrayFacts, expected: tuple[int, ...], hint: str) -> str | None:
    if unusable := _array_unusable(array):
        return unusable
    if array.shape != expected:
        return f"{array.name} has shape {array.shape} but expected {expected}: {hint}"
    return None


def _not_the_data(array: ArrayFacts, verified, what: str, hint: str) -> str | None:
    """At grading, the grader compared ``array`` with load_data()'s value by value (``verified``)."""
    if verified is None or verified is False:
        return (f"{array.name} has the expected shape but does not hold Fashion-MNIST's {what} in load_data()'s "
                f"order: {hint}")
    return None


def _reshaped(expected: Expected) -> bool:
    return expected.data.x_train.shape[1:] != (28, 28)


def image_shapes(facts: SubmissionFacts, expected: Expected) -> str | None:
    if _reshaped(expected):
        channels = expected.data.x_train.shape[1:]
        hint = (f"load the full data set with fashion_mnist.load_data() and reshape each image to {channels} "
                f"(x_train.reshape(-1, {', '.join(map(str, channels))})), without slicing it")
    else:
        hint = "load the full data set with fashion_mnist.load_data() and do not reshape or slice it"
    shapes = _first(
        _shape_problem(facts.x_train, expected.data.x_train.shape, hint),
        _shape_problem(facts.x_test, expected.data.x_test.shape, hint),
    )
    if shapes or facts.grader is None:  # the student's check sees only the shapes
        return shapes
    hint = "keep the images fashion_mnist.load_data() returns (scaling them is fine) and do not shuffle or edit them"
    return _first(
        _not_the_data(facts.x_train, facts.grader.x_train_scaling, "training images", hint),
        _not_the_data(facts.x_test, facts.grader.x_test_scaling, "test images", hint),
    )


def label_shapes(facts: SubmissionFacts, expected: Expected) -> str | None:
    hint = "keep one integer label per image, exactly as fashion_mnist.load_data() returns them"
    shapes = _first(
        _shape_problem(facts.y_train, expected.data.y_train.shape, hint),
        _shape_problem(facts.y_test, expected.data.y_test.shape, hint),
    )
    if shapes or facts.grader is None:
        return shapes
    return _first(
        _not_the_data(facts.y_train, facts.grader.y_train_matches, "training labels", hint),
        _not_the_data(facts.y_test, facts.grader.y_test_matches, "test labels", hint),
    )


def _scaling(array: ExpectedArray) -> tuple[float, float]:
    return tuple(array.scaling) if array.scaling else (1.0, 0.0)


def _is_raw(scaling) -> bool:
    return abs(scaling[0] - 1) < 1e-9 and abs(scaling[1]) < 1e-9


def _scaling_hint(scaling) -> str:
    """How to get the reference's pixels, in the student's words."""
    a, b = scaling
    if _is_raw(scaling):
        return "keep the pixels as fashion_mnist.load_data() returns them (0 to 255)"
    divisor = float(f"{1 / a:.6g}")
    shown = f"{divisor:.1f}" if divisor.is_integer() else f"{divisor:g}"
    if abs(b) < 1e-9:
        return f"divide the pixels by {shown}"
    return f"scale the pixels to [{_fmt(b)}, {_fmt(255 * a + b)}] (pixels / {shown} + {b:.6g})"


def _shown_scaling(scaling) -> str:
    a, b = scaling
    if _is_raw(scaling):
        return "the unscaled pixels (0 to 255)"
    if abs(b) < 1e-9 and abs(a * 255 - 1) < 1e-6:
        return "pixels / 255"
    return f"pixels x {a:.4g}" + (f" + {b:.4g}" if b else "")


def images_are_floats(facts: SubmissionFacts, expected: Expected) -> str | None:
    wanted = expected.data.x_train.dtype_kind
    for array in (facts.x_train, facts.x_test):
        if unusable := _array_unusable(array):
            return unusable
        if wanted == "f" and array.dtype_kind != "f":
            return (
                f"{array.name} has dtype {array.dtype} but expected a floating-point dtype: "
                f"{_scaling_hint(_scaling(expected.data.x_train))} so the pixels become floats"
            )
        if wanted != "f" and array.dtype_kind not in ("u", "i", "f"):
            return f"{array.name} has dtype {array.dtype} but expected numbers: {_scaling_hint((1.0, 0.0))}"
    return None


def images_are_scaled(facts: SubmissionFacts, expected: Expected) -> str | None:
    scaling = _scaling(expected.data.x_train)
    low, high = scaling[1], 255 * scaling[0] + scaling[1]
    hint = _scaling_hint(scaling)
    for array in (facts.x_train, facts.x_test):
        if unusable := _array_unusable(array):
            return unusable
        if array.minimum is None or array.maximum is None:
            return f"{array.name} is empty: keep the arrays returned by fashion_mnist.load_data()"
        observed = f"ranges from {_fmt(array.minimum)} to {_fmt(array.maximum)}"
        if array.minimum < low - 1e-6 or array.maximum > high + 1e-6:
            return f"{array.name} {observed} but expected values in [{_fmt(low)}, {_fmt(high)}]: {hint}"
        if abs(array.maximum - high) > 1e-6:
            return (
                f"{array.name} {observed} but expected the brightest pixel to be exactly {_fmt(high)}: "
                + (f"{hint} (the largest pixel value), once" if not _is_raw(scaling) else hint)
            )
    if facts.grader is not None:  # at grading: the values themselves, not only their range
        checked = ((facts.x_train, facts.grader.x_train_scaling, expected.data.x_train.shape),
                   (facts.x_test, facts.grader.x_test_scaling, expected.data.x_test.shape))
        for array, observed, shape in checked:
            if observed is None:
                if array.shape != shape:
                    continue  # a slice of the data cannot be compared value by value: the shape check charges it
                return (f"{array.name} is in [{_fmt(low)}, {_fmt(high)}] but is not load_data()'s images as "
                        f"{_shown_scaling(scaling)}: {hint}")
            if abs(observed[0] - scaling[0]) > 1e-6 * abs(scaling[0]) or abs(observed[1] - scaling[1]) > 1e-6:
                return (f"{array.name} holds {_shown_scaling(observed)} but expected {_shown_scaling(scaling)}: "
                        f"{hint} and nothing else")
    return None


# --- q2_model --------------------------------------------------------------------------------


# Scaling inside the model instead of the arrays is charged once, by q1's scaling checks,
# unless the reference scales inside its model itself.
SCALING_LAYERS = ("Rescaling", "Lambda")


def _expected_types(expected: Expected) -> list[str]:
    return [layer.type for layer in expected.model.layers]


def _observed_layers(model: ModelFacts, expected: Expected):
    scaled_inside = set(SCALING_LAYERS) & set(_expected_types(expected))
    return [layer for layer in model.layers if scaled_inside or layer.type not in SCALING_LAYERS]


def _types_hint(types: list[str], expected: Expected) -> str:
    if types and types[0] == "Flatten" and set(types[1:]) == {"Dense"}:
        image = _shape(expected.model.input_shape[1:]) if expected.model.input_shape else "28x28"
        pixels = math.prod(n for n in (expected.model.input_shape or (None, 28, 28))[1:] if n)
        return (f"Flatten turns each {image} image into {pixels} numbers, "
                f"then {_count_word(len(types) - 1)} Dense layers classify it")
    return f"build the model from these {len(types)} layers, in this order"


def layer_types(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = [layer.type for layer in _observed_layers(facts.model, expected)]
    wanted = _expected_types(expected)
    if observed != wanted:
        return f"model has layers {observed} but expected {wanted}: {_types_hint(wanted, expected)}"
    if facts.model.operations:  # keras.ops between the layers: not the reference's network, whatever its layers
        return (f"model computes {list(facts.model.operations)} between its layers but expected only the layers "
                f"{wanted}: pass each layer's output straight to the next one")
    return None


def _graded_by_type(expected: Expected) -> dict[str, list[dict]]:
    """Per layer type (in order of appearance), the graded attributes of each of its layers."""
    by_type: dict[str, list[dict]] = {}
    for layer in expected.model.layers:
        by_type.setdefault(layer.type, []).append(layer.attributes())
    return {kind: attributes for kind, attributes in by_type.items() if any(attributes)}


def _attribute_words(name: str, values: list) -> str:
    if name == "units":
        return f"{_and(values)} units"
    shown = [("x".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}" if isinstance(v, float) else str(v))
             for v in values]
    return f"{name.replace('_', ' ')} {_and(shown)}"


def _sizes_description(expected: Expected) -> str:
    phrases = []
    for kind, layers in _graded_by_type(expected).items():
        names = [name for name in expected_record.LAYER_ATTRIBUTES if any(name in layer for layer in layers)]
        phrases.append(f"{kind} layers have " + ", ".join(
            _attribute_words(name, [layer.get(name) for layer in layers]) for name in names))
    return "; ".join(phrases) or "layers have the reference's sizes"


def _sizes_hint(kind: str, name: str, values: list, expected: Expected) -> str:
    if kind == "Dense" and name == "units" and values and values[-1] == expected.data.classes:
        hidden = values[:-1]
        if not hidden:
            return "one output unit per clothing class"
        layers = "a hidden layer" if len(hidden) == 1 else "hidden layers"
        return f"{layers} of {_and(hidden)} units, then one output unit per clothing class"
    return f"give the {kind} layers {name}={_and(values)}, in this order"


def layer_sizes(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    for kind, layers in _graded_by_type(expected).items():
        found = [layer for layer in _observed_layers(facts.model, expected) if layer.type == kind]
        for name in expected_record.LAYER_ATTRIBUTES:
            if not any(name in layer for layer in layers):
                continue
            wanted = [layer.get(name) for layer in layers]
            observed = [getattr(layer, name) for layer in found]
            if len(observed) != len(wanted) or any(w is not None and not _same(o, w)
                                                   for o, w in zip(observed, wanted, strict=True)):
                return (f"model's {kind} layers have {name} {_listed(observed)} but expected {_listed(wanted)}: "
                        f"{_sizes_hint(kind, name, wanted, expected)}")
    return None


def _same(observed, wanted) -> bool:
    if isinstance(wanted, float) and isinstance(observed, (int, float)):
        return abs(observed - wanted) <= 1e-6 * max(1.0, abs(wanted))
    return observed == wanted


def _listed(values: list) -> str:
    return "[" + ", ".join("None" if v is None else repr(v) for v in values) + "]"


def _activations(expected: Expected) -> list[tuple[str, int, str]]:
    """(layer type, its index among that type's layers, activation) of each graded activation."""
    seen: dict[str, int] = {}
    graded = []
    for layer in expected.model.layers:
        index = seen[layer.type] = seen.get(layer.type, -1) + 1
        if layer.activation is not None:
            graded.append((layer.type, index, layer.activation))
    return graded


def _activations_hint(kind: str, wanted: list, expected: Expected) -> str:
    if kind == "Dense" and wanted and wanted[-1] == "softmax" and all(w == wanted[0] for w in wanted[:-1]):
        hidden = "" if len(wanted) == 1 else (
            f"{wanted[0]} in the hidden layer, " if len(wanted) == 2 else f"{wanted[0]} in the hidden layers, ")
        return f"{hidden}softmax on the output so it gives class probabilities"
    return f"give the {kind} layers activation={_and(repr(w) for w in wanted)}, in this order"


def layer_activations(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    layers = _observed_layers(facts.model, expected)
    for kind in dict.fromkeys(kind for kind, _, _ in _activations(expected)):
        count = sum(1 for layer in expected.model.layers if layer.type == kind)
        wanted = [None] * count
        for graded_kind, index, activation in _activations(expected):
            if graded_kind == kind:
                wanted[index] = activation
        observed = [layer.activation for layer in layers if layer.type == kind]
        if len(observed) != count or any(w is not None and o != w for o, w in zip(observed, wanted, strict=True)):
            return (f"model's {kind} layers use activations {observed} but expected {wanted}: "
                    f"{_activations_hint(kind, [w for w in wanted if w], expected)}")
    return None


def _input_hint(expected: Expected) -> str:
    shape = tuple(expected.model.input_shape[1:])
    first = expected.model.layers[0].type if expected.model.layers else "the first layer"
    return f"start the model with keras.Input(shape={shape}) or give {first} input_shape={shape}"


def input_shape(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed, wanted = facts.model.input_shape, expected.model.input_shape
    if observed != wanted:
        return (f"model has input shape {observed} but expected {wanted}: {_input_hint(expected)}, "
                f"one {_shape(wanted[1:])} image per example")
    return None


def _next_shape(shape, layer):
    """The output shape (without the batch) of ``layer`` on ``shape``, where the rubric can tell; else None."""
    if shape is None:
        return None
    if layer.type == "Flatten":
        return (math.prod(shape),)
    if layer.type == "Dense" and layer.units:
        return (*shape[:-1], layer.units)
    if layer.type == "Reshape":
        return layer.target_shape
    if layer.type in ("Conv2D", "MaxPooling2D", "AveragePooling2D") and len(shape) == 3:
        window = layer.kernel_size if layer.type == "Conv2D" else (layer.pool_size or (2, 2))
        strides = layer.strides or ((1, 1) if layer.type == "Conv2D" else window)
        size = [(n + s - 1) // s if layer.padding == "same" else (n - k) // s + 1
                # strict=False: a student's kernel_size or strides of another length gives the shape it always gave
                for n, k, s in zip(shape[:2], window, strides, strict=False)]
        return (*size, layer.filters if layer.type == "Conv2D" else shape[2])
    if layer.type in ("Dropout", "BatchNormalization", "Rescaling"):
        return shape
    return None


def _parameters_explained(expected: Expected) -> str:
    """784x128 weights + 128 biases + ...: each layer's share, in the lesson's words where it is a Dense layer."""
    shape = tuple(expected.model.input_shape[1:]) if expected.model.input_shape else None
    parts = []
    for layer in expected.model.layers:
        if layer.type == "Dense" and shape is not None and len(shape) == 1 and layer.units:
            parts.append(f"{shape[0]}x{layer.units} weights + {layer.units} biases")
        elif layer.param_count:
            parts.append(f"{layer.param_count:,} in the {layer.type} layer")
        shape = _next_shape(shape, layer)
    return " + ".join(parts)


def parameter_count(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed, wanted = facts.model.param_count, expected.model.param_count
    if observed is None:
        return f"model has not been built, so it has no parameters yet: {_input_hint(expected)}"
    if observed != wanted:
        explained = _parameters_explained(expected)
        return f"model has {observed:,} parameters but expected {wanted:,}" + (f": {explained}" if explained else "")
    return None


# --- q3_compile ------------------------------------------------------------------------------


def _compiled_problem(model: ModelFacts) -> str | None:
    if unusable := _model_unusable(model):
        return unusable
    if not model.compiled:
        return "model has not been compiled: call model.compile(optimizer=..., loss=..., metrics=...)"
    return None


OPTIMIZER_CLASSES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW", "adagrad": "Adagrad",
                     "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam", "ftrl": "Ftrl", "lion": "Lion"}


def _optimizer_call(expected: Expected) -> str:
    name = expected.compile.optimizer
    if expected.compile.learning_rate is None:
        return f"optimizer={name!r}"
    return (f"optimizer=keras.optimizers.{OPTIMIZER_CLASSES.get(name, name)}"
            f"(learning_rate={expected.compile.learning_rate:g})")


def optimizer_matches(facts: SubmissionFacts, expected: Expected) -> str | None:
    model, wanted = facts.model, expected.compile
    if unusable := _compiled_problem(model):
        return unusable
    if model.optimizer != wanted.optimizer:
        return (f"optimizer is {model.optimizer!r} but expected {wanted.optimizer!r}: "
                f"pass {_optimizer_call(expected)} to model.compile")
    if wanted.learning_rate is not None and (model.learning_rate is None
                                             or not _same(model.learning_rate, wanted.learning_rate)):
        shown = "not a fixed number" if model.learning_rate is None else f"{model.learning_rate:g}"
        return (f"optimizer's learning rate is {shown} but expected {wanted.learning_rate:g}: "
                f"pass {_optimizer_call(expected)} to model.compile")
    return None


def loss_matches(facts: SubmissionFacts, expected: Expected) -> str | None:
    model, wanted = facts.model, expected.compile.loss
    if unusable := _compiled_problem(model):
        return unusable
    if model.loss == wanted:
        return None
    integer_labels = facts.y_train.dtype_kind in ("i", "u") and len(facts.y_train.shape or ()) == 1
    if wanted == "sparse_categorical_crossentropy" and model.loss == "categorical_crossentropy" and integer_labels:
        return (
            "loss is 'categorical_crossentropy' but y_train holds integer labels: "
            "use 'sparse_categorical_crossentropy'"
        )
    why = (f": the labels are integers 0-{expected.data.classes - 1} and the output is a softmax over "
           f"{expected.data.classes} classes" if wanted == "sparse_categorical_crossentropy" else
           f": pass loss={wanted!r} to model.compile")
    return f"loss is {model.loss!r} but expected {wanted!r}{why}"


ACCURACY_METRICS = ("accuracy", "acc", "sparse_categorical_accuracy")


def metrics_match(facts: SubmissionFacts, expected: Expected) -> str | None:
    model = facts.model
    if unusable := _compiled_problem(model):
        return unusable
    wanted = [name for name in expected.compile.metrics]
    missing = [name for name in wanted if not ({name} | _synonyms(name)) & set(model.metrics)]
    if missing:
        return (f"metrics are {list(model.metrics)} but expected {wanted}: "
                f"pass metrics={wanted} to model.compile")
    return None


def _synonyms(name: str) -> set[str]:
    return set(ACCURACY_METRICS) if name in ACCURACY_METRICS else set()


# --- q4_fit ----------------------------------------------------------------------------------


def _fit_call(expected: Expected) -> str:
    fit = expected.fit
    words = [f"epochs={fit.epochs}"]
    if fit.batch_size is not None:
        words.append(f"batch_size={fit.batch_size}")
    if fit.validation_split is not None:
        words.append(f"validation_split={fit.validation_split:g}")
    return ", ".join(words)


def _history_problem(facts: SubmissionFacts) -> str | None:
    history = facts.history
    if not history.defined:
        if history.placeholder:
            return "history still holds the placeholder `...`: assign history = model.fit(...) and run that cell"
        return (
            "history is not defined and model.history holds no training record: "
            "assign history = model.fit(...)"
        )
    if history.problem:
        return f"{history.source} {history.problem}: assign history = model.fit(...)"
    if not history.epochs_recorded:
        return (f"{history.source} records no completed epoch: model.fit stopped with an error; fix it and run the "
                "cell again")
    claimed = history.epochs_recorded * (history.steps_per_epoch or 0)
    taken = facts.model.optimizer_iterations
    if taken is None or taken < claimed:
        shown = "there is no trained model to show them" if taken is None else f"model took only {taken:,}"
        return (
            f"{history.source} records {claimed:,} training steps but {shown}: "
            f"history must come from fitting this model; build, compile and fit it in order"
        )
    return None


def epochs_trained(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _history_problem(facts):
        return problem
    history, epochs = facts.history, expected.fit.epochs
    if history.epochs != epochs or history.epochs_recorded != epochs:
        observed = history.epochs_recorded if history.epochs == epochs else history.epochs
        return f"{history.source} shows {observed} epochs but expected {epochs}: pass epochs={epochs} to model.fit"
    return None


def _steps_explained(expected: Expected) -> str:
    fit, images = expected.fit, expected.data.x_train.shape[0]
    if fit.batch_size is None:
        return ""
    if fit.validation_split:
        kept = round(images * (1 - fit.validation_split))
        return (f" ({kept:,} training images after validation_split={fit.validation_split:g}, in batches of "
                f"{fit.batch_size})")
    return f" ({images:,} training images in batches of {fit.batch_size})"


def steps_per_epoch(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _history_problem(facts):
        return problem
    observed, wanted = facts.history.steps_per_epoch, expected.fit.steps_per_epoch
    if observed != wanted:
        fit = expected.fit
        passes = [f"batch_size={fit.batch_size}"] if fit.batch_size is not None else []
        passes += [f"validation_split={fit.validation_split:g}"] if fit.validation_split is not None else []
        hint = (f"pass {' and '.join(passes)} to model.fit" if passes
                else "fit on the whole training set as the lesson does")
        return (f"{facts.history.source} shows {observed} steps per epoch but expected {wanted:,}"
                f"{_steps_explained(expected)}: {hint}")
    return None


def validation_recorded(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _history_problem(facts):
        return problem
    names = facts.history.metric_names
    recorded = {"val_loss"} <= set(names) and bool(facts.history.val_accuracy)
    if expected.fit.validation and not recorded:
        how = (f"pass validation_split={expected.fit.validation_split:g} to model.fit"
               if expected.fit.validation_split is not None else "pass validation data to model.fit")
        return f"{facts.history.source} records {list(names)} but expected val_loss and val_accuracy too: {how}"
    if not expected.fit.validation and any(name.startswith("val_") for name in names):
        return (f"{facts.history.source} records {list(names)} but expected no validation metrics: "
                f"train on the whole training set ({_fit_call(expected)})")
    return None


def trained_once(facts: SubmissionFacts, expected: Expected) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = facts.model.optimizer_iterations
    wanted = expected.training_steps
    if observed == wanted:
        return None
    steps = f"{wanted:,} ({expected.fit.epochs} epochs x {expected.fit.steps_per_epoch:,} steps)"
    if not observed:  # never trained: nothing to re-run yet
        return (f"model has not been trained (0 training steps) but expected {steps}: train it once with "
                f"model.fit({_fit_call(expected)})")
    if observed > wanted and facts.grader is not None:  # graded: one run from the top did this
        return (f"model took {observed:,} training steps but expected {steps}: "
                f"run from the top, the notebook trains the same model more than once; call model.fit once")
    if observed > wanted:  # in the student's kernel: usually the fit cell run twice
        return (f"model took {observed:,} training steps but expected {steps}: "
                f"re-running the fit cell trains the same model further; the grader runs your notebook once "
                f"from the top, so restart and run all (Kernel > Restart & Run All) to clear this")
    return (f"model took {observed:,} training steps but expected {steps}: "
            f"compile and fit the same model once; re-running the fit cell trains it further")


# --- q5_evaluate -----------------------------------------------------------------------------


def test_acc_is_a_fraction(facts: SubmissionFacts, expected: Expected | None = None) -> str | None:
    test_acc = facts.test_acc
    if unusable := _unusable("test_acc", test_acc, "use test_loss, test_acc = model.evaluate(x_test, y_test)"):
        return unusable
    if not 0.0 <= test_acc.value <= 1.0:
        return (
            f"test_acc is {test_acc.value:g} but expected a fraction between 0 and 1: "
            f"use test_loss, test_acc = model.evaluate(x_test, y_test)"
        )
    return None


def _grader_problem(facts: SubmissionFacts) -> str | None:
    if facts.grader is None:
        return "the grader's own evaluation is missing: this check runs only when the notebook is graded"
    if facts.grader.problem:
        return f"the grader could not evaluate model: {facts.grader.problem}"
    return None


def test_acc_matches_grader(facts: SubmissionFacts, expected: Expected | None = None) -> str | None:
    if problem := test_acc_is_a_fraction(facts) or _grader_problem(facts):
        return problem
    observed, wanted = facts.test_acc.value, facts.grader.test_accuracy
    if abs(observed - wanted) > ACCURACY_TOLERANCE:
        return (
            f"test_acc is {observed:.4f} but the grader's evaluation of model on {_evaluated_on(facts)} gives "
            f"{wanted:.4f}: compute test_acc with model.evaluate(x_test, y_test) after training, and do not change it"
        )
    return None


def _evaluated_on(facts: SubmissionFacts) -> str:
    return facts.grader.evaluated_on or "the test set"


def accuracy_above_threshold(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _grader_problem(facts):
        return problem
    observed, threshold = facts.grader.test_accuracy, facts.grader.accuracy_threshold
    if threshold is None:
        return "the grader was given no accuracy threshold: record one with `python -m autograder calibrate`"
    if observed is None or observed < threshold:
        shown = "no accuracy" if observed is None else f"{observed:.4f}"
        data = "the scaled data" if not _is_raw(_scaling(expected.data.x_train)) else "the data"
        return (
            f"model reaches {shown} on {_evaluated_on(facts)} but expected at least {threshold:.4f}: "
            f"train the lesson's model on {data} for {expected.fit.epochs} epochs"
        )
    return None


# --- q6_predict ------------------------------------------------------------------------------


def _predictions_problem(facts: SubmissionFacts) -> str | None:
    return _unusable("predictions", facts.predictions, "use predictions = model.predict(x_test)")


def predictions_shape(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _predictions_problem(facts):
        return problem
    if facts.predictions.shape != expected.predictions_shape:
        return (
            f"predictions has shape {facts.predictions.shape} but expected {expected.predictions_shape}: "
            f"predict every test image, predictions = model.predict(x_test)"
        )
    return None


def predictions_are_probabilities(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := _predictions_problem(facts):
        return problem
    predictions = facts.predictions
    if predictions.minimum is None or predictions.max_row_sum_error is None:
        return (f"predictions has shape {predictions.shape} but expected one row of {expected.data.classes} "
                f"probabilities per image")
    if predictions.minimum < -1e-6 or predictions.max_row_sum_error > 1e-3:
        return (
            f"predictions rows have minimum {predictions.minimum:.3g} and sums off 1 by up to "
            f"{predictions.max_row_sum_error:.3g} but expected probabilities summing to 1: "
            f"keep softmax on the output layer and use model.predict"
        )
    return None


def predictions_match_model(facts: SubmissionFacts, expected: Expected) -> str | None:
    if problem := predictions_shape(facts, expected) or _grader_problem(facts):
        return problem
    agreement = facts.grader.argmax_agreement
    if agreement is None or agreement < MIN_ARGMAX_AGREEMENT:
        shown = "none" if agreement is None else f"{agreement:.1%}"
        return (
            f"predictions pick the same class as the grader's predictions of model on {shown} of "
            f"{_evaluated_on(facts)} but expected all of them: compute predictions = model.predict(x_test) with the "
            f"trained model, after training"
        )
    return None


def build_rubric(expected: Expected) -> tuple[Check, ...]:
    """The checks, each described in the words of ``expected`` (README's table, the reports and overrides use these)."""
    fit, model = expected.fit, expected.model
    shapes = tuple(expected.predictions_shape)
    activations = [activation for _, _, activation in _activations(expected)]
    optimizer = OPTIMIZER_CLASSES.get(expected.compile.optimizer, expected.compile.optimizer)
    if expected.compile.learning_rate is not None:
        optimizer += f" with learning rate {expected.compile.learning_rate:g}"
    steps_how = ", ".join(part for part in (
        f"batch size {fit.batch_size}" if fit.batch_size is not None else "",
        f"validation split {fit.validation_split:g}" if fit.validation_split is not None else "") if part)
    scaling = _scaling(expected.data.x_train)
    low, high = scaling[1], 255 * scaling[0] + scaling[1]
    checks = (
        Check("q1_load", "x_train and x_test have the full data set's shapes", 1, False, image_shapes),
        Check("q1_load", "y_train and y_test hold one label per image", 1, False, label_shapes),
        Check("q1_load", "images are floating point" if expected.data.x_train.dtype_kind == "f" else "images are "
                                                                                                     "numbers",
              1, False, images_are_floats),
        Check("q1_load", f"pixels are scaled to [{_fmt(low)}, {_fmt(high)}]" if not _is_raw(scaling)
              else "pixels are kept as load_data() returns them", 1, False, images_are_scaled),
        Check("q2_model", f"layers are {', '.join(_expected_types(expected))}", 1, False, layer_types),
        Check("q2_model", _sizes_description(expected), 1, False, layer_sizes),
        Check("q2_model", f"activations are {_and(activations)}" if activations else "activations are Keras' defaults",
              1, False, layer_activations),
        Check("q2_model", f"input shape is {tuple(model.input_shape)}", 1, False, input_shape),
        # One wrong size changes the parameter count too: charged once, by the sizes check.
        Check("q2_model", f"{model.param_count:,} parameters", 1, False, parameter_count, excused_by=(layer_sizes,)),
        Check("q3_compile", f"optimizer is {optimizer}", 1, False, optimizer_matches),
        Check("q3_compile", "loss is sparse categorical cross-entropy"
              if expected.compile.loss == "sparse_categorical_crossentropy"
              else f"loss is {expected.compile.loss}", 1, False, loss_matches),
        Check("q3_compile", "metrics include accuracy" if set(expected.compile.metrics) <= set(ACCURACY_METRICS)
              else f"metrics include {_and(expected.compile.metrics)}", 1, False, metrics_match),
        Check("q4_fit", f"{fit.epochs} epochs", 1, False, epochs_trained),
        Check("q4_fit", f"{fit.steps_per_epoch:,} steps per epoch" + (f" ({steps_how})" if steps_how else ""),
              1, False, steps_per_epoch),
        Check("q4_fit", "validation metrics recorded" if fit.validation else "no validation metrics", 1, False,
              validation_recorded),
        Check("q4_fit", f"model trained exactly {fit.epochs} x {fit.steps_per_epoch:,} steps", 1, False, trained_once),
        # Feedback only (0 points): any constant passes it. The points are for the verified value.
        Check("q5_evaluate", "test_acc is a fraction", 0, False, test_acc_is_a_fraction),
        Check("q5_evaluate", "test_acc matches the grader's evaluation", 2, True, test_acc_matches_grader),
        Check("q5_evaluate", "test accuracy reaches the threshold", 1, True, accuracy_above_threshold),
        # Feedback only: an invented array of the right form passes both. The points are for agreeing with the model.
        Check("q6_predict", f"predictions have shape ({shapes[0]}, {shapes[1]})" if len(shapes) == 2
              else f"predictions have shape {shapes}", 0, False, predictions_shape),
        Check("q6_predict", "rows are probability distributions", 0, False, predictions_are_probabilities),
        Check("q6_predict", "argmax agrees with the grader's predictions", 3, True, predictions_match_model),
    )
    return tuple(check for check in checks if check.function.__name__ not in expected.switched_off)


def check_names() -> tuple[str, ...]:
    """Every check's name, as an author switches it off (``switched_off`` in the master's ``# RUBRIC`` cell)."""
    return tuple(check.function.__name__ for check in build_rubric(default_expected()))


@functools.lru_cache(maxsize=None)
def default_expected() -> Expected:
    """The record this rubric grades against: the hand-out's packed copy, or the kit's solutions/ (read once)."""
    return expected_record.load()


def __getattr__(name: str):
    # ``RUBRIC`` is built on first use, from the record: importing the rubric never needs it (calibration
    # derives the record with this very module).
    if name == "RUBRIC":
        return _cached_rubric(default_expected())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rubric_for(expected: Expected | None) -> tuple[Check, ...]:
    """The checks for ``expected``; for None, ``RUBRIC`` (a test may set it, as an edit of the rubric would)."""
    if expected is None:
        return globals()["RUBRIC"] if "RUBRIC" in globals() else _cached_rubric(default_expected())
    return _cached_rubric(expected)


@functools.lru_cache(maxsize=8)
def _cached_rubric(expected: Expected) -> tuple[Check, ...]:
    return build_rubric(expected)


def max_points(question: str, expected: Expected | None = None) -> int:
    return sum(check.points for check in rubric_for(expected) if check.question == question)


def run_checks(facts: SubmissionFacts, *, questions=QUESTIONS, include_hidden: bool = True,
               expected: Expected | None = None) -> list[CheckResult]:
    """Run every check of ``questions`` (hidden ones too unless told otherwise) against ``expected``
    (by default the record of ``default_expected``)."""
    unknown = set(questions) - set(QUESTIONS)
    if unknown:
        raise ValueError(f"unknown question {sorted(unknown)}: expected one of {list(QUESTIONS)}")
    rubric = rubric_for(expected)
    expected = expected or default_expected()
    messages = {check.function: check.function(facts, expected) for check in rubric}
    results = []
    for check in rubric:
        if check.question not in questions or (check.hidden and not include_hidden):
            continue
        message = messages[check.function]
        # Excused only by a different mistake: a missing model fails both checks with one message, charged to both.
        charged = [other.description for other in rubric if other.function in check.excused_by
                   and messages[other.function] and messages[other.function] != message]
        if message and charged:
            message += f" (feedback only: the check \"{charged[0]}\" already charged this mistake)"
        results.append(CheckResult(check.question, check.description, check.points, check.hidden, message,
                                   excused=bool(message and charged)))
    return results
