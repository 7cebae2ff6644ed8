"""Compare the training an export claims with the CPU its sandbox measurably spent.

A step count can be forged (``optimizer.iterations.assign(15000)``, weights trained elsewhere) in
ways no source scan sees through every alias. The CPU time of the sandbox's cgroup cannot: the
runner reads it on the host around each of the student's cells (``execution.runner``), and nothing
in the sandbox can edit it. Training 15,000 steps costs the reference about 13 core-seconds at one
thread; an export that claims that many steps from cells that used a small fraction of it did not
train them here. This gives a flag for the instructor, never a deduction: a notebook can always burn
CPU on something else, so the flag catches the cheap forgery, not every one.

The reference's figures come from calibration (``reference.reference_training_cpu``): its training
cell's CPU per optimizer step, and what its other cells cost (loading and scaling the data,
evaluating, predicting). The student's training is estimated as all their cells' CPU less the
reference's other cells, so the lesson's own extra work is never counted as training; the estimate
is compared with the claimed steps at the reference's cost per step.
"""

from __future__ import annotations

from ..limits import MIN_CHECKED_TRAINING_CPU, TRAINING_CPU_SHARE
from ..rubric.facts import SubmissionFacts

PHRASE = "claimed training inconsistent with the CPU spent"


def claimed_steps(facts: SubmissionFacts) -> int | None:
    """The most training steps the export claims: the saved optimizer's iterations, or the History's epochs x steps."""
    claims = [facts.model.optimizer_iterations]
    if facts.history.epochs_recorded is not None and facts.history.steps_per_epoch is not None:
        claims.append(facts.history.epochs_recorded * facts.history.steps_per_epoch)
    counted = [claim for claim in claims if isinstance(claim, int) and claim > 0]
    return max(counted) if counted else None


def training_cpu_flag(steps: int | None, cpu_seconds: float | None, reference: dict[str, float] | None) -> str | None:
    """The flag's sentence when ``steps`` claimed in ``cpu_seconds`` (all the student's cells) are implausible."""
    if steps is None or cpu_seconds is None or reference is None:
        return None
    expected = steps * reference["seconds_per_step"]
    if expected < MIN_CHECKED_TRAINING_CPU:
        return None
    training = max(0.0, cpu_seconds - reference["other_cells"])
    share = training / expected
    if share >= TRAINING_CPU_SHARE:
        return None
    return (f"{PHRASE}: the notebook claims {steps:,} steps but the sandbox used {cpu_seconds:.1f} core-seconds, "
            f"about {share:.0%} of what they cost the reference ({expected:.1f} core-seconds for {steps:,} steps, "
            f"besides {reference['other_cells']:.1f} for its other cells)")
