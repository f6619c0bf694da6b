"""The escalation API: roles on every endpoint, Portuguese validation, hold and release
over HTTP, manual escalation, and the wall between tenants (404, and a raw query under
the other tenant's setting)."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.access import transaction
from core.db import app_url
from core.settings import get_settings
from legal.escalation import rules
from tests.legal.escalation_helpers import place, system

pytestmark = pytest.mark.usefixtures("services")


async def _setup(factory, client, database_url):  # type: ignore[no-untyped-def]
    tenant = await factory.tenant()
    placed = await place(database_url, tenant.id)
    people = {role: await factory.user(role, tenant_ids=[tenant.id])
              for role in ("admin", "supervisor", "legal", "agent")}
    people["creditor_admin"] = tenant.admin
    people["creditor_viewer"] = await factory.user("creditor_viewer", tenant_id=tenant.id)
    made = await client.post("/api/v1/escalations", headers=people["legal"].headers,
                             json={"debt_id": str(placed.debt_ids[0]), "path": "bureau",
                                   "note": "devedor não responde"})
    assert made.status_code == 201, made.text
    return tenant, placed, people, made.json()["escalation_id"]


async def test_roles_on_every_escalation_endpoint(factory, client, database_url) -> None:
    tenant, placed, people, escalation_id = await _setup(factory, client, database_url)
    rule = {"tenant_id": str(tenant.id), "name": "Negativar 60 dias", "priority": 1,
            "path": "bureau", "min_days_overdue": 60, "min_amount": "100,00"}
    created = await client.post("/api/v1/escalation-rules", headers=people["admin"].headers,
                                json=rule)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    base = f"/api/v1/escalations/{escalation_id}"
    calls = [  # (method, url, body, roles admitted)
        ("GET", "/api/v1/escalations", None,
         {"admin", "supervisor", "legal", "creditor_admin", "creditor_viewer"}),
        ("GET", base, None, {"admin", "supervisor", "legal", "creditor_admin",
                             "creditor_viewer"}),
        ("POST", base + "/hold", {"reason": "conferir endereço"}, {"admin", "supervisor",
                                                                    "legal"}),
        ("POST", base + "/release", {"reason": "conferido"}, {"admin", "supervisor", "legal"}),
        ("GET", f"/api/v1/escalation-rules?tenant_id={tenant.id}", None,
         {"admin", "supervisor", "legal"}),
        ("GET", f"/api/v1/escalation-rules/{rule_id}", None, {"admin", "supervisor", "legal"}),
        ("PUT", f"/api/v1/escalation-rules/{rule_id}", rule, {"admin", "supervisor"}),
        ("GET", f"/api/v1/escalation-policy?tenant_id={tenant.id}", None,
         {"admin", "supervisor", "legal"}),
        ("PUT", f"/api/v1/escalation-policy?tenant_id={tenant.id}",
         {"notice_days": 15, "notice_days_sp": 20, "removal_business_days": 5,
          "remove_on_agreement": True}, {"admin", "supervisor"}),
    ]
    for method, url, body, admitted in calls:
        for role, login in people.items():
            if method == "POST" and url.endswith("/release"):
                # Held again by the admin each time, so every role meets a held file.
                await client.post(base + "/hold", headers=people["admin"].headers,
                                  json={"reason": "retido para o teste"})
            answer = await client.request(method, url, headers=login.headers, json=body)
            expected = "ok" if role in admitted else 403
            got = "ok" if answer.status_code < 300 else answer.status_code
            if role in admitted and method == "POST" and url.endswith("/hold"):
                # Held by the first admitted role; the others find it held already.
                got = "ok" if answer.status_code in (200, 409) else answer.status_code
                await client.post(base + "/release", headers=people["admin"].headers,
                                  json={"reason": "liberado para o teste"})
            assert got == expected, (method, url, role, answer.status_code, answer.text)
    for role, login in people.items():
        answer = await client.post("/api/v1/escalations", headers=login.headers,
                                   json={"debt_id": str(placed.debt_ids[0]), "path": "protest"})
        if role in ("admin", "supervisor", "legal"):
            assert answer.status_code == 409  # escalated already
            assert answer.json()["detail"] == "este título já está em escalonamento"
        else:
            assert answer.status_code == 403, role
    gone = await client.delete(f"/api/v1/escalation-rules/{rule_id}",
                               headers=people["legal"].headers)
    assert gone.status_code == 403
    gone = await client.delete(f"/api/v1/escalation-rules/{rule_id}",
                               headers=people["supervisor"].headers)
    assert gone.status_code == 204


async def test_rules_are_validated_in_portuguese_by_field(factory, client) -> None:
    tenant = await factory.tenant()
    admin = await factory.user("admin", tenant_ids=[tenant.id])
    answer = await client.post("/api/v1/escalation-rules", headers=admin.headers, json={
        "tenant_id": str(tenant.id), "name": "", "priority": "alta", "path": "cartorio",
        "min_days_overdue": -1, "min_amount": "1.000,00", "max_amount": "10,00",
        "min_score": 900, "max_score": 100})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors["name"] == "nome: obrigatório"
    assert errors["priority"] == "prioridade: informe um número inteiro"
    assert errors["path"].startswith("caminho: use bureau (negativação), protest (protesto)")
    assert errors["min_days_overdue"] == "dias de atraso: use de 0 a 3650"
    assert errors["max_amount"] == "valor máximo: deve ser maior ou igual ao valor mínimo"
    assert errors["max_score"] == "score máximo: deve ser maior ou igual ao score mínimo"
    policy = await client.put(f"/api/v1/escalation-policy?tenant_id={tenant.id}",
                              headers=admin.headers, json={"notice_days": 5,
                                                            "notice_days_sp": 10})
    assert policy.status_code == 422
    assert policy.json()["errors"] == {
        "notice_days": "prazo da notificação (dias): use de 10 a 90",
        "notice_days_sp": "prazo da notificação para devedores de SP (dias): use de 20 a 90"}


async def test_hold_and_release_over_http_with_the_history(factory, client,
                                                          database_url) -> None:
    tenant, _, people, escalation_id = await _setup(factory, client, database_url)
    base = f"/api/v1/escalations/{escalation_id}"
    empty = await client.post(base + "/hold", headers=people["legal"].headers,
                              json={"reason": "  "})
    assert empty.status_code == 422 and empty.json()["errors"] == {"reason": "motivo: obrigatório"}
    held = await client.post(base + "/hold", headers=people["legal"].headers,
                             json={"reason": "credor pediu para aguardar"})
    assert held.status_code == 200
    assert held.json()["held_reason"] == "credor pediu para aguardar"
    twice = await client.post(base + "/hold", headers=people["supervisor"].headers,
                              json={"reason": "de novo"})
    assert twice.status_code == 409
    listed = await client.get(f"/api/v1/escalations?tenant_id={tenant.id}&held=true",
                              headers=people["supervisor"].headers)
    assert [i["id"] for i in listed.json()["items"]] == [escalation_id]
    released = await client.post(base + "/release", headers=people["supervisor"].headers,
                                 json={"reason": "liberado"})
    history = released.json()["events"]
    assert [(e["to_label"], e["note"]) for e in history] == [
        ("notificação a enviar", "devedor não responde"),
        ("notificação a enviar", "retido: credor pediu para aguardar"),
        ("notificação a enviar", "liberado: liberado")]
    assert history[0]["who"] == people["legal"].email
    # The creditor reads the same history, with the agency's people as its team.
    seen = await client.get(base, headers=people["creditor_viewer"].headers)
    assert {e["who"] for e in seen.json()["events"]} == {"equipe da assessoria"}


def _raw(tenant_id: uuid.UUID, sql: str) -> list[tuple[object, ...]]:
    url = make_url(app_url(get_settings())).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)",
                     ("{" + str(tenant_id) + "}",))
        return conn.execute(sql).fetchall()


async def test_another_tenant_sees_none_of_the_escalations(factory, client,
                                                         database_url) -> None:
    tenant, placed, _, escalation_id = await _setup(factory, client, database_url)
    async with transaction(system(tenant.id)) as session:
        session.add(rules.EscalationRule(tenant_id=tenant.id, **rules.validate({
            "name": "Regra do Alfa", "priority": 1, "path": "protest",
            "min_days_overdue": 400})))
    from legal.escalation import service

    await service.run(tenant.id, dt.date.today())  # notice sent, a remessa not yet
    other = await factory.tenant()
    outsider = await factory.user("legal", tenant_ids=[other.id])
    for headers in (other.admin.headers, outsider.headers):
        assert (await client.get(f"/api/v1/escalations/{escalation_id}",
                                 headers=headers)).status_code == 404
        listed = await client.get("/api/v1/escalations", headers=headers)
        assert listed.json()["items"] == []
        assert (await client.get(f"/api/v1/escalations?tenant_id={tenant.id}",
                                 headers=headers)).json()["items"] == []
    for url, body in ((f"/api/v1/escalations/{escalation_id}/hold", {"reason": "x"}),
                      (f"/api/v1/escalations/{escalation_id}/release", {"reason": "x"}),
                      ("/api/v1/escalations", {"debt_id": str(placed.debt_ids[0]),
                                               "path": "judicial"})):
        answer = await client.post(url, headers=outsider.headers, json=body)
        assert answer.status_code == 404, (url, answer.text)
    assert (await client.get(f"/api/v1/escalation-rules?tenant_id={tenant.id}",
                             headers=outsider.headers)).status_code == 404
    assert (await client.get(f"/api/v1/escalation-policy?tenant_id={tenant.id}",
                             headers=outsider.headers)).status_code == 404
    for table in ("escalation", "escalation_event", "escalation_rule", "escalation_policy",
                  "bureau_remessa"):
        assert _raw(other.id, f"SELECT * FROM {table}") == [], table
    own = _raw(tenant.id, "SELECT count(*) FROM escalation_event")
    assert own[0][0] >= 2
