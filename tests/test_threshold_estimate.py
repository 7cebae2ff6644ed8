"""calibrate's estimate of how often a correct solution falls under the threshold, from the seeds' spread."""

import json
import statistics


from autograder.calibrate import below_threshold
from autograder.paths import REFERENCE_METRICS


def test_a_threshold_two_standard_deviations_below_the_mean_fails_about_one_in_44():
    accuracies = [0.86, 0.87, 0.88, 0.87, 0.87]  # mean 0.87, sample standard deviation 0.00707
    threshold = 0.87 - 2 * statistics.stdev(accuracies)
    estimate = below_threshold(accuracies, threshold)
    assert estimate["seeds"] == 5
    assert estimate["probability"] == 0.023  # the normal distribution's 2-sigma tail, 0.02275, to two figures
    assert estimate["estimate"].startswith("estimate from 5 seeds (a normal fit: mean 0.8700, standard deviation 0.0071)")
    assert "2.0 standard deviations below the mean, with probability 0.023 (about 1 in 44)" in estimate["estimate"]


def test_a_threshold_at_the_mean_fails_half_the_correct_solutions():
    estimate = below_threshold([0.86, 0.87, 0.88], 0.87)
    assert estimate["probability"] == 0.5 and "about 1 in" not in estimate["estimate"]


def test_seeds_without_spread_are_said_to_have_none():
    assert below_threshold([0.87] * 5, 0.857) == {
        "seeds": 5, "probability": 0.0, "estimate": "estimate from 5 seeds: every seed gave 0.8700, no spread to fit"}
    assert below_threshold([0.87] * 5, 0.9)["probability"] == 1.0


def test_the_recorded_estimate_is_the_one_of_the_recorded_seeds():
    record = json.loads(REFERENCE_METRICS.read_text())
    assert "below_threshold" in record, f"{REFERENCE_METRICS} predates the estimate: run `make calibrate`"
    accuracies = [run["test_accuracy"] for run in record["runs"]]
    recorded = below_threshold(accuracies, record["threshold"])
    assert record["below_threshold"] == recorded and recorded["seeds"] == len(record["runs"])
