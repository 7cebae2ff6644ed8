"""Read a saved ``.keras`` file as data, for a model Keras safe mode refuses to load.

A ``.keras`` file is a zip of ``config.json`` (the architecture and compile settings),
``metadata.json`` and ``model.weights.h5``. Safe mode refuses a model whose config holds
Python code (a ``Lambda`` layer's function): loading it would run the student's code in the
grader. The grader still owes that student the points for what the file shows without running
anything: the layers, the compile settings, the parameter count (the weights' shapes) and the
training steps taken (the optimizer's iteration counter). This module reads exactly those, as
JSON and array shapes, and names the layer safe mode refused so the message can say what to
use instead. Nothing in the file is deserialised into objects or executed.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ExportUnreadable
from ..limits import Limits
from ..text import shorten
from .safe_files import load_json

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
# Layers whose saved config carries Python code; safe mode refuses each of them.
CODE_LAYERS = {"Lambda": "its function is Python code"}
# Layers that hold no weights and keep their input's shape, as far as checking weights against a config goes.
SHAPE_KEEPING_LAYERS = ("InputLayer", "Lambda", "Rescaling", "Dropout", "Activation")
MAX_MEMBERS = 1_000  # layers, or variables of one layer, in a weights file: the lesson's model has 4 and 2
MAX_DIMENSION = 1 << 31  # no layer weight of this lesson comes near it; larger ones would overflow the count


@dataclass(frozen=True)
class SavedModel:
    """What a ``.keras`` file records, as plain data."""

    config: dict  # config.json: module, class_name, config (layers), build_config, compile_config
    layer_weights: dict[str, tuple[tuple[int, ...], ...]]  # each saved layer's weight shapes, by its name in the file
    optimizer_iterations: int | None  # training steps taken, from the saved optimizer state

    @property
    def weight_shapes(self) -> list[tuple[int, ...]]:
        return [shape for shapes in self.layer_weights.values() for shape in shapes]

    def weights_match_config(self) -> bool:
        """The saved weights are exactly those the config's layers need: the config is not a claim alone."""
        expected = expected_weight_shapes(self.config)
        return expected is not None and sorted(expected) == sorted(self.weight_shapes)

    def refused_layer(self) -> str | None:
        """The first layer safe mode refuses, described for the student, or None."""
        layers = self.config.get("config", {}).get("layers") if isinstance(self.config.get("config"), dict) else None
        for layer in layers if isinstance(layers, list) else ():
            if not isinstance(layer, dict):
                continue
            kind = layer.get("class_name")
            name = layer.get("config", {}).get("name") if isinstance(layer.get("config"), dict) else None
            if kind in CODE_LAYERS:
                return f"{kind} layer {_shown(name)!r} ({CODE_LAYERS[kind]})"
            module = layer.get("module")
            if isinstance(module, str) and module and not module.startswith("keras"):
                return f"custom layer {_shown(kind)!r} from {_shown(module)!r}"
        return None


