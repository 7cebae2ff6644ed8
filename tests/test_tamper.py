"""The tamper suite: every attack scores exactly its expected points, never more than its
honest work, and leaves nothing behind. Also the limits: each ends its submission with a
message naming the limit, and the work before the stopped cell still counts. And the trust
boundary: links, FIFOs and devices in the export, forged records, root-only files, a model
that stalls the inspector, colliding and formula names, deep JSON."""

import csv
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from autograder import grade
from autograder.execution.bubblewrap import bubblewrap_problem
from autograder.execution.confine import ResourceGroup
from autograder.limits import Limits
from autograder.reports.report import submission_folder
from autograder.rubric import QUESTIONS
from autograder.trusted.dataset import FILES, keras_cache_dir

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # one batch of every fixture, two trainings: minutes
TAMPER = Path(__file__).resolve().parent / "fixtures" / "tamper"
MARKER = Path("/tmp/autograder-tamper-pickle-ran")
NETWORK_PORT = 47611
PLANTED = Path("/usr/local/share/autograder-planted-secret")  # root-only, for the sandbox not to read
INSPECTION_TIMEOUT = 30  # the slow-to-inspect model must hit it; honest ones take a few seconds
CPU_FLAG = "claimed training inconsistent with the CPU spent"
SCENARIOS = sorted(p.name.removesuffix(".expected.json") for p in TAMPER.glob("*.expected.json"))


def _cgroups_problem():
    group = ResourceGroup(Limits())
    group.close()
    return group.problem


def _cpu_unmeasured():
    group = ResourceGroup(Limits())
    group.close()
    return group.cpu_file is None


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
    planted = os.geteuid() == 0
    if planted:
        PLANTED.write_text("root-only secret")
        os.chmod(PLANTED, 0o600)
    try:
        # 90 s: one fixture trains the lesson's model for real before it floods its output
        exit_code = grade.main(paths=paths, out=out, timeout=90, inspection_timeout=INSPECTION_TIMEOUT, jobs=2, quiet=True)
    finally:
        listener.close()
        if planted:
            PLANTED.unlink()
    rows = {row["submission"].removeprefix("'"): row for row in csv.DictReader((out / "grades.csv").open())}
    return out, rows, listener, exit_code


def _row(rows, scenario):
    matches = [row for name, row in rows.items() if Path(name).stem == scenario]
    if not matches and scenario == "fork_bomb" and _cgroups_problem():  # left out of the batch on purpose
        pytest.skip(f"fork_bomb is not run without the sandbox's process cap: {_cgroups_problem()}")
    assert matches, f"no row for the tamper fixture {scenario}: is it missing from {TAMPER}? run tests/fixtures/build_tamper.py"
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
    for flag in expected.get("flags", []):
        if flag == CPU_FLAG and _cpu_unmeasured():  # no cgroup measures the CPU: the run says the flag is unavailable
            continue
        assert flag in row["flags"], f"{scenario} should be flagged for {flag!r}: {row['flags']!r}"
    if "undetectable" in expected:  # README says why; the instructor sees the flags instead
        assert int(row["score"]) == expected["total"] and expected.get("flags")
    else:
        assert int(row["score"]) == expected["total"] <= expected["honest_total"]
    assert "WITHOUT a sandbox" not in row["message"]


@pytest.mark.parametrize("scenario, banner", [
    ("reads_hidden_tests", "nothing found"), ("reads_outside_scratch", "nothing leaked"),
    ("rewrites_test_files", "grader code untouched"), ("network_access", "no network"),
    ("reads_root_only_files", "nothing leaked"), ("accepts_on_inherited_descriptors", "nothing inherited"),
    ("socket_re_exported", "no network"),
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
    assert "FULL_MARKS" not in (Path(grade.__file__).parent / "sandbox" / "kernel_export.py").read_text()


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
    ("ignores_the_interrupt_after_the_lesson", ["cell 6 was stopped", "time limit", "ignored the interrupt"]),
])
def test_limit_stops_the_cell_names_the_limit_and_keeps_earlier_work(tamper_batch, scenario, words):
    _, rows, *_ = tamper_batch
    row = _row(rows, scenario)
    for word in words:
        assert word in row["message"]
    assert row["q1_load"] == "4"  # the cell before the stopped one still counts


