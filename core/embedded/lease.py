"""Who uses a state folder's embedded servers: the last process out stops them.

Several Régua processes may share one state folder (`regua up` in one terminal, a
`regua portfolio import` in another, two imports at once). Each holds a shared lock on
`embedded.users` while it runs; starting and stopping happen under an exclusive
`embedded.lock`, so two processes never start the servers twice, and a process stops
them only when it can take `embedded.users` exclusively, that is when nobody else
still uses them. The kernel drops a dead process's locks, so a crash never leaves a
stale user behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class Lease:
    def __init__(self, state: Path) -> None:
        self._lock = state / "embedded.lock"
        self._users_path = state / "embedded.users"
        self._users: IO[bytes] | None = None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the start/stop lock: one process at a time checks and changes the servers."""
        self._lock.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def join(self) -> None:
        """Count this process among the servers' users until `leave`."""
        if self._users is None:
            self._users = self._users_path.open("ab")
            fcntl.flock(self._users, fcntl.LOCK_SH)

    def last_out(self) -> bool:
        """True when no other process uses the servers (call inside `exclusive`)."""
        if self._users is None:
            return False
        try:
            fcntl.flock(self._users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def leave(self) -> None:
        if self._users is not None:
            self._users.close()  # closing the file releases its lock
            self._users = None

