"""Fashion-MNIST in the Keras cache, with or without network, with or without root.

The lesson calls ``fashion_mnist.load_data()`` unchanged. Keras looks for the four
files in ``$KERAS_HOME/datasets/fashion-mnist`` (``~/.keras`` by default) before
downloading; Debian's ``dataset-fashion-mnist`` package ships the same files, so
provisioning is copying them there. Without the package (and without root to install
it), Keras downloads them where the network allows, each checked against its published
checksum. The grader loads its own copy of the test set
from the same files, never from a submission.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

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
# Where ``fashion_mnist.load_data()`` downloads from, and the SHA-256 of each file there as Keras publishes them
# (``FILE_HASHES`` in keras-team/keras, keras/src/datasets/fashion_mnist.py). Debian's package holds the same
# images and labels, recompressed, so its files have other hashes: those are trusted as Debian's, not checked here.
DOWNLOAD_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOAD_SHA256 = {
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}


def keras_cache_dir() -> Path:
    """The folder where ``keras.datasets.fashion_mnist`` looks for its files (mirrors Keras' rule)."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return home / "datasets" / "fashion-mnist"


def provision(*, install_package: bool = True, download: bool = True) -> Path:
    """Make sure the four Fashion-MNIST files are in the Keras cache; return that folder.

    The routes, in order: the cache already holds them; Debian's package holds them (installed
    here when running as root with apt-get); Keras downloads them from its own source, each file
    checked against its published SHA-256 (``DOWNLOAD_SHA256``) before it enters the cache. When
    none works, one ``DatasetUnavailable`` line names both routes an instructor can take.
    """
    target = keras_cache_dir()
    if all((target / name).is_file() for name in FILES):
        return target
    if not all((DEBIAN_DIR / name).is_file() for name in FILES) and install_package:
        _install_debian_package()
    if all((DEBIAN_DIR / name).is_file() for name in FILES):
        for name in FILES:
            _place(target, name, lambda partial, name=name: shutil.copyfile(DEBIAN_DIR / name, partial))
        return target
    problem = "downloads are off" if not download else None
    if download:
        try:
            for name in FILES:
                if not (target / name).is_file():
                    _place(target, name, lambda partial, name=name: _download_verified(name, partial))
            return target
        except Exception as error:  # noqa: BLE001 - no network, a proxy page, a checksum mismatch: all say the same
            problem = f"{type(error).__name__}: {error}"
    raise DatasetUnavailable(
        f"Fashion-MNIST is not in {target} and could not be fetched ({problem}): either install Debian's package "
        f"as root (`apt-get install {DEBIAN_PACKAGE}`), or allow this machine to download it from {DOWNLOAD_ORIGIN} "
        f"(the files are checked against Keras' published checksums), then run `python -m autograder setup-data` again"
    )


def _place(target: Path, name: str, write: Callable[..., object]) -> None:
    """Write ``target/name`` through ``write(partial_path)`` and move it in whole: never a half file in the cache."""
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f".{name}.partial"
    try:
        write(partial)
        partial.replace(target / name)
    finally:
        partial.unlink(missing_ok=True)


def _download_verified(name: str, destination: Path) -> None:
    """Keras downloads ``name`` into a staging folder; only a file with the published SHA-256 reaches
    ``destination``."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as staging:
        fetched = Path(_keras_download(name, staging))
        digest = _sha256(fetched)
        if digest != DOWNLOAD_SHA256[name]:
            raise DatasetUnavailable(f"{name} from {DOWNLOAD_ORIGIN} has SHA-256 {digest}, not the published "
                                     f"{DOWNLOAD_SHA256[name]}: it was not kept")
        shutil.copyfile(fetched, destination)


def _keras_download(name: str, staging: str) -> str:
    """Keras' own downloader (what ``fashion_mnist.load_data()`` calls), with the published hash to check."""
    from keras.utils import get_file

    path: str = get_file(name, origin=DOWNLOAD_ORIGIN + name, cache_dir=staging, cache_subdir=".",
                         file_hash=DOWNLOAD_SHA256[name], hash_algorithm="sha256")
    return path


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


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


@functools.lru_cache(maxsize=2)
def load_raw(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``split`` ("train" or "t10k") exactly as ``fashion_mnist.load_data()`` returns it: uint8 images, labels.

    Decoded once per process (the inspector checks a whole batch) and returned read-only: the
    grader compares each student's arrays with these to verify what it gives points for.
    """
    folder = provision(install_package=False)
    with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "rb") as stream:
        labels = np.frombuffer(stream.read(), np.uint8, offset=8)
    with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "rb") as stream:
        images = np.frombuffer(stream.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
    return images, labels


@functools.lru_cache(maxsize=1)
def load_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The grader's own copy of the test set: images scaled to [0, 1] as float32, and integer labels."""
    images, labels = load_raw("t10k")
    images, labels = (images / np.float32(255.0)).astype(np.float32), labels.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
