"""A trusted worker process that inspects exports, one after another, for a whole batch.

Importing TensorFlow and decoding the test set cost seconds; paying them once per batch
instead of once per submission is most of what inspection costs. The worker never runs
student code: it reads ``.npy`` files without pickles and loads models in Keras safe mode
(``inspect_export``). If it crashes or hangs on one export, it is replaced and only that
submission ends in ``error``.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from threading import Lock

from .rubric.facts import SubmissionFacts

INSPECT_TIMEOUT = 600


def _start_worker(threads: int) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # Keras warns about optimizer state in students' models (e.g. an untrained model's empty Adam);
    # nothing an instructor can act on, and the facts record what matters.
    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _inspect(export_dir: str) -> dict:
    from .exceptions import ExportUnreadable
    from .inspect_export import inspect_export

    try:
        return {"facts": inspect_export(Path(export_dir)).to_dict()}
    except ExportUnreadable as error:
        return {"error": str(error)}


class Inspector:
    """``inspect(export_dir)`` -> (facts, "") or (None, why); usable from several threads."""

    def __init__(self, threads: int = 1):
        self.threads = threads
        self._lock = Lock()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def inspect(self, export_dir: Path) -> tuple[SubmissionFacts | None, str]:
        future = self._worker().submit(_inspect, str(export_dir))
        try:
            payload = future.result(timeout=INSPECT_TIMEOUT)
        except FutureTimeout:
            self._replace()
            return None, f"checking the exported model took over {INSPECT_TIMEOUT} seconds"
        except BrokenProcessPool:
            self._replace()
            return None, "the grader's check process crashed on this export"
        if "error" in payload:
            return None, f"the notebook's export is unusable: {payload['error']}"
        return SubmissionFacts.from_dict(payload["facts"]), ""

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def _worker(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker, initargs=(self.threads,),
                )
            return self._pool

    def _replace(self) -> None:
        with self._lock:
            if self._pool is not None:
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.kill()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
