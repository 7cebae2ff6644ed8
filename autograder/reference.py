"""The one reader of ``solutions/reference_metrics.json``, the record calibration writes.

Grading needs its accuracy threshold and its training's CPU cost, the feedback pages its
learning curves; all come from here, and the file is read once per process (a batch writes hundreds of pages).
"""

from __future__ import annotations

import functools
import json
import math

from .exceptions import CalibrationMissing
from .paths import REFERENCE_METRICS


def read_threshold() -> float:
    """The calibrated accuracy threshold; ``CalibrationMissing`` says how to record it when it is absent."""
    try:
        return float(_metrics()["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CalibrationMissing(
            f"cannot read the accuracy threshold from {REFERENCE_METRICS} ({error}): "
            f"run `python -m autograder calibrate` to record the reference accuracy"
        ) from error


def reference_curves() -> dict[str, list[float]] | None:
    """The reference solution's accuracy per epoch, recorded by calibration; None if not recorded."""
    try:
        curves = _metrics()["reference_curves"]
        return {key: [float(v) for v in curves[key]] for key in ("train_accuracy", "val_accuracy")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reference_training_cpu() -> dict[str, float] | None:
    """What the reference's training cost in the sandbox, as calibration measured it, or None if not recorded:
    ``seconds_per_step`` (core-seconds of its training cell per optimizer step) and ``other_cells`` (core-seconds
    of all its other cells), each the lowest over the seeds."""
    try:
        cost = _metrics()["training_cpu"]
        figures = {key: float(cost[key]) for key in ("seconds_per_step", "other_cells")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    usable = (all(math.isfinite(v) for v in figures.values())
              and figures["seconds_per_step"] > 0 <= figures["other_cells"])
    return figures if usable else None


@functools.lru_cache(maxsize=None)
def _metrics() -> dict:
    """The parsed record. Only a successful read is cached: a missing file is looked for again next time.

    Callers must not mutate the returned dict: it is shared by every later call.
    """
    # REFERENCE_METRICS is looked up at call time, so tests can point it elsewhere (then cache_clear()).
    return json.loads(REFERENCE_METRICS.read_text(encoding="utf-8"))
