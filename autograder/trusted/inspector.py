"""Trusted worker processes that inspect exports for a whole batch, each submission's cost its own.

Importing TensorFlow and decoding the test set cost seconds; paying them once per worker for
the whole batch, instead of once per submission, is most of what inspection costs. So the
``Inspector`` keeps up to ``workers`` long-lived processes (started on demand, "spawn"
context) and hands each ``inspect`` call to an idle one. The workers never run student code:
they read ``.npy`` files without pickles and load models in Keras safe mode
(``inspect_export``).

One submission's cost stays its own. Its time limit (``Limits.inspection_timeout``) is
counted from the moment its worker takes the job, never while it waits for a free worker;
each worker runs under ``RLIMIT_AS = Limits.inspection_memory_bytes``, so a memory-hungry
export fails in that worker only. A worker that overruns is killed and one that crashes or
runs out of memory is retired; only that submission ends without facts
(``Inspection.grader_failed``), and the pool starts a fresh worker when the next job needs
one. Jobs waiting behind a slow export are never cancelled: they run on another worker or
on the replacement, and are graded exactly as if they had been alone.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..limits import GiB, Limits
from ..rubric.facts import SubmissionFacts
from ..sandbox.export_format import SchemaError, read_facts

CRASHED = "the grader's check process crashed on this export"


@dataclass(frozen=True)
class Inspection:
    """What inspecting one export gave: its facts, or why there are none."""

    facts: SubmissionFacts | None
    problem: str = ""  # why there are no facts
    grader_failed: bool = False  # True: the grader's own failure (crash, stall, out of memory) -> not a final grade


def _inspect(export_dir: str, refused: dict[str, str]) -> dict:
    """The real inspection, run in a worker: ``{"facts": ...}`` or ``{"error": why the export is unusable}``."""
    from ..exceptions import ExportUnreadable
    from .inspect_export import inspect_export

    try:
        return {"facts": inspect_export(Path(export_dir), refused=refused).to_dict()}
    except ExportUnreadable as error:
        return {"error": str(error)}


def _prepare_tensorflow(threads: int) -> None:
    """Import TensorFlow once, in the worker, with its share of the cores."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _worker_main(conn, target: Callable[[str, dict], dict], memory_bytes: int, threads: int, tensorflow: bool) -> None:
    """A worker's life: set up once, then run jobs from ``conn`` until the sentinel ``None`` or EOF."""
    try:
        # The batch's Ctrl-C reaches the whole process group: the Inspector stops its workers itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # as autograder.QUIET_TENSORFLOW: no start-up lines on the console
        # Keras warns about optimizer state in students' models (e.g. an untrained model's empty Adam);
        # nothing an instructor can act on, and the facts record what matters.
        warnings.filterwarnings("ignore")
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if tensorflow:
            _prepare_tensorflow(threads)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which gives up on this worker
        conn.send({"failed": f"{type(error).__name__}: {error}"})
        return
    conn.send({"ready": True})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the Inspector is gone
        if job is None:
            return
        export_dir, refused = job
        try:
            result = target(export_dir, refused)
        except MemoryError:
            result = {"memory": True}
        except BaseException as error:  # noqa: BLE001 - the grader's own failure, reported for this export only
            result = {"crash": f"{type(error).__name__}: {error}"}
        try:
            conn.send(result)
        except MemoryError:
            conn.send({"memory": True})


class _WorkerFailed(Exception):
    """A new worker did not start (its message says why)."""


@dataclass(eq=False)  # compared and hashed by identity
class _Worker:
    process: multiprocessing.Process
    conn: object  # the parent's end of the worker's pipe


