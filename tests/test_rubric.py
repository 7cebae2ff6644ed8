"""Each rubric check on facts, without TensorFlow: it passes the perfect submission and
fails exactly when its attribute is wrong, with a message naming variable, expected,
observed and a hint."""

from dataclasses import replace

import pytest

from autograder.rubric import QUESTIONS, RUBRIC, SubmissionFacts, checks, max_points, run_checks
from autograder.rubric.facts import ArrayFacts, LayerFacts, PredictionFacts, ScalarFacts
from facts_factory import perfect_facts, with_grader, with_history, with_model


def failed(facts) -> dict[str, str]:
    return {r.description: r.message for r in run_checks(facts) if not r.passed}


def test_perfect_submission_passes_every_check():
    assert failed(perfect_facts()) == {}
    assert sum(r.score for r in run_checks(perfect_facts())) == 22


def test_points_per_question_match_the_master_notebook():
    assert {q: max_points(q) for q in QUESTIONS} == {
        "q1_load": 4, "q2_model": 5, "q3_compile": 3, "q4_fit": 4, "q5_evaluate": 3, "q6_predict": 3,
    }


def test_empty_facts_fail_every_check_with_not_defined_messages():
    results = run_checks(SubmissionFacts())
    assert all(not r.passed for r in results)
    assert sum(r.score for r in results) == 0  # nothing excused: one missing model is no "other mistake"
    assert len(results) == len(RUBRIC)
    messages = " ".join(r.message for r in results)
    for name in ("x_train", "y_train", "model", "history", "test_acc", "predictions"):
        assert f"{name} is not defined" in messages
    assert "AttributeError" not in messages and "None" not in messages.replace("NoneType", "")


@pytest.mark.parametrize("change, lost, words", [
    (dict(x_train=ArrayFacts("x_train", True, None, (2000, 28, 28), "float64", "f", 0.0, 1.0)),
     {"x_train and x_test have the full data set's shapes"}, ["x_train", "(2000, 28, 28)", "(60000, 28, 28)"]),
    (dict(y_test=ArrayFacts("y_test", True, None, (10000, 10), "float32", "f", 0.0, 1.0)),
     {"y_train and y_test hold one label per image"}, ["y_test", "(10000, 10)", "(10000,)"]),
    (dict(x_train=ArrayFacts("x_train", True, None, (60000, 28, 28), "uint8", "u", 0.0, 255.0)),
     {"images are floating point", "pixels are scaled to [0, 1]"}, ["x_train", "uint8", "255"]),
    (dict(x_test=ArrayFacts("x_test", True, None, (10000, 28, 28), "float64", "f", 0.0, 255 / 256)),
     {"pixels are scaled to [0, 1]"}, ["x_test", "0.9961", "exactly 1", "255.0"]),
])
def test_q1_checks(change, lost, words):
    messages = failed(replace(perfect_facts(), **change))
    assert set(messages) == lost
    for word in words:
        assert any(word in message for message in messages.values()), (word, messages)


@pytest.mark.parametrize("change, lost, words", [
    (dict(layers=(LayerFacts("Flatten"), LayerFacts("Dense", 128, "relu"), LayerFacts("Dropout"), LayerFacts("Dense", 10, "softmax"))),
     {"layers are Flatten, Dense, Dense"}, ["Dropout", "['Flatten', 'Dense', 'Dense']"]),
    (dict(layers=(LayerFacts("Flatten"), LayerFacts("Dense", 64, "relu"), LayerFacts("Dense", 10, "softmax"))),
     {"Dense layers have 128 and 10 units"}, ["[64, 10]", "[128, 10]"]),
    (dict(layers=(LayerFacts("Flatten"), LayerFacts("Dense", 128, "sigmoid"), LayerFacts("Dense", 10, "softmax"))),
     {"activations are relu and softmax"}, ["sigmoid", "relu"]),
    (dict(input_shape=(None, 784)), {"input shape is (None, 28, 28)"}, ["(None, 784)", "input_shape=(28, 28)"]),
    (dict(param_count=50_890), {"101,770 parameters"}, ["50,890", "101,770"]),
    (dict(param_count=None), {"101,770 parameters"}, ["not been built"]),
    (dict(operations=("Square", "Sin", "Add")), {"layers are Flatten, Dense, Dense"},
     ["model computes ['Square', 'Sin', 'Add'] between its layers"]),  # keras.ops between the layers
])
def test_q2_checks_give_credit_per_attribute(change, lost, words):
    messages = failed(with_model(perfect_facts(), **change))
    assert set(messages) == lost
    for word in words:
        assert any(word in message for message in messages.values()), (word, messages)


