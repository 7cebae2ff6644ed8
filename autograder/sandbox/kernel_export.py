"""Runs inside the submission's kernel, after the student's last cell: export what grading needs.

Everything here is untrusted by construction (student code ran first in this process
and could have changed anything), so it writes raw material for the trusted side to
re-derive facts from: the four data arrays and ``predictions`` as plain ``.npy`` files,
the model in Keras' own ``.keras`` format, and, for what only the kernel can see (the
training history, ``test_acc``), facts as JSON. The sandbox gives this code only
``rubric.describe`` and ``rubric.facts``: no checks, no reference data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..rubric.describe import ARRAY_NAMES, MISSING, facts_from_variables, is_absent
from .export_format import ARRAY_FILES, FACTS_FILE, MODEL_FILE, PROBLEMS_FILE  # the format's one owner

LESSON_VARIABLES = (*ARRAY_NAMES, "model", "history", "test_loss", "test_acc", "predictions")


def export_namespace(namespace: dict, out_dir: str) -> None:
    """Write the lesson's variables found in ``namespace`` (the notebook's globals) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variables = {name: namespace.get(name, MISSING) for name in LESSON_VARIABLES}
    problems: dict[str, str] = {}
    (out / FACTS_FILE).write_text(json.dumps(facts_from_variables(**variables).to_dict()))

    model = variables["model"]
    if not is_absent(model):
        try:
            model.save(str(out / MODEL_FILE))
        except Exception as error:  # noqa: BLE001 - any failure is reported as a fact
            problems["model"] = f"could not be saved as a .keras file ({type(error).__name__}: {error})"

    for name, file_name in ARRAY_FILES.items():
        value = variables[name]
        if is_absent(value):
            continue
        try:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"dtype {array.dtype} is not numeric")
            np.save(out / file_name, array, allow_pickle=False)
        except Exception as error:  # noqa: BLE001
            problems[name] = f"could not be saved as a numeric array ({type(error).__name__}: {error})"
    (out / PROBLEMS_FILE).write_text(json.dumps(problems))
