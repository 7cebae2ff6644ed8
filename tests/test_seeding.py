"""Same notebook, same score: each submission is seeded from a hash of its code, in any batch, shard or kernel."""

import copy
import csv

import nbformat
import pytest

from autograder import grade, ledger
from autograder.execution.seeding import SEED_BITS, content_seed
from autograder.reports.report import EXECUTED_FILE, submission_folder
from autograder.sandbox.cells import setup_source

# The lesson's model, trained cheaply: 1 epoch on 6,000 images. It earns no full marks, but its
# accuracy is a real training's, as sensitive to the seed as the lesson's.
CHEAP_TRAINING = [
    "from tensorflow.keras.datasets import fashion_mnist\n"
    "(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()\n"
    "x_train, y_train = x_train[:6000] / 255.0, y_train[:6000]\n"
    "x_test = x_test / 255.0",
    "from tensorflow.keras.models import Sequential\n"
    "from tensorflow.keras.layers import Dense, Flatten\n"
    "model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'), Dense(10, activation='softmax')])\n"
    "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
    "history = model.fit(x_train, y_train, epochs=1, batch_size=32, validation_split=0.2)",
    "test_loss, test_acc = model.evaluate(x_test, y_test)\n"
    "import numpy as np\n"
    "predictions = model.predict(x_test)",
]


def cheap_notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("# Fashion-MNIST")]
    cells += [nbformat.v4.new_code_cell(source) for source in CHEAP_TRAINING]
    return nbformat.v4.new_notebook(cells=cells)


def downloaded_again(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same work as an LMS hands it back after the student ran it: outputs, counts, metadata, edited prose."""
    again = copy.deepcopy(notebook)
    again.metadata["colab"] = {"provenance": []}
    again.cells[0].source = "# Fashion-MNIST, my answers"
    for count, cell in enumerate(again.cells[1:], start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output {count}\n")]
        cell.metadata["id"] = f"cell-{count}"
    return again


def test_the_seed_is_a_hash_of_the_code_cells_only():
    notebook = cheap_notebook()
    seed = content_seed(notebook)
    assert 0 <= seed < 2 ** SEED_BITS
    assert content_seed(downloaded_again(notebook)) == seed
    assert content_seed(nbformat.reads(nbformat.writes(notebook), as_version=4)) == seed  # written and read back
    as_lines = copy.deepcopy(notebook)  # sources as JSON lists of lines, as Jupyter saves them
    for cell in as_lines.cells:
        cell.source = cell.source.splitlines(keepends=True)
    assert content_seed(as_lines) == seed
    edited = copy.deepcopy(notebook)
    edited.cells[3].source += "  # one more comment"
    assert content_seed(edited) != seed
    reordered = copy.deepcopy(notebook)
    reordered.cells[1:3] = reordered.cells[2:0:-1]
    assert content_seed(reordered) != seed


def test_the_notebook_in_an_export_zip_gets_the_seed_of_the_notebook(tmp_path):
    import zipfile

    from autograder.trusted.load_submission import find_submissions, read_notebook

    nbformat.write(downloaded_again(cheap_notebook()), tmp_path / "hw.ipynb")
    with zipfile.ZipFile(tmp_path / "hw_2026_01_01T00_00_00.zip", "w") as archive:  # as the export cell zips it
        archive.write(tmp_path / "hw.ipynb", "hw.ipynb")
    seeds = {submission.path.suffix: content_seed(read_notebook(submission)) for submission in find_submissions([tmp_path])}
    assert seeds == {".ipynb": content_seed(cheap_notebook()), ".zip": content_seed(cheap_notebook())}


def test_the_grader_seeds_before_any_cell_of_the_students():
    source = setup_source(1, 12345)
    assert "_grader_keras.utils.set_random_seed(12345)" in source
    assert source.index("set_random_seed") > source.index("set_intra_op_parallelism_threads")


@pytest.mark.slow  # two trainings
def test_one_notebook_graded_in_two_separate_batches_gets_the_same_accuracy_and_score(tmp_path):
    """Batch one: the notebook alone (a cold kernel, and on a machine of several cores, all of them for
    TensorFlow). Batch two: the same work downloaded again under another name, beside another file (a kernel
    forked from the zygote where the machine allows, one thread). Both train for real."""
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "alice").mkdir(parents=True)
    (second / "alice_again").mkdir(parents=True)
    nbformat.write(cheap_notebook(), first / "alice" / "hw.ipynb")
    nbformat.write(downloaded_again(cheap_notebook()), second / "alice_again" / "hw.ipynb")
    (second / "corrupted.ipynb").write_text("not a notebook")
    assert grade.main(paths=[first], out=tmp_path / "out1", quiet=True) == 0
    assert grade.main(paths=[second], out=tmp_path / "out2", quiet=True) == 0

    def graded(out, name):
        with (out / "grades.csv").open(newline="") as stream:
            row = next(row for row in csv.DictReader(stream) if row["submission"] == name)
        folder = submission_folder(out, name)
        _, result = ledger.read(folder)
        executed = nbformat.read(folder / EXECUTED_FILE, as_version=4)
        return row, result.facts, executed.cells[0].source

    row1, facts1, setup1 = graded(tmp_path / "out1", "alice/hw.ipynb")
    row2, facts2, setup2 = graded(tmp_path / "out2", "alice_again/hw.ipynb")
    assert row1["status"] == row2["status"] == "graded"
    seed = content_seed(cheap_notebook())
    assert f"set_random_seed({seed})" in setup1 and f"set_random_seed({seed})" in setup2
    accuracy = facts1.grader.test_accuracy
    assert 0.6 < accuracy < 0.86  # a real, short training: it does not reach the threshold
    assert facts2.grader.test_accuracy == accuracy
    assert facts2.grader.confusion_matrix == facts1.grader.confusion_matrix
    assert (facts2.test_loss.value, facts2.test_acc.value) == (facts1.test_loss.value, facts1.test_acc.value)
    assert facts2.history.train_accuracy == facts1.history.train_accuracy
    assert facts2.history.val_accuracy == facts1.history.val_accuracy
    scores = [key for key in row1 if key == "score" or key.startswith("q")]
    assert [row1[key] for key in scores] == [row2[key] for key in scores]
    assert float(row1["score"]) < 22
