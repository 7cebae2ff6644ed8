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
    # zipfile alone is for notes (see HONEST_CELLS); with a Keras archive's members it writes a model file
    ("writes model files itself or defines its own save/fit/predict",
     "import zipfile\nwith zipfile.ZipFile('model.keras', 'w') as z:\n    z.writestr('config.json', '{}')"),
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


# Honest code from the Keras and TensorFlow documentation and from lessons like this one: each snippet is
# placed in a notebook after the honest lesson, and the whole notebook must raise no flag.
HONEST_CELLS = {
    "LossHistory callback (Keras docs)":
        "class LossHistory(keras.callbacks.Callback):\n"
        "    def on_train_begin(self, logs={}):\n        self.losses = []\n\n"
        "    def on_batch_end(self, batch, logs={}):\n        self.losses.append(logs.get('loss'))\n\n"
        "history_cb = LossHistory()\n"
        "model.fit(x_train, y_train, batch_size=128, epochs=20, verbose=0, callbacks=[history_cb])\n"
        "print(history_cb.losses)",
    "custom callback printing logs (TF guide)":
        "class CustomCallback(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        keys = list(logs.keys())\n        print('End epoch {} of training; got log keys: {}'.format(epoch, keys))",
    "plotting history with aliases":
        "acc = history.history['accuracy']\nval_acc = history.history['val_accuracy']\n"
        "loss, val_loss = history.history['loss'], history.history['val_loss']\nepochs = range(1, len(acc) + 1)\n"
        "plt.plot(epochs, acc, 'bo', label='Training acc')\nplt.plot(epochs, val_acc, 'b', label='Validation acc')\n"
        "plt.title('Training and validation accuracy')\nplt.legend()\nplt.show()",
    "history as a DataFrame (TF regression tutorial)":
        "import pandas as pd\nhist = pd.DataFrame(history.history)\nhist['epoch'] = history.epoch\nhist.tail()",
    "saving the model where the lesson does":
        "model.save('my_model.keras')\nreloaded = keras.models.load_model('my_model.keras')\nreloaded.summary()",
    "checkpoint and early stopping":
        "callbacks = [keras.callbacks.ModelCheckpoint('best.keras', save_best_only=True),\n"
        "             keras.callbacks.EarlyStopping(patience=2)]",
    "zipping one's notes":
        "import zipfile\nwith zipfile.ZipFile('notes.zip', 'w') as archive:\n    archive.write('notes.md')",
    "import socket, unused": "import socket\nimport os, sys",
    "reading the step count": "steps = model.optimizer.iterations\nprint(int(steps), steps.numpy())\n"
                              "lr = model.optimizer.learning_rate\nprint(float(lr))",
    "reading the optimizer's variables": "opt = model.optimizer\nprint([v.name for v in opt.variables])",
    "learning-rate schedule": "model.optimizer.learning_rate.assign(1e-4)",
    "a list named like a record": "losses = []\nfor epoch in range(3):\n    losses.append(epoch)\nlosses.sort()",
    "a record turned into a DataFrame, then added to":
        "hist = history.history\nhist = pd.DataFrame(hist)\nhist['epoch'] = history.epoch",
    "a name bound to the record, then to a list of one's own":
        "acc = history.history['accuracy']\nprint(max(acc))\nacc = []\nacc.append(0.5)",
    "multiprocessing pool": "from multiprocessing import Pool\nwith Pool(2) as pool:\n    print(pool.map(abs, [-1, 2]))",
}


@pytest.mark.parametrize("snippet", list(HONEST_CELLS.values()), ids=list(HONEST_CELLS))
def test_honest_code_from_the_documentation_is_not_flagged(snippet):
    assert integrity_flags(_notebook(*HONEST_LESSON, snippet)) == ()


