"""Who a submission belongs to cannot be claimed with a file name or a metadata field (issue 17, class 6).

The layout is decided once per folder given and only its reading applies; submissions are ordered
by values of one kind; ids that disagree assign a submission to nobody, listed as needing attention.
Nothing trains: found from files on disk, matched, finished from hand-made results.
"""

import csv
import io
import os

from facts_factory import perfect_facts

from autograder import gradebook
from autograder.results import SubmissionResult
from autograder.roster import Roster, Student, assign, read_roster
from autograder.rubric import run_checks
from autograder.trusted.identity import GRADESCOPE_METADATA, Identity, decide_layout, order_key
from autograder.trusted.load_submission import find_submissions

ROSTER = ("student_id,name,email\n1001,Alice Adams,alice@uni.edu\n1002,Mallory Moore,mallory@uni.edu\n"
          "1003,Bob Brown,bob@uni.edu\n")
ATTACK = "alice_1001_99999999999999999999_fashion_mnist_keras.ipynb"


def touch(path, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def roster_at(tmp_path):
    (tmp_path / "roster.csv").write_text(ROSTER)
    return read_roster(tmp_path / "roster.csv")


def found(paths, roster):
    layouts = []
    submissions = find_submissions(paths, [], layouts)
    return submissions, assign({s.name: s.identity for s in submissions}, roster), layouts


def graded(name):
    return SubmissionResult.from_checks(name, "graded", "", run_checks(perfect_facts()), "d-" + name)


def test_a_canvas_name_in_a_students_folder_is_that_folders_and_supersedes_nothing_of_another(tmp_path):
    alice = touch(tmp_path / "class" / "1001" / "fashion_mnist_keras.ipynb", mtime=1_800_000_000)
    touch(tmp_path / "class" / "1002" / ATTACK, mtime=1_700_000_000)  # Mallory's folder
    roster = roster_at(tmp_path)
    submissions, chosen, layouts = found([tmp_path / "class"], roster)
    identity = {s.name: s.identity for s in submissions}
    assert identity[f"1002/{ATTACK}"] == Identity("folder", (), ("1002",), identity[f"1002/{ATTACK}"].order)
    assert [s.student_id for s in chosen.students[f"1002/{ATTACK}"]] == ["1002"]
    assert [s.student_id for s in chosen.students["1001/fashion_mnist_keras.ipynb"]] == ["1001"]
    assert chosen.superseded == {} and chosen.attention == {}
    assert layouts == [f"{tmp_path / 'class'}: a folder per student: each file belongs to the folder it is in, "
                       f"directly under this one (2 file(s))"]
    # And the class files: Alice keeps her grade in canvas.csv, Mallory's file is Mallory's.
    out = tmp_path / "out"
    gradebook.record_identities(submissions, out)
    gradebook.finish([graded(s.name) for s in submissions], out, notes=[], roster=roster)
    canvas = {row["ID"]: row for row in csv.DictReader(io.StringIO((out / "canvas.csv").read_text()))}
    assert canvas["1001"]["Fashion-MNIST with Keras"] == "22" and canvas["1002"]["Fashion-MNIST with Keras"] == "22"
    assert alice.exists()


def test_a_folder_inside_a_students_folder_names_nobody_else(tmp_path):
    touch(tmp_path / "class" / "1002" / "1001" / "hw.ipynb")  # Mallory's folder holds one named after Alice
    _, chosen, _ = found([tmp_path / "class"], roster_at(tmp_path))
    assert [s.student_id for s in chosen.students["1002/1001/hw.ipynb"]] == ["1002"]


def test_orders_are_compared_only_within_one_kind():
    # As text, "canvas:99999999999999999999" would beat any time; as values, two kinds are never compared.
    assert order_key("canvas:99999999999999999999") == ("canvas", (99999999999999999999,))
    assert order_key("canvas:10") > order_key("canvas:9")  # integers, not text ("10" < "9")
    assert order_key("time:2026-11-22T10:00:00.000000Z")[0] == "time"
    assert order_key("00000000000000009001") == ("canvas", (9001,))  # a record from before kinds
    assert order_key("not a time")[0] == "none" and order_key("")[0] == "none"


def test_one_students_submissions_from_different_sources_need_attention(tmp_path):
    touch(tmp_path / "dl" / "adamsalice_1001_9001_fashion_mnist_keras.ipynb")
    touch(tmp_path / "class" / "1001" / "fashion_mnist_keras.ipynb")
    _, chosen, layouts = found([tmp_path / "dl", tmp_path / "class"], roster_at(tmp_path))
    names = {"adamsalice_1001_9001_fashion_mnist_keras.ipynb", "1001/fashion_mnist_keras.ipynb"}
    assert set(chosen.attention) == names and chosen.superseded == {}
    assert all("different sources (canvas, time)" in reason for reason in chosen.attention.values())
    assert all(chosen.students[name] == () for name in names)
    assert "a Canvas download" in layouts[0] and "a folder per student" in layouts[1]


GRADESCOPE_YAML = """\
submission_500001:
  :submitters:
  - :name: Alice Adams
    :sid: '1001'
    :email: mallory@uni.edu
  :created_at: 2026-11-22 10:00:00.000000000 -08:00
submission_500002:
  :submitters:
  - :name: Alice Adams
    :sid: '1001'
    :email: alice@uni.edu
  :created_at: 2026-11-21 10:00:00.000000000 -08:00
submission_500003:
  :submitters:
  - :name: Bob Brown
    :sid: '1001'
    :email: someone@else.org
  :created_at: 2026-11-23 10:00:00.000000000 -08:00
submission_500004:
  :submitters:
  - :name: Bob Brown
    :sid: '7777'
    :email: BOB@uni.edu
  :created_at: 2026-11-23 10:00:00.000000000 -08:00
"""


def test_a_gradescope_submitter_whose_sid_and_email_disagree_is_assigned_to_nobody(tmp_path, capsys):
    export = tmp_path / "export"
    (export).mkdir()
    (export / GRADESCOPE_METADATA).write_text(GRADESCOPE_YAML)
    for number in range(500001, 500005):
        touch(export / f"submission_{number}" / "fashion_mnist_keras.ipynb")
    roster = roster_at(tmp_path)
    submissions, chosen, layouts = found([export], roster)
    mallory, alice = "submission_500001/fashion_mnist_keras.ipynb", "submission_500002/fashion_mnist_keras.ipynb"
    other, bob = "submission_500003/fashion_mnist_keras.ipynb", "submission_500004/fashion_mnist_keras.ipynb"
    # Alice's sid with Mallory's email: the later submission, yet it neither counts for Alice nor supersedes hers.
    assert chosen.students[mallory] == () and "'mallory@uni.edu' is Mallory Moore's (1002)" in chosen.attention[mallory]
    assert chosen.students[other] == () and "not the roster's 'alice@uni.edu'" in chosen.attention[other]
    assert [s.student_id for s in chosen.students[alice]] == ["1001"] and alice not in chosen.superseded
    assert [s.student_id for s in chosen.students[bob]] == ["1003"]  # an SID the roster lacks: the email agrees
    assert set(chosen.attention) == {mallory, other} and mallory not in chosen.unmatched
    assert "a Gradescope export" in layouts[0]
    out = tmp_path / "out"
    gradebook.record_identities(submissions, out)
    rows = gradebook.finish([graded(s.name) for s in submissions], out, notes=[], roster=roster)
    assert {(r.submission, r.student_id) for r in rows if r.submission in (mallory, other)} == {(mallory, ""), (other, "")}
    assert "needs attention: submission_500001" in capsys.readouterr().err
    summary = (out / "summary.html").read_text()
    assert f'data-unassigned="{mallory}"' in summary and f'data-unassigned="{other}"' in summary


def test_each_layout_is_still_recognised_by_itself():
    assert decide_layout(["ada_101_9001_hw.ipynb", "notes.ipynb"], None) == "canvas"
    assert decide_layout(["ada/hw.ipynb", "ada_101_9001_hw.ipynb"], None) == "folder"
    assert decide_layout(["submission_1/hw.ipynb"], {"submission_1": ((), "")}) == "gradescope"
    assert decide_layout(["hw.ipynb", "other.zip"], None) == "files"


def test_a_macs_appledouble_folder_leaves_a_canvas_download_a_canvas_download(tmp_path):
    touch(tmp_path / "dl" / "adamsalice_1001_9001_hw.ipynb")
    touch(tmp_path / "dl" / "__MACOSX" / "._adamsalice_1001_9001_hw.ipynb")
    [submission] = find_submissions([tmp_path / "dl"])
    assert submission.identity.layout == "canvas" and submission.name == "adamsalice_1001_9001_hw.ipynb"


def test_files_given_one_by_one_are_read_as_canvas_only_from_one_download(tmp_path):
    download = touch(tmp_path / "dl" / "adamsalice_1001_9001_hw.ipynb")
    planted = touch(tmp_path / "class" / "1002" / "adamsalice_1001_9999_hw.ipynb")  # as `grade class/*/*.ipynb` passes it
    together = {s.name: s.identity.layout for s in find_submissions([download, planted])}
    assert together == {download.name: "file", planted.name: "file"}
    layouts = []
    alone = {s.name: s.identity.layout for s in find_submissions([download], [], layouts)}
    assert alone == {download.name: "canvas"}
    assert layouts == ["the 1 file(s) given one by one: a Canvas download: files named "
                       "lastfirst_<user id>_<submission id>_<name>"]
    roster = Roster((Student("1001", "Alice"),))
    assert assign({"x": Identity("file", (), ())}, roster).unmatched == ("x",)


def test_the_command_grades_alice_and_says_each_folders_layout(tmp_path, monkeypatch, capsys):
    """``grade.main`` on the class-6 attack, the runner and inspector stubbed: Alice's submission runs and counts."""
    import contextlib
    from pathlib import Path

    import nbformat

    from autograder import grade
    from autograder.execution.run import SandboxRun
    from autograder.execution.runner import Execution
    from autograder.trusted.inspector import Inspection

    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    (tmp_path / "class" / "1001").mkdir(parents=True)
    (tmp_path / "class" / "1002").mkdir()
    (tmp_path / "class" / "1001" / "fashion_mnist_keras.ipynb").write_text(notebook)
    (tmp_path / "class" / "1002" / ATTACK).write_text(notebook)
    (tmp_path / "roster.csv").write_text(ROSTER)

    class Inspector(contextlib.nullcontext):
        def __enter__(self):
            return self

        def inspect(self, export, refused):
            return Inspection(perfect_facts())

    monkeypatch.setattr(grade, "Inspector", lambda *args: Inspector())
    monkeypatch.setattr(grade, "kernel_zygote", lambda *args: contextlib.nullcontext(None))
    monkeypatch.setattr(grade, "run_sandboxed", lambda *a, **k: SandboxRun(Execution(), None, tmp_path))
    monkeypatch.setattr(grade.dataset, "provision", lambda **kwargs: Path("."))
    out = tmp_path / "out"
    assert grade.main(paths=[tmp_path / "class"], out=out, quiet=True, roster=tmp_path / "roster.csv") == 0
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert (rows["1001/fashion_mnist_keras.ipynb"]["student_id"], rows["1001/fashion_mnist_keras.ipynb"]["status"]) == ("1001", "graded")
    assert rows[f"1002/{ATTACK}"]["student_id"] == "1002"
    assert "superseded" not in {row["status"] for row in rows.values()}
    assert f"layout: {tmp_path / 'class'}: a folder per student" in capsys.readouterr().err
