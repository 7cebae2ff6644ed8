"""The sandbox's walls, and the trust boundary between the kernel and the host.

The kernel runs as an unprivileged user that owns nothing on the host, sees only what it needs,
and cannot reach the runner whose record decides its status. The sandbox-side package imports
nothing the kernel must not see. Where bubblewrap cannot start, the notebook still runs under
the same limits and the instructor is told loudly.
"""

import ast
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.execution import bubblewrap, run
from autograder.execution.confine import ScratchSpace
from autograder.grade import grade_submission
from autograder.limits import Limits
from autograder.trusted.inspector import Inspector
from autograder.trusted.load_submission import find_submissions

pytestmark = pytest.mark.sandbox
PACKAGE = Path(run.__file__).resolve().parent.parent
needs_bubblewrap = pytest.mark.skipif(bubblewrap.bubblewrap_problem() is not None,
                                      reason=f"needs the sandbox: {bubblewrap.bubblewrap_problem()}")


def test_the_sandbox_side_imports_nothing_outside_itself_and_the_rubrics_facts():
    allowed = {"autograder.sandbox", "autograder.rubric.describe", "autograder.rubric.facts"}
    for path in sorted((PACKAGE / "sandbox").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against autograder.sandbox
                base = ["autograder", "sandbox"][: 3 - node.level] if node.level <= 2 else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                assert any(module == a or module.startswith(a + ".") for a in allowed), f"{path.name} imports {module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
                for name in names:
                    assert not name.startswith("autograder") or any(name.startswith(a) for a in allowed), \
                        f"{path.name} imports {name}"
    staged = run.stage_code(Path(os.environ.get("TMPDIR", "/tmp")) / f"staged-{os.getpid()}")
    try:
        files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*.py"))
        assert "autograder/rubric/checks.py" not in files and all(
            f.startswith("autograder/sandbox/") or f in ("autograder/__init__.py", "autograder/rubric/__init__.py",
                                                         "autograder/rubric/describe.py", "autograder/rubric/facts.py")
            for f in files), files
        assert (staged / "autograder/rubric/__init__.py").read_text() == ""  # no checks imported by the package
    finally:
        subprocess.run(["rm", "-rf", str(staged)], check=True)


def test_the_kernel_sees_no_kit_files_and_writes_only_its_own_folders(tmp_path):
    command = bubblewrap.kernel_command(["true"], work=tmp_path / "w", export=tmp_path / "e", code=tmp_path / "c",
                                        runtime=tmp_path / "r", env={})
    binds = [command[i + 1:i + 3] for i, part in enumerate(command) if part == "--bind"]
    assert [target for _, target in binds] == [bubblewrap.SANDBOX_WORK, bubblewrap.SANDBOX_EXPORT]
    mounted = " ".join(command)
    for secret in ("solutions", "reference_metrics", "rubric/checks.py", "tests", "private"):
        assert secret not in mounted
    for hidden in ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"):
        if os.path.exists(hidden):
            assert ["--ro-bind", "/dev/null", hidden] == command[command.index(hidden) - 2:command.index(hidden) + 1]
    assert "--unshare-net" not in command  # it shares the runner's network namespace, which holds only a loopback
    assert "--unshare-net" in bubblewrap.runner_command(["true"]) and "--clearenv" in command
    if os.geteuid() == 0:  # the sandbox's user is nobody, with no capabilities and no way to regain any
        uid, gid = bubblewrap.SANDBOX_USER
        tail = command[command.index("setpriv"):]
        assert f"--reuid={uid}" in tail and f"--regid={gid}" in tail and "--no-new-privs" in tail
        assert "--unshare-user" not in command


@needs_bubblewrap
@pytest.mark.skipif(os.geteuid() != 0, reason="planting a root-only file needs root")
def test_the_kernel_is_nobody_and_cannot_read_root_only_files_or_reach_its_runner(tmp_path):
    planted = Path("/usr/local/share/autograder-planted-secret")
    planted.write_text("root-only secret")
    os.chmod(planted, 0o600)
    probe = r"""
import json, os
def readable(path):
    try:
        return open(path).read(20)
    except OSError as error:
        return type(error).__name__
processes = {pid: open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in os.listdir("/proc") if pid.isdigit()}
print(json.dumps({
    "uid": [os.getuid(), os.geteuid(), os.getgid()], "groups": os.getgroups(),
    "planted": readable("/usr/local/share/autograder-planted-secret"), "shadow-": readable("/etc/shadow-"),
    "runner visible": any("execution.runner" in line for line in processes.values()),
    "root home": sorted(os.listdir("/root")), "writable /opt/grader": os.access("/opt/grader", os.W_OK),
    "user namespace": __import__("subprocess").run(["unshare", "--user", "--map-root-user", "id"],
                                                   capture_output=True, text=True).returncode,
}))
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    scratch = ScratchSpace(Limits(timeout=60), owner=bubblewrap.sandbox_owner())
    try:
        result = run.run_sandboxed(notebook, scratch, limits=Limits(timeout=60), threads=1)
    finally:
        scratch.close()
        planted.unlink()
    import json

    text = "".join(o.get("text", "") for o in result.executed.cells[1].outputs if o.output_type == "stream")
    seen = json.loads(text.strip().splitlines()[-1])
    assert seen["uid"] == [*bubblewrap.SANDBOX_USER[:1], bubblewrap.SANDBOX_USER[0], bubblewrap.SANDBOX_USER[1]]
    assert seen["groups"] in ([], [bubblewrap.SANDBOX_USER[1]])
    assert seen["planted"] == "PermissionError" and seen["shadow-"] != "root-only secret"
    assert seen["shadow-"] in ("", "PermissionError")  # hidden behind /dev/null, or unreadable
    assert seen["runner visible"] is False and seen["writable /opt/grader"] is False
    assert seen["user namespace"] != 0  # the seccomp filter refuses it
    assert result.execution.status == "completed" and result.execution.exported


@pytest.mark.slow  # grades a notebook twice, ~50 s
def test_unsandboxed_fallback_is_loud_and_still_grades(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(bubblewrap, "bubblewrap_problem", lambda: "bubblewrap switched off for this test")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np\nx_train = np.zeros((3, 28, 28))")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    [submission] = find_submissions([path])
    notes = set()
    with Inspector() as inspector:
        result = grade_submission(submission, out=tmp_path / "out", limits=Limits(timeout=60), threshold=0.857,
                                  inspector=inspector, notes=notes)
    assert result.status == "graded"
    assert any("WARNING: ran WITHOUT a sandbox" in note and "switched off" in note for note in notes)
    assert "WARNING: ran WITHOUT a sandbox" in capfd.readouterr().err
    assert "WITHOUT a sandbox" not in result.message  # the instructor's note, not the student's feedback
    messages = [check.message for question in result.questions for check in question.checks if check.message]
    assert any("x_train has shape (3, 28, 28)" in message for message in messages)


def test_the_seccomp_filter_refuses_user_namespaces_and_foreign_abis():
    from autograder.execution import seccomp

    program = seccomp.user_namespace_filter("x86_64")
    instructions = [program[i:i + 8] for i in range(0, len(program), 8)]
    import struct

    decoded = [struct.unpack("=HBBI", instruction) for instruction in instructions]
    constants = {k for _, _, _, k in decoded}
    assert {0xC000003E, 56, 272, 435, seccomp.CLONE_NEWUSER, 0x40000000} <= constants
    assert decoded[-3:] == [(0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, 0x00050000 | 1), (0x06, 0, 0, 0x00050000 | 38)]
    for index, (code, jump_true, jump_false, _) in enumerate(decoded):  # every jump lands inside the program
        if code & 0x07 == 0x05:  # BPF_JMP
            assert index + 1 + max(jump_true, jump_false) < len(decoded)
    assert seccomp.user_namespace_filter("sparc") is None
    assert seccomp.user_namespace_filter("aarch64") != program
