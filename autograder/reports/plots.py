"""The reports' plots, drawn with matplotlib's Agg renderer and returned as PNG ``data:`` URIs.

Each function builds its own ``Figure`` (no pyplot, so no global state to leak between
reports) and returns a string ready for an ``<img src>``.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def png_data_uri(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


CACHE_FOLDER = "plot_cache"  # in a submission's output folder (see ``cached_in``)
_CACHE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("plot_cache", default=None)
# A drawn plot is reused only while this file and matplotlib are the same: either may change the picture.
_DRAWING = hashlib.sha256(Path(__file__).read_bytes() + matplotlib.__version__.encode()).hexdigest()[:16]


@contextlib.contextmanager
def cached_in(folder: Path):
    """Within it, a submission's plots are kept in ``folder``, keyed by what they draw, and reused.

    A rescore leaves a submission's facts, hence its plots, as they were, and drawing them is most
    of what rewriting its feedback costs (about a second on a busy core; BENCHMARKS.md, Rescoring).
    """
    token = _CACHE.set(Path(folder))
    try:
        yield
    finally:
        _CACHE.reset(token)


def caching() -> bool:
    """Whether a ``cached_in`` is in force (an outer one, such as a test's shared folder, is kept)."""
    return _CACHE.get() is not None


def _kept(function):
    """``function``'s PNG from the cache folder in force when its inputs were drawn before; drawn and kept otherwise."""
    @functools.wraps(function)
    def draw_or_reuse(*args):
        folder = _CACHE.get()
        if folder is None:
            return function(*args)
        key = hashlib.sha256(json.dumps([_DRAWING, function.__name__, args], default=list).encode()).hexdigest()[:32]
        path = folder / f"{function.__name__}-{key}.txt"
        with contextlib.suppress(OSError):
            return path.read_text(encoding="ascii")
        uri = function(*args)
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(uri)
        os.replace(temporary, path)
        return uri
    return draw_or_reuse


@_kept
def learning_curves(student: dict[str, list[float]], reference: dict[str, list[float]] | None) -> str:
    """Training and validation accuracy per epoch: the student's, and beside it the reference's."""
    panels = [("Your model", student)] + ([("Reference solution", reference)] if reference else [])
    figure = Figure(figsize=(5 * len(panels), 3.6), layout="constrained")
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for axis, (title, curves) in zip(axes, panels, strict=True):
        for key, label, style in (("train_accuracy", "training", "-o"), ("val_accuracy", "validation", "--s")):
            values = curves.get(key) or []
            if values:
                axis.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    axes[0].set_ylabel("accuracy")
    return png_data_uri(figure)


@_kept
def confusion_matrix(matrix) -> str:
    """Rows are the true classes, columns the model's; each cell counts test images."""
    figure = Figure(figsize=(7.5, 6.5), layout="constrained")
    axis = figure.subplots()
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, shrink=0.8, label="test images")
    ticks = range(len(CLASS_NAMES))
    axis.set_xticks(ticks, CLASS_NAMES, rotation=45, ha="right")
    axis.set_yticks(ticks, CLASS_NAMES)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    peak = max((max(row) for row in matrix), default=0)
    for row, counts in enumerate(matrix):
        for column, count in enumerate(counts):
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if count > peak / 2 else "black")
    return png_data_uri(figure)


def score_histogram(scores: list[int], max_score: int) -> str:
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axis = figure.subplots()
    axis.hist(scores, bins=range(0, max_score + 2), align="left", rwidth=0.85, color="#4878a8")
    axis.set_xlim(-0.5, max_score + 0.5)
    axis.set_xlabel(f"score (out of {max_score})")
    axis.set_ylabel("submissions")
    axis.yaxis.get_major_locator().set_params(integer=True)
    return png_data_uri(figure)


def pass_rates(labels: list[str], rates: list[float]) -> str:
    """One horizontal bar per check: the share of graded submissions that passed it."""
    figure = Figure(figsize=(8, 0.3 * len(labels) + 1), layout="constrained")
    axis = figure.subplots()
    positions = range(len(labels))
    axis.barh(positions, [100 * rate for rate in rates], color="#4878a8")
    axis.set_yticks(positions, labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("passed (% of graded submissions)")
    return png_data_uri(figure)
