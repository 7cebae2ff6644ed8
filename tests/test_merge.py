"""merge: shards graded side by side, joined, equal one batch; shards that do not belong together are refused."""

import dataclasses
import functools
import json
import shutil

import pytest
from click.testing import CliRunner

from autograder import grade, ledger, shards
from autograder.cli import cli
from autograder.reference import read_threshold
from seeded import forbid_running, seed_records, submission_files, write_inputs

CLASS_FILES = ("grades.csv", "canvas.csv", "grades_long.csv", "summary.html")


@pytest.fixture(scope="module")
def frozen_fingerprints():
    """The kit's code as it was when the module started: colleagues' edits mid-test change no fingerprint."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ledger, "fingerprints", functools.lru_cache(maxsize=None)(ledger.fingerprints))
        yield


@pytest.fixture(scope="module")
def graded_three_ways(tmp_path_factory, frozen_fingerprints):
    """12 seeded students and 2 corrupted files, graded three ways: one batch, and shards 1/3, 2/3, 3/3."""
    root = tmp_path_factory.mktemp("three_ways")
    inputs = write_inputs(root / "in", 12, corrupted=2)
    threshold = read_threshold()
    seed_records(inputs, root / "batch", threshold)
    assert grade.main(paths=[inputs], out=root / "batch", quiet=True, jobs=1, warm_kernels=False) == 0
    for k in (1, 2, 3):
        shard = shards.Shard(k, 3)
        seed_records(inputs, root / f"shard{k}", threshold, shard)
        assert grade.main(paths=[inputs], out=root / f"shard{k}", quiet=True, jobs=1, warm_kernels=False, shard=shard) == 0
    return root


@pytest.fixture
def batch(graded_three_ways, tmp_path):
    """A copy of the graded folders for one test to change: (inputs, one batch, [shard folders])."""
    for name in ("batch", "shard1", "shard2", "shard3"):
        shutil.copytree(graded_three_ways / name, tmp_path / name)
    return graded_three_ways / "in", tmp_path / "batch", [tmp_path / f"shard{k}" for k in (1, 2, 3)]


def merge(*args):
    return CliRunner().invoke(cli, ["merge", *map(str, args)])


def test_three_shards_merged_equal_one_batch_byte_for_byte(batch, tmp_path, monkeypatch):
    inputs, whole, folders = batch
    assert all(len(shards.read_manifest(f).submissions) < 14 for f in folders)  # each shard graded a slice
    forbid_running(monkeypatch)  # a merge runs no notebook
    merged = tmp_path / "merged"
    result = merge(*reversed(folders), "--out", merged)  # the order they are given in does not matter
    assert result.exit_code == 0, result.output
    for name in CLASS_FILES:
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    assert submission_files(merged, inputs) == submission_files(whole, inputs)
    manifest = shards.read_manifest(merged)
    assert manifest.shard == shards.WHOLE and len(manifest.submissions) == 14
    assert manifest.merged_from == tuple(str(f) for f in reversed(folders))
    # The merged folder is a graded output in its own right: grading into it again runs nothing.
    assert grade.main(paths=[inputs], out=merged, quiet=True, jobs=1, warm_kernels=False) == 0


def test_roster_students_without_a_submission_appear_in_the_merge_not_in_the_shards(batch, tmp_path):
    _, _, folders = batch
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\n" + "".join(f"student{i:03d},Student {i}\n" for i in range(12))
                      + "ghost,Never Submitted\n")
    merged = tmp_path / "merged"
    result = merge(*folders, "--out", merged, "--roster", roster, "--assignment-name", "HW 3")
    assert result.exit_code == 0, result.output
    rows = (merged / "grades.csv").read_text()
    assert "missing" in rows and "Never Submitted" in rows
    assert all("ghost" not in (f / "grades.csv").read_text() for f in folders)
    assert "HW 3" in (merged / "canvas.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("how", ["calibration", "option"])
def test_shards_graded_with_another_threshold_are_refused_naming_both(batch, tmp_path, monkeypatch, how):
    inputs, _, folders = batch
    if how == "calibration":
        monkeypatch.setattr(grade, "read_threshold", lambda: 0.5)  # `make calibrate` ran between two shards
    forbid_running(monkeypatch)
    threshold = 0.5 if how == "option" else None  # or one shard was given `--threshold 0.5`
    assert grade.main(paths=[inputs], out=folders[1], quiet=True, jobs=1, shard=shards.Shard(2, 3),
                      threshold=threshold) == 0  # rescored
    assert shards.read_manifest(folders[1]).threshold == 0.5
    result = merge(*folders, "--out", tmp_path / "merged")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert (f"{folders[0]} was graded with accuracy threshold {read_threshold()} and {folders[1]} with 0.5: "
            f"run `grade --shard` again in one of them with the other's --threshold") in result.output
    assert not (tmp_path / "merged").exists()


def test_shards_graded_with_another_rubric_are_refused(batch, tmp_path, monkeypatch):
    inputs, _, folders = batch
    real = ledger.fingerprints  # a check's points edited between two shards; the threshold is the same
    monkeypatch.setattr(ledger, "fingerprints", lambda t: dataclasses.replace(real(t), rubric=real(t).rubric + "-edited"))
    forbid_running(monkeypatch)
    assert grade.main(paths=[inputs], out=folders[1], quiet=True, jobs=1, shard=shards.Shard(2, 3)) == 0  # rescored
    result = merge(*folders, "--out", tmp_path / "merged")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "graded with different rubric, points or threshold" in result.output
    assert not (tmp_path / "merged").exists()


def test_shards_graded_with_other_execution_code_are_refused(batch, tmp_path):
    _, _, folders = batch
    path = folders[2] / shards.MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "execution": "0123456789abcdef"}))
    result = merge(*folders, "--out", tmp_path / "merged")
    assert result.exit_code == 2 and "different execution code" in result.output


def test_overlapping_missing_or_foreign_folders_are_refused(batch, tmp_path):
    inputs, whole, folders = batch
    out = tmp_path / "merged"
    cases = [
        ((folders[0], folders[1], folders[1], folders[2]), "is given twice"),
        ((folders[0], folders[1]), "shard(s) 3/3 missing"),
        ((folders[0], folders[1], folders[2], whole), "different batches"),
        ((folders[0], folders[1], folders[2], inputs), "is not a graded output folder"),
        ((folders[0], folders[1], folders[2], tmp_path / "nowhere"), "is not a graded output folder"),
    ]
    copy = tmp_path / "copy_of_shard1"
    shutil.copytree(folders[0], copy)
    cases.append(((folders[0], copy, folders[1], folders[2]), "is given twice"))
    for dirs, message in cases:
        result = merge(*dirs, "--out", out)
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, (dirs, result.output)
    result = merge(*folders, "--out", folders[0])
    assert result.exit_code == 2 and "is one of the shards being merged" in result.output


def test_a_record_that_does_not_match_its_manifest_is_refused(batch, tmp_path):
    _, _, folders = batch
    manifest = shards.read_manifest(folders[0])
    graded = next(item for item in manifest.submissions if item["name"].startswith("student"))
    from autograder.reports.report import submission_folder

    record_path = submission_folder(folders[0], graded["name"]) / ledger.RECORD
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "digest": "tampered"}))
    result = merge(*folders, "--out", tmp_path / "merged")
    assert result.exit_code == 2 and "does not match" in result.output
    record_path.unlink()
    result = merge(*folders, "--out", tmp_path / "merged")
    assert result.exit_code == 2 and "has no readable grade.json" in result.output
