"""Stage 3 (trusted): read what the kernel exported and measure the model ourselves.

Runs in the inspector process (``inspector``), which never runs student code. It reads the
host's private copy of the export (``execution.run`` made it through ``safe_files``; ``refused``
says which files could not be copied and why), validates every file before use, reads arrays
without pickles, loads the model with Keras' safe mode (no arbitrary code), describes it, and
evaluates it. The result is the submission's facts with the model and the grader's figures
filled in from what it measured; ``ExportUnreadable`` when the export cannot be used at all.

One mistake, one deduction: the grader compares the student's arrays with Fashion-MNIST value
by value. When ``x_test`` is the real test images under a rescaling (raw pixels, divided by
another constant, standardised), the model is evaluated on the images as the student prepared
them, so a scaling mistake costs q1's scaling points and nothing downstream; anything else is
evaluated on the grader's own scaled copy. A model safe mode refuses still gets its structure,
compile and training facts from the saved file read as data (``keras_file``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..exceptions import ExportUnreadable
from ..limits import Limits
from ..rubric.describe import ARRAY_NAMES, describe_array, describe_model, describe_model_config, describe_predictions
from ..rubric.facts import ArrayFacts, GraderFacts, ModelFacts, PredictionFacts, SubmissionFacts
from ..sandbox.export_format import (
    ARRAY_FILES,
    FACTS_FILE,
    MODEL_FILE,
    PROBLEMS_FILE,
    SchemaError,
    check_problems,
    parse_json,
    read_facts,
)
from ..text import shorten
from .keras_file import read_saved_model
from .safe_files import MissingFile, load_json, read_bytes


def inspect_export(export_dir: Path, *, refused: dict[str, str] | None = None,
                   limits: Limits = Limits()) -> SubmissionFacts:  # noqa: B008 - Limits is frozen: one shared default is safe
    """The submission's facts, re-derived from the exported files wherever a file can show them.

    Only the training history and the scalars test_acc/test_loss come from the kernel's own
    description; the hidden checks compare those with what the grader measures itself.
    """
    refused = refused or {}
    if FACTS_FILE in refused:
        raise ExportUnreadable(refused[FACTS_FILE])
    facts = _read_kernel_facts(export_dir, limits)
    problems = {} if PROBLEMS_FILE in refused else _read_json(export_dir, PROBLEMS_FILE, dict, limits, missing={})
    problems = check_problems(problems)
    for name, file_name in ARRAY_FILES.items():
        if file_name in refused:
            problems[name] = f"could not be read back ({refused[file_name]})"
    if MODEL_FILE in refused:
        problems["model"] = f"could not be read back ({refused[MODEL_FILE]})"
    arrays = {
        name: _array_facts(export_dir, getattr(facts, name), problems.get(name), limits) for name in ARRAY_NAMES
    }
    data = _verify_data(export_dir, arrays, limits)
    predictions, predicted = _prediction_facts(export_dir, facts.predictions, problems.get("predictions"), limits)
    model, model_facts, model_problem = _load_model(export_dir, facts.model, problems.get("model"), limits)
    grader = GraderFacts(problem=model_problem, **data)
    if model is not None:
        images, evaluated_on = _test_images(data["x_test_scaling"])
        grader = dataclasses.replace(_evaluate(model, predicted, images), evaluated_on=evaluated_on, **data)
    return dataclasses.replace(facts, **arrays, predictions=predictions, model=model_facts, grader=grader)


# --- the student's arrays against Fashion-MNIST ----------------------------------------------

SPLITS = {"x_train": "train", "y_train": "train", "x_test": "t10k", "y_test": "t10k"}
STANDARD_SCALING = (1 / 255, 0.0)
# Two arrays agree when every value is within this fraction of one grey level: float32 rounding
# of x / 255.0 is a thousand times smaller, any real difference in an image far larger.
GREY_LEVEL_TOLERANCE = 1e-3
_CHUNK = 1 << 22


def _verify_data(export_dir: Path, arrays: dict[str, ArrayFacts], limits: Limits) -> dict:
    """GraderFacts' data fields: how each exported array relates to load_data()'s (see ``GraderFacts``)."""
    from .dataset import load_raw

    verified = {}
    for name in ARRAY_NAMES:
        facts, images = arrays[name], name.startswith("x_")
        result = None
        if facts.defined and not facts.problem and facts.shape is not None:
            raw_images, raw_labels = load_raw(SPLITS[name])
            raw = raw_images if images else raw_labels
            if int(np.prod(facts.shape)) == raw.size:
                try:
                    student = _load_array(export_dir / ARRAY_FILES[name], limits)
                except ExportUnreadable:
                    student = None
                if student is not None:
                    result = affine_scaling(student, raw) if images else bool(np.array_equal(student.reshape(-1), raw))
        verified[f"{name}_scaling" if images else f"{name}_matches"] = result
    return verified


def affine_scaling(student: np.ndarray, raw: np.ndarray) -> tuple[float, float] | None:
    """``(a, b)`` when ``student`` equals ``a * raw + b`` value by value (in any shape), else None."""
    flat, pixels = student.reshape(-1), raw.reshape(-1)
    darkest, brightest = int(np.argmin(pixels)), int(np.argmax(pixels))
    if pixels[brightest] == pixels[darkest]:
        return None
    a = (float(flat[brightest]) - float(flat[darkest])) / (float(pixels[brightest]) - float(pixels[darkest]))
    b = float(flat[darkest]) - a * float(pixels[darkest])
    if not (np.isfinite(a) and np.isfinite(b)) or a == 0:
        return None
    tolerance = GREY_LEVEL_TOLERANCE * abs(a)
    if student.dtype.kind == "f":  # a float16 copy rounds far more than a thousandth of a grey level
        tolerance = max(tolerance, 2 * float(np.finfo(student.dtype).eps) * max(abs(a) * 255 + abs(b), abs(b)))
    for start in range(0, pixels.size, _CHUNK):
        expected = pixels[start:start + _CHUNK].astype(np.float64) * a + b
        if not np.all(np.abs(np.asarray(flat[start:start + _CHUNK], dtype=np.float64) - expected) <= tolerance):
            return None
    return (a, b)


def _test_images(scaling: tuple[float, float] | None) -> tuple[np.ndarray, str]:
    """The test images the grader gives the model, and how to name them to the student."""
    from .dataset import load_raw, load_test_set

    if scaling is None:
        return (load_test_set()[0],
                "the grader's copy of the test images scaled to [0, 1] (x_test is not load_data()'s test images)")
    if np.allclose(scaling, STANDARD_SCALING, rtol=1e-6, atol=1e-9):
        return load_test_set()[0], "x_test scaled to [0, 1]"
    a, b = scaling
    images = (load_raw("t10k")[0].astype(np.float64) * a + b).astype(np.float32)
    if not np.all(np.isfinite(images)):  # a scaling too large for float32: nothing the model could have used
        return load_test_set()[0], "the grader's copy of the test images scaled to [0, 1] (x_test overflows float32)"
    shown = ("the unscaled pixels, 0 to 255" if (a, b) == (1, 0) else  # issue 19: "pixels x 1" read as a formula
             f"pixels x {a:.4g}" + (f" + {b:.4g}" if b else ""))
    return images, f"x_test as the notebook prepared it ({shown})"


def _load_array(path: Path, limits: Limits) -> np.ndarray:
    if path.stat().st_size > limits.max_array_bytes:
        raise ExportUnreadable(f"{path.name} is {path.stat().st_size:,} bytes, over {limits.max_array_bytes:,}")
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise ExportUnreadable(f"{path.name} is not a plain numeric .npy file ({error})") from error
    if array.dtype.kind not in "biuf":
        raise ExportUnreadable(f"{path.name} holds dtype {array.dtype}, not numbers")
    return array


def _array_facts(export_dir: Path, kernel_view: ArrayFacts, problem: str | None, limits: Limits) -> ArrayFacts:
    path = export_dir / ARRAY_FILES[kernel_view.name]
    if not kernel_view.defined or kernel_view.problem:
        return kernel_view
    if problem or not path.is_file():
        return ArrayFacts(kernel_view.name, defined=True, problem=problem or "was not exported")
    try:
        return describe_array(kernel_view.name, _load_array(path, limits))
    except ExportUnreadable as error:
        return ArrayFacts(kernel_view.name, defined=True, problem=f"could not be read back ({error})")


def _prediction_facts(export_dir: Path, kernel_view: PredictionFacts, problem: str | None, limits: Limits):
    """Facts about ``predictions`` from the exported array, and that array (or None)."""
    path = export_dir / ARRAY_FILES["predictions"]
    if not kernel_view.defined or kernel_view.problem:
        return kernel_view, None
    if problem or not path.is_file():
        return PredictionFacts(defined=True, problem=problem or "was not exported"), None
    try:
        array = _load_array(path, limits)
    except ExportUnreadable as error:
        return PredictionFacts(defined=True, problem=f"could not be read back ({error})"), None
    return describe_predictions(array), array


def _read_kernel_facts(export_dir: Path, limits: Limits) -> SubmissionFacts:
    data = _read_json(export_dir, FACTS_FILE, dict, limits)
    try:
        return read_facts(data)  # every value through the export's schema: an unusable one is that fact's problem
    except SchemaError as error:
        raise ExportUnreadable(f"{FACTS_FILE} {error}") from error


def _read_json(export_dir: Path, name: str, expected_type, limits: Limits, *, missing=None):
    """``name``'s JSON, capped in size and depth; ``missing`` (or ``ExportUnreadable``) when the kernel wrote none."""
    try:
        data = load_json(read_bytes(export_dir, name, limits.max_json_bytes), origin=name,
                         max_depth=limits.max_json_depth, parse=parse_json)
    except MissingFile:
        if missing is not None:
            return missing
        raise ExportUnreadable(f"the notebook's kernel wrote no {name}") from None
    if not isinstance(data, expected_type):
        raise ExportUnreadable(f"{name} holds a {type(data).__name__}, expected a {expected_type.__name__}")
    return data