def test_q3_categorical_loss_with_integer_labels_gets_the_specific_hint():
    messages = failed(with_model(perfect_facts(), loss="categorical_crossentropy"))
    assert messages == {
        "loss is sparse categorical cross-entropy":
            "loss is 'categorical_crossentropy' but y_train holds integer labels: use 'sparse_categorical_crossentropy'"
    }


@pytest.mark.parametrize("change, lost, words", [
    (dict(optimizer="sgd"), {"optimizer is Adam"}, ["'sgd'", "'adam'"]),
    (dict(loss="mean_squared_error"), {"loss is sparse categorical cross-entropy"}, ["'mean_squared_error'"]),
    (dict(metrics=()), {"metrics include accuracy"}, ["[]", "['accuracy']"]),
    (dict(metrics=("sparse_categorical_accuracy",)), set(), []),
    (dict(compiled=False, optimizer=None, loss=None, metrics=()),
     {"optimizer is Adam", "loss is sparse categorical cross-entropy", "metrics include accuracy"}, ["not been compiled"]),
])
def test_q3_checks(change, lost, words):
    messages = failed(with_model(perfect_facts(), **change))
    assert set(messages) == lost
    for word in words:
        assert any(word in message for message in messages.values()), (word, messages)


@pytest.mark.parametrize("history_change, model_change, lost, words", [
    (dict(epochs=5, epochs_recorded=5), dict(optimizer_iterations=7500),
     {"10 epochs", "model trained exactly 10 x 1,500 steps"}, ["5 epochs", "epochs=10", "7,500"]),
    (dict(steps_per_epoch=750), dict(optimizer_iterations=7500),
     {"1,500 steps per epoch (batch size 32, validation split 0.2)", "model trained exactly 10 x 1,500 steps"},
     ["750", "batch_size=32"]),
    (dict(metric_names=("accuracy", "loss"), val_accuracy=()), {},
     {"validation metrics recorded"}, ["val_loss", "validation_split=0.2"]),
    ({}, dict(optimizer_iterations=30000), {"model trained exactly 10 x 1,500 steps"}, ["30,000", "15,000"]),
])
def test_q4_checks(history_change, model_change, lost, words):
    facts = with_model(with_history(perfect_facts(), **history_change), **model_change)
    messages = failed(facts)
    assert set(messages) == lost
    for word in words:
        assert any(word in message for message in messages.values()), (word, messages)


def test_q4_accepts_model_history_when_history_was_never_assigned():
    assert failed(with_history(perfect_facts(), source="model.history")) == {}


def test_q5_test_acc_must_match_the_graders_own_figure():
    messages = failed(replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, None, 0.99)))
    assert set(messages) == {"test_acc matches the grader's evaluation"}
    assert "0.9900" in messages["test_acc matches the grader's evaluation"]
    assert "0.8810" in messages["test_acc matches the grader's evaluation"]


def test_q5_tolerance_is_half_a_percentage_point():
    assert failed(replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, None, 0.8859))) == {}
    assert failed(replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, None, 0.8861))) != {}


def test_q5_threshold_uses_the_graders_accuracy_not_test_acc():
    facts = with_grader(replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, None, 0.80)), test_accuracy=0.80)
    assert set(failed(facts)) == {"test accuracy reaches the threshold"}
    assert "0.8000" in failed(facts)["test accuracy reaches the threshold"]


def test_q5_test_acc_that_is_not_a_number():
    messages = failed(replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, "is a str, not a number")))
    assert set(messages) == {"test_acc is a fraction", "test_acc matches the grader's evaluation"}


