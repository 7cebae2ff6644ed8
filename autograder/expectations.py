"""Derive the expected facts (``rubric.expected.Expected``) from the reference solution's graded runs.

``calibrate`` grades the reference notebook at several seeds through the same engine that grades
students; the facts of each run are turned into one record here, and every run must agree on it
(the model, the data and the training settings do not depend on the seed). Where the record needs
what no fact holds (the batch size and validation split the reference's ``fit`` call spells out,
for hints), it reads the reference notebook's source, as data, and keeps it only where it agrees
with the steps per epoch the runs measured.
"""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path

import nbformat

from .exceptions import KitError
from .rubric import expected as record
from .rubric.expected import (
    Expected,
    ExpectedArray,
    ExpectedCompile,
    ExpectedData,
    ExpectedFit,
    ExpectedLayer,
    ExpectedModel,
)
from .rubric.facts import ArrayFacts, LayerFacts, SubmissionFacts

ABOUT = ("What the reference solution established, run through the grading engine at each seed below; "
         "derived by `make assignment` (python -m autograder calibrate), never edited by hand. The rubric "
         "compares every submission with it and phrases its messages from it.")
# Attributes graded whatever their value (a layer type has no default for them).
ALWAYS_GRADED = ("units", "filters", "kernel_size", "rate", "target_shape", "scale")


class ReferenceDisagrees(KitError):
    """The reference's runs established different facts at different seeds."""


def derive(runs: list[tuple[int, SubmissionFacts]], notebook: Path, *, graded_defaults=(), switched_off=()) -> Expected:
    """One record from the runs ``(seed, facts)``; ``ReferenceDisagrees`` names the field and seeds that differ."""
    fit_call = fit_keywords(notebook)
    records = [(seed, _from_facts(facts, fit_call, tuple(graded_defaults))) for seed, facts in runs]
    first_seed, first = records[0]
    for seed, other in records[1:]:
        if other != first:
            field = _first_difference(dataclasses.asdict(first), dataclasses.asdict(other))
            raise ReferenceDisagrees(
                f"the reference solution's runs disagree on {field} (seed {first_seed} and seed {seed}): "
                f"the expected facts must not depend on the seed; fix the master notebook")
    return dataclasses.replace(first, seeds=tuple(seed for seed, _ in runs), about=ABOUT,
                               switched_off=tuple(switched_off))


def _from_facts(facts: SubmissionFacts, fit_call: dict, graded_defaults: tuple[str, ...]) -> Expected:
    model, history, grader = facts.model, facts.history, facts.grader
    missing = [name for name, ok in (("model", model.defined and not model.problem and model.param_count is not None),
                                     ("history", history.defined and history.epochs is not None),
                                     ("x_train", facts.x_train.shape is not None),
                                     ("predictions", facts.predictions.shape is not None)) if not ok]
    if missing:
        raise KitError(f"the reference solution did not establish {missing}: fix the master notebook first")
    images = facts.x_train.shape[0]
    validation = "val_loss" in history.metric_names
    return Expected(
        data=ExpectedData(
            x_train=_array(facts.x_train, grader.x_train_scaling if grader else None),
            y_train=ExpectedArray(shape=facts.y_train.shape),
            x_test=_array(facts.x_test, grader.x_test_scaling if grader else None),
            y_test=ExpectedArray(shape=facts.y_test.shape),
            classes=facts.predictions.shape[-1],
        ),
        model=ExpectedModel(
            layers=tuple(_layer(layer, graded_defaults) for layer in model.layers if layer.type != "InputLayer"),
            input_shape=model.input_shape,
            param_count=model.param_count,
        ),
        compile=ExpectedCompile(
            optimizer=model.optimizer,
            loss=model.loss,
            metrics=tuple(model.metrics),
            learning_rate=_learning_rate(model.optimizer, model.learning_rate, graded_defaults),
        ),
        fit=ExpectedFit(
            epochs=history.epochs,
            steps_per_epoch=history.steps_per_epoch,
            validation=validation,
            **_fit_hints(fit_call, images, history.steps_per_epoch),
        ),
        predictions_shape=facts.predictions.shape,
        graded_defaults=tuple(graded_defaults),
    )


def _array(array: ArrayFacts, scaling) -> ExpectedArray:
    return ExpectedArray(
        shape=array.shape, dtype_kind=array.dtype_kind,
        scaling=tuple(float(f"{v:.12g}") for v in scaling) if scaling else None,
        minimum=array.minimum, maximum=array.maximum,
    )


def _layer(layer: LayerFacts, graded_defaults: tuple[str, ...]) -> ExpectedLayer:
    values = {name: getattr(layer, name) for name in record.LAYER_ATTRIBUTES}
    kept = {name: value for name, value in values.items() if value is not None and (
        name in ALWAYS_GRADED or name in graded_defaults or not record.is_default(layer.type, name, value, values))}
    return ExpectedLayer(type=layer.type, param_count=layer.param_count, **kept)


