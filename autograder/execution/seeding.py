"""The random seed of a submission's run: the same notebook content always trains the same model.

Without a seed, a regrade of one notebook measured 0.8676, 0.8756 and 0.8767, so a student near
the threshold could pass in one batch or shard and fail in another. The grader's setup cell
(``sandbox.cells.setup_source``) therefore calls ``keras.utils.set_random_seed`` (Python's
``random``, NumPy's global generator, TensorFlow's and Keras' seeds) before any cell of the
student's runs, with a seed taken from a hash of what the student wrote: the source of every
code cell, in order. Outputs, execution counts, metadata and markdown are left out, so the same
notebook downloaded again, or exported as a zip, gets the same seed.

A notebook that seeds itself (``keras.utils.set_random_seed``, ``tf.random.set_seed``,
``np.random.seed``) is seeded by the grader first all the same: its own call then takes over from
that cell on, which is as deterministic, so nothing needs to detect it.

Measured on 2 cores (one notebook, the lesson's model): the same seed gave the same test loss to the
last bit from a cold kernel and a kernel forked from the zygote, with one TensorFlow thread or two,
with the grader's ``steps_per_execution``, without ``TF_DETERMINISTIC_OPS``. tests/test_seeding.py
grades one notebook in two separate batches and compares.
"""

from __future__ import annotations

import hashlib

import nbformat

SEED_BITS = 31  # within every generator's range: NumPy takes < 2**32, TensorFlow an int64


def content_seed(notebook: nbformat.NotebookNode) -> int:
    """The seed for ``notebook``: a hash of its code cells' sources, in order."""
    hasher = hashlib.sha256()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            hasher.update(source.encode("utf-8", errors="surrogatepass") + b"\0")
    return int.from_bytes(hasher.digest()[:8], "big") % (1 << SEED_BITS)
