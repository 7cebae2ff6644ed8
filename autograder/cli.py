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


@click.group(cls=_KitGroup)
def cli():
    """Homework kit for "Implementing Neural Networks with Keras"."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for grades.csv and feedback.")
@click.option("--timeout", default=Limits.timeout, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each notebook's cells may run, all together.")
@click.option("--memory", default=Limits.memory_bytes / GiB, show_default=True, type=click.FloatRange(min=0.5),
              help="GiB of memory each notebook may use.")
@click.option("--jobs", default=None, type=click.IntRange(min=1), help="Notebooks graded at once [default: cores + 1, as memory allows].")
@click.option("--cold-kernels", is_flag=True,
              help="Start every kernel from scratch instead of forking it from one that has imported TensorFlow already: slower, graded the same.")
def grade(paths, out, timeout, memory, jobs, cold_kernels):
    """Grade notebooks (.ipynb), Otter export zips, or folders of them.

    Run it again after an interruption: finished submissions are kept, changed ones regraded.
    """
    from . import grade as grading

    sys.exit(grading.main(paths=paths, out=out, timeout=timeout, memory_bytes=int(memory * GiB), jobs=jobs,
                          warm_kernels=not cold_kernels))


@cli.command()
@click.option("--check", is_flag=True, help="Fail if student_template/ or solutions/ are out of date instead of writing them.")
def generate(check):
    """Regenerate student_template/ and solutions/ from the master notebook."""
    from . import generate as generation

    changed = generation.main(check=check)
    click.echo("generated files are in sync with the master notebook" if check else
               (f"updated: {', '.join(changed)}" if changed else "already up to date"))


@cli.command()
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(min=5), help="How many seeds to train the reference with.")
@click.option("--margin", default=0.01, show_default=True, type=click.FloatRange(min=0, max=0.2), help="Threshold = lowest reference accuracy minus this.")
@click.option("--jobs", default=None, type=click.IntRange(min=1), help="Trainings run at once [default: cores + 1, as memory allows].")
def calibrate(seeds, margin, jobs):
    """Train the reference solution over several seeds and record the accuracy threshold."""
    from . import calibrate as calibration

    calibration.main(seeds=seeds, margin=margin, jobs=jobs)


@cli.command("setup-data")
def setup_data():
    """Put Fashion-MNIST in the Keras cache (from Debian's dataset-fashion-mnist) so load_data() works offline."""
    from .trusted import dataset

    click.echo(f"Fashion-MNIST is ready in {dataset.provision()}")


@cli.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The zip to write, e.g. build/autograder.zip.")
def gradescope(out):
    """Build Gradescope's autograder.zip: same engine and rubric, dataset included (no network when grading)."""
    from . import gradescope as builder

    click.echo(f"wrote {builder.main(out=out)}: upload it as the assignment's autograder (see README, Gradescope)")
