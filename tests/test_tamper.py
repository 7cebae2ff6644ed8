"""The tamper suite: every attack scores exactly its expected points, never more than its
honest work, and leaves nothing behind. Also the limits: each ends its submission with a
message naming the limit, and the work before the stopped cell still counts."""

import csv
import json
import socket
import threading
from pathlib import Path

import pytest

from autograder import grade
from autograder.trusted.dataset import FILES, keras_cache_dir
from autograder.limits import Limits, ResourceGroup
from autograder.rubric import QUESTIONS
from autograder.sandbox import bubblewrap_problem

TAMPER = Path(__file__).resolve().parent / "fixtures" / "tamper"
MARKER = Path("/tmp/autograder-tamper-pickle-ran")
NETWORK_PORT = 47611
SCENARIOS = sorted(p.name.removesuffix(".expected.json") for p in TAMPER.glob("*.expected.json"))


def _cgroups_problem():
    group = ResourceGroup(Limits())
    group.close()
    return group.problem


class _Listener:
    """Counts connections to the host's loopback port that the network attack tries."""

    def __init__(self, port):
        self.connections = 0
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen()
        self.socket.settimeout(0.5)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
                self.connections += 1
                connection.close()
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.thread.join()
        self.socket.close()


@pytest.fixture(scope="session")
def tamper_batch(tmp_path_factory):
    if bubblewrap_problem():
        pytest.skip(f"the tamper suite needs the sandbox: {bubblewrap_problem()}")
    MARKER.unlink(missing_ok=True)
    paths = [p for p in sorted(TAMPER.iterdir()) if p.suffix in (".ipynb", ".zip")]
    if _cgroups_problem():  # without a process cap a fork bomb is not something to run
        paths = [p for p in paths if p.stem != "fork_bomb"]
    out = tmp_path_factory.mktemp("tamper")
    listener = _Listener(NETWORK_PORT)
    try:
        exit_code = grade.main(paths=paths, out=out, timeout=40, jobs=2, quiet=True)
    finally:
        listener.close()
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    return out, rows, listener, exit_code


def _row(rows, scenario):
    matches = [row for name, row in rows.items() if Path(name).stem == scenario]
    if not matches:
        pytest.skip(f"{scenario} was not run here (see tamper_batch)")
    return matches[0]


def _printed(out, scenario) -> str:
    import nbformat

    [folder] = [f for f in (out / "submissions").iterdir() if f.name.startswith(scenario)]
    notebook = nbformat.read(folder / "executed.ipynb", as_version=4)
    return "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_attack_scores_its_expected_points_and_no_more_than_honest_work(tamper_batch, scenario):
    _, rows, *_ = tamper_batch
    expected = json.loads((TAMPER / f"{scenario}.expected.json").read_text())
    row = _row(rows, scenario)
    observed = {question: int(row[question]) for question in QUESTIONS}
    assert (row["status"], observed) == (expected["status"], expected["scores"]), row["message"]
    assert int(row["score"]) == expected["total"] <= expected["honest_total"]
    assert "WITHOUT a sandbox" not in row["message"]


@pytest.mark.parametrize("scenario, banner", [
    ("reads_hidden_tests", "nothing found"), ("reads_outside_scratch", "nothing leaked"),
    ("rewrites_test_files", "grader code untouched"), ("network_access", "no network"),
])
def test_attack_saw_and_changed_nothing(tamper_batch, scenario, banner):
    out, rows, *_ = tamper_batch
    _row(rows, scenario)
    assert banner in _printed(out, scenario)


def test_network_attack_never_reached_the_host(tamper_batch):
    _, rows, listener, _ = tamper_batch
    _row(rows, "network_access")
    assert listener.connections == 0


def test_crafted_otter_log_was_never_unpickled(tamper_batch):
    _, rows, *_ = tamper_batch
    _row(rows, "otter_log_pickle_in_zip")
    assert not MARKER.exists()


def test_dataset_and_kit_survive_the_file_attacks(tamper_batch):
    _row(tamper_batch[1], "overwrites_and_deletes_files")
    assert all((keras_cache_dir() / name).stat().st_size > 1000 for name in FILES)
    assert "FULL_MARKS" not in (Path(grade.__file__).parent / "kernel_export.py").read_text()


def test_batch_exits_non_zero_when_a_submission_ended_in_error(tamper_batch):
    _, rows, _, exit_code = tamper_batch
    assert any(row["status"] == "error" for row in rows.values()) and exit_code == 1


def test_kernel_crash_is_replayed_up_to_the_fatal_cell(tamper_batch):
    row = _row(tamper_batch[1], "kernel_crash")
    assert "kernel died while running cell 2" in row["message"] and row["q1_load"] == "4"


@pytest.mark.parametrize("scenario, words", [
    ("infinite_loop", ["cell 2 was stopped", "time limit"]),
    ("disk_filler", ["cell 2 was stopped", "GiB disk limit"]),
    ("huge_output", ["cell 2 was stopped", "output limit"]),
    ("memory_bomb", ["cell 2 was stopped", "GiB memory limit"]),
    ("fork_bomb", ["cell 2 was stopped", "process limit"]),
])
def test_limit_stops_the_cell_names_the_limit_and_keeps_earlier_work(tamper_batch, scenario, words):
    _, rows, *_ = tamper_batch
    row = _row(rows, scenario)
    for word in words:
        assert word in row["message"]
    assert row["q1_load"] == "4"  # the cell before the stopped one still counts
