"""Runs inside the submission's kernel, after the student's last cell: export plain facts.

Everything here is untrusted by construction (student code ran first in this
process and could have changed anything), so it only writes files that the trusted
side validates and re-derives: the lesson's variables described as facts, the model
in Keras' own ``.keras`` format, and ``predictions`` as a plain ``.npy`` array.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .rubric.describe import MISSING, is_absent
from .rubric.public import facts_from_variables

LESSON_VARIABLES = (
    "x_train", "y_train", "x_test", "y_test", "model", "history", "test_loss", "test_acc", "predictions",
)
FACTS_FILE, MODEL_FILE, PREDICTIONS_FILE, PROBLEMS_FILE = (
    "kernel_facts.json", "model.keras", "predictions.npy", "export_problems.json",
)


def export_namespace(namespace: dict, out_dir: str) -> None:
    """Write the facts of ``namespace`` (the notebook's globals) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variables = {name: namespace.get(name, MISSING) for name in LESSON_VARIABLES}
    problems: dict[str, str] = {}
    facts = facts_from_variables(**variables)
    (out / FACTS_FILE).write_text(json.dumps(facts.to_dict()))

    model = variables["model"]
    if not is_absent(model):
        try:
            model.save(str(out / MODEL_FILE))
        except Exception as error:  # noqa: BLE001 - any failure is reported as a fact
            problems["model"] = f"could not be saved as a .keras file ({type(error).__name__}: {error})"

    predictions = variables["predictions"]
    if not is_absent(predictions):
        try:
            array = np.asarray(predictions, dtype=np.float32)
            np.save(out / PREDICTIONS_FILE, array, allow_pickle=False)
        except Exception as error:  # noqa: BLE001
            problems["predictions"] = f"could not be saved as an array ({type(error).__name__}: {error})"
    (out / PROBLEMS_FILE).write_text(json.dumps(problems))
