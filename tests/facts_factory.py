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
