"""Stage 3 (trusted): read what the kernel exported and measure the model ourselves.

Run as ``python -m autograder.inspect_export EXPORT_DIR RESULT_JSON``, in a fresh process that
never ran student code. It validates every file before use, loads the model with
Keras' safe mode (no arbitrary code, no pickles), describes it, and evaluates it on
the grader's own copy of the test set. It writes one JSON object to RESULT_JSON:
``{"facts": ...}``, the submission's facts with the model and the grader's figures
filled in from what it measured, or ``{"error": ...}`` when the export is unusable.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from .exceptions import ExportUnreadable
from .kernel_export import FACTS_FILE, MODEL_FILE, PREDICTIONS_FILE, PROBLEMS_FILE
from .rubric.facts import GraderFacts, ModelFacts, SubmissionFacts

MAX_FACTS_BYTES = 1024 * 1024
MAX_MODEL_BYTES = 200 * 1024 * 1024
MAX_PREDICTIONS_BYTES = 64 * 1024 * 1024


def inspect_export(export_dir: Path) -> SubmissionFacts:
    facts = _read_kernel_facts(export_dir)
    problems = _read_json(export_dir / PROBLEMS_FILE, dict) if (export_dir / PROBLEMS_FILE).is_file() else {}
    model, model_facts, model_problem = _load_model(export_dir, facts.model, problems.get("model"))
    grader = GraderFacts(problem=model_problem)
    if model is not None:
        grader = _evaluate(model, export_dir, problems.get("predictions"))
    return dataclasses.replace(facts, model=model_facts, grader=grader)


def _read_kernel_facts(export_dir: Path) -> SubmissionFacts:
    data = _read_json(export_dir / FACTS_FILE, dict)
    try:
        return SubmissionFacts.from_dict(data)
    except (TypeError, ValueError, KeyError) as error:
        raise ExportUnreadable(f"{FACTS_FILE} does not describe a submission ({error})") from error


def _read_json(path: Path, expected_type):
    if not path.is_file():
        raise ExportUnreadable(f"the notebook's kernel wrote no {path.name}")
    if path.stat().st_size > MAX_FACTS_BYTES:
        raise ExportUnreadable(f"{path.name} is {path.stat().st_size:,} bytes, over {MAX_FACTS_BYTES:,}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportUnreadable(f"{path.name} is not valid JSON ({error})") from error
    if not isinstance(data, expected_type):
        raise ExportUnreadable(f"{path.name} holds a {type(data).__name__}, expected a {expected_type.__name__}")
    return data


def _load_model(export_dir: Path, kernel_view: ModelFacts, save_problem: str | None):
    """Return (model or None, the model's facts, why the grader cannot evaluate it)."""
    if not kernel_view.defined:
        return None, ModelFacts(), "model is not defined"
    if kernel_view.problem:
        return None, kernel_view, f"model {kernel_view.problem}"
    path = export_dir / MODEL_FILE
    problem = save_problem or (None if path.is_file() else "model was not saved by the export")
    if problem is None and path.stat().st_size > MAX_MODEL_BYTES:
        problem = f"the saved model is {path.stat().st_size:,} bytes, over {MAX_MODEL_BYTES:,}"
    if problem is None:
        try:
            import keras

            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - any load failure is a fact about the submission
            problem = f"could not be loaded in Keras safe mode ({type(error).__name__}: {str(error)[:200]})"
        else:
            from .rubric.describe import describe_model

            return model, describe_model(model), None
    # A model the grader cannot load earns no structure points: its own description is not trusted.
    return None, ModelFacts(defined=True, problem=problem), f"model {problem}"


def _evaluate(model, export_dir: Path, predictions_problem: str | None) -> GraderFacts:
    from .dataset import load_test_set

    images, labels = load_test_set()
    shape = getattr(model, "input_shape", None)
    try:
        if isinstance(shape, tuple) and len(shape) > 1 and None not in shape[1:] and int(np.prod(shape[1:])) == 28 * 28:
            images = images.reshape((-1,) + tuple(shape[1:]))
        probabilities = np.asarray(model.predict(images, batch_size=1000, verbose=0))
    except Exception as error:  # noqa: BLE001
        return GraderFacts(problem=f"model cannot classify 28x28 test images ({type(error).__name__}: {str(error)[:200]})")
    if probabilities.shape != (len(labels), 10):
        return GraderFacts(problem=f"model outputs shape {probabilities.shape} for the test set, expected (10000, 10)")
    grader_classes = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, grader_classes), 1)
    return GraderFacts(
        test_accuracy=float(np.mean(grader_classes == labels)),
        argmax_agreement=_agreement(export_dir / PREDICTIONS_FILE, grader_classes, predictions_problem),
        confusion_matrix=tuple(tuple(int(n) for n in row) for row in confusion),
    )


def _agreement(path: Path, grader_classes: np.ndarray, problem: str | None) -> float | None:
    if problem or not path.is_file() or path.stat().st_size > MAX_PREDICTIONS_BYTES:
        return None
    try:
        predictions = np.load(path, allow_pickle=False)
    except (ValueError, OSError):
        return None
    if predictions.ndim != 2 or predictions.shape[0] != len(grader_classes) or predictions.dtype.kind != "f":
        return None
    return float(np.mean(predictions.argmax(axis=1) == grader_classes))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m autograder.inspect_export EXPORT_DIR RESULT_JSON", file=sys.stderr)
        return 2
    try:
        result = {"facts": inspect_export(Path(args[0])).to_dict()}
    except ExportUnreadable as error:
        result = {"error": str(error)}
    Path(args[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
