"""The kernel command inside the sandbox when kernels come from the zygote (``kernel_zygote``).

    python -m autograder.kernel_launcher SOCKET CONNECTION_FILE [KERNEL ARGUMENTS]

Jupyter starts this in place of ``python -m ipykernel_launcher -f CONNECTION_FILE [KERNEL ARGUMENTS]``. It asks the
zygote for a kernel, passing the connection file, its working folder, its environment and its
standard streams; the zygote forks a kernel into this process's own sandbox. This process then
stands in for the kernel towards Jupyter: it forwards interrupts and termination to it and exits
when it exits, so Jupyter's restarts, interrupts and dead-kernel detection work unchanged.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def main(argv: list[str]) -> int:
    socket_path, connection_file, *arguments = argv
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(socket_path)
    request = {"connection_file": os.path.abspath(connection_file), "cwd": os.getcwd(), "env": dict(os.environ),
               "arguments": arguments}
    try:
        socket.send_fds(client, [b"k"], [0, 1, 2])
        client.sendall(json.dumps(request).encode())
        client.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before reading: its answer says why
    reply = json.loads(_read_all(client) or b"{}")
    client.close()
    if "pid" not in reply:
        print(f"kernel_launcher: the zygote gave no kernel ({reply.get('error', 'no answer')})", file=sys.stderr)
        return 1
    kernel = os.pidfd_open(reply["pid"])
    for number in FORWARDED:
        signal.signal(number, lambda received, _frame: _forward(kernel, received))
    while True:
        try:
            if select.select([kernel], [], [])[0]:
                return 0  # the kernel has exited
        except InterruptedError:
            continue


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
    sys.exit(main(sys.argv[1:]))
