"""Integrity flags: honest work gets none, each suspicious kind is named with its cell, and
nothing a student writes makes the scan raise. Source only: no TensorFlow, nothing is run."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.trusted.integrity import MAX_FLAGS, integrity_flags

ROOT = Path(__file__).resolve().parent.parent
HONEST_DIRS = [ROOT / "solutions", ROOT / "student_template", ROOT / "tests" / "fixtures" / "submissions", ROOT / "examples"]
TAMPER = ROOT / "tests" / "fixtures" / "tamper"


def _notebook(*cells: str) -> nbformat.NotebookNode:
    """Markdown cells are written as ('md', text); the rest are code cells."""
    return new_notebook(cells=[new_markdown_cell(c[1]) if isinstance(c, tuple) else new_code_cell(c) for c in cells])


def _readable_notebooks() -> list[Path]:
    paths = []
    for folder in HONEST_DIRS:
        for path in sorted(folder.rglob("*.ipynb")):
            try:
                nbformat.read(path, as_version=4)
            except Exception:  # e.g. examples/corrupted.ipynb: not a notebook, so nothing to scan
                continue
            paths.append(path)
    return paths


HONEST_LESSON = [
    ("md", "# Fashion-MNIST with Keras"),
    "%matplotlib inline\n!pip install otter-grader\nimport otter\ngrader = otter.Notebook()",
    "from tensorflow import keras\nimport tensorflow as tf\nimport numpy as np\nimport matplotlib.pyplot as plt",
    "(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()\n"
    "x_train, x_test = x_train / 255.0, x_test / 255.0",
    'grader.check("q1_load")',
    "model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)),\n"
    "                          keras.layers.Dense(128, activation='relu'), keras.layers.Dense(10, activation='softmax')])\n"
    "model.summary()",
    "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
    "%%time\nhistory = model.fit(x_train, y_train, epochs=10, batch_size=32, validation_split=0.2)",
    "test_loss, test_acc = model.evaluate(x_test, y_test)\nprint('Test accuracy:', test_acc)",
    "predictions = model.predict(x_test)\nnp.argmax(predictions[0])",
    "plt.plot(history.history['accuracy'], label='train')\nplt.plot(history.history['val_accuracy'])\n"
    "print(history.params['epochs'], history.params)\nplt.legend()\nplt.show()",
    "grader.check_all()\ngrader.export(pdf=False)",
]


@pytest.mark.parametrize("path", _readable_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_honest_notebooks_are_not_flagged(path):
    assert integrity_flags(nbformat.read(path, as_version=4)) == ()


def test_honest_lesson_with_magics_is_not_flagged():
    assert integrity_flags(_notebook(*HONEST_LESSON)) == ()


def test_the_forged_training_record_is_flagged():
    notebook = _notebook(
        ("md", "Training"),
        "from tensorflow import keras",
        "model.optimizer.iterations.assign(15000)",
        "h = keras.callbacks.History()\n"
        "h.history = {'accuracy': [0.9] * 10}\n"
        "h.params = {'epochs': 10, 'steps': 1500}",
    )
    assert integrity_flags(notebook) == (
        "cell 3 sets optimizer.iterations (model.optimizer.iterations.assign(...))",
        "cell 4 builds or edits a History (keras.callbacks.History(...))",
    )


# (kind phrase, snippet): each snippet is placed in cell 3, after a markdown cell and an honest one.
KIND_CASES = [
    ("touches grader internals", "import autograder.kernel_export as exporter"),
    ("touches grader internals", "k = get_ipython().kernel\nk.session.send(k.iopub_socket, \"stream\", [1])"),
    ("touches grader internals", "x = _grader_state"),
    ("touches grader internals", "open('/opt/zygote/boot.py').read()"),
    ("touches grader internals", "from otter.check import logs"),
    ("touches grader internals", "grader.check = lambda *a: None"),
    ("reaches for /proc or the results/export folders", "open('/proc/self/environ').read()"),
    ("reaches for /proc or the results/export folders", "os.listdir('/opt/export')"),
    ("reaches for /proc or the results/export folders", "open(f'/opt/results/{name}.json', 'w')"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "import os\nos.symlink('/etc/passwd', 'predictions.npy')"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "Path('x').symlink_to('/opt')"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "os.mkfifo('history.json')"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "s = socket.create_connection(('10.0.0.1', 80))"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "import subprocess"),
    ("uses links, FIFOs, devices, sockets or subprocesses", "os.system('ls')"),
    ("sets optimizer.iterations", "model.optimizer.iterations = 15000"),
    ("sets optimizer.iterations", "model.optimizer.iterations.assign_add(15000)"),
    ("sets optimizer.iterations", "keras.backend.set_value(model.optimizer.iterations, 15000)"),
    ("builds or edits a History", "from keras.callbacks import History\nh = History()"),
    ("builds or edits a History", "history.history['accuracy'] = [0.9] * 10"),
    ("builds or edits a History", "model.history = fake"),
    ("builds or edits a History", "class MyHistory:\n    pass"),
    ("monkeypatches Keras, TensorFlow, NumPy or builtins", "np.save = my_save"),
    ("monkeypatches Keras, TensorFlow, NumPy or builtins", "tf.keras.Model.evaluate = lambda *a, **k: [0.0, 1.0]"),
    ("monkeypatches Keras, TensorFlow, NumPy or builtins", "model.predict = lambda *a, **k: answer_key"),
    ("monkeypatches Keras, TensorFlow, NumPy or builtins", "setattr(type(model), 'fit', fake_fit)"),
    ("monkeypatches Keras, TensorFlow, NumPy or builtins", "import builtins\nbuiltins.print = quiet"),
    ("runs dynamic code the scan cannot read", "exec(open('payload.txt').read())"),
    ("runs dynamic code the scan cannot read", "getattr(model.optimizer, 'iter' + 'ations').assign(15000)"),
    ("runs dynamic code the scan cannot read", "import importlib"),
    ("runs dynamic code the scan cannot read", "m = __import__('o' + 's')"),
    ("builds or edits a History", "history = types.SimpleNamespace(history={'loss': [0.1] * 10}, params={'epochs': 10})"),
    ("writes model files itself or defines its own save/fit/predict", "import zipfile"),
    ("writes model files itself or defines its own save/fit/predict", "import h5py"),
    ("writes model files itself or defines its own save/fit/predict", "class Model:\n    def save(self, path):\n        pass"),
]


@pytest.mark.parametrize("phrase, snippet", KIND_CASES, ids=[s.splitlines()[-1][:40] for _, s in KIND_CASES])
def test_each_kind_is_flagged_with_its_cell(phrase, snippet):
    flags = integrity_flags(_notebook(("md", "intro"), "import numpy as np\nimport otter\ngrader = otter.Notebook()", snippet))
    assert any(flag.startswith(f"cell 3 {phrase} (") for flag in flags), flags
    assert all(flag.startswith("cell 3 ") for flag in flags), flags


def test_flags_are_ordered_by_cell_then_kind_without_duplicates():
    flags = integrity_flags(_notebook(
        "exec(code)\nnp.save = f\nnp.load = g\nos.fork()\nos.fork()",
        ("md", "text"),
        "open('/proc/1/maps')",
    ))
    assert flags == (
        "cell 1 uses links, FIFOs, devices, sockets or subprocesses (os.fork(...))",
        "cell 1 monkeypatches Keras, TensorFlow, NumPy or builtins (np.save = ...)",
        "cell 1 runs dynamic code the scan cannot read (exec(...))",
        "cell 3 reaches for /proc or the results/export folders ('/proc/1/maps')",
    )


TAMPER_CASES = ["patches_the_exporter", "monkeypatches_fit", "monkeypatches_numpy",
                "predict_replaced_by_answer_key", "reads_outside_scratch", "network_access"]


@pytest.mark.parametrize("name", TAMPER_CASES)
def test_tamper_notebooks_are_flagged(name):
    path = TAMPER / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"tamper fixture {path.name} is missing")
    assert integrity_flags(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("source", [
    "def broken(:\nos.symlink('/etc/passwd', 'predictions.npy')",  # a syntax error: the regex fallback
    "x = !ls\nos.symlink('/etc/passwd', 'predictions.npy')",  # a shell assignment IPython accepts, Python does not
    "%%time\n!ls /\nfor i in range(2):\n    !echo $i\n    os.symlink('/etc/passwd', f'{i}.npy')",  # magics blanked
])
def test_unparseable_and_magic_cells_do_not_raise_and_are_still_scanned(source):
    flags = integrity_flags(_notebook(("md", "intro"), source))
    assert any(f.startswith("cell 2 uses links, FIFOs, devices, sockets or subprocesses (") and "symlink" in f
               for f in flags), flags


def test_the_fallback_does_not_flag_honest_code():
    cell = "model.fit?\nhistory = model.fit(x_train, y_train, epochs=10)\nplt.plot(history.history['loss'])"
    assert integrity_flags(_notebook(cell)) == ()


def test_odd_cells_do_not_raise():
    notebook = _notebook("", "\x00", "(" * 500 + ")" * 500, "%%bash\nln -s /opt/export x", ("md", "os.symlink("))
    notebook.cells.append(nbformat.v4.new_raw_cell("os.symlink('a', 'b')"))
    flags = integrity_flags(notebook)
    # Only code cells are scanned; the bash one does not parse, so the regex fallback reads it.
    assert flags == ("cell 4 reaches for /proc or the results/export folders (ln -s /opt/export x)",)


def test_at_most_twenty_flags_then_a_count():
    notebook = _notebook(*[f"os.fork()  # {i}" for i in range(25)])
    flags = integrity_flags(notebook)
    assert len(flags) == MAX_FLAGS + 1 == 21
    assert flags[0].startswith("cell 1 ") and flags[MAX_FLAGS - 1].startswith("cell 20 ")
    assert flags[-1] == "... and 5 more"
    assert len(integrity_flags(_notebook(*["os.fork()"] * MAX_FLAGS))) == MAX_FLAGS
