"""Embedded servers answer only with credentials: another user of the machine cannot log
in to the database as `postgres` or `regua_app`, nor reach SeaweedFS past its S3 gateway."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from core.embedded.postgres import EmbeddedPostgres
from core.embedded.s3 import EmbeddedS3

PASSWORD = "superuser-secret-for-test"


def refused(**kwargs: object) -> bool:
    try:
        with psycopg.connect(dbname="postgres", connect_timeout=5, **kwargs):  # type: ignore[arg-type]
            return False
    except psycopg.OperationalError:
        return True


def check_passwords_required(server: EmbeddedPostgres) -> None:
    tcp = {"host": "127.0.0.1", "port": server.port}
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE regua_app LOGIN PASSWORD 'the-right-one'")
    assert refused(user="postgres", **tcp)
    assert refused(user="postgres", password="wrong", **tcp)
    assert refused(user="regua_app", password="a-wrong-one", **tcp)
    assert refused(user="postgres", host=str(server.socket_dir), port=server.port)
    with psycopg.connect(user="regua_app", password="the-right-one", dbname="postgres",
                         **tcp) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("regua_app",)


@pytest.mark.timeout(180)
def test_a_new_embedded_database_requires_passwords(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", PASSWORD)
    server.start()
    try:
        check_passwords_required(server)
    finally:
        server.stop()


@pytest.mark.timeout(180)
def test_a_state_folder_created_with_trust_is_upgraded_on_start(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", PASSWORD)
    server.root.mkdir(parents=True)
    server.start()  # then made to look like a folder of the earlier releases
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
    server.stop()
    hba = server.pgdata / "pg_hba.conf"
    hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
    server.start()
    try:
        check_passwords_required(server)
        assert "trust" not in "".join(
            line for line in hba.read_text().splitlines() if not line.startswith("#"))
    finally:
        server.stop()


def _ports(server: EmbeddedS3) -> dict[str, int]:
    process = server._server()
    assert process is not None
    return {arg.split("=")[0][1:]: int(arg.split("=")[1]) for arg in process.cmdline()
            if re.fullmatch(r"-\w+\.port(\.grpc)?=\d+", arg)}


def _unanswered(method: str, url: str, **kwargs: object) -> bool:
    """True when the request gets no success: refused, or no TLS without our certificate.
    It trusts any server certificate, as an intruder would."""
    try:
        answer = httpx.request(method, url, timeout=5, verify=False,  # noqa: S501
                               **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError:
        return True
    return not answer.is_success


@pytest.mark.timeout(180)
def test_only_the_s3_port_of_the_embedded_storage_answers(tmp_path: Path) -> None:
    server = EmbeddedS3(tmp_path, "chave", "segredo-de-teste", "regua-cred")
    endpoint = server.start()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="chave", aws_secret_access_key="segredo-de-teste",
                          config=Config(s3={"addressing_style": "path"}))
        s3.put_object(Bucket="regua-cred", Key="t/original.csv", Body=b"cpf;nome\n1;Ana\n")
        assert s3.get_object(Bucket="regua-cred", Key="t/original.csv")["Body"].read()
        intruder = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="chave", aws_secret_access_key="errado",
                                config=Config(s3={"addressing_style": "path"}))
        with pytest.raises(ClientError):
            intruder.get_object(Bucket="regua-cred", Key="t/original.csv")

        ports = _ports(server)
        assert set(ports) >= {"filer.port", "master.port", "volume.port", "filer.port.grpc",
                              "master.port.grpc", "volume.port.grpc"}
        file_path = "/buckets/regua-cred/t/original.csv"
        for name, port in ports.items():
            if name == "s3.port":
                continue
            for scheme in ("http", "https"):
                base = f"{scheme}://127.0.0.1:{port}"
                assert _unanswered("GET", base + file_path), (name, scheme)
                assert _unanswered("PUT", base + file_path, content=b"forjado"), (name, scheme)
                assert _unanswered("DELETE", base + file_path), (name, scheme)
                assert _unanswered("GET", base + "/col/delete?collection=regua-cred")
                assert _unanswered("GET", base + "/dir/assign")
        # Even holding the certificate, the filer wants a signed token for each file.
        tls = tmp_path / "s3-tls"
        context = ssl.create_default_context(cafile=str(tls / "ca.pem"))
        context.load_cert_chain(str(tls / "cert.pem"), str(tls / "key.pem"))
        holder = httpx.get(f"https://127.0.0.1:{ports['filer.port']}{file_path}",
                           verify=context, timeout=5)
        assert holder.status_code == 401
        assert oct((tls / "key.pem").stat().st_mode & 0o777) == "0o600"
        # Nothing above got through.
        got = s3.get_object(Bucket="regua-cred", Key="t/original.csv")["Body"].read()
        assert got == b"cpf;nome\n1;Ana\n"
    finally:
        server.stop()
