"""The kernel command inside the sandbox when kernels come from the zygote (``execution.zygote``).

    python -m autograder.sandbox.kernel_launcher SOCKET CONNECTION_FILE [KERNEL ARGUMENTS]

Jupyter starts this in place of ``python -m ipykernel_launcher -f CONNECTION_FILE [KERNEL ARGUMENTS]``.
It asks the zygote for a kernel, passing the connection file, its working folder, its environment
and its standard streams; the zygote forks a kernel into this process's own sandbox. This process then
stands in for the kernel towards Jupyter: it forwards interrupts and termination to it and exits
when it exits, so Jupyter's restarts, interrupts and dead-kernel detection work unchanged. If the
zygote gives no kernel (it has died, or refuses), this process becomes an ordinary kernel itself.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
NO_KERNEL = 3


def main(argv: list[str]) -> int:
    """Get a kernel from the zygote and stand in for it until it exits (0); NO_KERNEL if the zygote gave none."""
    socket_path, connection_file, *arguments = argv
    try:
        pid = request_kernel(socket_path, os.path.abspath(connection_file), arguments)
    except (OSError, ValueError) as error:
        print(f"kernel_launcher: the zygote gave no kernel ({error})", file=sys.stderr)
        return NO_KERNEL
    kernel = os.pidfd_open(pid)
    for number in FORWARDED:
        signal.signal(number, lambda received, _frame: _forward(kernel, received))
    while True:
        try:
            if select.select([kernel], [], [])[0]:
                return 0  # the kernel has exited
        except InterruptedError:
            continue


def request_kernel(socket_path: str, connection_file: str, arguments: list[str]) -> int:
    """Ask the zygote for a kernel in this sandbox; its PID, or the zygote's refusal as a ValueError."""
    request = {"connection_file": connection_file, "cwd": os.getcwd(), "env": dict(os.environ), "arguments": arguments}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(socket_path)
        try:
            socket.send_fds(client, [b"k"], [0, 1, 2])
            client.sendall(json.dumps(request).encode())
            client.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before reading: its answer says why
        reply = json.loads(_read_all(client) or b"{}")
    if not isinstance(reply, dict) or not isinstance(reply.get("pid"), int):
        raise ValueError(reply.get("error", "no answer") if isinstance(reply, dict) else "a malformed answer")
    return reply["pid"]


def start_cold_kernel(connection_file: str, arguments: list[str]):
    """Become the kernel Jupyter would have started: the same command, in this same process."""
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *arguments])


def _read_all(client: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := client.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass  # a refusal closes without reading what was sent; its answer came first
    return b"".join(chunks)


def _forward(kernel: int, number: int) -> None:
    try:
        signal.pidfd_send_signal(kernel, number)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    code = main(sys.argv[1:])
    if code == NO_KERNEL:  # a slower start, never a lost notebook
        print("kernel_launcher: starting a kernel of its own instead", file=sys.stderr)
        start_cold_kernel(sys.argv[2], sys.argv[3:])
    sys.exit(code)
