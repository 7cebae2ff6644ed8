"""Read what came out of a sandbox without letting the sandbox steer the read.

Everything the host takes from a submission's export folder comes through here. A file is
opened relative to a folder the host made, one path component at a time, never following a
link (``O_NOFOLLOW`` on every component), never blocking (``O_NONBLOCK``: a FIFO opens and is
then refused), and is accepted only if the open descriptor is a regular file with one link
and within its size cap. Reading stops at the cap whatever the file claims. ``copy_files``
copies such files into a folder the sandbox never sees, so nothing it does later can change
what the trusted side reads.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from ..exceptions import ExportUnreadable

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
_CHUNK = 1 << 20


class UnsafeFile(ExportUnreadable):
    """The file is not a regular file, is reached through a link, or is larger than allowed."""


class MissingFile(UnsafeFile):
    """Nothing is there."""


def open_regular(root: Path, relative: str, cap: int) -> int:
    """A descriptor for the regular file ``root/relative``, at most ``cap`` bytes; ``UnsafeFile`` otherwise.

    ``root`` is a folder the host created; nothing under it is trusted.
    """
    parts = PurePosixPath(relative).parts
    if (not parts or any(part in ("", ".", "..") or "/" in part for part in parts)
            or PurePosixPath(relative).is_absolute()):
        raise UnsafeFile(f"{relative!r} is not a plain relative path")
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = _open(part, _DIRECTORY_FLAGS, folder, relative)
            os.close(folder)
            folder = inner
        descriptor = _open(parts[-1], _FLAGS, folder, relative)
    finally:
        os.close(folder)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{relative} is {_kind(info.st_mode)}, not a regular file")
        if info.st_nlink != 1:
            raise UnsafeFile(f"{relative} has {info.st_nlink} hard links; an export file has one")
        if info.st_size > cap:
            raise UnsafeFile(f"{relative} is {info.st_size:,} bytes, over the {cap:,}-byte limit")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def read_bytes(root: Path, relative: str, cap: int) -> bytes:
    """The content of ``root/relative`` (see ``open_regular``), never more than ``cap`` bytes."""
    descriptor = open_regular(root, relative, cap)
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read(cap + 1)
    if len(data) > cap:
        raise UnsafeFile(f"{relative} grew past the {cap:,}-byte limit while it was read")
    return data


def copy_files(root: Path, names: dict[str, int], destination: Path) -> dict[str, str]:
    """Copy each of ``names`` (file name -> cap) that exists under ``root`` into ``destination``.

    Returns why each file that exists could not be copied; a missing file is simply not copied.
    """
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    refused: dict[str, str] = {}
    for name, cap in names.items():
        try:
            descriptor = open_regular(root, name, cap)
        except MissingFile:
            continue
        except UnsafeFile as error:
            refused[name] = str(error)
            continue
        copied = 0
        with os.fdopen(descriptor, "rb") as source, open(destination / name, "xb") as target:
            while chunk := source.read(min(_CHUNK, cap + 1 - copied)):
                copied += len(chunk)
                if copied > cap:
                    break
                target.write(chunk)
        if copied > cap:
            (destination / name).unlink()
            refused[name] = f"{name} grew past the {cap:,}-byte limit while it was read"
    return refused


# Possessive (``++``, ``*+``): nothing to backtrack into, so a 20 MB string costs no memory; the plain
# ``(?:[^"\\]|\\.)*`` kept a backtracking point per character, 2.3 GB and 11 s for 20 MB (issue 17).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest, counted without parsing (so a deep document cannot recurse)."""
    depth = deepest = 0
    for character in re.sub(r"[^\[\]{}]", "", _STRING.sub("", text)):
        depth += 1 if character in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def load_json(data: bytes, *, origin: str, max_depth: int, parse: Callable[[str], Any] = json.loads) -> Any:
    """Parse UTF-8 JSON from a submission or an export; ``ExportUnreadable`` saying what is wrong.

    ``parse`` turns the text into values (the export's ``export_format.parse_json`` bounds integers).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ExportUnreadable(f"{origin} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    if json_depth(text) > max_depth:
        raise ExportUnreadable(f"{origin} nests arrays or objects more than {max_depth} levels deep")
    try:
        return parse(text)
    except ValueError as error:  # JSONDecodeError, or an integer past Python's 4,300-digit limit
        raise ExportUnreadable(f"{origin} is not valid JSON ({str(error)[:200]})") from error


def _open(name: str, flags: int, folder: int, relative: str) -> int:
    try:
        return os.open(name, flags, dir_fd=folder)
    except FileNotFoundError:
        raise MissingFile(f"{relative} does not exist") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):  # O_NOFOLLOW met a link (ENOTDIR where a folder was expected)
            raise UnsafeFile(f"{relative} is, or passes through, a symbolic link or a file that is not a folder, "
                             f"which the grader does not follow") from None
        raise UnsafeFile(f"{relative} cannot be opened ({error.strerror})") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block "
                                      "device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"