def test_grader_that_could_not_evaluate_fails_hidden_checks_with_its_reason():
    messages = failed(with_grader(perfect_facts(), problem="model could not be loaded", test_accuracy=None, argmax_agreement=None))
    assert set(messages) == {
        "test_acc matches the grader's evaluation", "test accuracy reaches the threshold",
        "argmax agrees with the grader's predictions",
    }
    assert all("could not be loaded" in message for message in messages.values())


@pytest.mark.parametrize("predictions, grader_change, lost", [
    (PredictionFacts(True, None, (10000,), None, None), {},
     {"predictions have shape (10000, 10)", "rows are probability distributions", "argmax agrees with the grader's predictions"}),
    (PredictionFacts(True, None, (10000, 10), -3.2, 12.0), {}, {"rows are probability distributions"}),
    (PredictionFacts(True, None, (10000, 10), 0.0, 0.0), dict(argmax_agreement=0.881), {"argmax agrees with the grader's predictions"}),
])
def test_q6_checks(predictions, grader_change, lost):
    facts = with_grader(replace(perfect_facts(), predictions=predictions), **grader_change)
    assert set(failed(facts)) == lost


def test_student_side_runs_public_checks_only():
    results = run_checks(SubmissionFacts(), include_hidden=False)
    assert results and not any(r.hidden for r in results)
    assert {r.question for r in results} == set(QUESTIONS)


def test_unknown_question_is_refused():
    with pytest.raises(ValueError, match="q7"):
        run_checks(perfect_facts(), questions=("q7",))


def test_facts_round_trip_through_json_and_reject_unknown_fields():
    import json
    facts = perfect_facts()
    assert SubmissionFacts.from_dict(json.loads(json.dumps(facts.to_dict()))) == facts
    with pytest.raises(TypeError, match="unexpected"):
        SubmissionFacts.from_dict({**facts.to_dict(), "score": 22})


def test_facts_with_wrong_types_are_rejected():
    data = perfect_facts().to_dict()
    data["test_acc"]["value"] = "0.99"
    with pytest.raises(TypeError, match="expected float"):
        SubmissionFacts.from_dict(data)
    data = perfect_facts().to_dict()
    data["model"]["param_count"] = True
    with pytest.raises(TypeError, match="expected int"):
        SubmissionFacts.from_dict(data)


def test_a_fit_that_crashed_before_its_first_epoch_earns_no_history_points():
    # Keras sets history.params (epochs, steps) before the first step, so only the record shows the crash.
    facts = with_model(with_history(perfect_facts(), epochs_recorded=0, metric_names=(), val_accuracy=()), optimizer_iterations=0)
    messages = failed(facts)
    assert {d for d in messages if d != "model trained exactly 10 x 1,500 steps"} == {
        "10 epochs", "1,500 steps per epoch (batch size 32, validation split 0.2)", "validation metrics recorded",
    }
    assert "no completed epoch" in messages["1,500 steps per epoch (batch size 32, validation split 0.2)"]


def test_history_that_claims_more_steps_than_the_model_took_earns_no_history_points():
    # e.g. a patched fit returning a made-up History, or a model rebuilt after fitting
    messages = failed(with_model(perfect_facts(), optimizer_iterations=0))
    assert {d for d in messages} == {
        "10 epochs", "1,500 steps per epoch (batch size 32, validation split 0.2)", "validation metrics recorded",
        "model trained exactly 10 x 1,500 steps",
    }
    assert "records 15,000 training steps but model took only 0" in messages["10 epochs"]
    untrained = messages["model trained exactly 10 x 1,500 steps"]
    assert "has not been trained (0 training steps)" in untrained and "model.fit(epochs=10" in untrained
    assert "re-running" not in untrained  # issue 19.6: nothing to re-run before any training
    assert failed(with_model(perfect_facts(), optimizer_iterations=16_500)).keys() == {"model trained exactly 10 x 1,500 steps"}


