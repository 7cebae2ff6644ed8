"""The rubric: one small function per check, over ``SubmissionFacts``.

A check returns ``None`` when it passes, or one message that names the student's
variable, the expected and the observed value, and a hint. The same functions
serve the student's ``grader.check`` (public checks only) and the instructor's
grader (all checks, with the grader's own figures in ``facts.grader``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .facts import ArrayFacts, ModelFacts, SubmissionFacts

QUESTIONS = ("q1_load", "q2_model", "q3_compile", "q4_fit", "q5_evaluate", "q6_predict")

TRAIN_IMAGES, TEST_IMAGES, CLASSES = 60_000, 10_000, 10
EPOCHS, BATCH_SIZE, VALIDATION_SPLIT = 10, 32, 0.2
STEPS_PER_EPOCH = 1_500  # 60,000 x (1 - 0.2) / 32
PARAMETERS = 101_770  # 784 x 128 + 128 + 128 x 10 + 10
ACCURACY_TOLERANCE = 0.005  # test_acc may differ this much from the grader's own evaluation
MIN_ARGMAX_AGREEMENT = 0.999  # float noise may flip a near-tie on a handful of images


@dataclass(frozen=True)
class Check:
    question: str
    description: str
    points: int
    hidden: bool
    function: Callable[[SubmissionFacts], str | None]


@dataclass(frozen=True)
class CheckResult:
    question: str
    description: str
    points: int
    hidden: bool
    message: str | None  # None when the check passed

    @property
    def passed(self) -> bool:
        return self.message is None

    @property
    def score(self) -> int:
        return self.points if self.passed else 0


# --- helpers that phrase the common failures -----------------------------------------------


def _not_defined(name: str, placeholder: bool = False) -> str:
    if placeholder:  # the template's `x_train = ...` was run but not yet replaced
        return f"{name} still holds the placeholder `...`: replace the `...` with your code, then run that cell"
    return f"{name} is not defined: run the cell that assigns {name} (and every cell above it)"


def _unusable(name: str, variable, hint: str) -> str | None:
    """The message for a variable that is missing or not usable at all (a list, a string...)."""
    if not variable.defined:
        return _not_defined(name, variable.placeholder)
    if variable.problem:
        return f"{name} {variable.problem}: {hint}"
    return None


def _array_unusable(array: ArrayFacts) -> str | None:
    return _unusable(array.name, array, "keep the arrays returned by fashion_mnist.load_data()")


def _model_unusable(model: ModelFacts) -> str | None:
    if not model.defined:
        return _not_defined("model", model.placeholder)
    if model.problem:
        return f"model {model.problem}: build it with Sequential([...])"
    return None


def _first(*messages: str | None) -> str | None:
    return next((message for message in messages if message), None)


def _fmt(number: float) -> str:
    return f"{number:,.4g}" if abs(number) < 1000 else f"{number:,.0f}"


# --- q1_load ---------------------------------------------------------------------------------


def _shape_problem(array: ArrayFacts, expected: tuple[int, ...], hint: str) -> str | None:
    if unusable := _array_unusable(array):
        return unusable
    if array.shape != expected:
        return f"{array.name} has shape {array.shape} but expected {expected}: {hint}"
    return None


def _not_the_data(array: ArrayFacts, verified, what: str, hint: str) -> str | None:
    """At grading, the grader compared ``array`` with load_data()'s value by value (``verified``)."""
    if verified is None or verified is False:
        return f"{array.name} has the expected shape but does not hold Fashion-MNIST's {what} in load_data()'s order: {hint}"
    return None


def image_shapes(facts: SubmissionFacts) -> str | None:
    hint = "load the full data set with fashion_mnist.load_data() and do not reshape or slice it"
    shapes = _first(
        _shape_problem(facts.x_train, (TRAIN_IMAGES, 28, 28), hint),
        _shape_problem(facts.x_test, (TEST_IMAGES, 28, 28), hint),
    )
    if shapes or facts.grader is None:  # the student's check sees only the shapes
        return shapes
    hint = "keep the images fashion_mnist.load_data() returns (scaling them is fine) and do not shuffle or edit them"
    return _first(
        _not_the_data(facts.x_train, facts.grader.x_train_scaling, "training images", hint),
        _not_the_data(facts.x_test, facts.grader.x_test_scaling, "test images", hint),
    )


