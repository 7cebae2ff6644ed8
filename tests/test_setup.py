"""Set-up wherever an instructor works: `make`'s system step with and without root, and Fashion-MNIST from Debian,
from Keras' download (checked against the published checksums), or one message naming both routes."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.exceptions import DatasetUnavailable
from autograder.paths import ROOT
from autograder.trusted import dataset

VENV_PACKAGE = f"python3.{sys.version_info[1]}-venv"


# --- make system: what the system must provide ---------------------------------------------------------------

def fake_system(tmp_path: Path, *, uid: int, venv: bool, bubblewrap: bool) -> tuple[dict, Path]:
    """A PATH holding only stand-ins: `id`, `apt-get` (logs its arguments), a Python with or without ensurepip."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    scripts = {
        "id": f"#!/bin/sh\necho {uid}\n",
        "apt-get": f'#!/bin/sh\necho "$*" >> {log}\n',
        "python3": f'#!/bin/sh\ncase "$*" in *ensurepip*) {"exit 0" if venv else "exit 1"};; esac\nexec {sys.executable} "$@"\n',
    }
    if bubblewrap:
        scripts["bwrap"] = "#!/bin/sh\n"
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, log


def make_system(tmp_path, **situation):
    environment, log = fake_system(tmp_path, **situation)
    completed = subprocess.run([shutil.which("make"), "-s", "-C", str(ROOT), "system", f"PYTHON={tmp_path}/bin/python3"],
                               capture_output=True, text=True, env=environment)
    return completed, (log.read_text() if log.exists() else "")


pytestmark_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytestmark_make
def test_without_root_a_missing_venv_stops_set_up_with_one_line_naming_the_packages(tmp_path):
    completed, apt = make_system(tmp_path, uid=1000, venv=False, bubblewrap=False)
    assert completed.returncode != 0 and apt == ""
    lines = completed.stderr.strip().splitlines()
    assert len([line for line in lines if not line.startswith("make:")]) == 1
    assert f"sudo apt-get install {VENV_PACKAGE} bubblewrap" in lines[0]


@pytestmark_make
def test_without_root_a_missing_bubblewrap_only_warns(tmp_path):
    completed, apt = make_system(tmp_path, uid=1000, venv=True, bubblewrap=False)
    assert completed.returncode == 0 and apt == ""
    assert completed.stderr.strip().splitlines() == [
        "warning: bubblewrap is not installed (`sudo apt-get install bubblewrap`): submissions would run without a sandbox"]


@pytestmark_make
def test_as_root_set_up_installs_what_is_missing(tmp_path):
    completed, apt = make_system(tmp_path, uid=0, venv=False, bubblewrap=False)
    assert completed.returncode == 0, completed.stderr
    assert apt.splitlines() == ["update -qq", f"install -y -qq {VENV_PACKAGE} bubblewrap"]


@pytestmark_make
def test_with_everything_installed_set_up_installs_nothing(tmp_path):
    completed, apt = make_system(tmp_path, uid=0, venv=True, bubblewrap=True)
    assert completed.returncode == 0 and apt == "" and completed.stderr == ""


# --- Fashion-MNIST: the Debian package, Keras' download, or both routes named ----------------------------------