def test_history_without_a_model_to_match_earns_no_history_points():
    facts = replace(perfect_facts(), model=replace(perfect_facts().model, defined=False, optimizer_iterations=None))
    message = failed(facts)["10 epochs"]
    assert "records 15,000 training steps but there is no trained model to show them" in message


# --- points for verified work, one mistake one deduction (issue 12) ------------------------------


def score(facts, question) -> int:
    return sum(r.score for r in run_checks(facts) if r.question == question)


def test_a_constant_test_acc_earns_no_point():
    """``test_loss, test_acc = 0.01, 0.99``: a fraction, but not what the model scores; only the threshold,
    which the grader measured itself, is earned."""
    facts = replace(perfect_facts(), test_acc=ScalarFacts("test_acc", True, None, 0.99))
    assert score(facts, "q5_evaluate") == 1
    assert "test_acc is a fraction" not in failed(facts)  # the form is fine: the value is what is wrong


def test_an_invented_predictions_array_of_the_right_form_earns_no_point():
    facts = with_grader(perfect_facts(), argmax_agreement=0.1)  # shape and rows fine, not the model's
    assert score(facts, "q6_predict") == 0


def test_form_checks_carry_no_points_and_every_point_depends_on_the_grader():
    """A check whose points any invented value could earn is feedback only."""
    for check in RUBRIC:
        if check.function in (checks.test_acc_is_a_fraction, checks.predictions_shape, checks.predictions_are_probabilities):
            assert check.points == 0, check.description
    assert sum(check.points for check in RUBRIC) == 22


@pytest.mark.parametrize("grader_change, lost, words", [
    (dict(x_train_scaling=None), {"x_train and x_test have the full data set's shapes", "pixels are scaled to [0, 1]"},
     ["x_train", "Fashion-MNIST's training images", "load_data()"]),
    (dict(y_test_matches=False), {"y_train and y_test hold one label per image"}, ["y_test", "test labels"]),
    (dict(x_test_scaling=(0.5 / 255, 0.5)), {"pixels are scaled to [0, 1]"}, ["x_test", "0.001961", "0.5", "255.0"]),
])
def test_q1_at_grading_the_arrays_are_compared_with_fashion_mnist(grader_change, lost, words):
    messages = failed(with_grader(perfect_facts(), **grader_change))
    assert set(messages) == lost
    for word in words:
        assert any(word in message for message in messages.values()), (word, messages)


def test_q1_on_the_students_side_checks_the_form_only():
    facts = replace(perfect_facts(), grader=None)
    assert not [r for r in run_checks(facts, include_hidden=False) if not r.passed]


def test_a_slice_of_the_data_costs_the_shape_check_only():
    sliced = ArrayFacts("x_train", True, None, (2000, 28, 28), "float64", "f", 0.0, 1.0)
    messages = failed(with_grader(replace(perfect_facts(), x_train=sliced), x_train_scaling=None))
    assert set(messages) == {"x_train and x_test have the full data set's shapes"}


def test_unscaled_pixels_cost_q1_scaling_points_only_when_the_model_is_evaluated_on_them():
    """The grader evaluated the model on x_test as the student prepared it (raw pixels): only q1 is charged."""
    raw = dict(dtype="uint8", dtype_kind="u", maximum=255.0)
    facts = replace(perfect_facts(), x_train=replace(perfect_facts().x_train, **raw), x_test=replace(perfect_facts().x_test, **raw))
    facts = with_grader(facts, x_train_scaling=(1.0, 0.0), x_test_scaling=(1.0, 0.0), evaluated_on="x_test as the notebook prepared it (the unscaled pixels, 0 to 255)")
    assert set(failed(facts)) == {"images are floating point", "pixels are scaled to [0, 1]"}
    assert sum(r.score for r in run_checks(facts)) == 20


@pytest.mark.parametrize("scaling_layer", ["Rescaling", "Lambda"])
def test_scaling_inside_the_model_is_not_charged_again_in_q2(scaling_layer):
    facts = with_model(perfect_facts(), layers=(LayerFacts(scaling_layer),) + perfect_facts().model.layers)
    assert failed(facts) == {}


