"""A seccomp filter for the kernel: no user namespaces, no other system call ABI.

The kernel runs as an unprivileged user with no capabilities, but Linux lets any user make a user
namespace in which it is root, and a good part of the kernel's attack surface (most of the local
privilege escalations of recent years) is reachable only from there. The lesson needs none of it.
The filter, like Docker's and Flatpak's default profiles:

- refuses ``unshare`` and ``clone`` with ``CLONE_NEWUSER`` (``EPERM``);
- answers ``clone3`` with ``ENOSYS``: its flags live in memory a filter cannot read, and the C
  library then falls back to ``clone``;
- answers every call made through another ABI (i386's ``int 0x80``, x32) with ``ENOSYS``, so the
  numbers above cannot be dodged.

bubblewrap installs it for a cold kernel (``--seccomp FD``, the fd opened by ``confine``'s shim);
the kernel zygote installs the same bytes in a forked kernel. On a machine this module has no
numbers for, there is no filter and the instructor's console says so.
"""

from __future__ import annotations

import platform
import struct

# (audit architecture, system call numbers, lowest number of a foreign ABI on this architecture or None)
ARCHITECTURES = {
    "x86_64": (0xC000003E, {"clone": 56, "unshare": 272, "clone3": 435}, 0x40000000),  # x32 calls set bit 30
    "aarch64": (0xC00000B7, {"clone": 220, "unshare": 97, "clone3": 435}, None),
}
CLONE_NEWUSER = 0x10000000
EPERM, ENOSYS = 1, 38
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_LOAD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, ..., BPF_RET|K
_ARCH, _NR, _ARG0 = 4, 0, 16  # offsets in struct seccomp_data (the first argument's low 32 bits, little-endian)


def user_namespace_filter(machine: str | None = None) -> bytes | None:
    """The filter as ``struct sock_filter`` bytes, or None where this machine's numbers are not known."""
    known = ARCHITECTURES.get(machine or platform.machine())
    if known is None:
        return None
    audit, numbers, foreign = known
    # Each instruction: (code, jump if true, jump if false, constant); jumps count instructions skipped.
    program = [
        (_LOAD, 0, 0, _ARCH),
        (_JEQ, 0, 9, audit),  # another ABI -> ENOSYS
        (_LOAD, 0, 0, _NR),
        (_JGE, 7, 0, foreign if foreign is not None else 0xFFFFFFFF),  # x32 -> ENOSYS
        (_JEQ, 6, 0, numbers["clone3"]),  # -> ENOSYS
        (_JEQ, 1, 0, numbers["unshare"]),  # -> check the flags
        (_JEQ, 0, 2, numbers["clone"]),  # -> check the flags, or allow
        (_LOAD, 0, 0, _ARG0),
        (_JSET, 1, 0, CLONE_NEWUSER),  # -> EPERM
        (_RET, 0, 0, _ALLOW),
        (_RET, 0, 0, _ERRNO | EPERM),
        (_RET, 0, 0, _ERRNO | ENOSYS),
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