def label_shapes(facts: SubmissionFacts) -> str | None:
    hint = "keep one integer label per image, exactly as fashion_mnist.load_data() returns them"
    shapes = _first(
        _shape_problem(facts.y_train, (TRAIN_IMAGES,), hint),
        _shape_problem(facts.y_test, (TEST_IMAGES,), hint),
    )
    if shapes or facts.grader is None:
        return shapes
    return _first(
        _not_the_data(facts.y_train, facts.grader.y_train_matches, "training labels", hint),
        _not_the_data(facts.y_test, facts.grader.y_test_matches, "test labels", hint),
    )


def images_are_floats(facts: SubmissionFacts) -> str | None:
    for array in (facts.x_train, facts.x_test):
        if unusable := _array_unusable(array):
            return unusable
        if array.dtype_kind != "f":
            return (
                f"{array.name} has dtype {array.dtype} but expected a floating-point dtype: "
                f"divide by 255.0 so the pixels become floats"
            )
    return None


def images_are_scaled(facts: SubmissionFacts) -> str | None:
    for array in (facts.x_train, facts.x_test):
        if unusable := _array_unusable(array):
            return unusable
        if array.minimum is None or array.maximum is None:
            return f"{array.name} is empty: keep the arrays returned by fashion_mnist.load_data()"
        observed = f"ranges from {_fmt(array.minimum)} to {_fmt(array.maximum)}"
        if array.minimum < 0 or array.maximum > 1:
            return f"{array.name} {observed} but expected values in [0, 1]: divide the pixels by 255.0"
        if abs(array.maximum - 1.0) > 1e-6:
            return (
                f"{array.name} {observed} but expected the brightest pixel to be exactly 1: "
                f"divide by 255.0 (the largest pixel value), once"
            )
    if facts.grader is not None:  # at grading: the values themselves, not only their range
        checked = ((facts.x_train, facts.grader.x_train_scaling, TRAIN_IMAGES), (facts.x_test, facts.grader.x_test_scaling, TEST_IMAGES))
        for array, scaling, images in checked:
            if scaling is None:
                if array.shape != (images, 28, 28):
                    continue  # a slice of the data cannot be compared value by value: the shape check charges it
                return f"{array.name} is in [0, 1] but is not load_data()'s images divided by 255: divide the pixels by 255.0"
            if abs(scaling[0] * 255 - 1) > 1e-6 or abs(scaling[1]) > 1e-6:
                return (f"{array.name} is pixels x {scaling[0]:.4g} + {scaling[1]:.4g} but expected pixels / 255: "
                        f"divide the pixels by 255.0 and nothing else")
    return None


# --- q2_model --------------------------------------------------------------------------------


def _dense_layers(model: ModelFacts):
    return [layer for layer in model.layers if layer.type == "Dense"]


# Scaling inside the model instead of the arrays is charged once, by q1's scaling checks.
SCALING_LAYERS = ("Rescaling", "Lambda")