def test_hidden_check_messages_say_which_test_images_the_grader_used():
    facts = with_grader(perfect_facts(), argmax_agreement=0.5, evaluated_on="x_test as the notebook prepared it (the unscaled pixels, 0 to 255)")
    assert "the unscaled pixels, 0 to 255" in failed(facts)["argmax agrees with the grader's predictions"]


def test_readmes_rubric_table_is_the_rubric():
    """README's "What is graded" table lists every check, its points and where it runs, in order."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = [line.split(" | ") for line in readme.splitlines() if line.startswith("| `q") and line.count(" | ") == 3]
    table = [(question.strip("| `"), check, int(points), runs.rstrip(" |") == "at grading only") for question, check, points, runs in rows]
    assert table == [(c.question, c.description, c.points, c.hidden) for c in RUBRIC]


# --- issue 19.6 and issue 18: one mistake, one point; the expected values come from the record -----------------


def test_one_wrong_layer_size_is_charged_once_the_parameter_count_is_feedback_only():
    facts = with_model(perfect_facts(), layers=(LayerFacts("Flatten"), LayerFacts("Dense", 64, "relu"),
                                                LayerFacts("Dense", 10, "softmax")), param_count=50_890)
    results = {r.description: r for r in run_checks(facts)}
    assert "a hidden layer of 128 units, then one output unit per clothing class" in results["Dense layers have 128 and 10 units"].message
    count = results["101,770 parameters"]
    assert not count.passed and count.excused and count.score == 1 and "50,890" in count.message  # said, not charged
    assert "feedback only" in count.message
    assert sum(r.score for r in results.values()) == 21
    assert max_points("q2_model") == 5
    # Right sizes but a wrong count (no biases, say) is still charged.
    assert failed(with_model(perfect_facts(), param_count=100_000)).keys() == {"101,770 parameters"}


def test_messages_are_phrased_from_the_expected_record():
    from facts_factory import cnn_expected

    expected = cnn_expected()
    messages = {r.description: r.message for r in run_checks(perfect_facts(), expected=expected) if not r.passed}
    assert messages["layers are Conv2D, MaxPooling2D, Flatten, Dense"].startswith(
        "model has layers ['Flatten', 'Dense', 'Dense'] but expected ['Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']")
    assert "filters [] but expected [8]" in messages["Conv2D layers have filters 8, kernel size 3x3; Dense layers have 10 units"]
    assert "(None, 28, 28, 1)" in messages["input shape is (None, 28, 28, 1)"]
    assert "80 in the Conv2D layer" in messages["13,610 parameters"] and "1352x10 weights" in messages["13,610 parameters"]
    assert "keras.optimizers.RMSprop(learning_rate=0.002)" in messages["optimizer is RMSprop with learning rate 0.002"]
    assert "expected 3: pass epochs=3" in messages["3 epochs"]
    assert ("54,000 training images after validation_split=0.1, in batches of 64"
            in messages["844 steps per epoch (batch size 64, validation split 0.1)"])
    assert "(60000, 28, 28, 1)" in messages["x_train and x_test have the full data set's shapes"]
    expectations = [message.split(" but expected ", 1)[1] for message in messages.values()]  # the observed side is the lesson's
    assert not any("128" in text or "101,770" in text or "1,500" in text or "epochs=10" in text for text in expectations)


def test_a_second_assignments_perfect_facts_earn_full_marks_and_the_learning_rate_is_graded():
    from facts_factory import cnn_expected, cnn_facts

    expected = cnn_expected()
    assert [r.message for r in run_checks(cnn_facts(), expected=expected) if not r.passed] == []
    assert sum(r.score for r in run_checks(cnn_facts(), expected=expected)) == 22
    wrong_rate = with_model(cnn_facts(), learning_rate=0.001)
    [message] = [r.message for r in run_checks(wrong_rate, expected=expected) if not r.passed]
    assert message.startswith("optimizer's learning rate is 0.001 but expected 0.002")
    # Keras' defaults the reference left alone (strides, padding, pool size) are not graded.
    loose = with_model(cnn_facts(), layers=tuple(replace(layer, padding=None, strides=None, pool_size=None)
                                                 for layer in cnn_facts().model.layers))
    assert all(r.passed for r in run_checks(loose, expected=expected))
    bigger = with_model(cnn_facts(), layers=(replace(cnn_facts().model.layers[0], kernel_size=(5, 5)),) + cnn_facts().model.layers[1:])
    assert "kernel_size [(5, 5)] but expected [(3, 3)]" in failed_with(bigger, expected)["Conv2D layers have filters 8, kernel size 3x3; Dense layers have 10 units"]


def failed_with(facts, expected) -> dict[str, str]:
    return {r.description: r.message for r in run_checks(facts, expected=expected) if not r.passed}


def test_the_lessons_record_is_the_one_the_rubric_reads():
    from autograder.paths import EXPECTED_FACTS
    from autograder.rubric import expected

    record = expected.load([EXPECTED_FACTS])
    assert record == checks.default_expected()
    assert (record.model.param_count, record.fit.epochs, record.fit.steps_per_epoch) == (101_770, 10, 1_500)
    assert expected.from_json(record.to_json()) == record


def test_the_author_declares_which_keras_defaults_are_graded(tmp_path):
    """A ``# RUBRIC`` raw cell in the master names attributes graded even at Keras' defaults; the record keeps them."""
    import nbformat

    from autograder import expectations
    from autograder.exceptions import KitError
    from autograder.rubric.facts import LayerFacts
    from facts_factory import cnn_facts

    master = tmp_path / "master.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("# RUBRIC\ngraded_defaults: [padding, strides]")])
    nbformat.write(notebook, master)
    assert expectations.declared_defaults(master) == ("padding", "strides")
    facts = cnn_facts()
    record = expectations.derive([(0, facts)], master, graded_defaults=expectations.declared_defaults(master))
    conv = record.model.layers[0]
    assert (conv.padding, conv.strides) == ("valid", (1, 1))
    assert expectations.derive([(0, facts)], master).model.layers[0].padding is None  # not declared: not graded
    same = with_model(facts, layers=(LayerFacts("Conv2D", activation="relu", filters=8, kernel_size=(3, 3), strides=(1, 1),
                                                padding="same"),) + facts.model.layers[1:])
    assert "padding ['same'] but expected ['valid']" in " ".join(r.message or "" for r in run_checks(same, expected=record))
    notebook.cells[0].source = "# RUBRIC\ngraded_defaults: [colour]"
    nbformat.write(notebook, master)
    with pytest.raises(KitError, match="colour"):
        expectations.declared_defaults(master)


