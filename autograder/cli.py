"""Command line. Each command only forwards to one module's ``main``; known errors print as one line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .exceptions import KitError
from .limits import GiB, Limits


class _KitGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KitError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


def late_options(command):
    """``--late-policy`` and ``--due``, the same for ``grade`` and ``merge``."""
    command = click.option("--due", default=None, metavar="DATETIME",
                           help="The due date, e.g. 2026-03-01T23:59-05:00: how late a Gradescope export's submissions "
                                "are (Canvas marks them LATE itself). Kept with the late policy.")(command)
    return click.option("--late-policy", default=None, metavar="POLICY",
                        help="How late submissions lose points, applied after the rubric and overrides: "
                             "grace=2h,per-day=10%,max=50% and/or cap=80% (see README, Late submissions); 'none' drops "
                             "it. Kept in --out and reused until another is given.")(command)


@click.group(cls=_KitGroup)
def cli():
    """Homework kit for "Implementing Neural Networks with Keras"."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for grades.csv "
                                                                                             "and feedback.")
@click.option("--timeout", default=Limits.timeout, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each notebook's cells may run, all together.")
@click.option("--memory", default=Limits.memory_bytes / GiB, show_default=True, type=click.FloatRange(min=0.5),
              help="GiB of memory each notebook may use.")
@click.option("--jobs", default=None, type=click.IntRange(min=1), help="Notebooks graded at once [default: cores + 1, "
                                                                       "as memory allows].")
@click.option("--cold-kernels", is_flag=True,
              help="Start every kernel from scratch instead of forking it from one that has imported TensorFlow "
                   "already: slower, graded the same.")
@click.option("--shard", default=None, metavar="K/N",
              help="Grade only slice K of N (by a hash of each submission's name) into --out; join the slices with "
                   "`merge`.")
@click.option("--roster", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The class list (CSV with student_id and name; a Canvas gradebook export works): names each row's "
                   "student, grades each student's latest submission and lists those with none.")
@click.option("--overrides", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Points changed by hand, each with a reason (CSV: student or submission, question or check (both "
                   "empty for the total), points, reason), applied after the rubric. Kept in --out as overrides.csv "
                   "and reused by later runs until another is given, which replaces it whole: to add a row, edit that "
                   "copy.")
@click.option("--assignment-name", default=None,
              help="The assignment's column in canvas.csv [default: Fashion-MNIST with Keras]; to update an existing "
                   "Canvas assignment, use its column name in Canvas's gradebook export, e.g. 'Fashion-MNIST with "
                   "Keras (123456)'.")
@click.option("--threshold", default=None, type=click.FloatRange(min=0, max=1),
              help="The test accuracy a model must reach, for this run [default: the calibrated one in "
                   "solutions/reference_metrics.json]. A change only rescores: no notebook runs again.")
@late_options
def grade(paths, out, timeout, memory, jobs, cold_kernels, shard, roster, overrides, assignment_name, threshold,
          late_policy, due):
    """Grade notebooks (.ipynb), Otter export zips, or folders of them.

    Run it again after an interruption: finished submissions are kept, changed ones regraded.
    """
    from . import grade as grading
    from .shards import Shard

    sys.exit(grading.main(paths=paths, out=out, timeout=timeout, memory_bytes=int(memory * GiB), jobs=jobs,
                          warm_kernels=not cold_kernels, shard=Shard.parse(shard) if shard is not None else None,
                          roster=roster, overrides=overrides, assignment_name=assignment_name, threshold=threshold,
                          late_policy=late_policy, due=due))


@cli.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the merged "
                                                                                             "grades.csv and feedback.")
@click.option("--roster", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The class list (CSV): names each row's student and lists the students with no submission.")
@click.option("--overrides", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Points changed by hand, with a reason (CSV), applied after the rubric.")
@click.option("--assignment-name", default=None, help="The assignment's column in canvas.csv.")
@late_options
def merge(dirs, out, roster, overrides, assignment_name, late_policy, due):
    """Join the --out folders of `grade --shard K/N` (every K of one N) into one grades.csv, summary and LMS files.

    Refused when the shards were graded with different code, rubric or threshold, or overlap. No notebook runs.
    """
    from . import merge as merging

    sys.exit(merging.main(dirs=dirs, out=out, roster=roster, overrides=overrides, assignment_name=assignment_name,
                          late_policy=late_policy, due=due))


@cli.command()
@click.option("--check", is_flag=True, help="Fail if student_template/ or solutions/ are out of date instead of "
                                            "writing them.")
def generate(check):
    """Regenerate student_template/ and solutions/ from the master notebook."""
    from . import generate as generation

    changed = generation.main(check=check)
    click.echo("generated files are in sync with the master notebook" if check else
               (f"updated: {', '.join(changed)}" if changed else "already up to date"))


@cli.command()
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(min=5), help="How many seeds to train the "
                                                                                        "reference with.")
@click.option("--margin", default=0.01, show_default=True, type=click.FloatRange(min=0, max=0.2), help="Threshold = "
                                                                                                       "lowest "
                                                                                                       "reference "
                                                                                                       "accuracy minus "
                                                                                                       "this.")
@click.option("--jobs", default=None, type=click.IntRange(min=1), help="Trainings run at once [default: cores + 1, as "
                                                                       "memory allows].")
def calibrate(seeds, margin, jobs):
    """Train the reference solution over several seeds and record the accuracy threshold."""
    from . import calibrate as calibration

    calibration.main(seeds=seeds, margin=margin, jobs=jobs)


@cli.command()
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(min=5), help="How many seeds to train the "
                                                                                        "reference with.")
@click.option("--jobs", default=None, type=click.IntRange(min=1), help="Trainings run at once [default: cores + 1, as "
                                                                       "memory allows].")
def assignment(seeds, jobs):
    """After editing the master notebook: generate, calibrate, check the reference and the template, print the expected
    facts."""
    from . import assignment as homework

    homework.main(seeds=seeds, jobs=jobs, say=click.echo)


@cli.command("setup-data")
def setup_data():
    """Put Fashion-MNIST in the Keras cache so load_data() works offline: Debian's package, or Keras' checked
    download."""
    from .trusted import dataset

    click.echo(f"Fashion-MNIST is ready in {dataset.provision()}")


@cli.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The zip to write, e.g. "
                                                                                            "build/autograder.zip.")
def gradescope(out):
    """Build Gradescope's autograder.zip: same engine and rubric, dataset included (no network when grading)."""
    from . import gradescope as builder

    click.echo(f"wrote {builder.main(out=out)}: upload it as the assignment's autograder (see README, Gradescope)")
