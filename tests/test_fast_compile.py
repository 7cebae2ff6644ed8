"""The grader runs training with steps_per_execution=1000 unless the notebook chose otherwise.
This is only allowed because the result is the student's own training, bit for bit: the same
weights, the same history, the same step count. Proven here on the real data, for the lesson's
model and variants students write, on a full epoch (1,500 steps: one chunk of 1,000 and one of
500) and on a short one (fewer steps than a chunk)."""

import json
import re
import subprocess
import sys

import pytest

from autograder.sandbox.cells import FAST_COMPILE_SOURCE
from autograder.paths import ROOT

PROOF = '''
import json, sys
import numpy as np, tensorflow as tf, keras
tf.config.threading.set_intra_op_parallelism_threads(1)
from tensorflow.keras.datasets import fashion_mnist
(x_train, y_train), _ = fashion_mnist.load_data()
x_train = x_train / 255.0

def train(variant, samples, epochs, fast_source):
    keras.utils.set_random_seed(7)
    if variant == "functional":
        inputs = keras.Input((28, 28))
        hidden = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    else:
        layers = [keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu")]
        layers += [keras.layers.Dropout(0.2)] if variant == "dropout" else []
        model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    if variant == "objects":
        model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=[keras.metrics.SparseCategoricalAccuracy()])
    else:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train[:samples], y_train[:samples], epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    model.evaluated = model.evaluate(x_train[:4000], y_train[:4000], verbose=0)
    model.predicted = model.predict(x_train[:4000], verbose=0)
    return model, history

results = {}
for variant, samples, epochs in (("lesson", 60000, 1), ("dropout", 4800, 2), ("objects", 4800, 2), ("functional", 4800, 2)):
    plain_model, plain_history = train(variant, samples, epochs, None)
    originals = keras.Model.compile, keras.Model.predict
    exec(sys.argv[1])  # the grader's setup code
    fast_model, fast_history = train(variant, samples, epochs, sys.argv[1])
    keras.Model.compile, keras.Model.predict = originals
    results[variant] = {
        "steps_per_execution": fast_model.get_compile_config()["steps_per_execution"],
        "same_weights": all(np.array_equal(a, b) for a, b in zip(plain_model.get_weights(), fast_model.get_weights())),
        "same_history": plain_history.history == fast_history.history and plain_history.params == fast_history.params,
        "same_steps": int(plain_model.optimizer.iterations.numpy()) == int(fast_model.optimizer.iterations.numpy()),
        "same_evaluate": plain_model.evaluated == fast_model.evaluated,
        "same_predict": bool(np.array_equal(plain_model.predicted, fast_model.predicted)),
        "steps": int(fast_model.optimizer.iterations.numpy()),
    }
print(json.dumps(results))
'''


@pytest.mark.slow  # two trainings
def test_fast_compile_trains_bit_for_bit_the_same_weights():
    completed = subprocess.run([sys.executable, "-c", PROOF, FAST_COMPILE_SOURCE], capture_output=True, text=True,
                               env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["lesson"]["steps"] == 1500 and results["dropout"]["steps"] == 240
    for variant, result in results.items():
        assert result["steps_per_execution"] == 1000, variant  # the fast path really ran
        assert result["same_weights"] and result["same_history"] and result["same_steps"], (variant, result)
        assert result["same_evaluate"] and result["same_predict"], (variant, result)


def test_a_notebooks_own_steps_per_execution_is_kept():
    namespace = {}
    fake = ("import types\n_grader_keras = types.SimpleNamespace(Model=type('M', (), {'compile': lambda self, *a, **k: k, 'predict': None}),"
            " utils=types.SimpleNamespace(Progbar=type('P', (), {'update': None})))")
    exec(FAST_COMPILE_SOURCE.replace("import keras as _grader_keras", fake), namespace)
    model_class = namespace["_grader_keras"].Model
    model = model_class()
    assert model_class.compile(model, steps_per_execution=4) == {"steps_per_execution": 4}
    assert model_class.compile(model, run_eagerly=True) == {"run_eagerly": True}
    assert model_class.compile(model, optimizer="adam") == {"optimizer": "adam", "steps_per_execution": 1000}



PROGRESS = """
import sys
import numpy as np, keras
exec(sys.argv[1])  # the grader's setup code
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(np.zeros((48, 4)), np.zeros(48), batch_size=1, epochs=2, verbose=1)
model.evaluate(np.zeros((20, 4)), np.zeros(20), batch_size=1, verbose=1)
"""


def test_the_progress_bar_counts_the_students_own_steps():
    """Keras reports each chunk of 1,000 steps by its last step, past the epoch's end (it showed 2000/1500 in
    executed notebooks): the bar shows the student's own count, 48 steps per epoch here and 20 to evaluate."""
    completed = subprocess.run([sys.executable, "-c", PROGRESS, FAST_COMPILE_SOURCE], capture_output=True, text=True,
                               env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    printed = re.sub(r"\x1b\[[0-9;]*m", "", completed.stdout)  # Keras colours the bar
    shown = {(int(done), int(total)) for done, total in re.findall(r"(\d+)/(\d+) ━", printed)}
    assert shown == {(48, 48), (20, 20)}, completed.stdout[-2000:]