def _learning_rate(optimizer: str, rate: float | None, graded_defaults) -> float | None:
    if rate is None:
        return None
    rate = float(f"{rate:.7g}")  # a float32 0.0005 reads back as 0.000500000024
    default = record.DEFAULT_LEARNING_RATES.get(optimizer)
    kept = "learning_rate" in graded_defaults or default is None or not math.isclose(rate, default, rel_tol=1e-6)
    return rate if kept else None


def _fit_hints(call: dict, images: int, steps: int) -> dict:
    """batch_size and validation_split as the reference's fit call spells them, if they explain ``steps``."""
    batch = call.get("batch_size", 32)  # Keras' default batch size
    split = call.get("validation_split")
    hints = dict(batch_size=call.get("batch_size"), validation_split=split,
                 validation_data="validation_data" in call)
    if not isinstance(batch, int) or not (split is None or isinstance(split, (int, float))):
        return dict(hints, batch_size=None, validation_split=None)
    kept = math.ceil(images * (1 - split)) if split else images
    if math.ceil(kept / batch) != steps:
        return dict(hints, batch_size=None, validation_split=None)  # the call is not what ran: say nothing
    return hints


RUBRIC_CELL = "# RUBRIC"  # a raw cell of the master notebook: the author's declarations (generate drops it)


def declared_defaults(master: Path) -> tuple[str, ...]:
    """The attributes the author grades even at Keras' defaults, from the master's ``# RUBRIC`` raw cell::

        # RUBRIC
        graded_defaults: [padding, strides, learning_rate]
        switched_off: [validation_recorded]
    """
    return declarations(master)["graded_defaults"]


def declarations(master: Path) -> dict[str, tuple[str, ...]]:
    """The master's ``# RUBRIC`` cell: ``graded_defaults`` and ``switched_off`` (both empty without one)."""
    import yaml

    from .rubric.checks import check_names

    known = {"graded_defaults": (*record.LAYER_ATTRIBUTES, "learning_rate"), "switched_off": check_names()}
    for cell in nbformat.read(str(master), as_version=4).cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith(RUBRIC_CELL):
            config = yaml.safe_load(cell.source.split("\n", 1)[1] if "\n" in cell.source else "") or {}
            if not isinstance(config, dict) or set(config) - set(known) or not all(
                    isinstance(config[key], list) and set(config[key]) <= set(known[key]) for key in config):
                raise KitError(f"{master}'s {RUBRIC_CELL} cell declares {config}: expected graded_defaults (any of "
                               f"{list(known['graded_defaults'])}) and switched_off (any of "
                               f"{list(known['switched_off'])})")
            return {key: tuple(config.get(key) or ()) for key in known}
    return {key: () for key in known}


def fit_keywords(notebook: Path) -> dict:
    """The literal keyword arguments of the last ``.fit(...)`` call in ``notebook``'s code cells (source read as
    data)."""
    found: dict = {}
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # IPython magics: no fit call to read there
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit":
                found = {}
                for keyword in node.keywords:
                    try:
                        found[keyword.arg] = ast.literal_eval(keyword.value)
                    except ValueError:
                        found[keyword.arg] = ...  # present, not a literal (validation_data=(x, y))
    return found


def _first_difference(a, b, path="") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if a[key] != b.get(key):
                return _first_difference(a[key], b.get(key), f"{path}.{key}" if path else key)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{index}]")
    return f"{path} ({a!r} against {b!r})"


def summary(expected: Expected) -> str:
    """The record in a few lines, for the console of ``make assignment``."""
    data, model, compiled, fit = expected.data, expected.model, expected.compile, expected.fit
    layers = ", ".join(
        layer.type + "(" + ", ".join(f"{k}={v}" for k, v in
                                     {**layer.attributes(), "activation": layer.activation}.items()
                                     if v is not None) + ")"
        for layer in model.layers)
    rate = f" learning rate {compiled.learning_rate:g}," if compiled.learning_rate is not None else ""
    return "\n".join([
        f"data: x_train {data.x_train.shape} x_test {data.x_test.shape}, dtype kind {data.x_train.dtype_kind!r}, "
        f"scaling {data.x_train.scaling}",
        f"model: input {model.input_shape}, {model.param_count:,} parameters: {layers}",
        f"compile: {compiled.optimizer},{rate} loss {compiled.loss}, metrics {list(compiled.metrics)}",
        f"fit: {fit.epochs} epochs x {fit.steps_per_epoch:,} steps (batch size {fit.batch_size}, validation split "
        f"{fit.validation_split}, validation recorded: {fit.validation})",
        f"predictions: {expected.predictions_shape}; seeds {list(expected.seeds)}",
    ])
