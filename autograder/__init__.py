"""Homework kit for "Implementing Neural Networks with Keras": grading engine and command line.

The grading path is a pipeline of stages, one module each:
load_submission -> execute_notebook -> export (in the kernel) -> inspect_export (trusted)
-> rubric.run_checks -> results -> report.
"""
