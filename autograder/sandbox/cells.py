"""The cells the grader adds to a student's notebook: they run in the student's kernel, in the sandbox.

The runner (``execution.runner``, on the host) puts ``setup_source`` before the student's
first cell and ``export_source`` after the last. Both run in a process the student's code
controls, so nothing they produce is trusted: the export is raw material that the trusted
side re-derives facts from (``trusted.inspect_export``).
"""

from __future__ import annotations

from .export_format import DONE_FILE

STEPS_PER_EXECUTION = 1000


def setup_source(threads: int, seed: int | None) -> str:
    """The grader's first cell: CPU share, optional seed, and fewer Python round trips in training."""
    lines = [
        "# Added by the grader: limit TensorFlow to this worker's share of the CPU.",
        "import tensorflow as _grader_tf",
        f"_grader_tf.config.threading.set_intra_op_parallelism_threads({threads})",
        f"_grader_tf.config.threading.set_inter_op_parallelism_threads({threads})",
        FAST_COMPILE_SOURCE,
    ]
    if seed is not None:
        lines += ["# Seeded by the grader before the notebook's first cell: the same notebook trains the same model in "
                  "every batch.",
                  "import keras as _grader_keras", f"_grader_keras.utils.set_random_seed({seed})"]
    return "\n".join(lines)


# Train and evaluate with up to STEPS_PER_EXECUTION steps per call into TensorFlow instead of one,
# unless the notebook chose its own value or eager mode. The weights and history come out bit for
# bit the same as the student's own call (tests/test_fast_compile.py); only the Python overhead
# between steps goes. predict keeps one step per call, Keras' default path: its first call would
# otherwise spend seconds tracing a 1,000-step loop for 313 batches. Keras reports each chunk's last
# step to the progress bar, past the epoch's end (2000/1500): the bar is held to the student's own count.
FAST_COMPILE_SOURCE = f"""
import keras as _grader_keras
_grader_compile, _grader_predict = _grader_keras.Model.compile, _grader_keras.Model.predict
def _grader_fast_compile(self, *args, **kwargs):
    fast = "steps_per_execution" not in kwargs and not kwargs.get("run_eagerly") and len(args) < 6
    if fast:
        kwargs["steps_per_execution"] = {STEPS_PER_EXECUTION}
    result = _grader_compile(self, *args, **kwargs)
    self._grader_fast = fast
    return result
def _grader_default_predict(self, *args, **kwargs):
    if not getattr(self, "_grader_fast", False):
        return _grader_predict(self, *args, **kwargs)
    self.steps_per_execution = 1
    try:
        return _grader_predict(self, *args, **kwargs)
    finally:
        self.steps_per_execution = {STEPS_PER_EXECUTION}
_grader_keras.Model.compile, _grader_keras.Model.predict = _grader_fast_compile, _grader_default_predict
_grader_progbar_update = _grader_keras.utils.Progbar.update
def _grader_own_steps(self, current, *args, **kwargs):
    if self.target is not None:
        current = min(current, self.target)
    return _grader_progbar_update(self, current, *args, **kwargs)
_grader_keras.utils.Progbar.update = _grader_own_steps
""".strip()

# Run by the runner after a cell that was interrupted for its output: an interrupt that was still
# on its way when that cell finished lands here, not on the export.
SETTLE_SOURCE = ("# Added by the grader: a pause in which a late interrupt can land.\n"
                 "import time as _grader_time\n_grader_time.sleep(1)")


def export_source(code_dir: str, export_dir: str, token: str) -> str:
    """The grader's last cell: ignore interrupts from here on, export the lesson's variables, then write ``token``
    into ``DONE_FILE``. The runner learns the token only from this cell's source, so no earlier cell can write it:
    the file says this cell ran to its end (``execution.runner.export_complete``)."""
    return "\n".join([
        "# Added by the grader: export the lesson's variables for checking.",
        "import signal as _grader_signal",
        "_grader_signal.signal(_grader_signal.SIGINT, _grader_signal.SIG_IGN)",
        "import sys as _grader_sys",
        f"_grader_sys.path.insert(0, {code_dir!r})",
        "from autograder.sandbox.kernel_export import export_namespace as _grader_export",
        f"_grader_export(globals(), {export_dir!r})",
        f"with open({export_dir + '/' + DONE_FILE!r}, 'w') as _grader_done:",
        f"    _grader_done.write({token!r})",
    ])
