"""Reading submissions: notebooks, export zips, and every kind of bad input gets a clear message."""

import json
import zipfile

import nbformat
import pytest

from autograder.exceptions import InvalidSubmission
from autograder.trusted.load_submission import find_submissions, read_notebook


def notebook_text(source="x = 1", outputs=()):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, outputs=list(outputs))])
    return nbformat.writes(notebook)


def read(path):
    [submission] = find_submissions([path])
    return read_notebook(submission)


def test_notebook_is_read_and_saved_outputs_are_dropped(tmp_path):
    claim = nbformat.v4.new_output("stream", text="Test accuracy: 0.99")
    (tmp_path / "hw.ipynb").write_text(notebook_text("print(1)", [claim]))
    notebook = read(tmp_path / "hw.ipynb")
    assert notebook.cells[0].outputs == [] and notebook.cells[0].source == "print(1)"


def test_otter_export_zip_is_read_and_its_pickled_log_ignored(tmp_path):
    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as archive:
        archive.writestr("fashion_mnist_keras.ipynb", notebook_text("y = 2"))
        archive.writestr(".OTTER_LOG", b"\x80\x04not a pickle we would ever load")
    assert read(tmp_path / "hw.zip").cells[0].source == "y = 2"


@pytest.mark.parametrize("name, content, words", [
    ("empty.ipynb", b"", "is empty"),
    ("garbage.ipynb", b"{not json", "is not valid JSON"),
    ("list.ipynb", b"[1, 2]", "not a Jupyter notebook"),
    ("binary.ipynb", bytes(range(256)), "not UTF-8"),
    ("latin1.ipynb", "{\"cells\": \"caf\xe9\"}".encode("latin-1"), "not UTF-8"),
    ("broken.ipynb", json.dumps({"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(), "not a valid notebook"),
    ("deep.ipynb", b"[" * 100_000, "levels deep"),
    ("deep_in_metadata.ipynb", b'{"cells": [], "metadata": {"x": ' + b"[" * 900 + b"]" * 900 + b'}, "nbformat": 4, "nbformat_minor": 5}', "levels deep"),
])
def test_bad_input_is_invalid_with_a_message(tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidSubmission, match=words):
        read(tmp_path / name)


def test_zip_without_a_notebook_and_a_corrupt_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "nothing.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(InvalidSubmission, match="zip without a notebook"):
        read(tmp_path / "nothing.zip")
    (tmp_path / "corrupt.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InvalidSubmission, match="not a readable zip"):
        read(tmp_path / "corrupt.zip")


def test_same_file_name_in_two_folders_gets_distinct_names(tmp_path):
    for student in ("alice", "bob"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "hw.ipynb").write_text(notebook_text())
    (tmp_path / "carol.ipynb").write_text(notebook_text())
    names = sorted(s.name for s in find_submissions([tmp_path]))
    assert names == ["alice/hw.ipynb", "bob/hw.ipynb", "carol.ipynb"]


def test_nbformat_3_notebook_is_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": "z = 3", "language": "python", "outputs": []}]}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(v3))
    assert read(tmp_path / "old.ipynb").cells[0].source == "z = 3"


def test_zip_bomb_is_refused_without_being_inflated(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fashion_mnist_keras.ipynb", b"{" + b" " * (60 * 1024 * 1024) + b"}")
    assert (tmp_path / "bomb.zip").stat().st_size < 1024 * 1024
    with pytest.raises(InvalidSubmission, match="over the"):
        read(tmp_path / "bomb.zip")