@pytest.fixture
def bare_machine(tmp_path, monkeypatch):
    """No Keras cache, no Debian files, not root; apt-get must not be called."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.setattr(dataset.os, "geteuid", lambda: 1000)

    def no_apt(*args, **kwargs):
        raise AssertionError("apt-get was run without root")

    monkeypatch.setattr(dataset.subprocess, "run", no_apt)
    return tmp_path / "keras" / "datasets" / "fashion-mnist"


def test_without_network_or_the_package_the_message_names_both_routes(bare_machine, monkeypatch):
    def offline(name, staging):
        raise Exception(f"URL fetch failure on {dataset.DOWNLOAD_ORIGIN}{name}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dataset, "_keras_download", offline)
    with pytest.raises(DatasetUnavailable) as raised:
        dataset.provision()
    message = str(raised.value)
    assert "\n" not in message
    assert "apt-get install dataset-fashion-mnist" in message and dataset.DOWNLOAD_ORIGIN in message
    assert "Temporary failure in name resolution" in message
    assert not bare_machine.exists() or not any(bare_machine.iterdir())  # nothing half-written left in the cache


def fake_download(contents: dict[str, bytes]):
    def download(name, staging):
        path = Path(staging) / name
        path.write_bytes(contents[name])
        return str(path)
    return download


def test_where_the_network_allows_keras_downloads_the_files_and_each_is_checked(bare_machine, monkeypatch):
    contents = {name: f"fake {name}".encode() for name in dataset.FILES}
    monkeypatch.setattr(dataset, "DOWNLOAD_SHA256", {n: hashlib.sha256(c).hexdigest() for n, c in contents.items()})
    monkeypatch.setattr(dataset, "_keras_download", fake_download(contents))
    assert dataset.provision() == bare_machine
    assert {p.name: p.read_bytes() for p in bare_machine.iterdir()} == contents


def test_a_download_that_does_not_match_the_published_checksum_is_not_kept(bare_machine, monkeypatch):
    contents = {name: b"a proxy's error page" for name in dataset.FILES}
    monkeypatch.setattr(dataset, "_keras_download", fake_download(contents))
    with pytest.raises(DatasetUnavailable, match="not the published"):
        dataset.provision()
    assert not bare_machine.exists() or not any(bare_machine.iterdir())


def test_the_published_checksums_are_keras_own_for_each_file():
    assert set(dataset.DOWNLOAD_SHA256) == set(dataset.FILES)
    assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in dataset.DOWNLOAD_SHA256.values())


def test_the_debian_package_is_used_when_installed(bare_machine, monkeypatch, tmp_path):
    debian = tmp_path / "debian"
    debian.mkdir()
    for name in dataset.FILES:
        (debian / name).write_bytes(b"debian " + name.encode())
    monkeypatch.setattr(dataset, "DEBIAN_DIR", debian)
    monkeypatch.setattr(dataset, "_keras_download", lambda *a: pytest.fail("downloaded although Debian's files are here"))
    assert dataset.provision() == bare_machine
    assert (bare_machine / dataset.FILES[0]).read_bytes() == b"debian " + dataset.FILES[0].encode()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root to make a namespace without network")
def test_setup_data_on_a_machine_without_network_or_the_package_names_both_routes(tmp_path):
    """The real command, in a network namespace with no network and Debian's folder hidden under an empty one."""
    empty, keras_home = tmp_path / "empty", tmp_path / "keras"
    empty.mkdir()
    hide = f"mount --bind {empty} {dataset.DEBIAN_DIR} && " if dataset.DEBIAN_DIR.is_dir() else ""
    script = f"{hide}exec {sys.executable} -m autograder setup-data"
    tools = tmp_path / "bin"  # mount and sh, and no apt-get: the test must not install anything on this machine
    tools.mkdir()
    for name in ("sh", "mount"):
        (tools / name).symlink_to(shutil.which(name))
    completed = subprocess.run([shutil.which("unshare"), "--net", "--mount", "sh", "-c", script], capture_output=True,
                               text=True, cwd=ROOT, timeout=600,
                               env={**os.environ, "PATH": str(tools), "KERAS_HOME": str(keras_home), "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 2, completed.stderr[-2000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "apt-get install dataset-fashion-mnist" in errors[0] and dataset.DOWNLOAD_ORIGIN in errors[0]
    assert not (keras_home / "datasets" / "fashion-mnist").is_dir() or not any((keras_home / "datasets" / "fashion-mnist").iterdir())


# --- grading without root: the console says which limits held --------------------------------------------------

def test_without_root_the_console_says_which_limits_still_held():
    from autograder.execution.bubblewrap import NO_SANDBOX_WARNING
    from autograder.grade import _limits_that_held
    from autograder.limits import Limits

    cgroups = "the process cap and the memory backstop are not enforced: cgroups are not writable here (Permission denied)"
    line = _limits_that_held(Limits(), {cgroups})
    assert line.startswith("these limits still held: the 900 s time limit, the 20 MB output limit, the 4 GiB memory limit")
    assert "the sandbox" in line and "processes" not in line
    line = _limits_that_held(Limits(), {cgroups, f"{NO_SANDBOX_WARNING}: bwrap: No permissions"})
    assert "the sandbox" not in line and "files of at most 2 GiB each" in line
