"""`regua up` on a machine with nothing configured: embedded PostgreSQL, S3 and broker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.ports import udp_block
from tests.processes import STRIP, servers_of

WORKERS = 2  # the dialer's line workers, and a demo debtor phone for each


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(state: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in STRIP}
    env["REGUA_STATE_DIR"] = str(state)
    # The dialer and its demo peers on free ports: the default ones may be taken by
    # another run, or by a `regua up --demo` on this machine.
    env.update({
        "REGUA_DIALER_WORKERS": str(WORKERS),
        "REGUA_DIALER_SIP_PORT": str(udp_block(WORKERS)),
        # the workers' RTP ranges, then the debtor phones' and the agents' phone's
        "REGUA_DIALER_RTP_PORT": str(udp_block(40 * (WORKERS + WORKERS + 1))),
        # debtor phones at +i, the agents' phone at +100
        "REGUA_DIALER_DEMO_PORT": str(udp_block(101)),
    })
    return subprocess.Popen(
        ["uv", "run", "--no-sync", "regua", "up", "--demo", "--port", str(port)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"regua up exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"/ready never answered:\n{log.read_text()[-3000:]}")


def tree(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def stop(process: subprocess.Popen[bytes], state: Path, log: Path) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        for server in servers_of(state):  # do not leave the machine littered
            server.kill()
        pytest.fail("regua up did not stop within 60 s of Ctrl-C; it logged:\n"
                    + log.read_text()[-4000:])


def wait_gone(processes: list[psutil.Process], seconds: float = 20) -> list[psutil.Process]:
    """The processes still alive after up to `seconds`: a loaded machine lets a stopping
    postmaster linger a moment after the command that stopped it has returned."""
    deadline = time.monotonic() + seconds
    while True:
        left = [p for p in processes if p.is_running() and p.status() != "zombie"]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@pytest.mark.timeout(600)
def test_up_serves_logins_on_embedded_services_and_stops_cleanly(tmp_path: Path) -> None:
    state, port = tmp_path / "state", free_port()
    log = tmp_path / "up.log"
    process = start(state, port, log)
    try:
        wait_ready(port, process, log)
        printed = log.read_text()
        assert f"http://127.0.0.1:{port}" in printed
        logins = re.findall(r"(\S+@\S+)\s+senha: (\S+)", printed)
        assert len(logins) >= 3
        assert "embedded PostgreSQL" in printed and "embedded S3" in printed
        assert "in-process broker" in printed
        running = tree(process)
        assert any("dialer" in " ".join(p.cmdline()) for p in running)
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "Entrar" in page.text
        email, password = logins[1]  # a creditor admin
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                           json={"email": email, "password": password}).json()["access_token"]
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/me",
                       headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == email
        imported = httpx.get(f"http://127.0.0.1:{port}/api/v1/portfolios",
                             headers={"Authorization": f"Bearer {token}"}).json()
        # The demo's placements (and the creditor's settlement file) are all imported, and
        # the generated portfolio's bad rows are reported, not dropped.
        assert imported and all(p["status"] == "done" for p in imported), imported
        assert any(p["rows_rejected"] > 0 for p in imported), imported
        embedded = servers_of(state)
        assert embedded, "the embedded servers should run with the state folder"
    finally:
        stop(process, state, log)
    left = wait_gone(running + embedded)
    assert left == [], ([p.cmdline() for p in left], log.read_text()[-3000:])

    # A second start reuses the data: the same logins work, nothing is duplicated.
    process = start(state, port, log)
    try:
        wait_ready(port, process, log)
        email, password = logins[0]
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                           json={"email": email, "password": password}).json()["access_token"]
        tenants = httpx.get(f"http://127.0.0.1:{port}/api/v1/tenants",
                            headers={"Authorization": f"Bearer {token}"}).json()
        assert len(tenants) == 2
    finally:
        stop(process, state, log)
    assert wait_gone(servers_of(state)) == [], log.read_text()[-3000:]
