"""The generated files are in sync with their sources, and the calibration record holds up."""

import json
import math
import subprocess
import sys

from autograder import generate
from autograder.paths import REFERENCE_METRICS, ROOT


def test_student_template_and_solutions_are_in_sync_with_the_master():
    assert generate.main(check=True) == []


def test_fixtures_are_in_sync_with_their_builder():
    completed = subprocess.run([sys.executable, "tests/fixtures/build_fixtures.py", "--check"], cwd=ROOT,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_student_template_code_has_no_solutions():
    import nbformat

    template = nbformat.read(ROOT / "student_template" / "fashion_mnist_keras.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in template.cells if cell.cell_type == "code")
    for answer in ("load_data()", "Dense(128, activation", "epochs=10", "model.evaluate(", "model.predict(", "SOLUTION"):
        assert answer not in code, answer
    assert code.count("...") >= 6  # a stub in every answer cell


def test_reference_accuracy_is_recorded_over_five_seeds_and_passes_at_every_one():
    record = json.loads(REFERENCE_METRICS.read_text())
    runs = record["runs"]
    assert len({run["seed"] for run in runs}) >= 5
    lowest = min(run["test_accuracy"] for run in runs)
    assert record["threshold"] == math.floor((lowest - record["margin"]) * 1000) / 1000
    assert record["margin"] > 0
    for run in runs:
        assert run["test_accuracy"] >= record["threshold"]
        assert run["score"] == run["max_score"] == 22


def test_expected_facts_were_derived_by_the_recorded_calibration():
    """solutions/expected_facts.json is what the calibration's runs agreed on: the same seeds, full marks at each."""
    from autograder.paths import EXPECTED_FACTS
    from autograder.rubric import expected

    record = expected.load([EXPECTED_FACTS])
    runs = json.loads(REFERENCE_METRICS.read_text())["runs"]
    assert list(record.seeds) == [run["seed"] for run in runs]
    assert record.to_json() == EXPECTED_FACTS.read_text()  # as calibration writes it: never edited by hand


def test_setup_cell_carries_exactly_the_rubric_and_otters_tests_match_the_masters():
    """The hand-out's first cell unpacks to this rubric's sources; the Otter tests it writes are Otter Assign's own."""
    import base64
    import re
    import zlib

    import nbformat

    from autograder.rubric.student import is_setup_cell, otter_test_file, package_files

    template = nbformat.read(ROOT / "student_template" / "fashion_mnist_keras.ipynb", as_version=4)
    source = template.cells[0].source
    assert is_setup_cell(source)
    [packed] = re.findall(r'"([A-Za-z0-9+/=]{1000,})"', source)
    assert json.loads(zlib.decompress(base64.b64decode(packed))) == package_files()
    for question, test in template.metadata["otter"]["tests"].items():
        assert otter_test_file(question).strip() == test.strip(), question


def test_setup_cell_with_other_code_packed_in_is_not_the_hand_outs():
    """The integrity scan skips only the exact generated cell: other packed code, or an edit around it, is scanned."""
    from autograder.rubric.student import is_setup_cell, package_files, setup_cell_source

    files = package_files()
    assert is_setup_cell(setup_cell_source(files))
    tampered = {**files, "rubric/public.py": files["rubric/public.py"] + "\nimport os\n"}
    assert not is_setup_cell(setup_cell_source(tampered))
    assert not is_setup_cell(setup_cell_source(files).replace("import base64,", "import base64, subprocess,"))
    assert not is_setup_cell(setup_cell_source(files) + "exec('print(1)')\n")


def test_readmes_rubric_table_is_generated_from_the_assignments_own_expected_facts(tmp_path):
    """Another assignment's record rewrites README's table between the markers, phrased from that record."""
    import shutil

    from facts_factory import cnn_expected

    from autograder.paths import Layout

    layout = Layout(tmp_path)
    (tmp_path / "assignment").mkdir()
    shutil.copyfile(ROOT / "assignment" / "fashion_mnist_keras.ipynb", layout.master)  # no # RUBRIC cell: nothing off
    layout.expected_facts.parent.mkdir()
    layout.expected_facts.write_text(cnn_expected().to_json())
    (tmp_path / "README.md").write_text(f"# Course\n\n{generate.TABLE_START}\nstale\n{generate.TABLE_END}\nafter\n")
    [(path, content)] = generate._readme_with_rubric_table(layout).items()
    text = content.decode()
    assert path == tmp_path / "README.md" and text.startswith("# Course\n\n") and text.endswith(f"{generate.TABLE_END}\nafter\n")
    assert "stale" not in text and "| `q3_compile` | optimizer is RMSprop with learning rate 0.002 |" in text
    assert "3 epochs" in text and "128" not in text
    layout.expected_facts.unlink()  # before calibration there is no record: the README is left alone
    assert generate._readme_with_rubric_table(layout) == {}
