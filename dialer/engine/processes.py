"""Start a pjsua2 process (line worker, loopback peer) with a connection to it.

Each is a fresh `python -m` process rather than a `multiprocessing` child: a spawned
child re-imports the parent's main module (the whole web application under `regua`),
about 2 s of CPU per worker, where this starts in about 0.2 s. The connection is a
`multiprocessing.connection.Connection` over an inherited socket pair.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any


def spawn(module: str, config: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Connection]:
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(theirs.fileno()), json.dumps(config)],
            pass_fds=[theirs.fileno()])
    finally:
        theirs.close()
    return process, Connection(ours.detach())


def stop(process: subprocess.Popen[bytes], conn: Connection, timeout: float = 5) -> None:
    try:
        conn.send({"op": "stop"})
    except OSError:
        pass
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    conn.close()
