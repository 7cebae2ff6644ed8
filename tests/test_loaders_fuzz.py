"""The loaders fuzzed (issue 17, class 5): no file name, zip or notebook JSON ends the command.

``find_submissions`` and ``read_notebook`` are given what ``hypothesis`` makes: file names of any
bytes, zips with random members, flags and compression methods, notebooks of random JSON with lone
surrogates and deep nesting. Every input ends as a notebook the rest of the pipeline can write, or
as the kit's own ``InvalidSubmission``; a name is always printable and writable. Examples are few
and small, so this stays fast; nothing runs a kernel.
"""

import json
import os
import tempfile
import zipfile
from pathlib import Path

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.exceptions import InvalidSubmission
from autograder.limits import Limits
from autograder.reports.report import grades_csv, submission_folder
from autograder.results import SubmissionResult
from autograder.roster import assign
from autograder.trusted.load_submission import find_submissions, read_notebook

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits()

name_bytes = st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_text = st.text(st.one_of(st.characters(), surrogates), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=25,
)


def read_or_invalid(submission) -> nbformat.NotebookNode | None:
    """The loader's outcome; anything but a notebook or InvalidSubmission fails the test."""
    try:
        notebook = read_notebook(submission, LIMITS)
    except InvalidSubmission as error:
        assert str(error) and str(error).encode("utf-8")  # a message the pages and CSV can carry
        return None
    nbformat.writes(notebook).encode("utf-8")  # what the runner does next with it
    return notebook


def notebook_json(cells, metadata, version) -> str:
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": version, "nbformat_minor": 5})


@FAST
@given(names=st.lists(name_bytes, min_size=1, max_size=6, unique=True), folders=st.booleans())
def test_any_file_names_give_printable_unique_names_and_rows(names, folders):
    with tempfile.TemporaryDirectory() as temporary:
        root = os.fsencode(temporary)
        for index, name in enumerate(names):
            folder = root + (b"/" + name if folders else b"")
            os.makedirs(folder, exist_ok=True)
            with open(folder + b"/" + (name if not folders else b"hw") + b".ipynb", "wb") as stream:
                stream.write(b"{}")
        submissions = find_submissions([Path(temporary)])
        assert len({s.name for s in submissions}) == len(submissions) == len(names)
        for submission in submissions:
            assert submission.name.isprintable() and submission.name.encode("utf-8")
            submission_folder(Path(temporary), submission.name)
            assert read_or_invalid(submission) is None  # "{}" is no notebook: invalid, never a crash
        results = [SubmissionResult.ungraded(s.name, "invalid", s.name) for s in submissions]
        grades_csv(results).encode("utf-8")
        assign({s.name: s.identity for s in submissions}, None)


methods = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 1, 6, 9, 12,
                           14, 93, 95, 98, 99, 65535])


@FAST
@given(content=st.binary(max_size=400) | st.just(b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'),
       method=methods, flags=st.integers(0, 0xFFFF), cut=st.integers(0, 600), flip=st.integers(0, 600))
def test_any_zip_member_is_a_notebook_or_invalid(content, method, flags, cut, flip):
    with tempfile.TemporaryDirectory() as temporary:
        path = Path(temporary) / "export.zip"
        compression = method if method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA) else 0
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            archive.writestr("fashion_mnist_keras.ipynb", content)
        data = bytearray(path.read_bytes())
        for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            where = data.index(signature) + at
            data[where:where + 2] = flags.to_bytes(2, "little")
            data[where + 2:where + 4] = method.to_bytes(2, "little")
        if flip < len(data):
            data[flip] ^= 0xFF
        path.write_bytes(bytes(data[: len(data) - min(cut, len(data)) if cut < 300 else len(data)]))
        [submission] = find_submissions([Path(temporary)])
        read_or_invalid(submission)


@FAST
@given(cells=json_values, metadata=json_values, version=st.sampled_from([4, 3, 5, 99, "4", None]),
       depth=st.integers(0, 1200))
def test_any_notebook_json_is_a_notebook_or_invalid(cells, metadata, version, depth):
    text = notebook_json(cells, metadata, version)
    if depth:
        text = text.replace('"metadata": ', '"metadata": ' + "[" * depth, 1).replace(', "nbformat"', "]" * depth + ', "nbformat"', 1)
    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "hw.ipynb").write_text(text, encoding="utf-8")
        [submission] = find_submissions([Path(temporary)])
        read_or_invalid(submission)


@FAST
@given(sources=st.lists(any_text, max_size=4), metadata=st.dictionaries(any_text, json_values, max_size=3))
def test_valid_looking_notebooks_with_any_text_are_a_notebook_or_invalid(sources, metadata):
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None, "id": f"c{i}"}
             for i, source in enumerate(sources)]
    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "hw.ipynb").write_text(notebook_json(cells, metadata, 4), encoding="utf-8")
        [submission] = find_submissions([Path(temporary)])
        read_or_invalid(submission)


@FAST
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_a_notebook_or_invalid(raw):
    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "hw.ipynb").write_bytes(raw)
        [submission] = find_submissions([Path(temporary)])
        read_or_invalid(submission)