def test_runs_that_disagree_on_the_expected_facts_are_refused_naming_the_field_and_seeds():
    from autograder import expectations
    from autograder.paths import SOLUTION_NOTEBOOK
    from facts_factory import cnn_facts

    other = with_history(cnn_facts(), epochs=4, epochs_recorded=4)
    with pytest.raises(expectations.ReferenceDisagrees, match=r"fit\.epochs \(3 against 4\) \(seed 0 and seed 1\)"):
        expectations.derive([(0, cnn_facts()), (1, other)], SOLUTION_NOTEBOOK)


def test_a_check_the_author_switches_off_is_not_run_nor_counted(tmp_path):
    import nbformat

    from autograder import expectations
    from autograder.exceptions import KitError
    from facts_factory import cnn_expected, cnn_facts

    master = tmp_path / "master.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("# RUBRIC\nswitched_off: [validation_recorded]")]),
                   master)
    declared = expectations.declarations(master)
    assert declared == {"graded_defaults": (), "switched_off": ("validation_recorded",)}
    record = replace(cnn_expected(), switched_off=declared["switched_off"])
    results = run_checks(with_history(cnn_facts(), metric_names=("accuracy", "loss"), val_accuracy=()), expected=record)
    assert "validation metrics recorded" not in {r.description for r in results} and all(r.passed for r in results)
    assert max_points("q4_fit", record) == 3 and max_points("q4_fit") == 4
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("# RUBRIC\nswitched_off: [no_such_check]")]),
                   master)
    with pytest.raises(KitError, match="no_such_check"):
        expectations.declarations(master)
