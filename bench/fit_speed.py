"""Training levers alone: the lesson's model as the student runs it, with steps_per_execution 1000
(the grader's lever), and with 1000 plus float32 data (a lever tried and dropped), side by side.

    .venv/bin/python bench/fit_speed.py [--epochs 10]

One process, one TensorFlow thread, the real data, the same seed. For each setting it times
``fit`` (the lesson's batch size and validation split), ``evaluate`` and the first ``predict``,
gives the CPU seconds ``fit`` used (TensorFlow's input pipeline has threads of its own), and says
whether the weights match the default's bit for bit. The float32 data is cast by TensorFlow's own
cast, the operation the lesson's model starts with; BENCHMARKS.md says why the grader does not.
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf
from tensorflow.keras.datasets import fashion_mnist


def run(steps_per_execution, epochs, data, float32=False):
    (x_train, y_train), (x_test, y_test) = data
    if float32:
        x_train, x_test = (tf.cast(x, tf.float32).numpy() for x in (x_train, x_test))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    timings = {}
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    timings["fit"] = time.perf_counter() - started
    timings["fit, CPU seconds"] = time.process_time() - cpu
    started = time.perf_counter()
    model.evaluate(x_test, y_test, verbose=0)
    timings["evaluate"] = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(x_test, verbose=0)
    timings["first predict"] = time.perf_counter() - started
    return timings, model.get_weights()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    data = (x_train / 255.0, y_train), (x_test / 255.0, y_test)
    default, default_weights = run(1, args.epochs, data)
    fast, fast_weights = run(1000, args.epochs, data)
    cast, cast_weights = run(1000, args.epochs, data, float32=True)
    print(f"| step ({args.epochs} epochs, 1 thread) | as written | steps_per_execution=1000 | ratio "
          f"| 1000 and float32 data | ratio |")
    print("|---|---|---|---|---|---|")
    for name in default:
        print(f"| {name} | {default[name]:.2f} s | {fast[name]:.2f} s | {default[name] / fast[name]:.2f}x "
              f"| {cast[name]:.2f} s | {default[name] / cast[name]:.2f}x |")
    for label, weights in (("steps_per_execution=1000", fast_weights), ("1000 and float32 data", cast_weights)):
        identical = all(np.array_equal(a, b) for a, b in zip(default_weights, weights, strict=True))
        print(f"\nweights identical bit for bit, {label}: {identical}")


if __name__ == "__main__":
    main()
