"""Facts of a perfect submission, to vary one attribute at a time in unit tests."""

from dataclasses import replace

from autograder.rubric.facts import (
    ArrayFacts, GraderFacts, HistoryFacts, LayerFacts, ModelFacts, PredictionFacts, ScalarFacts, SubmissionFacts,
)


def perfect_facts() -> SubmissionFacts:
    return SubmissionFacts(
        x_train=ArrayFacts("x_train", True, None, (60000, 28, 28), "float64", "f", 0.0, 1.0),
        y_train=ArrayFacts("y_train", True, None, (60000,), "uint8", "u", 0.0, 9.0),
        x_test=ArrayFacts("x_test", True, None, (10000, 28, 28), "float64", "f", 0.0, 1.0),
        y_test=ArrayFacts("y_test", True, None, (10000,), "uint8", "u", 0.0, 9.0),
        model=ModelFacts(
            defined=True,
            layers=(LayerFacts("Flatten"), LayerFacts("Dense", 128, "relu"), LayerFacts("Dense", 10, "softmax")),
            input_shape=(None, 28, 28),
            param_count=101_770,
            compiled=True,
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=("accuracy",),
            optimizer_iterations=15_000,
        ),
        history=HistoryFacts(
            defined=True, source="history", epochs=10, steps_per_epoch=1500, epochs_recorded=10,
            metric_names=("accuracy", "loss", "val_accuracy", "val_loss"),
            train_accuracy=(0.8,) * 10, val_accuracy=(0.85,) * 10,
        ),
        test_loss=ScalarFacts("test_loss", True, None, 0.34),
        test_acc=ScalarFacts("test_acc", True, None, 0.8812),
        predictions=PredictionFacts(True, None, (10000, 10), 0.0, 1e-7),
        grader=GraderFacts(test_accuracy=0.8810, argmax_agreement=1.0, accuracy_threshold=0.868,
                           x_train_scaling=(1 / 255, 0.0), x_test_scaling=(1 / 255, 0.0),
                           y_train_matches=True, y_test_matches=True, evaluated_on="x_test scaled to [0, 1]"),
    )


def with_model(facts: SubmissionFacts, **changes) -> SubmissionFacts:
    return replace(facts, model=replace(facts.model, **changes))


def with_history(facts: SubmissionFacts, **changes) -> SubmissionFacts:
    return replace(facts, history=replace(facts.history, **changes))


def with_grader(facts: SubmissionFacts, **changes) -> SubmissionFacts:
    return replace(facts, grader=replace(facts.grader, **changes))


# --- a second assignment: a small CNN, as tests/assignments/small_cnn.ipynb's reference establishes it ---------


def cnn_expected():
    """The expected facts of the small CNN: Conv2D(8, 3, relu), MaxPooling2D, Flatten, Dense(10, softmax) on
    (28, 28, 1) images scaled to [0, 1]; RMSprop(learning_rate=0.002); 3 epochs, batch size 64, validation split 0.1."""
    from autograder.rubric.expected import (Expected, ExpectedArray, ExpectedCompile, ExpectedData, ExpectedFit,
                                            ExpectedLayer, ExpectedModel)

    images = dict(dtype_kind="f", scaling=(float(f"{1 / 255:.12g}"), 0.0), minimum=0.0, maximum=1.0)  # as the record keeps it
    return Expected(
        data=ExpectedData(ExpectedArray((60000, 28, 28, 1), **images), ExpectedArray((60000,)),
                          ExpectedArray((10000, 28, 28, 1), **images), ExpectedArray((10000,))),
        model=ExpectedModel(layers=(ExpectedLayer("Conv2D", filters=8, kernel_size=(3, 3), activation="relu", param_count=80),
                                    ExpectedLayer("MaxPooling2D", param_count=0), ExpectedLayer("Flatten", param_count=0),
                                    ExpectedLayer("Dense", units=10, activation="softmax", param_count=13530)),
                            input_shape=(None, 28, 28, 1), param_count=13610),
        compile=ExpectedCompile("rmsprop", "sparse_categorical_crossentropy", ("accuracy",), learning_rate=0.002),
        fit=ExpectedFit(epochs=3, steps_per_epoch=844, validation=True, batch_size=64, validation_split=0.1),
        predictions_shape=(10000, 10),
    )


def cnn_facts() -> SubmissionFacts:
    """A perfect submission of the small CNN."""
    facts = perfect_facts()
    image = lambda array, n: replace(array, shape=(n, 28, 28, 1))  # noqa: E731
    return replace(
        facts, x_train=image(facts.x_train, 60000), x_test=image(facts.x_test, 10000),
        model=replace(facts.model, layers=(
            LayerFacts("Conv2D", activation="relu", filters=8, kernel_size=(3, 3), strides=(1, 1), padding="valid", param_count=80),
            LayerFacts("MaxPooling2D", pool_size=(2, 2), strides=(2, 2), padding="valid", param_count=0),
            LayerFacts("Flatten", param_count=0), LayerFacts("Dense", 10, "softmax", param_count=13530)),
            input_shape=(None, 28, 28, 1), param_count=13610, optimizer="rmsprop", learning_rate=0.002,
            optimizer_iterations=3 * 844),
        history=replace(facts.history, epochs=3, steps_per_epoch=844, epochs_recorded=3,
                        train_accuracy=(0.8,) * 3, val_accuracy=(0.85,) * 3),
    )
