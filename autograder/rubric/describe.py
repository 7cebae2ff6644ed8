"""Turn live Python objects into facts.

Used in three places with the same code: the student's notebook (``grader.check``),
the untrusted kernel that exports a submission, and the trusted process that
describes the model it loaded itself. Everything here is duck-typed so the rubric
imports without TensorFlow; nothing here trusts an object beyond reading plain
values out of it.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re

import numpy as np

from .facts import ArrayFacts, HistoryFacts, LayerFacts, ModelFacts, PredictionFacts, ScalarFacts, SubmissionFacts

# Stands for "the variable does not exist", as opposed to a variable holding a value.
MISSING = object()


def is_absent(value) -> bool:
    """Not assigned: missing, None (Otter's stand-in for a missing name) or a template's `...` stub.

    The describe_* functions still tell the `...` stub apart (``placeholder``), so a student reads
    "still holds the placeholder `...`" rather than "not defined".
    """
    return value is MISSING or value is None or value is Ellipsis

ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy")
# The functional API lists the model's Input as a layer; Sequential does not. Neither is a layer the
# student chose, so the same network earns the same facts through any public Keras API.
INPUT_LAYERS = ("InputLayer",)
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


def facts_from_variables(**variables) -> SubmissionFacts:
    """Describe whichever of the lesson's variables were given; the others count as not defined."""
    arrays = {name: describe_array(name, variables.get(name)) for name in ARRAY_NAMES}
    return SubmissionFacts(
        **arrays,
        model=describe_model(variables.get("model")),
        history=describe_history(variables.get("history"), variables.get("model")),
        test_loss=describe_scalar("test_loss", variables.get("test_loss")),
        test_acc=describe_scalar("test_acc", variables.get("test_acc")),
        predictions=describe_predictions(variables.get("predictions")),
    )


def describe_array(name: str, value) -> ArrayFacts:
    if is_absent(value):
        return ArrayFacts(name, placeholder=value is Ellipsis)
    try:
        array = np.asarray(value)
    except Exception as error:  # noqa: BLE001 - any failure means "not an array"
        return ArrayFacts(name, defined=True, problem=f"cannot be read as an array ({error})")
    if array.dtype.kind not in "biuf":
        return ArrayFacts(
            name,
            defined=True,
            problem=f"is a {type(value).__name__} of {array.dtype}, not a numeric array",
            shape=tuple(int(n) for n in array.shape),
        )
    finite = array.size > 0
    return ArrayFacts(
        name,
        defined=True,
        shape=tuple(int(n) for n in array.shape),
        dtype=str(array.dtype),
        dtype_kind=array.dtype.kind,
        minimum=float(np.min(array)) if finite else None,
        maximum=float(np.max(array)) if finite else None,
    )


def describe_scalar(name: str, value) -> ScalarFacts:
    if is_absent(value):
        return ScalarFacts(name, placeholder=value is Ellipsis)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        return ScalarFacts(name, defined=True, problem=f"is a {type(value).__name__}, not a number")
    number = float(value)
    if not math.isfinite(number):
        return ScalarFacts(name, defined=True, problem=f"is {number}, not a finite number")
    return ScalarFacts(name, defined=True, value=number)


def describe_predictions(value) -> PredictionFacts:
    if is_absent(value):
        return PredictionFacts(placeholder=value is Ellipsis)
    try:
        array = np.asarray(value, dtype=np.float64)
    except Exception:  # noqa: BLE001
        return PredictionFacts(defined=True, problem=f"is a {type(value).__name__}, not a numeric array")
    shape = tuple(int(n) for n in array.shape)
    if array.ndim != 2 or array.size == 0:
        return PredictionFacts(defined=True, shape=shape)
    return PredictionFacts(
        defined=True,
        shape=shape,
        minimum=float(np.min(array)),
        max_row_sum_error=float(np.max(np.abs(array.sum(axis=1) - 1.0))),
    )


def describe_model(value) -> ModelFacts:
    if is_absent(value):
        return ModelFacts(placeholder=value is Ellipsis)
    if not (hasattr(value, "layers") and hasattr(value, "count_params") and hasattr(value, "fit")):
        return ModelFacts(defined=True, problem=f"is a {type(value).__name__}, not a Keras model")
    compile_config = _compile_config(value)
    return ModelFacts(
        defined=True,
        layers=tuple(_describe_layer(layer) for layer in value.layers if type(layer).__name__ not in INPUT_LAYERS),
        operations=_attempt(lambda: _operations(value)) or (),
        input_shape=_input_shape(value),
        param_count=_attempt(lambda: int(value.count_params())),
        compiled=bool(compile_config) or bool(getattr(value, "compiled", False)),
        optimizer=normalise_name(compile_config.get("optimizer"))
        or _attempt(lambda: normalise_name(type(value.optimizer).__name__)),
        learning_rate=(_learning_rate(value, compile_config) if compile_config or getattr(value, "compiled", False)
                       else None),
        loss=normalise_name(compile_config.get("loss")),
        metrics=tuple(normalise_name(m) for m in _flatten(compile_config.get("metrics"))),
        optimizer_iterations=_attempt(lambda: int(np.asarray(value.optimizer.iterations))),
    )


def describe_model_config(saved: dict, weight_shapes, optimizer_iterations: int | None) -> ModelFacts:
    """Facts about a model from its saved ``config.json`` and the shapes of its saved weights, read as data.

    For a model Keras safe mode refuses to load (a ``Lambda`` layer holds Python code the grader
    must never run): structure and compile settings are what the file records, the parameter
    count is what its weights hold, so the checks that need no running model still grade it.
    """
    config = saved.get("config") if isinstance(saved.get("config"), dict) else {}
    layers = config.get("layers") if isinstance(config.get("layers"), list) else []
    compile_config = saved.get("compile_config") if isinstance(saved.get("compile_config"), dict) else {}
    build = saved.get("build_config") if isinstance(saved.get("build_config"), dict) else {}
    return ModelFacts(
        defined=True,
        layers=tuple(_describe_layer_config(layer) for layer in layers
                     if isinstance(layer, dict) and layer.get("class_name") not in INPUT_LAYERS),
        input_shape=_shape_or_none(build.get("input_shape")),
        param_count=sum(math.prod(int(n) for n in shape) for shape in weight_shapes),
        compiled=bool(compile_config),
        optimizer=normalise_name(compile_config.get("optimizer")),
        learning_rate=_learning_rate(None, compile_config) if compile_config else None,
        loss=normalise_name(compile_config.get("loss")),
        metrics=tuple(normalise_name(m) for m in _flatten(compile_config.get("metrics"))),
        optimizer_iterations=optimizer_iterations,
        read_from_file=True,
    )


def _describe_layer_config(layer: dict) -> LayerFacts:
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    activation = config.get("activation")
    return LayerFacts(
        type=re.sub(r"[^A-Za-z0-9_]", "", str(layer.get("class_name")))[:40],  # the file's word, kept to a name
        units=_int_or_none(config.get("units")),
        activation=normalise_name(activation) if isinstance(activation, (str, dict)) else None,
        **_layer_attributes(config.get),
    )


def _layer_attributes(read) -> dict:
    """A layer's defining attributes besides units and activation, from ``read(name)`` (a live layer's
    ``getattr`` or its saved config's ``get``), kept only when they are plain numbers, names or int tuples."""
    padding = read("padding")
    return dict(
        filters=_int_or_none(read("filters")),
        kernel_size=_ints_or_none(read("kernel_size")),
        pool_size=_ints_or_none(read("pool_size")),
        strides=_ints_or_none(read("strides")),
        padding=padding.lower()[:20] if isinstance(padding, str) else None,
        rate=_float_or_none(read("rate")),
        target_shape=_ints_or_none(read("target_shape")),
        scale=_float_or_none(read("scale")),
        offset=_float_or_none(read("offset")),
    )


def _ints_or_none(value):
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if (isinstance(value, (list, tuple)) and value and len(value) <= 8
            and all(_int_or_none(n) is not None for n in value)):
        return tuple(int(n) for n in value)
    return None


def _float_or_none(value):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _shape_or_none(shape):
    if not isinstance(shape, (list, tuple)) or not all(n is None or _int_or_none(n) is not None for n in shape):
        return None
    return tuple(None if n is None else int(n) for n in shape)


def describe_history(history, model=MISSING) -> HistoryFacts:
    """Describe ``history``, or ``model.history`` when the notebook never assigned ``history``."""
    source = "history"
    if is_absent(history):
        placeholder = history is Ellipsis  # the template's `history = ...`, unless model.history stands in
        history = None if is_absent(model) else getattr(model, "history", None)
        source = "model.history"
        if is_absent(history):
            return HistoryFacts(placeholder=placeholder)
    record = getattr(history, "history", None)
    params = getattr(history, "params", None)
    if not isinstance(record, dict) or not isinstance(params, dict):
        return HistoryFacts(
            defined=True,
            source=source,
            problem=f"is a {type(history).__name__}, not the History object returned by model.fit",
        )
    return HistoryFacts(
        defined=True,
        source=source,
        epochs=_int_or_none(params.get("epochs")),
        steps_per_epoch=_int_or_none(params.get("steps")),
        epochs_recorded=len(record.get("loss", ()) or ()),
        metric_names=tuple(sorted(str(key) for key in record)),
        train_accuracy=_series(record, ACCURACY_NAMES),
        val_accuracy=_series(record, tuple("val_" + name for name in ACCURACY_NAMES)),
    )


def normalise_name(entry) -> str | None:
    """'Adam', 'adam', {'class_name': 'Adam'} and an Adam() object all become 'adam'."""
    if entry is None:
        return None
    if isinstance(entry, dict):
        class_name, config = entry.get("class_name"), entry.get("config")
        if class_name == "function" and isinstance(config, str):
            return normalise_name(config)
        if isinstance(config, dict) and class_name in (None, "function") and "name" in config:
            return normalise_name(config["name"])
        return normalise_name(class_name)
    if not isinstance(entry, str):
        entry = getattr(entry, "__name__", None) or type(entry).__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", entry).lower()


def _operations(model) -> tuple[str, ...]:
    """The class names of a functional graph's operations that are not layers, in graph order.

    ``model.layers`` lists Layer objects only; ``keras.ops`` calls between them (``ops.square(x)``,
    ``x + 1``) are Operation nodes of the graph (``_operations``) that change what the model computes.
    """
    graph = getattr(model, "_operations", None)
    if graph is None:  # a Sequential model keeps its graph in a functional model of its own
        graph = getattr(getattr(model, "_functional", None), "_operations", None) or ()
    return tuple(str(type(op).__name__)[:40] for op in itertools.islice(graph, 1000)
                 if not any(cls.__name__ == "Layer" for cls in type(op).__mro__))


def _describe_layer(layer) -> LayerFacts:
    activation = getattr(layer, "activation", None)
    return LayerFacts(
        type=type(layer).__name__,
        units=_int_or_none(getattr(layer, "units", None)),
        activation=normalise_name(activation) if activation is not None else None,
        **_layer_attributes(lambda name: _attempt(lambda: getattr(layer, name, None))),
        param_count=_attempt(lambda: int(layer.count_params())),
    )


def _learning_rate(model, compile_config: dict):
    """The optimizer's learning rate when it is a plain number (a schedule has none to compare)."""
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        return _float_or_none(optimizer["config"].get("learning_rate"))
    return _attempt(lambda: _float_or_none(float(np.asarray(model.optimizer.learning_rate))))


def _compile_config(model) -> dict:
    config = _attempt(model.get_compile_config) if hasattr(model, "get_compile_config") else None
    return config if isinstance(config, dict) else {}


def _input_shape(model):
    shape = _attempt(lambda: model.input_shape)
    if not isinstance(shape, (tuple, list)) or not shape or isinstance(shape[0], (tuple, list)):
        return None
    return tuple(None if n is None else int(n) for n in shape)


def _flatten(metrics) -> list:
    """Metrics may be a name, a list, nested lists, or a dict per model output."""
    if metrics is None:
        return []
    if isinstance(metrics, dict) and "class_name" not in metrics:
        metrics = list(metrics.values())
    if isinstance(metrics, (list, tuple)):
        return [metric for item in metrics for metric in _flatten(item)]
    return [metrics]


def _series(record: dict, names) -> tuple[float, ...]:
    for name in names:
        if name in record:
            return tuple(float(v) for v in record[name])
    return ()


def _int_or_none(value):
    return int(value) if isinstance(value, (numbers.Integral, np.integer)) else None


def _attempt(function):
    try:
        return function()
    except Exception:  # noqa: BLE001 - an unbuilt or odd model just lacks this fact
        return None
