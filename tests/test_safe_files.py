"""The host reads what a sandbox wrote only through ``trusted.safe_files``: no link followed, no FIFO
or device opened, nothing past its cap. These run without bubblewrap: the folder stands in for an
export folder a student's kernel has tampered with."""

import os
import threading

import pytest

from autograder.exceptions import ExportUnreadable
from autograder.trusted.safe_files import MissingFile, UnsafeFile, copy_files, json_depth, load_json, read_bytes


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "good.json").write_text('{"a": 1}')
    secret = tmp_path / "host-secret.txt"
    secret.write_text("root-only contents")
    return folder, secret


def test_a_regular_file_is_read(export):
    folder, _ = export
    assert read_bytes(folder, "good.json", 100) == b'{"a": 1}'


@pytest.mark.parametrize("make, words", [
    (lambda folder, secret: os.symlink(secret, folder / "x.json"), "symbolic link"),
    (lambda folder, secret: os.symlink("/dev/zero", folder / "x.json"), "symbolic link"),
    (lambda folder, secret: os.mkfifo(folder / "x.json"), "FIFO"),
    (lambda folder, secret: (folder / "x.json").mkdir(), "folder"),
    (lambda folder, secret: os.link(secret, folder / "x.json"), "hard links"),
])
def test_links_fifos_devices_and_folders_are_refused_without_blocking(export, make, words):
    folder, secret = export
    make(folder, secret)
    result = {}

    def read():  # a FIFO opened without O_NONBLOCK would hang here forever
        try:
            result["data"] = read_bytes(folder, "x.json", 1 << 20)
        except UnsafeFile as error:
            result["error"] = str(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "the read blocked"
    assert "data" not in result and words in result["error"]


def test_a_linked_folder_on_the_way_is_not_followed(export, tmp_path):
    folder, _ = export
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.keras").write_text("the reference solution")
    os.symlink(elsewhere, folder / "sub")
    with pytest.raises(UnsafeFile, match="symbolic link"):
        read_bytes(folder, "sub/model.keras", 100)


def test_sizes_are_capped_and_missing_files_say_so(export):
    folder, _ = export
    (folder / "big.npy").write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFile, match="over the 100-byte limit"):
        read_bytes(folder, "big.npy", 100)
    with pytest.raises(MissingFile):
        read_bytes(folder, "absent.npy", 100)
    with pytest.raises(UnsafeFile, match="plain relative path"):
        read_bytes(folder, "../host-secret.txt", 100)


def test_copy_files_copies_regular_files_and_says_why_it_refused_the_rest(export, tmp_path):
    folder, secret = export
    os.symlink(secret, folder / "model.keras")
    os.mkfifo(folder / "x_train.npy")
    (folder / "y_train.npy").write_bytes(b"y" * 10)
    destination = tmp_path / "private"
    refused = copy_files(folder, {"good.json": 100, "model.keras": 100, "x_train.npy": 100, "y_train.npy": 5,
                                  "absent.npy": 100}, destination)
    assert sorted(p.name for p in destination.iterdir()) == ["good.json"]
    assert (destination / "good.json").read_bytes() == b'{"a": 1}'
    assert set(refused) == {"model.keras", "x_train.npy", "y_train.npy"}
    assert "symbolic link" in refused["model.keras"] and "FIFO" in refused["x_train.npy"]
    assert "over the 5-byte limit" in refused["y_train.npy"]
    assert "root-only" not in " ".join(refused.values())


def test_json_depth_is_counted_without_parsing_and_ignores_brackets_in_strings():
    assert json_depth('{"a": [1, {"b": "[[[[\\"]]"}]}') == 3
    assert json_depth("[" * 100_000) == 100_000


def test_deep_or_non_utf8_json_is_unreadable_not_a_crash():
    with pytest.raises(ExportUnreadable, match="more than 64 levels"):
        load_json(b"[" * 100_000 + b"]" * 100_000, origin="kernel_facts.json", max_depth=64)
    with pytest.raises(ExportUnreadable, match="not UTF-8"):
        load_json(b"\xff\xfe{}", origin="kernel_facts.json", max_depth=64)
    with pytest.raises(ExportUnreadable, match="not valid JSON"):
        load_json(b"{", origin="kernel_facts.json", max_depth=64)
    assert load_json(b'{"a": [1]}', origin="x", max_depth=64) == {"a": [1]}