# Forgeries that hide behind aliases and re-exports: (kind phrase, cells[, the acting cell, 1-based, if not
# the last]). The flag names the cell that acts.
FORGERIES = {
    "iterations through a name": ("sets optimizer.iterations",
                                  ["steps = model.optimizer.iterations", "steps.assign(15000)"]),
    "iterations through a chain": ("sets optimizer.iterations",
                                   ["opt = model.optimizer\nit = opt.iterations\nsteps = it", "steps.assign_add(14999)"]),
    "iterations through tuple unpacking": ("sets optimizer.iterations",
                                           ["a, (b, steps) = 1, (2, model.optimizer.iterations)", "steps.assign(15000)"]),
    "iterations through set_value": ("sets optimizer.iterations",
                                     ["s = model.optimizer.iterations", "keras.backend.set_value(s, 15000)"]),
    "iterations through getattr": ("sets optimizer.iterations",
                                   ["s = getattr(model.optimizer, 'iterations')", "s.assign(15000)"]),
    "the optimizer's first variable": ("sets optimizer.iterations",
                                       ["opt = model.optimizer", "opt.variables[0].assign(15000)"]),
    "a walrus": ("sets optimizer.iterations", ["print(s := model.optimizer.iterations)", "s.assign(15000)"]),
    "History through tuple unpacking": ("builds or edits a History",
                                        ["record, settings = h.history, h.params",
                                         "record['accuracy'] = [0.9] * 10\nsettings['steps'] = 1500"]),
    "History item edited in place": ("builds or edits a History",
                                     ["acc = history.history['accuracy']", "acc[:] = [0.9] * 10"]),
    "History record updated": ("builds or edits a History",
                               ["record = model.history.history", "record.update(accuracy=[0.9] * 10)"]),
    "History edited, then the name rebound as a decoy": ("builds or edits a History",
                                                        ["record = history.history", "record['accuracy'] = [0.9] * 10",
                                                         "record = dict(record)"], 2),
    "History edited in a function defined before the alias": (
        "builds or edits a History", ["def forge():\n    record['loss'] = [0.1] * 10", "record = history.history"], 1),
    "History record appended": ("builds or edits a History", ["history.history['loss'].append(0.1)"]),
    "a class that stands in for a History": ("builds or edits a History",
                                             ["class Record:\n    params = {'epochs': 10}\n    history = {}"]),
    "a History subclass": ("builds or edits a History", ["class Mine(keras.callbacks.History):\n    pass"]),
    "socket re-exported": ("uses links, FIFOs, devices, sockets or subprocesses",
                           ["from multiprocessing.reduction import socket\ns = socket.socket(fileno=3)"]),
    "socket through a module alias": ("uses links, FIFOs, devices, sockets or subprocesses",
                                      ["import multiprocessing.reduction as r", "r.socket.socket(fileno=3).accept()"]),
    "socket through a dotted import": ("uses links, FIFOs, devices, sockets or subprocesses",
                                       ["import http.client", "http.client.socket.fromfd(3, 1, 1)"]),
    "subprocess re-exported": ("uses links, FIFOs, devices, sockets or subprocesses",
                               ["from asyncio import subprocess as sp"]),
    "socket imported, then used through a name": ("uses links, FIFOs, devices, sockets or subprocesses",
                                                  ["import socket as s", "t = s", "t.socket(fileno=3)"]),
}


@pytest.mark.parametrize("case", list(FORGERIES.values()), ids=list(FORGERIES))
def test_forgeries_behind_aliases_and_re_exports_are_flagged(case):
    phrase, cells, acting = (*case, len(case[1]))[:3]
    flags = integrity_flags(_notebook(*HONEST_LESSON, *cells))
    assert any(flag.startswith(f"cell {len(HONEST_LESSON) + acting} {phrase} (") for flag in flags), flags


TAMPER_CASES = ["patches_the_exporter", "monkeypatches_fit", "monkeypatches_numpy",
                "predict_replaced_by_answer_key", "reads_outside_scratch", "network_access",
                "forged_steps_through_an_alias", "history_edited_through_aliases", "socket_re_exported"]


@pytest.mark.parametrize("name", TAMPER_CASES)
def test_tamper_notebooks_are_flagged(name):
    path = TAMPER / f"{name}.ipynb"
    assert path.exists(), f"tamper fixture {path.name} is missing: run tests/fixtures/build_tamper.py"
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
