"""The deployment files are valid: the compose file resolves, the manifests parse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parent.parent / "infra"


def compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_config_resolves_with_the_example_secrets() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    result = subprocess.run([*command, "-f", str(INFRA / "compose.yaml"), "--env-file",
                             str(INFRA / "env.example"), "config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"postgres", "rabbitmq", "s3", "migrate", "web", "worker", "scheduler",
            "dialer"} <= set(services)
    for name in ("web", "worker", "scheduler", "dialer"):
        assert services[name]["environment"]["REGUA_BROKER_URL"].startswith("amqp://")


def test_compose_refuses_to_run_without_secrets() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    result = subprocess.run([*command, "-f", str(INFRA / "compose.yaml"), "config"],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin:/usr/local/bin"})
    assert result.returncode != 0 and "infra/.env" in result.stderr


def test_kubernetes_manifests_parse() -> None:
    kinds = [doc["kind"] for path in sorted((INFRA / "k8s").glob("*.yaml"))
             for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert kinds.count("Deployment") == 4 and "Job" in kinds and "Service" in kinds


def test_compose_lets_only_s3_out_of_the_seaweedfs_container() -> None:
    """The filer, master and volume ports serve and delete files without credentials:
    SeaweedFS binds them to its own loopback, and only S3 is forwarded out."""
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    result = subprocess.run([*command, "-f", str(INFRA / "compose.yaml"), "--env-file",
                             str(INFRA / "env.example"), "config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    weed = services["s3"]["command"]
    assert "-ip.bind=127.0.0.1" in weed and "-ip=127.0.0.1" in weed
    assert [str(p.get("target", p) if isinstance(p, dict) else p).split(":")[-1]
            for p in services["s3"].get("ports", [])] == ["8333"]
    gateway = services["s3-gateway"]
    assert gateway["network_mode"] == "service:s3"
    assert gateway["command"] == ["tcp-listen:8333,fork,reuseaddr", "tcp-connect:127.0.0.1:8334"]
    assert "-s3.port=8334" in weed
    for name, service in services.items():
        assert not service.get("expose"), name