def _load_model(export_dir: Path, kernel_view: ModelFacts, save_problem: str | None, limits: Limits):
    """Return (model or None, the model's facts, why the grader cannot evaluate it).

    A saved model file is loaded whatever the kernel's description claims: the kernel may lie.
    """
    path = export_dir / MODEL_FILE
    if not path.is_file():
        if not kernel_view.defined:
            return None, ModelFacts(), "model is not defined"
        if kernel_view.problem:
            return None, kernel_view, f"model {kernel_view.problem}"
    problem = save_problem or (None if path.is_file() else "model was not saved by the export")
    if problem is None and path.stat().st_size > limits.max_model_bytes:
        problem = f"the saved model is {path.stat().st_size:,} bytes, over {limits.max_model_bytes:,}"
    if problem is None:
        try:
            import keras

            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - any load failure is a fact about the submission
            if (refused := _refused_by_safe_mode(path, limits)) is not None:
                return refused
            problem = f"could not be loaded in Keras safe mode ({type(error).__name__}: {shorten(str(error), 300)})"
        else:
            return model, describe_model(model), None
    # A model the grader cannot read earns no structure points: the kernel's own description is not trusted.
    return None, ModelFacts(defined=True, problem=problem), f"model {problem}"


def _refused_by_safe_mode(path: Path, limits: Limits):
    """For a model safe mode refuses because it holds code: its facts from the file as data, and why it cannot run.

    None when the file does not show such a layer (then the load error itself is the problem).
    """
    try:
        saved = read_saved_model(path, limits)
    except ExportUnreadable:
        return None
    if (layer := saved.refused_layer()) is None:
        return None
    if not saved.weights_match_config():  # the config alone is a claim: its weights must bear it out
        problem = (f"has a {layer}, which Keras safe mode will not load, and its saved weights do not match its saved "
                   f"configuration, so the grader can verify nothing about it: build the model from Keras' own layers")
        return None, ModelFacts(defined=True, problem=problem), f"model {problem}"
    hint = ("scale with keras.layers.Rescaling(1 / 255) or divide the arrays by 255.0 instead"
            if layer.startswith("Lambda") else "build the model from Keras' own layers")
    problem = (f"model has a {layer}, which Keras safe mode will not load, so the grader cannot run the model "
               f"(its structure, compile settings and training were graded from the saved file): {hint}")
    return None, describe_model_config(saved.config, saved.weight_shapes, saved.optimizer_iterations), problem


