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
from .exceptions import KitError
from .execution.warm_kernels import kernel_zygote
from .grade import collect_facts, score_facts
from .limits import Limits, plan_workers
from .paths import LESSON, Layout
from .reports.report import write_atomic
from .trusted import dataset
from .trusted.inspector import Inspector
from .trusted.load_submission import find_submissions

RULE = "threshold = (lowest reference test accuracy over the seeds) - margin, rounded down to 3 decimals"


def below_threshold(accuracies: list[float], threshold: float) -> dict:
    """How often a correct solution would fall under ``threshold``: a normal fit of the seeds' accuracies.

    Grading seeds each notebook from a hash of its code (``execution.seeding``), so which seed a
    correct solution trains with is as good as random: the spread over calibration's seeds is the
    spread a class's correct solutions get. With few seeds the fit is rough (the standard deviation
    of 5 values is itself uncertain by about a third), and the estimate says from how many it comes.
    """
    fit = statistics.NormalDist.from_samples(accuracies)
    probability = fit.cdf(threshold) if fit.stdev > 0 else float(threshold > fit.mean)
    one_in = f" (about 1 in {float(f'{1 / probability:.2g}'):,.0f})" if 0 < probability < 0.5 else ""  # 2 figures
    if fit.stdev > 0:
        estimate = (f"estimate from {len(accuracies)} seeds (a normal fit: mean {fit.mean:.4f}, standard deviation "
                    f"{fit.stdev:.4f}): a correct solution falls under the threshold {threshold:g}, "
                    f"{abs(fit.mean - threshold) / fit.stdev:.1f} standard deviations "
                    f"{'below' if threshold < fit.mean else 'above'} the mean, with probability "
                    f"{probability:.2g}{one_in}")
    else:
        estimate = f"estimate from {len(accuracies)} seeds: every seed gave {fit.mean:.4f}, no spread to fit"
    return {"seeds": len(accuracies), "probability": float(f"{probability:.2g}"), "estimate": estimate}


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
    failed = [(seed, run.message) for seed, run in enumerate(runs)
              if run.facts is None or run.facts.grader.test_accuracy is None]
    if failed:
        raise KitError(f"the reference solution could not be evaluated at seeds {failed}: fix the master notebook "
                       "first")
    expected = expectations.derive([(seed, run.facts) for seed, run in enumerate(runs)], layout.solution,
                                   **expectations.declarations(layout.master))
    accuracies = [run.facts.grader.test_accuracy for run in runs]
    threshold = math.floor((min(accuracies) - margin) * 1000) / 1000
    scores = [score_facts(reference, run, threshold, expected=expected) for run in runs]
    record = {
        "notebook": str(layout.solution.relative_to(layout.root)),
        "runs": [
            {"seed": seed, "test_accuracy": round(accuracy, 4), "score": result.score, "max_score": result.max_score}
            for seed, (accuracy, result) in enumerate(zip(accuracies, scores, strict=True))
        ],
        "mean": round(statistics.mean(accuracies), 4),
        "stdev": round(statistics.stdev(accuracies), 4),
        "min": round(min(accuracies), 4),
        "margin": margin,
        "rule": RULE,
        "threshold": threshold,
        "below_threshold": below_threshold(accuracies, threshold),
        "reference_curves": {  # seed 0's learning curves, drawn beside each student's in the feedback
            "train_accuracy": [round(v, 4) for v in runs[0].facts.history.train_accuracy],
            "val_accuracy": [round(v, 4) for v in runs[0].facts.history.val_accuracy],
        },
        "training_cpu": _training_cpu(runs),
        "threads_per_training": threads,
        "versions": {name: metadata.version(name) for name in ("tensorflow-cpu", "keras", "numpy")},
    }
    write_atomic(layout.reference_metrics, json.dumps(record, indent=2) + "\n")
    write_atomic(layout.expected_facts, expected.to_json())
    print(json.dumps(record, indent=2))
    print(record["below_threshold"]["estimate"])
    print(f"expected facts ({layout.expected_facts.relative_to(layout.root)}):\n{expectations.summary(expected)}\n"
          f"threshold: {threshold}")
    lost = [(seed, check.description) for seed, result in enumerate(scores)
            for question in result.questions for check in question.checks if not check.passed and check.points]
    if lost:
        raise KitError("the reference solution lost points: " + "; ".join(
            f"seed {seed}: {description}" for seed, description in lost) + f" (see {layout.reference_metrics})")
    return record


def _training_cpu(runs) -> dict | None:
    """The reference's training cost per step, for the flag on forged training (``trusted.training_cpu``).

    Per seed: its costliest cell is the training; that cell's core-seconds per optimizer step, and the
    core-seconds of all its other cells. The lowest of each over the seeds is kept, so that an honest
    notebook is never held to more than the reference's cheapest run. None where CPU was not measured.
    """
    measured = [(run.cell_cpu, run.facts.model.optimizer_iterations) for run in runs]
    if not all(cells and steps for cells, steps in measured):
        return None
    per_step = [max(cells.values()) / steps for cells, steps in measured]
    others = [sum(cells.values()) - max(cells.values()) for cells, _ in measured]
    return {"seconds_per_step": round(min(per_step), 7), "other_cells": round(min(others), 2),
            "steps": measured[0][1], "training_seconds": [round(max(cells.values()), 2) for cells, _ in measured],
            "rule": "the costliest cell per optimizer step, and the other cells together; the lowest over the seeds"}
