"""The `regua` command as an operator uses it."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import random_cnpj


def regua(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", "run", "--no-sync", "regua", *args], input=stdin,
                          capture_output=True, text=True, env=os.environ, timeout=180)


def test_tenant_and_user_creation_then_login(client, services) -> None:
    created = regua("tenant", "create", "--name", "Credora CLI Ltda.", "--cnpj", random_cnpj(),
                    "--json")
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout.strip().splitlines()[-1])
    assert tenant["id"] and tenant["slug"].startswith("credora-cli")
    user = regua("user", "create", "--email", f"gestor@{tenant['slug']}.test", "--role",
                 "creditor_admin", "--tenant", tenant["slug"], "--password-stdin",
                 stdin="senha-do-cli-123\n")
    assert user.returncode == 0, user.stderr
    listed = regua("tenant", "list", "--json")
    assert tenant["slug"] in {t["slug"] for t in json.loads(listed.stdout)}


async def test_cli_user_can_get_a_token(client, services) -> None:
    created = json.loads(regua("tenant", "create", "--name", "Outra Credora", "--cnpj",
                               random_cnpj(), "--json").stdout.strip().splitlines()[-1])
    email = f"ops@{created['slug']}.test"
    assert regua("user", "create", "--email", email, "--role", "creditor_viewer", "--tenant",
                 created["slug"], "--password-stdin", stdin="senha-do-cli-456\n").returncode == 0
    answer = await client.post("/api/v1/auth/token",
                               json={"email": email, "password": "senha-do-cli-456"})
    assert answer.status_code == 200


def test_bad_cnpj_is_refused_with_a_clear_message(services) -> None:
    result = regua("tenant", "create", "--name", "X", "--cnpj", "11.222.333/0001-00", "--json")
    assert result.returncode == 1
    assert "CNPJ inválido" in result.stderr


def test_portfolio_import_prints_one_json_object(services, tmp_path) -> None:
    created = json.loads(regua("tenant", "create", "--name", "Credora Import", "--cnpj",
                               random_cnpj(), "--json").stdout.strip().splitlines()[-1])
    path = tmp_path / "carteira.csv"
    path.write_text("CPF;Nome;Contrato;Vencimento;Valor\n52998224725;Ana;X1;10/01/2025;10,00\n"
                    "123;Bia;X2;10/01/2025;5,00\n", encoding="utf-8")
    result = regua("portfolio", "import", "--tenant", created["slug"], str(path), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("portfolio_id", "status", "rows_total", "rows_accepted", "rows_rejected",
                "rows_with_warnings", "debtors_created", "debtors_updated", "debts_created",
                "debts_updated", "debts_unchanged", "debts_closed", "duplicate_of"):
        assert key in body, key
    assert (body["rows_total"], body["rows_accepted"], body["rows_rejected"]) == (2, 1, 1)
    errors = regua("portfolio", "errors", body["portfolio_id"])
    assert errors.returncode == 0 and "CPF" in errors.stdout and "X2" in errors.stdout


def test_an_operator_command_prints_its_answer_alone(services) -> None:
    quiet = regua("tenant", "list", "--json")
    assert quiet.returncode == 0
    assert quiet.stderr == ""  # no log lines, no "Bytecode compiled …" from uv
    json.loads(quiet.stdout)  # the whole output is the answer
    verbose = regua("--verbose", "tenant", "list", "--json")
    assert " INFO " in verbose.stderr
    json.loads(verbose.stdout)


def test_portfolio_import_answers_in_portuguese(services, tmp_path) -> None:
    created = json.loads(regua("tenant", "create", "--name", "Credora Texto", "--cnpj",
                               random_cnpj(), "--json").stdout)
    path = tmp_path / "carteira.csv"
    path.write_text("CPF;Nome;Contrato;Vencimento;Valor\n52998224725;Ana;X1;10/01/2025;"
                    "1.234,50\n", encoding="utf-8")
    result = regua("portfolio", "import", "--tenant", created["slug"], str(path))
    assert result.returncode == 0 and result.stderr == ""
    assert "Situação" in result.stdout and "concluída" in result.stdout
    assert "Linhas aceitas" in result.stdout and "R$ 1.234,50" in result.stdout