def _evaluate(model, predicted: np.ndarray | None, images: np.ndarray) -> GraderFacts:
    """Evaluate ``model`` on ``images`` with the grader's own labels; compare with the student's ``predictions``."""
    from .dataset import load_test_set

    labels = load_test_set()[1]
    shape = getattr(model, "input_shape", None)
    try:
        if isinstance(shape, tuple) and len(shape) > 1 and None not in shape[1:] and int(np.prod(shape[1:])) == 28 * 28:
            images = images.reshape((-1,) + tuple(shape[1:]))
        probabilities = np.asarray(model.predict(images, batch_size=1000, verbose=0))
    except Exception as error:  # noqa: BLE001
        return GraderFacts(problem=f"model cannot classify 28x28 test images ({type(error).__name__}: "
                                   f"{shorten(str(error), 300)})")
    if probabilities.shape != (len(labels), 10):
        return GraderFacts(problem=f"model outputs shape {probabilities.shape} for the test set, expected (10000, 10)")
    grader_classes = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, grader_classes), 1)
    agreement = None
    if predicted is not None and predicted.ndim == 2 and predicted.shape[0] == len(labels) and predicted.shape[1] > 0:
        agreement = float(np.mean(np.asarray(predicted).argmax(axis=1) == grader_classes))
    return GraderFacts(
        test_accuracy=float(np.mean(grader_classes == labels)),
        argmax_agreement=agreement,
        confusion_matrix=tuple(tuple(int(n) for n in row) for row in confusion),
    )