def _shown(text) -> str:
    """A name from the file as the student's message may quote it: identifier characters, at most 40."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "", str(text))[:40]


def read_saved_model(path: Path, limits: Limits = Limits()) -> SavedModel:  # noqa: B008 - Limits is frozen: one shared default is safe
    """The config and weight shapes of the ``.keras`` file at ``path`` (the host's private copy).

    ``ExportUnreadable`` when it is not a zip with a readable config, or when a member would
    expand past the model size cap (a zip bomb costs only this check).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = load_json(_member(archive, CONFIG, limits.max_json_bytes), origin=CONFIG,
                               max_depth=limits.max_json_depth)
            weights = _member(archive, WEIGHTS, limits.max_model_bytes) if WEIGHTS in archive.namelist() else None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ExportUnreadable(f"the saved model is not a readable .keras file ({error})") from error
    if not isinstance(config, dict):
        raise ExportUnreadable(f"the saved model's {CONFIG} holds a {type(config).__name__}, not an object")
    layers, iterations = _read_weights(weights) if weights is not None else ({}, None)
    return SavedModel(config, layers, iterations)


def _member(archive: zipfile.ZipFile, name: str, cap: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ExportUnreadable(f"the saved model has no {name}") from None
    if info.file_size > cap:
        raise ExportUnreadable(f"the saved model's {name} is {info.file_size:,} bytes, over {cap:,}")
    with archive.open(info) as stream:
        data = stream.read(cap + 1)  # the header's size may lie: stop at the cap whatever it says
    if len(data) > cap:
        raise ExportUnreadable(f"the saved model's {name} expands past {cap:,} bytes")
    return data


def _read_weights(data: bytes) -> tuple[dict[str, tuple[tuple[int, ...], ...]], int | None]:
    """Each saved layer's weight shapes (``layers/<name>/vars/<i>``), and the optimizer's iteration count.

    The walk is Keras' own layout and nothing more: two fixed levels, a bounded number of members,
    and only hard links (a soft or external link, which could name a file on the host, is never
    followed; the image is read from memory, never opened by path).
    """
    import h5py

    layers: dict[str, tuple[tuple[int, ...], ...]] = {}
    iterations = None
    try:
        with h5py.File(io.BytesIO(data), "r") as weights:
            for name, layer in _members(weights, "layers", h5py.Group):
                variables = dict(_members(layer, "vars", h5py.Dataset))
                layers[name] = tuple(_shape(variables[key]) for key in sorted(variables, key=_index))
            counter = dict(_members(weights, "optimizer/vars", h5py.Dataset)).get("0")
            if counter is not None and counter.shape == () and counter.dtype.kind in "iu":
                iterations = int(counter[()])
    except (OSError, ValueError, TypeError, KeyError, OverflowError) as error:
        raise ExportUnreadable(f"the saved model's {WEIGHTS} is not readable ({shorten(str(error), 200)})") from error
    return layers, iterations


def _members(group, path: str, kind):
    """(name, item) for the hard-linked members of ``group/path`` that are of ``kind``, at most MAX_MEMBERS."""
    import h5py

    for part in path.split("/"):
        if not isinstance(group.get(part, getlink=True), h5py.HardLink) or not isinstance(group[part], h5py.Group):
            return
        group = group[part]
    for count, name in enumerate(group):
        if count >= MAX_MEMBERS:
            raise ExportUnreadable(f"the saved model's {WEIGHTS} has more than {MAX_MEMBERS} entries under {path}")
        if isinstance(group.get(name, getlink=True), h5py.HardLink) and isinstance(item := group[name], kind):
            yield name, item


def _shape(dataset) -> tuple[int, ...]:
    shape = tuple(int(n) for n in dataset.shape)
    if len(shape) > 4 or any(n > MAX_DIMENSION for n in shape):
        raise ExportUnreadable(f"the saved model's {WEIGHTS} holds an array of shape {shape}: not a layer weight")
    return shape


def _index(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 30, key)


def expected_weight_shapes(config: dict) -> list[tuple[int, ...]] | None:
    """The weight shapes a model of this config must have, following its layers from the input; None if unknown.

    Only the layers of this lesson (and harmless ones that change no shape) are followed: for
    anything else the file's weights cannot be checked against its config.
    """
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    build = config.get("build_config") if isinstance(config.get("build_config"), dict) else {}
    shape = build.get("input_shape")
    if (not isinstance(shape, list) or len(shape) < 2
            or not all(isinstance(n, int) and 0 < n <= MAX_DIMENSION for n in shape[1:])):
        return None
    features, expected = list(shape[1:]), []
    for layer in inner.get("layers") if isinstance(inner.get("layers"), list) else []:
        kind = layer.get("class_name") if isinstance(layer, dict) else None
        settings = layer.get("config") if isinstance(layer, dict) and isinstance(layer.get("config"), dict) else {}
        if kind in SHAPE_KEEPING_LAYERS:
            continue
        if kind == "Flatten":
            features = [math.prod(features)]
        elif (kind == "Dense" and len(features) == 1 and isinstance(units := settings.get("units"), int)
              and 0 < units <= MAX_DIMENSION):
            expected += [(features[0], units)] + ([(units,)] if settings.get("use_bias", True) else [])
            features = [units]
        else:
            return None
    return expected
