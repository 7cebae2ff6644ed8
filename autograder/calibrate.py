"""Calibrate the accuracy threshold from the reference solution.

Train the reference notebook with several seeds through the same engine that grades
students, record the grader's own test accuracy for each, and set the threshold a
stated margin below the worst of them. The record in solutions/reference_metrics.json
shows every seed, the rule, and that the reference earns full marks at every seed.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from . import expectations
from .trusted import dataset
from .exceptions import KitError
from .grade import collect_facts, score_facts
from .trusted.inspector import Inspector
from .limits import Limits, plan_workers
from .trusted.load_submission import find_submissions
from .paths import LESSON, Layout
from .reports.report import write_atomic
from .execution.warm_kernels import kernel_zygote

RULE = "threshold = (lowest reference test accuracy over the seeds) - margin, rounded down to 3 decimals"


def main(*, seeds: int = 5, margin: float = 0.01, jobs: int | None = None, layout: Layout = LESSON) -> dict:
    dataset.provision()
    jobs, threads = plan_workers(jobs, seeds)
    [reference] = find_submissions([layout.solution])
    with tempfile.TemporaryDirectory(prefix="calibrate-") as scratch, Inspector(threads) as inspector, \
            kernel_zygote(threads) as zygote, ThreadPoolExecutor(jobs) as pool:
        runs = list(pool.map(
            lambda seed: collect_facts(reference, out=Path(scratch) / f"seed-{seed}", limits=Limits(),
                                       inspector=inspector, threads=threads, seed=seed, zygote=zygote),
            range(seeds),
        ))
    failed = [(seed, run.message) for seed, run in enumerate(runs) if run.facts is None or run.facts.grader.test_accuracy is None]
    if failed:
        raise KitError(f"the reference solution could not be evaluated at seeds {failed}: fix the master notebook first")
    expected = expectations.derive([(seed, run.facts) for seed, run in enumerate(runs)], layout.solution,
                                   **expectations.declarations(layout.master))
    accuracies = [run.facts.grader.test_accuracy for run in runs]
    threshold = math.floor((min(accuracies) - margin) * 1000) / 1000
    scores = [score_facts(reference, run, threshold, expected=expected) for run in runs]
    record = {
        "notebook": str(layout.solution.relative_to(layout.root)),
        "runs": [
            {"seed": seed, "test_accuracy": round(accuracy, 4), "score": result.score, "max_score": result.max_score}
            for seed, (accuracy, result) in enumerate(zip(accuracies, scores))
        ],
        "mean": round(statistics.mean(accuracies), 4),
        "stdev": round(statistics.stdev(accuracies), 4),
        "min": round(min(accuracies), 4),
        "margin": margin,
        "rule": RULE,
        "threshold": threshold,
        "reference_curves": {  # seed 0's learning curves, drawn beside each student's in the feedback
            "train_accuracy": [round(v, 4) for v in runs[0].facts.history.train_accuracy],
            "val_accuracy": [round(v, 4) for v in runs[0].facts.history.val_accuracy],
        },
        "threads_per_training": threads,
        "versions": {name: metadata.version(name) for name in ("tensorflow-cpu", "keras", "numpy")},
    }
    write_atomic(layout.reference_metrics, json.dumps(record, indent=2) + "\n")
    write_atomic(layout.expected_facts, expected.to_json())
    print(json.dumps(record, indent=2))
    print(f"expected facts ({layout.expected_facts.relative_to(layout.root)}):\n{expectations.summary(expected)}\n"
          f"threshold: {threshold}")
    lost = [(seed, check.description) for seed, result in enumerate(scores)
            for question in result.questions for check in question.checks if not check.passed and check.points]
    if lost:
        raise KitError("the reference solution lost points: " + "; ".join(
            f"seed {seed}: {description}" for seed, description in lost) + f" (see {layout.reference_metrics})")
    return record
