"""Kernels forked from the zygote: same kernel as a cold start, same training, nothing shared between sandboxes.

The zygote saves every kernel its TensorFlow import (BENCHMARKS.md); these tests hold it to the
promise in ``execution.zygote``'s docstring: a forked kernel sees exactly what a cold one sees, trains
bit for bit the same weights, gets its own sandbox, and the zygote answers nobody else.
"""

import json
import os

import nbformat
import pytest

from autograder.execution import bubblewrap, run, warm_kernels
from autograder.execution import zygote as kernel_zygote
from autograder.execution.confine import ScratchSpace
from autograder.limits import Limits
from autograder.sandbox import kernel_launcher

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.skipif(  # slow: the zygote imports TensorFlow, ~3 min
    os.geteuid() != 0 or bubblewrap.bubblewrap_problem() is not None,
    reason="the zygote needs bubblewrap and root (it moves kernels into other sandboxes' namespaces)",
)]

LIMITS = Limits(timeout=90)

PROBE = r"""
import json, os, re, resource, signal, socket, sys
def describe(number):
    target = os.readlink(f"/proc/self/fd/{number}")
    if not target.startswith("socket:"):
        return re.sub(r"[0-9]+", "N", target) if target.startswith(("pipe:", "anon_inode:")) else target
    with socket.socket(fileno=os.dup(number)) as held:
        listening = held.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        return f"socket {held.family.name} {held.type.name}{' listening' if listening else ''}"
descriptors = {}
for name in os.listdir("/proc/self/fd"):
    try:
        descriptors[name] = describe(int(name))
    except OSError:
        pass  # the descriptor listdir itself held
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "path": sys.path, "cwd": os.getcwd(), "argv": [*sys.argv[:2], *sys.argv[3:]], "env": dict(os.environ),
    "ids": [os.getuid(), os.getgid(), os.getgroups()], "hostname": socket.gethostname(),
    "credentials": {key: status[key].strip() for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")},
    "rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")},
    "cgroup": open("/proc/self/cgroup").read(),
    "signals": [str(signal.getsignal(number)) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ, signal.SIGPIPE)],
    "descriptors": descriptors,
    "processes": sorted(open(f"/proc/{pid}/comm").read().strip() for pid in os.listdir("/proc") if pid.isdigit()),
}))
"""

TRAIN = r"""
import hashlib, json, numpy as np, keras
keras.utils.set_random_seed(7)
x, y = np.random.rand(512, 28, 28), np.random.randint(0, 10, 512)
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
weights = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
print(json.dumps({"weights": weights, "loss": history.history["loss"]}))
"""


@pytest.fixture(scope="module")
def zygote():
    with warm_kernels.kernel_zygote(1) as running:
        assert running is not None, "the zygote did not start on a machine that can run it"
        yield running


