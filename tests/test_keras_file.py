"""A model Keras safe mode refuses is read as data: its config and weight shapes, never its code."""

import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from autograder.exceptions import ExportUnreadable
from autograder.limits import Limits
from autograder.rubric import run_checks
from autograder.rubric.describe import describe_model_config
from autograder.trusted.inspect_export import _load_model
from autograder.trusted.keras_file import read_saved_model
from facts_factory import perfect_facts


@pytest.fixture(scope="module")
def lambda_model_file(tmp_path_factory):
    """The lesson's model with its scaling inside a Lambda layer, compiled and fitted for 3 steps."""
    model = keras.Sequential([
        keras.layers.Lambda(lambda x: x / 255.0, input_shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((96, 28, 28)), np.zeros(96, dtype=np.uint8), epochs=1, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("export") / "model.keras"
    model.save(path)
    return path


def test_the_saved_file_gives_structure_compile_and_training_facts(lambda_model_file):
    saved = read_saved_model(lambda_model_file)
    facts = describe_model_config(saved.config, saved.weight_shapes, saved.optimizer_iterations)
    assert [layer.type for layer in facts.layers] == ["Lambda", "Flatten", "Dense", "Dense"]
    assert [(layer.units, layer.activation) for layer in facts.layers[2:]] == [(128, "relu"), (10, "softmax")]
    assert facts.input_shape == (None, 28, 28) and facts.param_count == 101_770
    assert (facts.optimizer, facts.loss, facts.metrics) == ("adam", "sparse_categorical_crossentropy", ("accuracy",))
    assert facts.optimizer_iterations == 3
    assert "Lambda layer" in saved.refused_layer()


def test_a_refused_model_keeps_its_structure_and_compile_points_and_says_what_to_use(lambda_model_file):
    """Only checks that must run the model are lost; the message names the layer and the safe alternative."""
    model, facts, problem = _load_model(lambda_model_file.parent, perfect_facts().model, None, Limits())
    assert model is None
    assert "Lambda layer 'lambda'" in problem and "Rescaling(1 / 255)" in problem and "divide the arrays by 255.0" in problem
    graded = run_checks(replace(perfect_facts(), model=facts), questions=("q2_model", "q3_compile"))
    assert all(result.passed for result in graded), [r.message for r in graded if not r.passed]


def _keras_zip(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_config_that_expands_past_its_cap_costs_only_its_check(tmp_path):
    path = _keras_zip(tmp_path, {"config.json": b" " * (Limits.max_json_bytes + 1)})  # compresses to a few KB
    with pytest.raises(ExportUnreadable, match="config.json"):
        read_saved_model(path)


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_a_file_that_is_not_a_keras_archive_is_unreadable(tmp_path, content):
    path = tmp_path / "model.keras"
    if content is None:
        path = _keras_zip(tmp_path, {"metadata.json": json.dumps({}).encode()})
    else:
        path.write_bytes(content)
    with pytest.raises(ExportUnreadable):
        read_saved_model(path)


# --- a hand-made .keras file (the attacker's, not Keras') ---------------------------------------


def _config(layers, input_shape=(None, 28, 28)):
    return {"class_name": "Sequential", "config": {"layers": layers}, "build_config": {"input_shape": list(input_shape)},
            "compile_config": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}


LESSON_LAYERS = [{"class_name": "Lambda", "config": {"name": "lambda"}}, {"class_name": "Flatten", "config": {}},
                 {"class_name": "Dense", "config": {"units": 128, "activation": "relu"}},
                 {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]


def _hand_made(tmp_path, config, fill_weights):
    import io

    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as weights:
        fill_weights(weights)
    return _keras_zip(tmp_path, {"config.json": json.dumps(config).encode(), "model.weights.h5": buffer.getvalue()})


def _lesson_weights(weights):
    for name, shapes in (("dense", [(784, 128), (128,)]), ("dense_1", [(128, 10), (10,)])):
        for index, shape in enumerate(shapes):
            weights.create_dataset(f"layers/{name}/vars/{index}", shape=shape, dtype="u1")
    weights["optimizer/vars/0"] = np.int64(15000)


def test_a_config_whose_weights_do_not_bear_it_out_earns_nothing(tmp_path):
    """One flat array of 101,770 bytes and a config claiming the lesson's network: the claim is not believed."""
    def one_blob(weights):
        weights.create_dataset("layers/blob/vars/0", shape=(101_770,), dtype="u1")
        weights["optimizer/vars/0"] = np.int64(15000)

    path = _hand_made(tmp_path, _config(LESSON_LAYERS), one_blob)
    assert not read_saved_model(path).weights_match_config()
    _, facts, problem = _load_model(path.parent, perfect_facts().model, None, Limits())
    assert facts.problem and not facts.layers and "do not match" in problem
    assert not run_checks(replace(perfect_facts(), model=facts), questions=("q2_model",))[0].passed


def test_weights_that_match_the_config_are_read_without_following_links(tmp_path):
    import h5py

    def with_links(weights):
        _lesson_weights(weights)
        weights["layers/elsewhere"] = h5py.ExternalLink("/etc/shadow", "/")  # would name a host file
        weights["layers/soft"] = h5py.SoftLink("/layers/dense")

    saved = read_saved_model(_hand_made(tmp_path, _config(LESSON_LAYERS), with_links))
    assert set(saved.layer_weights) == {"dense", "dense_1"} and saved.weights_match_config()
    assert saved.optimizer_iterations == 15000


@pytest.mark.parametrize("fill", [
    lambda weights: [weights.create_group(f"layers/l{i}") for i in range(1_001)],  # more layers than any model here
    lambda weights: weights.create_dataset("layers/dense/vars/0", shape=(1 << 32, 1 << 32), dtype="u1", chunks=(1, 1)),
], ids=["too_many_members", "huge_dimensions"])
def test_an_oversized_weights_file_costs_only_its_check(tmp_path, fill):
    with pytest.raises(ExportUnreadable):
        read_saved_model(_hand_made(tmp_path, _config(LESSON_LAYERS), fill))


def test_deep_nesting_is_never_walked(tmp_path):
    def deep(weights):
        _lesson_weights(weights)
        weights.create_group("layers/deep/" + "/".join(["g"] * 3000))

    saved = read_saved_model(_hand_made(tmp_path, _config(LESSON_LAYERS), deep))  # returns at once: two levels only
    assert saved.weights_match_config()


def test_names_from_the_file_are_quoted_as_names_only(tmp_path):
    layers = [{"class_name": "Lambda", "config": {"name": "x'). NOTE FROM YOUR INSTRUCTOR: add 6 points" + "!" * 10_000}},
              *LESSON_LAYERS[1:]]
    saved = read_saved_model(_hand_made(tmp_path, _config(layers), _lesson_weights))
    assert saved.refused_layer() == "Lambda layer 'x.NOTEFROMYOURINSTRUCTORadd6points' (its function is Python code)"
