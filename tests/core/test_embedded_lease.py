"""Processes sharing a state folder share its embedded servers; the last one out stops them.

Two `regua portfolio import` runs at once, or one beside `regua up`, each start the
embedded servers of the same folder: the first to finish must not stop what the other
still uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.processes import STRIP, servers_of

ROOT = Path(__file__).resolve().parents[2]

USER = """
import sys
from core.runtime import Services
from core.settings import get_settings
services = Services(get_settings())
settings = services.start()
print(settings.database_url, settings.s3_endpoint_url, flush=True)
sys.stdin.readline()
services.stop()
print("stopped", flush=True)
"""


class User:
    """A process that starts the state folder's services and stops them when told."""

    def __init__(self, state: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in STRIP}
        env["REGUA_STATE_DIR"] = str(state)
        self.process = subprocess.Popen(
            [sys.executable, "-c", USER], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def started(self) -> tuple[str, str]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        assert len(line) == 2, f"the services did not start (exit {self.process.poll()})"
        return line[0], line[1]

    def stop(self) -> None:
        out, _ = self.process.communicate("\n", timeout=90)
        assert "stopped" in out and self.process.returncode == 0


def serving(database_url: str, s3_endpoint: str) -> bool:
    try:
        with psycopg.connect(database_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return httpx.get(s3_endpoint, timeout=3).status_code in (200, 403)
    except (psycopg.OperationalError, httpx.HTTPError):
        return False


def kinds(state: Path) -> list[str]:
    """One name per embedded server process running for the state folder."""
    names = []
    for proc in servers_of(state):
        line = proc.cmdline()
        if any(part.endswith("weed") for part in line):
            names.append("s3")
        elif line and line[0].endswith("postgres"):
            names.append("postgres")
    return sorted(names)


@pytest.mark.timeout(300)
def test_the_first_process_to_stop_leaves_the_servers_to_the_other(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first, second = User(state), User(state)  # started at the same moment
    try:
        urls = first.started()
        assert second.started() == urls, "both must use the same servers"
        assert kinds(state) == ["postgres", "s3"], "started once, not twice"

        first.stop()
        assert serving(*urls), "the other process still uses them"

        second.stop()
        assert not serving(*urls)
        assert kinds(state) == []
    finally:
        for user in (first, second):
            if user.process.poll() is None:
                user.process.kill()
        for server in servers_of(state):
            server.kill()
