"""Stage 3 (trusted): read what the kernel exported and measure the model ourselves.

Runs in the inspector process (``inspector``), which never runs student code. It reads the
host's private copy of the export (``execution.run`` made it through ``safe_files``; ``refused``
says which files could not be copied and why), validates every file before use, reads arrays
without pickles, loads the model with Keras' safe mode (no arbitrary code), describes it, and
evaluates it on the grader's own copy of the test set. The result is the submission's facts
with the model and the grader's figures filled in from what it measured; ``ExportUnreadable``
when the export cannot be used at all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..exceptions import ExportUnreadable
from ..limits import Limits
from ..text import shorten
from .safe_files import MissingFile, load_json, read_bytes
from ..sandbox.kernel_export import ARRAY_FILES, FACTS_FILE, MODEL_FILE, PROBLEMS_FILE
from ..rubric.describe import ARRAY_NAMES, describe_array, describe_model, describe_predictions
from ..rubric.facts import ArrayFacts, GraderFacts, ModelFacts, PredictionFacts, SubmissionFacts



def inspect_export(export_dir: Path, *, refused: dict[str, str] | None = None, limits: Limits = Limits()) -> SubmissionFacts:
    """The submission's facts, re-derived from the exported files wherever a file can show them.

    Only the training history and the scalars test_acc/test_loss come from the kernel's own
    description; the hidden checks compare those with what the grader measures itself.
    """
    refused = refused or {}
    if FACTS_FILE in refused:
        raise ExportUnreadable(refused[FACTS_FILE])
    facts = _read_kernel_facts(export_dir, limits)
    problems = {} if PROBLEMS_FILE in refused else _read_json(export_dir, PROBLEMS_FILE, dict, limits, missing={})
    problems = {str(key): shorten(str(value), 500) for key, value in problems.items()}
    for name, file_name in ARRAY_FILES.items():
        if file_name in refused:
            problems[name] = f"could not be read back ({refused[file_name]})"
    if MODEL_FILE in refused:
        problems["model"] = f"could not be read back ({refused[MODEL_FILE]})"
    arrays = {
        name: _array_facts(export_dir, getattr(facts, name), problems.get(name), limits) for name in ARRAY_NAMES
    }
    predictions, predicted = _prediction_facts(export_dir, facts.predictions, problems.get("predictions"), limits)
    model, model_facts, model_problem = _load_model(export_dir, facts.model, problems.get("model"), limits)
    grader = GraderFacts(problem=model_problem)
    if model is not None:
        grader = _evaluate(model, predicted)
    return dataclasses.replace(facts, **arrays, predictions=predictions, model=model_facts, grader=grader)


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
        return SubmissionFacts.from_dict(data)
    except (TypeError, ValueError, KeyError, RecursionError) as error:
        raise ExportUnreadable(f"{FACTS_FILE} does not describe a submission ({error})") from error


def _read_json(export_dir: Path, name: str, expected_type, limits: Limits, *, missing=None):
    """``name``'s JSON, capped in size and depth; ``missing`` (or ``ExportUnreadable``) when the kernel wrote none."""
    try:
        data = load_json(read_bytes(export_dir, name, limits.max_json_bytes), origin=name, max_depth=limits.max_json_depth)
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
            problem = f"could not be loaded in Keras safe mode ({type(error).__name__}: {shorten(str(error), 300)})"
        else:
            return model, describe_model(model), None
    # A model the grader cannot load earns no structure points: its own description is not trusted.
    return None, ModelFacts(defined=True, problem=problem), f"model {problem}"


def _evaluate(model, predicted: np.ndarray | None) -> GraderFacts:
    """Evaluate ``model`` on the grader's own test set; compare with the student's ``predictions``."""
    from .dataset import load_test_set

    images, labels = load_test_set()
    shape = getattr(model, "input_shape", None)
    try:
        if isinstance(shape, tuple) and len(shape) > 1 and None not in shape[1:] and int(np.prod(shape[1:])) == 28 * 28:
            images = images.reshape((-1,) + tuple(shape[1:]))
        probabilities = np.asarray(model.predict(images, batch_size=1000, verbose=0))
    except Exception as error:  # noqa: BLE001
        return GraderFacts(problem=f"model cannot classify 28x28 test images ({type(error).__name__}: {shorten(str(error), 300)})")
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