def run_cell(source: str, zygote) -> dict:
    """Run ``source`` as a one-cell notebook in a fresh sandbox; return the JSON it printed last."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    scratch = ScratchSpace(LIMITS, owner=bubblewrap.sandbox_owner())
    try:
        result = run.run_sandboxed(notebook, scratch, limits=LIMITS, threads=1, zygote=zygote)
    finally:
        scratch.close()
    assert result.execution is not None, result.message
    outputs = result.executed.cells[1].outputs
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert text.strip(), f"the cell printed nothing: {outputs}"
    return json.loads(text.strip().splitlines()[-1])


def test_a_forked_kernel_sees_what_a_cold_kernel_sees(zygote):
    cold, forked = run_cell(PROBE, None), run_cell(PROBE, zygote)
    assert forked["credentials"]["CapEff"] == "0000000000000000" and forked["credentials"]["NoNewPrivs"] == "1"
    assert forked["ids"] == [*bubblewrap.SANDBOX_USER, []] == cold["ids"]  # nobody, no groups: not host root
    assert forked.pop("processes") == sorted([*cold.pop("processes"), "python"])  # plus the launcher, and no zygote
    forked.pop("descriptors"), cold.pop("descriptors")  # the same kinds, numbered as they came: the test below
    for key in cold:
        assert forked[key] == cold[key], f"{key} differs: cold {cold[key]!r}, forked {forked[key]!r}"


def test_a_forked_kernel_holds_only_its_own_descriptors(zygote):
    """Nothing of the zygote's reaches a kernel: its listening socket above all, which a notebook could accept on
    (stealing classmates' kernel requests) or shut down. A forked kernel's descriptors are a cold kernel's, kind for
    kind: its standard streams and what ipykernel opens itself (its loopback sockets, pipes and event descriptors)."""
    cold, forked = run_cell(PROBE, None), run_cell(PROBE, zygote)
    assert forked["processes"] == sorted([*cold["processes"], "python"])  # really forked: the launcher, then its kernel
    cold, forked = cold["descriptors"], forked["descriptors"]
    assert sorted(forked.values()) == sorted(cold.values()), f"cold {cold}, forked {forked}"
    assert [forked[number] for number in ("0", "1", "2")] == [cold[number] for number in ("0", "1", "2")]
    assert not [kind for kind in forked.values() if "AF_UNIX" in kind and "listening" in kind], forked
    own = ("/dev/null", "pipe:[N]", "anon_inode:[eventfd]", "anon_inode:[eventpoll]", "socket AF_INET SOCK_STREAM",
           "socket AF_INET SOCK_STREAM listening", "socket AF_UNIX SOCK_STREAM")  # the last: asyncio's self-pipe
    assert set(forked.values()) <= set(own), f"not a kernel's own: {set(forked.values()) - set(own)}"


def test_a_forked_kernel_trains_bit_for_bit_the_same_weights(zygote):
    cold, forked = run_cell(TRAIN, None), run_cell(TRAIN, zygote)
    assert forked == cold


def test_unseeded_randomness_differs_between_forked_kernels(zygote):
    source = "import json, random, numpy as np\nprint(json.dumps([random.random(), float(np.random.rand())]))"
    first, second = run_cell(source, zygote), run_cell(source, zygote)
    assert first[0] != second[0] and first[1] != second[1]


def test_nothing_one_submission_leaves_behind_reaches_the_next(zygote):
    leave = r"""
import json, os, subprocess
os.makedirs("/tmp/ipython/profile_default/startup", exist_ok=True)
open("/tmp/ipython/profile_default/startup/00-plant.py", "w").write("PLANTED = True")
open(os.path.expanduser("~/planted.txt"), "w").write("x")
os.environ["PLANTED"] = "1"
subprocess.Popen(["sleep", "300"], start_new_session=True)
print(json.dumps("left"))
"""
    look = r"""
import json, os
print(json.dumps({
    "startup file": os.path.exists("/tmp/ipython/profile_default/startup/00-plant.py"),
    "home file": os.path.exists(os.path.expanduser("~/planted.txt")),
    "environment": "PLANTED" in os.environ, "variable": "PLANTED" in globals(),
    "process": any(open(f"/proc/{p}/comm").read().strip() == "sleep" for p in os.listdir("/proc") if p.isdigit()),
}))
"""
    assert run_cell(leave, zygote) == "left"
    assert run_cell(look, zygote) == {"startup file": False, "home file": False, "environment": False,
                                      "variable": False, "process": False}


def test_a_sandbox_cannot_flood_the_zygote(zygote):
    source = f"""
import json, socket
silent = []
for _ in range({kernel_zygote.KERNELS_AT_ONCE} - 1):  # its own kernel is one; connections that never send hold the rest
    silent.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    silent[-1].connect("/opt/zygote/socket")
one_more = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
one_more.connect("/opt/zygote/socket")
one_more.settimeout(5)
print(json.dumps(json.loads(one_more.recv(65536))))
"""
    assert run_cell(source, zygote) == {
        "error": f"PermissionError: a sandbox may have at most {kernel_zygote.KERNELS_AT_ONCE} kernels at once"}
    assert run_cell("print('[2]')", zygote) == [2]  # and the server still serves the next sandbox at once


def test_no_kernel_forked_or_cold_can_make_a_user_namespace(zygote):
    """The seccomp filter (execution.seccomp) is installed in a forked kernel as bubblewrap installs it in a cold one."""
    source = r"""
import json, subprocess
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
made = subprocess.run(["unshare", "--user", "--map-root-user", "id"], capture_output=True, text=True)
print(json.dumps([status["Seccomp"].strip(), made.returncode, made.stderr.strip()]))
"""
    for kernel in (zygote, None):
        mode, code, error = run_cell(source, kernel)
        assert mode == "2" and code != 0 and "Operation not permitted" in error


def dispatch(handlers: dict, caller_user_ns: int) -> None:
    """The zygote's dispatch for a caller in PID namespace 99 and user namespace ``caller_user_ns`` (the
    zygote's own: 1), with /proc and fork stubbed out: no handler may be forked."""
    import unittest.mock as mock

    own = {"user": 1, "pid": 2}
    inode = lambda path: mock.Mock(st_ino=caller_user_ns if path.endswith("user") else 99)  # noqa: E731
    with mock.patch.object(kernel_zygote, "_peer", return_value=(os.open("/dev/null", os.O_RDONLY), os.getpid())), \
            mock.patch.object(kernel_zygote.os, "stat", side_effect=inode), \
            mock.patch.object(kernel_zygote.signal, "pidfd_send_signal"), \
            mock.patch.object(kernel_zygote.os, "fork", side_effect=AssertionError("no handler may be forked")):
        kernel_zygote._dispatch(object(), own, handlers, {})


def test_callers_in_user_namespaces_of_their_own_are_refused_not_counted_anew():
    """Where a sandboxed process could make a user namespace (no seccomp filter), it gets no kernel."""
    handlers = {}
    with pytest.raises(PermissionError, match="user namespace of its own"):
        dispatch(handlers, caller_user_ns=7)
    assert handlers == {}


def test_the_zygote_caps_its_handlers_in_all():
    assert kernel_zygote.HANDLERS_AT_ONCE >= 2 * kernel_zygote.KERNELS_AT_ONCE
    handlers = {pid: 1000 + pid for pid in range(kernel_zygote.HANDLERS_AT_ONCE)}  # one per sandbox, all busy
    with pytest.raises(PermissionError, match=f"at most {kernel_zygote.HANDLERS_AT_ONCE} kernels at once"):
        dispatch(handlers, caller_user_ns=1)


def test_the_zygote_answers_no_process_outside_a_sandbox(zygote, tmp_path, capsys):
    assert kernel_launcher.main([str(zygote.directory / "socket"), str(tmp_path / "kernel.json")]) == kernel_launcher.NO_KERNEL
    assert "not in a sandbox of its own" in capsys.readouterr().err


def test_without_a_zygote_the_launcher_starts_an_ordinary_kernel():
    with warm_kernels.kernel_zygote(1) as doomed:
        doomed.process.kill()
        doomed.process.wait()
        forked = run_cell(PROBE, doomed)
    cold = run_cell(PROBE, None)
    assert forked["processes"] == cold["processes"]  # the launcher became the kernel: no process in between


def test_a_malformed_request_gets_an_error_and_harms_nothing(zygote):
    source = r"""
import json, socket
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect("/opt/zygote/socket")
socket.send_fds(client, [b"k"], [0, 1, 2])
client.sendall(b"not json")
client.shutdown(socket.SHUT_WR)
client.settimeout(10)
print(json.dumps(json.loads(b"".join(iter(lambda: client.recv(65536), b"")))))
"""
    reply = run_cell(source, zygote)
    assert reply["error"].startswith("the kernel could not start in the sandbox (JSONDecodeError")
    assert run_cell("print('[3]')", zygote) == [3]


def test_kernels_start_cold_where_the_zygote_cannot_fork_safely():
    with warm_kernels.kernel_zygote(2) as running:  # two TensorFlow threads: NumPy's BLAS thread makes fork unsafe
        assert running is None
