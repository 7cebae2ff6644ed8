"""grade --shard K/N: a slice chosen by the submission's name alone, and the manifest each graded folder carries."""

import hashlib
import json

import pytest
from click.testing import CliRunner

from autograder import shards
from autograder.cli import cli
from autograder.exceptions import KitError
from autograder.trusted.load_submission import Submission


def names(count):
    return [f"student{index:03d}/hw.ipynb" for index in range(count)]


def test_every_submission_is_in_exactly_one_shard_of_n():
    for count in (1, 2, 3, 7):
        owners = {name: [k for k in range(1, count + 1) if shards.Shard(k, count).holds(name)] for name in names(200)}
        assert all(len(found) == 1 for found in owners.values())
        if count > 1:  # a hash spreads them: no shard is empty or holds most of the class
            sizes = [sum(found == [k] for found in owners.values()) for k in range(1, count + 1)]
            assert min(sizes) > 200 / count / 2


def test_the_rule_is_sha256_of_the_name_modulo_n_as_documented():
    name = "alice/fashion_mnist_keras.ipynb"
    expected = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 5 + 1
    assert [k for k in range(1, 6) if shards.Shard(k, 5).holds(name)] == [expected]


def test_adding_submissions_moves_no_other_submission_to_another_shard():
    before = [Submission(name, None, "d") for name in names(50)]
    after = [Submission("late/hw.ipynb", None, "d"), *before, *(Submission(n, None, "d") for n in ["zoe/hw.ipynb"])]
    for k in (1, 2, 3):
        shard = shards.Shard(k, 3)
        kept = [s.name for s in shards.select(after, shard) if s.name in set(names(50))]
        assert kept == [s.name for s in shards.select(before, shard)]


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "", "-1/2"])
def test_a_malformed_shard_is_one_clear_error(text):
    with pytest.raises(KitError, match="is not K/N with 1 <= K <= N"):
        shards.Shard.parse(text)
    assert shards.Shard.parse(" 2/3 ") == shards.Shard(2, 3)


def test_a_folder_without_a_manifest_is_not_a_graded_output(tmp_path):
    with pytest.raises(KitError, match="is not a graded output folder"):
        shards.read_manifest(tmp_path)
    (tmp_path / shards.MANIFEST).write_text('{"format": 1, "shard": "1/2"}')
    with pytest.raises(KitError, match="unreadable"):
        shards.read_manifest(tmp_path)


def test_grade_shard_grades_only_its_slice_and_writes_its_manifest(tmp_path):
    """Cheap submissions (not notebooks) go through the whole pipeline without a kernel."""
    inputs = tmp_path / "in"
    for name in names(9):
        (inputs / name).parent.mkdir(parents=True)
        (inputs / name).write_text("not a notebook")
    everything = [n for n in names(9)]
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        result = CliRunner().invoke(cli, ["grade", str(inputs), "--out", str(out), "--shard", f"{k}/3", "--jobs", "1"])
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / shards.MANIFEST).read_text())
        mine = [n for n in everything if shards.Shard(k, 3).holds(n)]
        assert manifest["shard"] == f"{k}/3" and manifest["batch_size"] == 9
        assert [item["name"] for item in manifest["submissions"]] == mine
        assert [item["position"] for item in manifest["submissions"]] == [everything.index(n) for n in mine]
        assert (out / "grades.csv").read_text().count("\n") == 1 + len(mine)
        read = shards.read_manifest(out)
        assert read.shard == shards.Shard(k, 3) and read.execution == manifest["execution"]