def test_the_descriptor_thiefs_neighbours_grade_as_they_do_alone(tamper_batch):
    """A kernel that accepted on, or shut down, a descriptor shared with the zygote would cost its classmates their
    kernels ("Kernel didn't respond", status error): every row got its own expected status (and, above, its scores)."""
    _, rows, *_ = tamper_batch
    _row(rows, "accepts_on_inherited_descriptors")
    for name, row in rows.items():
        expected = TAMPER / f"{Path(name).stem}.expected.json"
        assert "didn't respond" not in row["message"], (name, row["message"])
        if expected.is_file():
            assert row["status"] == json.loads(expected.read_text())["status"], (name, row["message"])


def test_no_tensorflow_start_up_lines_in_any_executed_notebook(tamper_batch):
    """Issue 19: oneDNN, CPU-feature, absl and CUDA cuInit lines are noise in a student's outputs."""
    out, *_ = tamper_batch
    import nbformat

    for executed in (out / "submissions").glob("*/executed.ipynb"):
        notebook = nbformat.read(executed, as_version=4)
        text = "".join(str(o.get("text", "")) for cell in notebook.cells for o in cell.get("outputs", []))
        for noise in ("oneDNN", "cuInit", "absl::", "cpu_feature_guard", "This TensorFlow binary is optimized"):
            assert noise not in text, f"{executed.parent.name} shows {noise!r}"


def test_links_and_fifos_in_the_export_are_refused_by_name_and_nothing_behind_them_is_read(tamper_batch):
    out, rows, *_ = tamper_batch
    row = _row(rows, "export_files_replaced_by_links_and_fifos")
    feedback = (submission_folder(out, row["submission"].removeprefix("'")) / "results.json").read_text()
    assert "x_train.npy is a FIFO" in feedback and "model.keras is, or passes through, a symbolic link" in feedback
    forged = _row(rows, "facts_file_is_a_link_to_a_forgery")
    assert "kernel_facts.json is, or passes through, a symbolic link" in forged["message"]


def test_a_forged_record_decides_nothing(tamper_batch):
    row = _row(tamper_batch[1], "forged_run_record_with_a_formula")
    assert "HYPERLINK" not in row["message"] and row["status"] == "graded"


def test_a_model_that_stalls_the_inspector_is_not_final_and_costs_no_one_else(tamper_batch):
    out, rows, *_ = tamper_batch
    row = _row(rows, "slow_to_inspect_model")
    assert f"took over {INSPECTION_TIMEOUT} seconds" in row["message"]
    record = json.loads((submission_folder(out, row["submission"]) / "grade.json").read_text())
    assert record["result"]["final"] is False  # a rerun inspects it again
    # every other submission got exactly its expected grade: test_attack_scores_its_expected_points...


def test_colliding_names_get_their_own_folders(tamper_batch):
    out, rows, *_ = tamper_batch
    spaced, underscored = _row(rows, "ann smith"), _row(rows, "ann_smith")
    folders = {submission_folder(out, row["submission"]) for row in (spaced, underscored)}
    assert len(folders) == 2
    for row in (spaced, underscored):
        results = json.loads((submission_folder(out, row["submission"]) / "results.json").read_text())
        assert results["score"] == int(row["score"])
    assert spaced["score"] != underscored["score"]


def test_formula_names_are_neutralised_in_grades_csv(tamper_batch):
    out, *_ = tamper_batch
    lines = (out / "grades.csv").read_text().splitlines()
    assert any(line.startswith("\"'=1+2.ipynb\",") for line in lines)  # every field quoted (reports/spreadsheet)
    assert any(line.startswith("\"'@SUM(1+1)*cmd.ipynb\",") for line in lines)
    for row in csv.reader(lines[1:]):
        assert all(not cell or cell[0] not in "=+-@\t\r" for cell in row), row


def test_deep_json_is_invalid_not_an_error(tamper_batch):
    row = _row(tamper_batch[1], "deep_json")
    assert row["status"] == "invalid" and "levels deep" in row["message"]


def test_honest_training_is_not_flagged_for_its_cpu(tamper_batch):
    row = _row(tamper_batch[1], "finite_flood_after_correct_work")  # the lesson's own 15,000 steps, for real
    assert CPU_FLAG not in row["flags"]


def test_a_finished_flood_after_correct_work_keeps_every_point(tamper_batch):
    row = _row(tamper_batch[1], "finite_flood_after_correct_work")
    assert row["score"] == "22" and "output limit" in row["message"]
