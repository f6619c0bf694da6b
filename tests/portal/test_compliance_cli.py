"""`regua compliance check` as an operator uses it."""

from __future__ import annotations

import datetime as dt
import json

from core.access import access_contact_point, transaction
from core.collection import contacts
from tests.core.test_collection_model import creditor, place
from tests.portal.test_cli import regua


def answer(*args: str) -> dict[str, object]:
    result = regua("compliance", "check", *args, "--json")
    assert result.returncode == 0, result.stderr
    body: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(body) >= {"allowed", "reason", "next_allowed_at"}
    return body


def test_a_state_alone_answers_for_windows_and_holidays() -> None:
    # 12:30 UTC on a Monday is 07:30 in Acre: closed until 08:00 there.
    acre = answer("--state", "AC", "--channel", "call", "--at", "2026-12-07T12:30")
    assert acre["allowed"] is False and acre["code"] == "outside_hours"
    assert acre["reason"].startswith("fora do horário")  # type: ignore[union-attr]
    assert acre["next_allowed_at"] == "2026-12-07T08:00:00-05:00"
    assert answer("--state", "SP", "--channel", "call", "--at", "2026-12-07T12:30") == {
        "allowed": True, "reason": None, "code": None, "next_allowed_at": None}
    christmas = answer("--state", "AM", "--channel", "sms", "--at", "2026-12-25T10:00-04:00")
    assert christmas["code"] == "holiday" and "Natal" in christmas["reason"]  # type: ignore[operator]
    assert christmas["next_allowed_at"] == "2026-12-26T08:00:00-04:00"
    assert answer("--state", "CE", "--channel", "email", "--at", "2026-12-06T03:00")["allowed"]


def test_bad_input_is_refused_in_portuguese() -> None:
    unknown = regua("compliance", "check", "--state", "XX", "--channel", "call", "--at",
                    "2026-12-07T12:30", "--json")
    assert unknown.returncode == 1 and "UF desconhecida" in unknown.stderr
    bad_time = regua("compliance", "check", "--state", "SP", "--channel", "call", "--at",
                     "amanhã", "--json")
    assert bad_time.returncode == 2 and "data e hora inválida" in bad_time.stderr


async def test_a_debtor_answers_for_every_rule_and_only_in_its_tenant(factory, services) -> None:
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    staff = creditor(alfa.id)
    placed = await place(staff, alfa.id, document="45317828791",
                         due_dates=(dt.date(2026, 6, 10),))
    async with transaction(staff) as session:
        phone = await access_contact_point(session, staff, placed.phone_id)
        await contacts.opt_out(session, staff, phone, "whatsapp", source="debtor")
    monday = "2026-12-07T13:00:00Z"  # 10:00 in São Paulo
    debtor = str(placed.debtor_id)
    assert answer("--tenant", alfa.slug, "--debtor", debtor, "--channel", "call",
                  "--at", monday)["allowed"] is True
    opted = answer("--tenant", alfa.slug, "--debtor", debtor, "--channel", "whatsapp",
                   "--at", monday)
    assert (opted["allowed"], opted["code"], opted["next_allowed_at"]) == (
        False, "opted_out", None)
    # Another creditor's slug does not find the debtor: the same answer as a missing one.
    other = regua("compliance", "check", "--tenant", beta.slug, "--debtor", debtor,
                  "--channel", "call", "--at", monday, "--json")
    assert other.returncode == 1 and "devedor não encontrado" in other.stderr


async def test_a_tenant_narrows_its_windows_from_a_file(factory, services, tmp_path) -> None:
    tenant = await factory.tenant()
    path = tmp_path / "politica.json"
    path.write_text(json.dumps({"windows": {"*": {"sat": None},
                                            "call": {"weekdays": "09:00-18:00"}}}),
                    encoding="utf-8")
    stored = regua("compliance", "policy", "--tenant", tenant.slug, str(path))
    assert stored.returncode == 0, stored.stderr
    body = json.loads(stored.stdout.strip().splitlines()[-1])
    assert body["windows"] == {"call": "seg a sex 09:00–18:00",
                               "sms": "seg a sex 08:00–20:00",
                               "whatsapp": "seg a sex 08:00–20:00",
                               "email": "seg a sex o dia todo, dom o dia todo",
                               "letter": "seg a sex o dia todo, dom o dia todo"}
    early = answer("--tenant", tenant.slug, "--state", "SP", "--channel", "call",
                   "--at", "2026-12-07T08:30:00-03:00")
    assert (early["code"], early["next_allowed_at"]) == ("tenant_window",
                                                          "2026-12-07T09:00:00-03:00")
    # Without the tenant, the state's rules alone.
    assert answer("--state", "SP", "--channel", "call", "--at",
                  "2026-12-07T08:30:00-03:00")["allowed"] is True
    path.write_text('{"windows": {"call": {"mon": "9h"}}}', encoding="utf-8")
    refused = regua("compliance", "policy", "--tenant", tenant.slug, str(path))
    assert refused.returncode == 1 and "windows.call.mon" in refused.stderr
    assert regua("compliance", "policy", "--tenant", tenant.slug, "--clear").returncode == 0
