"""Facts from live Keras objects: small synthetic models, no real training."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from autograder.rubric.describe import MISSING, describe_array, describe_history, describe_model, describe_predictions, describe_scalar
from autograder.rubric.public import assert_public


def lesson_model():
    return keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


@pytest.mark.parametrize("optimizer, loss, metrics", [
    ("adam", "sparse_categorical_crossentropy", ["accuracy"]),
    ("Adam", "SparseCategoricalCrossentropy", ["acc"]),
    (lambda: keras.optimizers.Adam(), lambda: keras.losses.SparseCategoricalCrossentropy(), lambda: [keras.metrics.SparseCategoricalAccuracy()]),
    (lambda: keras.optimizers.Adam(learning_rate=0.001), lambda: keras.losses.sparse_categorical_crossentropy, lambda: ["sparse_categorical_accuracy"]),
])
def test_compile_forms_string_function_and_object_all_pass(optimizer, loss, metrics):
    model = lesson_model()
    make = lambda value: value() if callable(value) and not isinstance(value, str) else value  # noqa: E731
    model.compile(optimizer=make(optimizer), loss=make(loss), metrics=make(metrics))
    facts = describe_model(model)
    assert (facts.optimizer, facts.loss) == ("adam", "sparse_categorical_crossentropy")
    assert set(facts.metrics) & {"accuracy", "acc", "sparse_categorical_accuracy"}
    assert_public("q3_compile", model=model, y_train=np.zeros(3, dtype=np.uint8))


def test_structure_facts_of_the_lesson_model():
    facts = describe_model(lesson_model())
    assert [(layer.type, layer.units, layer.activation) for layer in facts.layers] == [
        ("Flatten", None, None), ("Dense", 128, "relu"), ("Dense", 10, "softmax"),
    ]
    assert facts.input_shape == (None, 28, 28) and facts.param_count == 101_770
    assert not facts.compiled
    assert_public("q2_model", model=lesson_model())


def test_public_check_messages_name_the_variable_and_the_fix():
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(64, activation="sigmoid"),
                              keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(AssertionError) as failure:
        assert_public("q2_model", model=model)
    text = str(failure.value)
    assert "units [64, 10] but expected [128, 10]" in text
    assert "activations ['sigmoid', 'softmax'] but expected ['relu', 'softmax']" in text
    assert "50,890 parameters but expected 101,770" in text


def test_public_check_of_a_missing_model_says_not_defined():
    with pytest.raises(AssertionError, match="model is not defined") as failure:
        assert_public("q2_model", model=None)
    assert str(failure.value).count("model is not defined") == 1  # five checks fail, the sentence is said once


def test_public_check_of_the_templates_placeholder_says_so():
    with pytest.raises(AssertionError) as failure:
        assert_public("q1_load", x_train=Ellipsis, y_train=None, x_test=Ellipsis, y_test=None)
    text = str(failure.value)
    assert "x_train still holds the placeholder `...`" in text and "is not defined: run the cell that assigns x_train" not in text
    assert "y_train is not defined" in text
    assert len(text.splitlines()) == len(set(text.splitlines()))


def test_history_and_iterations_from_a_tiny_fit_and_model_history_fallback():
    model = lesson_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).random((50, 28, 28)), np.arange(50) % 10
    history = model.fit(x, y, epochs=2, batch_size=10, validation_split=0.2, verbose=0)
    facts = describe_history(history)
    assert (facts.epochs, facts.steps_per_epoch, facts.epochs_recorded) == (2, 4, 2)
    assert {"val_loss", "val_accuracy"} <= set(facts.metric_names) and len(facts.val_accuracy) == 2
    fallback = describe_history(MISSING, model)
    assert fallback.source == "model.history" and fallback.steps_per_epoch == 4
    assert describe_model(model).optimizer_iterations == 8


def test_arrays_scalars_and_predictions():
    assert describe_array("x", np.arange(4, dtype=np.uint8)).maximum == 3.0
    assert describe_array("x", ["a", "b"]).problem.startswith("is a list")
    assert describe_array("x", ...).defined is False
    assert describe_scalar("t", np.float32(0.5)).value == 0.5
    assert describe_scalar("t", "0.5").problem == "is a str, not a number"
    assert describe_scalar("t", float("nan")).problem.startswith("is nan")
    rows = describe_predictions(np.full((3, 10), 0.1))
    assert rows.shape == (3, 10) and rows.max_row_sum_error < 1e-9


@pytest.mark.parametrize("build", [
    lambda: keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")]),
    lambda: (lambda inputs: keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(
        keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inputs)))))(keras.Input(shape=(28, 28))),
], ids=["sequential_with_input", "functional"])
def test_the_same_network_through_any_public_api_has_the_same_facts(build):
    """The functional API lists its Input as a layer; the student did not choose it, so it is not described."""
    facts, lesson = describe_model(build()), describe_model(lesson_model())
    assert (facts.layers, facts.input_shape, facts.param_count) == (lesson.layers, lesson.input_shape, lesson.param_count)
    assert_public("q2_model", model=build())


def test_keras_ops_between_layers_are_described_and_break_the_structure_check():
    """ops.square and ops.sin between the layers are no Layer objects: model.layers alone reads Flatten, Dense, Dense."""
    inputs = keras.Input((28, 28))
    hidden = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inputs))
    hidden = keras.ops.sin(keras.ops.square(hidden)) + 1.0
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    facts = describe_model(model)
    assert [layer.type for layer in facts.layers] == ["Flatten", "Dense", "Dense"]
    assert facts.operations == ("Square", "Sin", "Add")
    with pytest.raises(AssertionError) as failure:
        assert_public("q2_model", model=model)
    assert "model computes ['Square', 'Sin', 'Add'] between its layers" in str(failure.value)


def test_models_of_layers_alone_have_no_operations():
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inputs)))
    for model in (lesson_model(), keras.Model(inputs, outputs),
                  keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])):
        assert describe_model(model).operations == ()
    assert_public("q2_model", model=keras.Model(inputs, outputs))


# --- issue 18: each built-in layer's defining attributes, live and from the saved config ---------------------


@pytest.mark.parametrize("make, expected", [
    (lambda: keras.layers.Conv2D(8, 3, activation="relu"),
     dict(type="Conv2D", filters=8, kernel_size=(3, 3), strides=(1, 1), padding="valid", activation="relu", param_count=80)),
    (lambda: keras.layers.Conv2D(4, (5, 5), strides=2, padding="same"),
     dict(type="Conv2D", filters=4, kernel_size=(5, 5), strides=(2, 2), padding="same", activation="linear", param_count=104)),
    (lambda: keras.layers.MaxPooling2D(), dict(type="MaxPooling2D", pool_size=(2, 2), strides=(2, 2), padding="valid")),
    (lambda: keras.layers.AveragePooling2D(3), dict(type="AveragePooling2D", pool_size=(3, 3), strides=(3, 3))),
    (lambda: keras.layers.Dropout(0.25), dict(type="Dropout", rate=0.25, param_count=0)),
    (lambda: keras.layers.BatchNormalization(), dict(type="BatchNormalization", param_count=4)),
    (lambda: keras.layers.Rescaling(1 / 255), dict(type="Rescaling", scale=1 / 255, offset=0.0)),
    (lambda: keras.layers.Reshape((28, 28, 1)), dict(type="Reshape", target_shape=(28, 28, 1))),
])
def test_each_layer_types_defining_attributes_are_facts(make, expected):
    from autograder.rubric.describe import describe_model_config

    shape = (28, 28) if expected["type"] == "Reshape" else (28, 28, 1)
    model = keras.Sequential([keras.Input(shape=shape), make()])
    [layer] = describe_model(model).layers
    assert {name: getattr(layer, name) for name in expected} == pytest.approx(expected) if "scale" in expected else \
        {name: getattr(layer, name) for name in expected} == expected
    # Read as data from the saved config (a model safe mode refused): the same attributes, without the parameter count.
    [saved] = describe_model_config({"config": model.get_config()}, [], None).layers
    wanted = {name: value for name, value in expected.items() if name != "param_count"}
    assert {name: getattr(saved, name) for name in wanted} == pytest.approx(wanted) if "scale" in wanted else \
        {name: getattr(saved, name) for name in wanted} == wanted


def test_functional_model_has_the_same_layer_facts_as_sequential_and_a_set_learning_rate_is_a_fact():
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.MaxPooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inputs))
    functional = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
    sequential = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                                   keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                                   keras.layers.Dense(10, activation="softmax")])
    for model in (functional, sequential):
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.002), loss="sparse_categorical_crossentropy")
    assert describe_model(functional).layers == describe_model(sequential).layers
    facts = describe_model(functional)
    assert (facts.optimizer, round(facts.learning_rate, 7), facts.param_count) == ("rmsprop", 0.002, 13_610)
