"""The training lever alone: the lesson's model with steps_per_execution 1 and 1000, side by side.

    .venv/bin/python bench/fit_speed.py [--epochs 2]

One process, one TensorFlow thread, the real data, the same seed. For each setting it times
``fit`` (the lesson's batch size and validation split), ``evaluate`` and the first ``predict``,
and says whether the weights match the default's bit for bit.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
import keras
from tensorflow.keras.datasets import fashion_mnist


def run(steps_per_execution, epochs, data):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    timings = {}
    started = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    timings["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    model.evaluate(x_test, y_test, verbose=0)
    timings["evaluate"] = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(x_test, verbose=0)
    timings["first predict"] = time.perf_counter() - started
    return timings, model.get_weights()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    data = (x_train / 255.0, y_train), (x_test / 255.0, y_test)
    default, default_weights = run(1, args.epochs, data)
    fast, fast_weights = run(1000, args.epochs, data)
    identical = all(np.array_equal(a, b) for a, b in zip(default_weights, fast_weights))
    print(f"| step ({args.epochs} epochs, 1 thread) | steps_per_execution=1 | steps_per_execution=1000 | ratio |")
    print("|---|---|---|---|")
    for name in default:
        print(f"| {name} | {default[name]:.2f} s | {fast[name]:.2f} s | {default[name] / fast[name]:.2f}x |")
    print(f"\nweights identical bit for bit: {identical}")


if __name__ == "__main__":
    main()
