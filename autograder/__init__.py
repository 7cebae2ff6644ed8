"""Homework kit for "Implementing Neural Networks with Keras": grading engine and command line.

The grading path is a pipeline of stages, one module each:
load_submission -> execute_notebook -> export (in the kernel) -> inspect_export (trusted)
-> rubric.run_checks -> results -> report.
"""

import os as _os

# TensorFlow's C++ start-up lines (oneDNN, the CPU features it was built for, a failed CUDA ``cuInit`` on machines
# without a GPU, which the full wheel logs as an error, and absl's note about them) tell an instructor or a student
# nothing they can act on. Level 3 keeps only fatal C++ logs; Python exceptions and their tracebacks are untouched,
# and oneDNN itself stays on (turning it off would change the numerics). Every grader process imports this package
# before TensorFlow, and its children (the inspector's workers) inherit it; kernels get it from
# ``execution.bubblewrap.kernel_env``; an instructor's own setting wins.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3"}
for _key, _value in QUIET_TENSORFLOW.items():
    _os.environ.setdefault(_key, _value)