def layer_types(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = [layer.type for layer in facts.model.layers if layer.type not in SCALING_LAYERS]
    if observed != ["Flatten", "Dense", "Dense"]:
        return (
            f"model has layers {observed} but expected ['Flatten', 'Dense', 'Dense']: "
            f"Flatten turns each 28x28 image into 784 numbers, then two Dense layers classify it"
        )
    if facts.model.operations:  # keras.ops between the layers: not the lesson's network, whatever its layers
        return (f"model computes {list(facts.model.operations)} between its layers but expected only the layers "
                f"['Flatten', 'Dense', 'Dense']: pass each layer's output straight to the next one")
    return None


def dense_units(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = [layer.units for layer in _dense_layers(facts.model)]
    if observed != [128, CLASSES]:
        return (
            f"model's Dense layers have units {observed} but expected [128, 10]: "
            f"a hidden layer of 128 units, then one output unit per clothing class"
        )
    return None


def dense_activations(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = [layer.activation for layer in _dense_layers(facts.model)]
    if observed != ["relu", "softmax"]:
        return (
            f"model's Dense layers use activations {observed} but expected ['relu', 'softmax']: "
            f"relu in the hidden layer, softmax on the output so it gives class probabilities"
        )
    return None


def input_shape(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = facts.model.input_shape
    if observed != (None, 28, 28):
        return (
            f"model has input shape {observed} but expected (None, 28, 28): "
            f"start the model with keras.Input(shape=(28, 28)) or give Flatten input_shape=(28, 28), "
            f"one 28x28 image per example"
        )
    return None


def parameter_count(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = facts.model.param_count
    if observed is None:
        return ("model has not been built, so it has no parameters yet: start the model with "
                "keras.Input(shape=(28, 28)) or give Flatten input_shape=(28, 28)")
    if observed != PARAMETERS:
        return (
            f"model has {observed:,} parameters but expected {PARAMETERS:,}: "
            f"784x128 weights + 128 biases + 128x10 weights + 10 biases"
        )
    return None


# --- q3_compile ------------------------------------------------------------------------------


def _compiled_problem(model: ModelFacts) -> str | None:
    if unusable := _model_unusable(model):
        return unusable
    if not model.compiled:
        return "model has not been compiled: call model.compile(optimizer=..., loss=..., metrics=...)"
    return None


def optimizer_is_adam(facts: SubmissionFacts) -> str | None:
    model = facts.model
    if unusable := _compiled_problem(model):
        return unusable
    if model.optimizer != "adam":
        return f"optimizer is {model.optimizer!r} but expected 'adam': pass optimizer='adam' to model.compile"
    return None


def loss_is_sparse_crossentropy(facts: SubmissionFacts) -> str | None:
    model = facts.model
    if unusable := _compiled_problem(model):
        return unusable
    if model.loss == "sparse_categorical_crossentropy":
        return None
    integer_labels = facts.y_train.dtype_kind in ("i", "u") and len(facts.y_train.shape or ()) == 1
    if model.loss == "categorical_crossentropy" and integer_labels:
        return (
            "loss is 'categorical_crossentropy' but y_train holds integer labels: "
            "use 'sparse_categorical_crossentropy'"
        )
    return (
        f"loss is {model.loss!r} but expected 'sparse_categorical_crossentropy': "
        f"the labels are integers 0-9 and the output is a softmax over 10 classes"
    )


def metrics_include_accuracy(facts: SubmissionFacts) -> str | None:
    model = facts.model
    if unusable := _compiled_problem(model):
        return unusable
    accepted = {"accuracy", "acc", "sparse_categorical_accuracy"}
    if not accepted & set(model.metrics):
        return f"metrics are {list(model.metrics)} but expected ['accuracy']: pass metrics=['accuracy'] to model.compile"
    return None


# --- q4_fit ----------------------------------------------------------------------------------


def _history_problem(facts: SubmissionFacts) -> str | None:
    history = facts.history
    if not history.defined:
        if history.placeholder:
            return "history still holds the placeholder `...`: assign history = model.fit(...) and run that cell"
        return (
            "history is not defined and model.history holds no training record: "
            "assign history = model.fit(...)"
        )
    if history.problem:
        return f"{history.source} {history.problem}: assign history = model.fit(...)"
    if not history.epochs_recorded:
        return f"{history.source} records no completed epoch: model.fit stopped with an error; fix it and run the cell again"
    claimed = history.epochs_recorded * (history.steps_per_epoch or 0)
    taken = facts.model.optimizer_iterations
    if taken is None or taken < claimed:
        shown = "there is no trained model to show them" if taken is None else f"model took only {taken:,}"
        return (
            f"{history.source} records {claimed:,} training steps but {shown}: "
            f"history must come from fitting this model; build, compile and fit it in order"
        )
    return None


def epochs_trained(facts: SubmissionFacts) -> str | None:
    if problem := _history_problem(facts):
        return problem
    history = facts.history
    if history.epochs != EPOCHS or history.epochs_recorded != EPOCHS:
        observed = history.epochs_recorded if history.epochs == EPOCHS else history.epochs
        return f"{history.source} shows {observed} epochs but expected {EPOCHS}: pass epochs=10 to model.fit"
    return None


def steps_per_epoch(facts: SubmissionFacts) -> str | None:
    if problem := _history_problem(facts):
        return problem
    observed = facts.history.steps_per_epoch
    if observed != STEPS_PER_EPOCH:
        return (
            f"{facts.history.source} shows {observed} steps per epoch but expected {STEPS_PER_EPOCH:,} "
            f"(48,000 training images after validation_split=0.2, in batches of 32): "
            f"pass batch_size=32 and validation_split=0.2 to model.fit"
        )
    return None


def validation_recorded(facts: SubmissionFacts) -> str | None:
    if problem := _history_problem(facts):
        return problem
    names = facts.history.metric_names
    if not ({"val_loss"} <= set(names) and facts.history.val_accuracy):
        return (
            f"{facts.history.source} records {list(names)} but expected val_loss and val_accuracy too: "
            f"pass validation_split=0.2 to model.fit"
        )
    return None


def trained_once(facts: SubmissionFacts) -> str | None:
    if unusable := _model_unusable(facts.model):
        return unusable
    observed = facts.model.optimizer_iterations
    expected = EPOCHS * STEPS_PER_EPOCH
    if observed != expected:
        shown = "no" if not observed else f"{observed:,}"
        if observed and observed > expected and facts.grader is not None:  # graded: one run from the top did this
            return (
                f"model took {shown} training steps but expected {expected:,} (10 epochs x 1,500 steps): "
                f"run from the top, the notebook trains the same model more than once; call model.fit once"
            )
        if observed and observed > expected:  # in the student's kernel: usually the fit cell run twice
            return (
                f"model took {shown} training steps but expected {expected:,} (10 epochs x 1,500 steps): "
                f"re-running the fit cell trains the same model further; the grader runs your notebook once "
                f"from the top, so restart and run all (Kernel > Restart & Run All) to clear this"
            )
        return (
            f"model took {shown} training steps but expected {expected:,} (10 epochs x 1,500 steps): "
            f"compile and fit the same model once; re-running the fit cell trains it further"
        )
    return None


# --- q5_evaluate -----------------------------------------------------------------------------


def test_acc_is_a_fraction(facts: SubmissionFacts) -> str | None:
    test_acc = facts.test_acc
    if unusable := _unusable("test_acc", test_acc, "use test_loss, test_acc = model.evaluate(x_test, y_test)"):
        return unusable
    if not 0.0 <= test_acc.value <= 1.0:
        return (
            f"test_acc is {test_acc.value:g} but expected a fraction between 0 and 1: "
            f"use test_loss, test_acc = model.evaluate(x_test, y_test)"
        )
    return None


def _grader_problem(facts: SubmissionFacts) -> str | None:
    if facts.grader is None:
        return "the grader's own evaluation is missing: this check runs only when the notebook is graded"
    if facts.grader.problem:
        return f"the grader could not evaluate model: {facts.grader.problem}"
    return None


def test_acc_matches_grader(facts: SubmissionFacts) -> str | None:
    if problem := test_acc_is_a_fraction(facts) or _grader_problem(facts):
        return problem
    observed, expected = facts.test_acc.value, facts.grader.test_accuracy
    if abs(observed - expected) > ACCURACY_TOLERANCE:
        return (
            f"test_acc is {observed:.4f} but the grader's evaluation of model on {_evaluated_on(facts)} gives "
            f"{expected:.4f}: compute test_acc with model.evaluate(x_test, y_test) after training, and do not change it"
        )
    return None


def _evaluated_on(facts: SubmissionFacts) -> str:
    return facts.grader.evaluated_on or "the test set"


def accuracy_above_threshold(facts: SubmissionFacts) -> str | None:
    if problem := _grader_problem(facts):
        return problem
    observed, threshold = facts.grader.test_accuracy, facts.grader.accuracy_threshold
    if threshold is None:
        return "the grader was given no accuracy threshold: record one with `python -m autograder calibrate`"
    if observed is None or observed < threshold:
        shown = "no accuracy" if observed is None else f"{observed:.4f}"
        return (
            f"model reaches {shown} on {_evaluated_on(facts)} but expected at least {threshold:.4f}: "
            f"train the lesson's model on the scaled data for 10 epochs"
        )
    return None


# --- q6_predict ------------------------------------------------------------------------------


def _predictions_problem(facts: SubmissionFacts) -> str | None:
    return _unusable("predictions", facts.predictions, "use predictions = model.predict(x_test)")


def predictions_shape(facts: SubmissionFacts) -> str | None:
    if problem := _predictions_problem(facts):
        return problem
    if facts.predictions.shape != (TEST_IMAGES, CLASSES):
        return (
            f"predictions has shape {facts.predictions.shape} but expected (10000, 10): "
            f"predict every test image, predictions = model.predict(x_test)"
        )
    return None


def predictions_are_probabilities(facts: SubmissionFacts) -> str | None:
    if problem := _predictions_problem(facts):
        return problem
    predictions = facts.predictions
    if predictions.minimum is None or predictions.max_row_sum_error is None:
        return f"predictions has shape {predictions.shape} but expected one row of 10 probabilities per image"
    if predictions.minimum < -1e-6 or predictions.max_row_sum_error > 1e-3:
        return (
            f"predictions rows have minimum {predictions.minimum:.3g} and sums off 1 by up to "
            f"{predictions.max_row_sum_error:.3g} but expected probabilities summing to 1: "
            f"keep softmax on the output layer and use model.predict"
        )
    return None


def predictions_match_model(facts: SubmissionFacts) -> str | None:
    if problem := predictions_shape(facts) or _grader_problem(facts):
        return problem
    agreement = facts.grader.argmax_agreement
    if agreement is None or agreement < MIN_ARGMAX_AGREEMENT:
        shown = "none" if agreement is None else f"{agreement:.1%}"
        return (
            f"predictions pick the same class as the grader's predictions of model on {shown} of {_evaluated_on(facts)} "
            f"but expected all of them: compute predictions = model.predict(x_test) with the trained model, after training"
        )
    return None


RUBRIC: tuple[Check, ...] = (
    Check("q1_load", "x_train and x_test have the full data set's shapes", 1, False, image_shapes),
    Check("q1_load", "y_train and y_test hold one label per image", 1, False, label_shapes),
    Check("q1_load", "images are floating point", 1, False, images_are_floats),
    Check("q1_load", "pixels are scaled to [0, 1]", 1, False, images_are_scaled),
    Check("q2_model", "layers are Flatten, Dense, Dense", 1, False, layer_types),
    Check("q2_model", "Dense layers have 128 and 10 units", 1, False, dense_units),
    Check("q2_model", "activations are relu and softmax", 1, False, dense_activations),
    Check("q2_model", "input shape is (None, 28, 28)", 1, False, input_shape),
    Check("q2_model", "101,770 parameters", 1, False, parameter_count),
    Check("q3_compile", "optimizer is Adam", 1, False, optimizer_is_adam),
    Check("q3_compile", "loss is sparse categorical cross-entropy", 1, False, loss_is_sparse_crossentropy),
    Check("q3_compile", "metrics include accuracy", 1, False, metrics_include_accuracy),
    Check("q4_fit", "10 epochs", 1, False, epochs_trained),
    Check("q4_fit", "1,500 steps per epoch (batch size 32, validation split 0.2)", 1, False, steps_per_epoch),
    Check("q4_fit", "validation metrics recorded", 1, False, validation_recorded),
    Check("q4_fit", "model trained exactly 10 x 1,500 steps", 1, False, trained_once),
    # Feedback only (0 points): any constant passes it. The points are for the verified value.
    Check("q5_evaluate", "test_acc is a fraction", 0, False, test_acc_is_a_fraction),
    Check("q5_evaluate", "test_acc matches the grader's evaluation", 2, True, test_acc_matches_grader),
    Check("q5_evaluate", "test accuracy reaches the threshold", 1, True, accuracy_above_threshold),
    # Feedback only: an invented array of the right form passes both. The points are for agreeing with the model.
    Check("q6_predict", "predictions have shape (10000, 10)", 0, False, predictions_shape),
    Check("q6_predict", "rows are probability distributions", 0, False, predictions_are_probabilities),
    Check("q6_predict", "argmax agrees with the grader's predictions", 3, True, predictions_match_model),
)


def max_points(question: str) -> int:
    return sum(check.points for check in RUBRIC if check.question == question)


def run_checks(facts: SubmissionFacts, *, questions=QUESTIONS, include_hidden: bool = True) -> list[CheckResult]:
    """Run every check of ``questions`` (hidden ones too unless told otherwise)."""
    unknown = set(questions) - set(QUESTIONS)
    if unknown:
        raise ValueError(f"unknown question {sorted(unknown)}: expected one of {list(QUESTIONS)}")
    return [
        CheckResult(check.question, check.description, check.points, check.hidden, check.function(facts))
        for check in RUBRIC
        if check.question in questions and (include_hidden or not check.hidden)
    ]
