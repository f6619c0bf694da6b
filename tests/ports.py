"""Free loopback UDP ports for the SIP and RTP endpoints tests start.

pjsua2 endpoints and SIPp take their SIP port and RTP range up front, and the dialer
gives worker i the SIP port base+i and the RTP range base+40*i: tests need blocks of
consecutive free ports, which binding port 0 cannot give. Each pytest-xdist worker takes
its blocks from its own slice of 20000-29999 (below Linux's ephemeral range, where the
OS puts port-0 binds, and clear of the ports `regua up` uses), so two workers of a run
never collide. Within the slice the blocks follow each other from a random start and each
is checked free by binding every port in it, so a second run on the same machine (a CI
run beside a developer's) is unlikely to take the same ones either.
"""

from __future__ import annotations

import os
import random
import socket

LOW, HIGH = 20000, 30000


def _slice() -> range:
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    width = (HIGH - LOW) // workers // 2 * 2  # even, so every block starts even
    return range(LOW + index * width, LOW + (index + 1) * width)


_AREA = _slice()
# Blocks are handed out in turn, so one is not handed out again until the slice wrapped:
# a peer binds its RTP ports only during calls, so "free now" is not "not in use".
_next = random.randrange(_AREA.start, _AREA.stop, 2)


def _free(ports: range) -> bool:
    taken = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            taken.append(sock)
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        for sock in taken:
            sock.close()
    return True


def udp_block(size: int) -> int:
    """The first of `size` consecutive free UDP ports on 127.0.0.1 (an even one, as RTP
    wants)."""
    global _next
    for _ in range(len(_AREA) // 2):
        if _next + size > _AREA.stop:
            _next = _AREA.start
        start = _next
        _next += size + size % 2
        if _free(range(start, start + size)):
            return start
    raise RuntimeError(f"no {size} free UDP ports in a row in {_AREA}")
