"""Fashion-MNIST for a machine with no network.

The lesson calls ``fashion_mnist.load_data()`` unchanged. Keras looks for the four
files in ``$KERAS_HOME/datasets/fashion-mnist`` (``~/.keras`` by default) before
downloading; Debian's ``dataset-fashion-mnist`` package ships the same files, so
provisioning is copying them there. The grader loads its own copy of the test set
from the same files, never from a submission.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..exceptions import DatasetUnavailable

FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def keras_cache_dir() -> Path:
    """The folder where ``keras.datasets.fashion_mnist`` looks for its files (mirrors Keras' rule)."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return home / "datasets" / "fashion-mnist"


def provision(*, install_package: bool = True) -> Path:
    """Make sure the four Fashion-MNIST files are in the Keras cache; return that folder."""
    target = keras_cache_dir()
    if all((target / name).is_file() for name in FILES):
        return target
    if not all((DEBIAN_DIR / name).is_file() for name in FILES) and install_package:
        _install_debian_package()
    missing = [name for name in FILES if not (DEBIAN_DIR / name).is_file()]
    if missing:
        raise DatasetUnavailable(
            f"Fashion-MNIST is not in {target} and {DEBIAN_DIR} lacks {missing}: "
            f"run `apt-get install {DEBIAN_PACKAGE}` (as root) or copy the four .gz files into {target}"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if not (target / name).is_file():
            partial = target / f".{name}.partial"
            shutil.copyfile(DEBIAN_DIR / name, partial)
            partial.replace(target / name)
    return target


def _install_debian_package() -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return  # provision() explains what to do
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE],
        check=False,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


@functools.lru_cache(maxsize=1)
def load_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The grader's own copy of the test set: images scaled to [0, 1] as float32, and integer labels.

    Decoded once per process (the inspector checks a whole batch) and returned read-only.
    """
    folder = provision(install_package=False)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "rb") as stream:
        labels = np.frombuffer(stream.read(), np.uint8, offset=8)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "rb") as stream:
        images = np.frombuffer(stream.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
    images, labels = (images / np.float32(255.0)).astype(np.float32), labels.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
