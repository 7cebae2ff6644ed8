"""Read and scan a submitted notebook in a worker process under a time and a memory cap.

Parsing a student's file costs the host memory and time in proportion to what the student
wrote: ``json`` and ``nbformat`` hold a 50 MB notebook several times over, and the integrity
scan's syntax trees take some 300 bytes per byte of code (a 3 MB one-cell notebook took 2.9 GB
and 2 minutes in the grader's own process). So neither runs in the grader's process: each
submission gets a fresh worker, forked from a single-threaded server that imported the readers
once (the ``forkserver`` start method: a fork costs milliseconds, a fresh interpreter a second).
The worker runs under ``RLIMIT_AS`` (``Limits.read_memory_bytes``) and is killed past its time.

The worker reads the notebook (``load_submission.read_notebook``) and sends it, then scans it
(``integrity.integrity_flags``) and sends the flags, so a scan that overruns costs a flag, never
the grade. What the caps decide, and for whom (``read_and_scan``):

- the notebook cannot be read within them (its time, or a ``MemoryError`` under the cap), or a parser
  raises on it: ``InvalidSubmission`` (final: the file's own doing);
- its code is over ``Limits.max_scan_source_bytes``: not scanned at all, flagged "too large to scan";
- the scan overran: flagged, for the instructor to review by hand;
- the worker could not start, ended without an answer, or failed in the grader's own code
  (``OSError``, ``ImportError``): ``ScanFailed`` (the grader's:
  the per-submission error boundary makes it a non-final ``error``).
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
from dataclasses import dataclass

import nbformat

from ..exceptions import InvalidSubmission, KitError
from ..limits import GiB, Limits

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["autograder.trusted.capped", "autograder.trusted.integrity",
                                 "autograder.trusted.load_submission"])
TOO_LARGE_TO_SCAN = "too large to scan"


class ScanFailed(KitError):
    """The grader's own worker failed (it did not start, or its code raised): not the submission's doing."""


@dataclass(frozen=True)
class ReadAndScan:
    notebook: nbformat.NotebookNode
    flags: tuple[str, ...]
    peak_bytes: int = 0  # the worker's peak resident memory (for bench/scan_cost.py)


def code_bytes(notebook: nbformat.NotebookNode) -> int:
    """The size of the notebook's code, what the scan's cost grows with (counted without parsing anything)."""
    total = 0
    for cell in notebook.get("cells", ()):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            total += sum(map(len, source)) if isinstance(source, list) else len(str(source))
    return total


def read_and_scan(submission, limits: Limits = Limits()) -> ReadAndScan:  # noqa: B008 - Limits is frozen: one shared default is safe
    """The submission's notebook (outputs dropped) and its integrity flags, read and scanned within the caps."""
    parent, child = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_worker, name="autograder-reader",
                               args=(child, submission, limits), daemon=True)
    try:
        process.start()
    except Exception as error:  # noqa: BLE001 - no worker is the grader's failure
        raise ScanFailed(f"the grader's reader process did not start ({type(error).__name__}: {error})") from error
    finally:
        child.close()
    try:
        read = _receive(parent, process, limits.read_timeout)
        if read[0] != "notebook":
            raise _reading_problem(read, submission, limits)
        notebook = read[1]
        scanned = _receive(parent, process, limits.scan_timeout)
        if scanned[0] == "flags":
            return ReadAndScan(notebook, scanned[1], max(read[2], scanned[2]))
        return ReadAndScan(notebook, (_scan_problem(scanned, limits),), read[2])
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        parent.close()


def _receive(conn, process, timeout: float):
    """The worker's next message; ("time",) past ``timeout`` (the worker is killed), ("died", code) on EOF."""
    try:
        if conn.poll(timeout):
            return conn.recv()
    except (EOFError, OSError):
        process.join(1)
        return ("died", process.exitcode)
    process.kill()
    return ("time",)


def _reading_problem(reply, submission, limits: Limits) -> Exception:
    name = getattr(submission.path, "name", str(submission.path))
    kind = reply[0]
    if kind == "invalid":
        return InvalidSubmission(reply[1])
    if kind == "time":
        return InvalidSubmission(f"{name} took over {limits.read_timeout:g} seconds to read, which no notebook does: "
                                 f"open it in Jupyter, clear the outputs and save it again")
    if kind == "memory":
        return InvalidSubmission(f"{name} needs more than the {limits.read_memory_bytes / GiB:g} GiB the grader gives "
                                 f"a notebook to read: open it in Jupyter, clear the outputs and save it again")
    if kind == "content":
        return InvalidSubmission(f"{name} could not be read as a notebook ({reply[1]}): open it in Jupyter and save it "
                                 f"again")
    # "died" (no MemoryError, no message: a crash or a worker that never started) and "grader": the grader's own
    return ScanFailed(f"the grader's reader failed on this notebook: {_what(reply)}")


def _scan_problem(reply, limits: Limits) -> str:
    """The flag that stands for the scan when it could not be done: the instructor reviews the code by hand."""
    kind = reply[0]
    if kind == "large":
        return (f"code {TOO_LARGE_TO_SCAN}: {reply[1]:,} bytes of code, over the scan's "
                f"{limits.max_scan_source_bytes:,}; nothing in it was checked, review it by hand")
    if kind == "time":
        return f"code {TOO_LARGE_TO_SCAN}: the scan took over {limits.scan_timeout:g} seconds; review it by hand"
    if kind == "memory":
        return (f"code {TOO_LARGE_TO_SCAN}: the scan needed more than {limits.read_memory_bytes / GiB:g} GiB; "
                f"review it by hand")
    raise ScanFailed(f"the grader's integrity scan failed on this notebook: {_what(reply)}")


def _what(reply) -> str:
    if reply[0] == "died":
        return f"its worker process ended without an answer (exit code {reply[1]})"
    return str(reply[1]) if len(reply) > 1 else reply[0]


def _worker(conn, submission, limits: Limits) -> None:
    """In the worker: read, send the notebook; scan, send the flags. Every failure is a message, never a hang."""
    from .integrity import integrity_flags
    from .load_submission import read_notebook

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch's Ctrl-C: the parent stops its workers itself
    resource.setrlimit(resource.RLIMIT_AS, (limits.read_memory_bytes, limits.read_memory_bytes))
    notebook = _send(conn, lambda: ("notebook", read_notebook(submission, limits), _peak()))
    if notebook is None:
        return
    size = code_bytes(notebook)
    if size > limits.max_scan_source_bytes:  # checked before any parse: the scan's cost grows with it
        _send(conn, lambda: ("large", size))
        return
    _send(conn, lambda: ("flags", tuple(integrity_flags(notebook)), _peak()))


def _send(conn, make):
    """Send ``make()``'s message (its second item returned), or the kind of failure it met instead."""
    try:
        message = make()
    except MemoryError:
        message = ("memory",)
    except InvalidSubmission as error:
        message = ("invalid", str(error))
    except (OSError, ImportError) as error:  # the grader's own: its files, its code
        message = ("grader", f"{type(error).__name__}: {str(error)[:300]}")
    except Exception as error:  # noqa: BLE001 - a parser that cannot read this content: the file's doing
        message = ("content", f"{type(error).__name__}: {str(error)[:300]}")
    try:
        conn.send(message)
    except MemoryError:
        message = ("memory",)
        conn.send(message)
    return message[1] if message[0] in ("notebook", "flags") else None


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