class Inspector:
    """``inspect(export_dir)`` -> ``Inspection``; a context manager usable from several threads at once.

    Up to ``workers`` trusted processes, started lazily; ``target`` is what a worker runs for
    one job (the real inspection by default; tests pass cheap module-level functions).
    """

    def __init__(self, threads: int = 1, limits: Limits = Limits(), *, workers: int = 2,  # noqa: B008 - Limits is frozen: one shared default is safe
                 target: Callable[[str, dict], dict] | None = None):
        if workers < 1:
            raise ValueError("an Inspector needs at least one worker")
        self.threads = threads
        self.limits = limits
        self.workers = workers
        self._target = _inspect if target is None else target
        self._context = multiprocessing.get_context("spawn")
        self._changed = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # alive or starting, idle or busy
        self._starting = 0  # workers being started, counted against ``workers``
        self._closed = False

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def inspect(self, export_dir: Path, refused: dict[str, str] | None = None) -> Inspection:
        """Inspect one export on an idle worker; its time limit starts when the worker takes the job."""
        job = (str(export_dir), dict(refused or {}))
        for _ in range(3):  # a worker found dead before it took the job is not this export's doing
            try:
                worker = self._acquire()
            except _WorkerFailed as error:
                return Inspection(None, str(error), grader_failed=True)
            try:
                worker.conn.send(job)
            except (OSError, ValueError):
                self._retire(worker, kill=True)
                continue
            return self._await(worker)
        return Inspection(None, CRASHED, grader_failed=True)

    def close(self) -> None:
        """Stop every worker: the sentinel, a short wait, then SIGKILL. Busy workers are killed."""
        with self._changed:
            self._closed = True
            idle, busy = list(self._idle), [w for w in self._all if w not in self._idle]
            self._idle.clear()
            self._all.clear()
            self._changed.notify_all()
        for worker in busy:  # its caller sees EOF, answers that the check crashed and closes the pipe
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(self.limits.inspector_stop_grace)
        for worker in idle:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + self.limits.inspector_stop_grace
        for worker in idle:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            _kill(worker)

    def _await(self, worker: _Worker) -> Inspection:
        timeout = self.limits.inspection_timeout
        try:
            ready = worker.conn.poll(timeout)
            reply = worker.conn.recv() if ready else None
        except (EOFError, OSError, ValueError):
            self._retire(worker, kill=True)
            return Inspection(None, CRASHED, grader_failed=True)
        if not ready:
            self._retire(worker, kill=True)
            return Inspection(None, f"checking the exported model took over {timeout:g} seconds", grader_failed=True)
        if "facts" in reply:
            self._release(worker)
            try:  # what the worker measured passes the schema too (a NaN in x_train makes its minimum NaN)
                return Inspection(read_facts(reply["facts"]))
            except SchemaError as error:
                return Inspection(None, f"the grader's check returned facts it cannot use: {error}", grader_failed=True)
        if "error" in reply:
            self._release(worker)
            return Inspection(None, f"the notebook's export is unusable: {reply['error']}")
        # Out of memory or an exception in the grader's own code: the worker's state is suspect, retire it.
        self._retire(worker, kill=False)
        if "memory" in reply:
            return Inspection(None, "the grader's check ran out of memory on this export "
                                    f"(the {self.limits.inspection_memory_bytes / GiB:g} GiB limit of its process)",
                              grader_failed=True)
        return Inspection(None, f"the grader's check failed on this export: {reply.get('crash', reply)}",
                          grader_failed=True)

    def _acquire(self) -> _Worker:
        """An idle worker, a new one if there is room, else wait: the wait is no part of any time limit."""
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeError("the Inspector is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.process.is_alive():
                        return worker
                    self._all.discard(worker)
                    _kill(worker)
                if len(self._all) + self._starting < self.workers:
                    self._starting += 1
                    break
                self._changed.wait()
        worker = None
        try:
            worker = self._start()
        finally:
            with self._changed:
                self._starting -= 1
                if worker is not None and not self._closed:
                    self._all.add(worker)
                self._changed.notify_all()
        if worker is not None and self._closed:
            _kill(worker)
            raise RuntimeError("the Inspector is closed")
        return worker

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, name="autograder-inspector",
            args=(child, self._target, self.limits.inspection_memory_bytes, self.threads, self._target is _inspect),
        )
        try:
            process.start()
        finally:
            child.close()  # the worker holds the only other end: its death is EOF here
        worker = _Worker(process, parent)
        try:
            hello = parent.recv() if parent.poll(self.limits.inspector_start) else {
                "failed": f"no answer in {self.limits.inspector_start:g} seconds"}
        except (EOFError, OSError):
            process.join(self.limits.inspector_stop_grace)
            hello = {"failed": f"it exited with code {process.exitcode}"}
        if "ready" not in hello:
            _kill(worker)
            raise _WorkerFailed(f"the grader's check process did not start: {hello['failed']}")
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._changed:
            if self._closed or worker not in self._all:
                stop = True
            else:
                self._idle.append(worker)
                stop = False
            self._changed.notify_all()
        if stop:
            _kill(worker)

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        with self._changed:
            self._all.discard(worker)
            self._changed.notify_all()
        if not kill:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
            worker.process.join(self.limits.inspector_stop_grace)
        _kill(worker)


def _kill(worker: _Worker) -> None:
    """SIGKILL the worker if it still runs, reap it and close its pipe."""
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()  # SIGKILL cannot be caught: it ends at once
    worker.conn.close()
