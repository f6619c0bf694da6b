"""Managing users and tenants: who may change what, the wall between tenants, and the audit."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.db import Scope
from core.models import AuditLog


async def token(client, email: str, password: str):
    return await client.post("/api/v1/auth/token", json={"email": email, "password": password})


async def audit_entries(db, entity_id, action: str) -> list[AuditLog]:
    async with db.transaction(Scope(agency=True, tenant_ids=frozenset())) as session:
        rows = await session.execute(select(AuditLog).where(
            AuditLog.entity_id == str(entity_id), AuditLog.action == action))
        return list(rows.scalars())


async def tenant_audit(db, tenant_id, entity_id, action: str) -> list[AuditLog]:
    async with db.transaction(Scope(frozenset({tenant_id}), agency=True)) as session:
        rows = await session.execute(select(AuditLog).where(
            AuditLog.entity_id == str(entity_id), AuditLog.action == action))
        return list(rows.scalars())


async def test_creditor_admin_edits_its_own_user_and_it_is_audited(client, factory, db):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    answer = await client.patch(f"/api/v1/users/{viewer.user_id}", headers=tenant.admin.headers,
                                json={"full_name": "Ana Souza", "email": "ANA.nova@credor.test",
                                      "role": "creditor_admin"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["full_name"], body["email"], body["role"]) == (
        "Ana Souza", "ana.nova@credor.test", "creditor_admin")
    [entry] = await tenant_audit(db, tenant.id, viewer.user_id, "user.updated")
    assert entry.actor_email == tenant.admin.email
    assert entry.before["role"] == "creditor_viewer" and entry.after["role"] == "creditor_admin"
    assert entry.after["email"] == "ana.nova@credor.test"


async def test_another_tenants_user_is_not_found_for_every_action(client, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    victim = await factory.user("creditor_viewer", tenant_id=beta.id)
    base = f"/api/v1/users/{victim.user_id}"
    for method, path, body in [
        ("PATCH", base, {"full_name": "Invasor"}),
        ("POST", f"{base}/deactivate", None),
        ("POST", f"{base}/reactivate", None),
        ("POST", f"{base}/password", {"password": "senha-do-invasor-1"}),
    ]:
        answer = await client.request(method, path, headers=alfa.admin.headers, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["detail"] == "usuário não encontrado"
    # The victim is untouched and still logs in with its own password.
    assert (await token(client, victim.email, victim.password)).status_code == 200


async def test_creditor_admin_may_not_reach_agency_users_or_roles(client, factory):
    tenant = await factory.tenant()
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    hidden = await client.patch(f"/api/v1/users/{agent.user_id}", headers=tenant.admin.headers,
                                json={"full_name": "x"})
    assert hidden.status_code == 404
    promoted = await client.patch(f"/api/v1/users/{viewer.user_id}",
                                  headers=tenant.admin.headers, json={"role": "agent"})
    assert promoted.status_code == 422 and "role" in promoted.json()["errors"]
    created = await client.post("/api/v1/users", headers=tenant.admin.headers, json={
        "email": f"s-{uuid.uuid4().hex[:6]}@x.test", "password": "senha-forte-123",
        "role": "supervisor"})
    assert created.status_code == 403


async def test_viewer_and_supervisor_may_not_manage(client, factory):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])
    target = tenant.admin.user_id
    for who in (viewer, supervisor):
        for method, path, body in [
            ("PATCH", f"/api/v1/users/{target}", {"full_name": "x"}),
            ("POST", f"/api/v1/users/{target}/reactivate", None),
            ("POST", f"/api/v1/users/{target}/password", {"password": "senha-forte-123"}),
            ("PATCH", f"/api/v1/tenants/{tenant.id}", {"legal_name": "x"}),
            ("POST", f"/api/v1/tenants/{tenant.id}/reactivate", None),
        ]:
            answer = await client.request(method, path, headers=who.headers, json=body)
            assert answer.status_code == 403, (who.email, method, path)
    # A creditor admin does not edit tenants either (the agency does).
    own = await client.patch(f"/api/v1/tenants/{tenant.id}", headers=tenant.admin.headers,
                             json={"legal_name": "Outro Nome"})
    assert own.status_code == 403


async def test_password_reset_ends_every_session_and_is_audited_without_the_password(
        client, factory, db):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    assert (await client.get("/api/v1/auth/me", headers=viewer.headers)).status_code == 200
    short = await client.post(f"/api/v1/users/{viewer.user_id}/password",
                              headers=tenant.admin.headers, json={"password": "curta"})
    assert short.status_code == 422
    assert "10 caracteres" in short.json()["errors"]["password"]
    reset = await client.post(f"/api/v1/users/{viewer.user_id}/password",
                              headers=tenant.admin.headers, json={"password": "nova-senha-2026"})
    assert reset.status_code == 200, reset.text
    assert (await client.get("/api/v1/auth/me", headers=viewer.headers)).status_code == 401
    assert (await token(client, viewer.email, viewer.password)).status_code == 401
    assert (await token(client, viewer.email, "nova-senha-2026")).status_code == 200
    [entry] = await tenant_audit(db, tenant.id, viewer.user_id, "user.password_reset")
    assert "nova-senha-2026" not in str(entry.before) + str(entry.after)


async def test_deactivate_and_reactivate_a_user(client, factory, db):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    off = await client.post(f"/api/v1/users/{viewer.user_id}/deactivate",
                            headers=tenant.admin.headers)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert (await token(client, viewer.email, viewer.password)).status_code == 401
    on = await client.post(f"/api/v1/users/{viewer.user_id}/reactivate",
                           headers=tenant.admin.headers)
    assert on.status_code == 200 and on.json()["is_active"] is True
    assert (await token(client, viewer.email, viewer.password)).status_code == 200
    assert await tenant_audit(db, tenant.id, viewer.user_id, "user.reactivated")
    # Nobody deactivates themselves (and locks the tenant out by mistake).
    self_off = await client.post(f"/api/v1/users/{tenant.admin.user_id}/deactivate",
                                 headers=tenant.admin.headers)
    assert self_off.status_code == 422


async def test_admin_changes_the_tenants_an_agent_works(client, factory, db):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    admin = await factory.user("admin")
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    answer = await client.patch(f"/api/v1/users/{agent.user_id}", headers=admin.headers,
                                json={"tenant_ids": [str(beta.id)], "role": "supervisor"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant_ids"] == [str(beta.id)]
    me = (await client.get("/api/v1/auth/me", headers=agent.headers)).json()
    assert me["role"] == "supervisor" and me["tenant_ids"] == [str(beta.id)]
    # An agency user cannot become a creditor's, and a creditor's user works no list.
    crossing = await client.patch(f"/api/v1/users/{agent.user_id}", headers=admin.headers,
                                  json={"role": "creditor_viewer"})
    assert crossing.status_code == 422 and "role" in crossing.json()["errors"]
    [entry] = await audit_entries(db, agent.user_id, "user.updated")
    assert entry.before["tenant_ids"] == [str(alfa.id)]
    assert entry.after["tenant_ids"] == [str(beta.id)]


async def test_email_taken_names_the_field(client, factory):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    taken = await client.patch(f"/api/v1/users/{viewer.user_id}", headers=tenant.admin.headers,
                               json={"email": tenant.admin.email.upper()})
    assert taken.status_code == 409
    assert taken.json()["errors"] == {"email": "este e-mail não pode ser usado"}


async def test_admin_edits_and_reactivates_a_tenant(client, factory, db):
    tenant = await factory.tenant()
    admin = await factory.user("admin")
    edited = await client.patch(f"/api/v1/tenants/{tenant.id}", headers=admin.headers, json={
        "legal_name": "Nova Razão S.A.", "trade_name": "Nova", "address": "Rua A, 1",
        "state": "am", "timezone": "America/Manaus"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["legal_name"], body["trade_name"], body["state"], body["timezone"],
            body["address"]) == ("Nova Razão S.A.", "Nova", "AM", "America/Manaus", "Rua A, 1")
    [entry] = await tenant_audit(db, tenant.id, tenant.id, "tenant.updated")
    assert entry.before["state"] == "SP" and entry.after["state"] == "AM"
    bad = await client.patch(f"/api/v1/tenants/{tenant.id}", headers=admin.headers,
                             json={"state": "XX", "timezone": "Europe/Lisbon"})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"state", "timezone"}

    await client.post(f"/api/v1/tenants/{tenant.id}/deactivate", headers=admin.headers)
    assert (await token(client, tenant.admin.email, tenant.admin.password)).status_code == 401
    back = await client.post(f"/api/v1/tenants/{tenant.id}/reactivate", headers=admin.headers)
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert (await token(client, tenant.admin.email, tenant.admin.password)).status_code == 200
    assert await tenant_audit(db, tenant.id, tenant.id, "tenant.reactivated")
    missing = await client.patch(f"/api/v1/tenants/{uuid.uuid4()}", headers=admin.headers,
                                 json={"legal_name": "x"})
    assert missing.status_code == 404 and missing.json()["detail"] == "credor não encontrado"


# ---- defects from issue 15 -------------------------------------------------------------

async def test_defect_1_tenant_errors_name_the_admin_fields(client, factory):
    admin = await factory.user("admin")
    other = await factory.tenant()
    from tests.conftest import random_cnpj

    short = await client.post("/api/v1/tenants", headers=admin.headers, json={
        "legal_name": "Credora Curta Ltda.", "cnpj": random_cnpj(), "state": "SP",
        "admin_email": "gestor@curta.test", "admin_password": "curta"})
    assert short.status_code == 422
    assert set(short.json()["errors"]) == {"admin_password"}
    taken = await client.post("/api/v1/tenants", headers=admin.headers, json={
        "legal_name": "Credora Repetida Ltda.", "cnpj": random_cnpj(), "state": "SP",
        "admin_email": other.admin.email, "admin_password": "senha-forte-123"})
    assert taken.status_code == 409
    assert set(taken.json()["errors"]) == {"admin_email"}


async def test_defect_2_every_text_field_has_a_length_check(client, factory):
    admin = await factory.user("admin")
    tenant = await factory.tenant()
    from tests.conftest import random_cnpj

    long_tenant = await client.post("/api/v1/tenants", headers=admin.headers, json={
        "legal_name": "R" * 201, "trade_name": "T" * 201, "address": "A" * 301,
        "cnpj": random_cnpj(), "state": "SP", "admin_email": "x@y.test",
        "admin_password": "p" * 129, "admin_name": "N" * 201})
    # Longer than their columns: refused at the edge, each field named (core.edge).
    assert long_tenant.status_code == 400, long_tenant.text
    errors = long_tenant.json()["errors"]
    assert set(errors) == {"legal_name", "trade_name", "address", "admin_name"}
    assert errors["legal_name"] == "razão social: use no máximo 200 caracteres (foram 201)"
    long_password = await client.post("/api/v1/tenants", headers=admin.headers, json={
        "legal_name": "Credora Senha Longa Ltda.", "cnpj": random_cnpj(), "state": "SP",
        "admin_email": "x@y.test", "admin_password": "p" * 129})
    assert long_password.status_code == 422
    assert set(long_password.json()["errors"]) == {"admin_password"}
    long_user = await client.post("/api/v1/users", headers=tenant.admin.headers, json={
        "email": "e" * 250 + "@x.test", "password": "senha-forte-123",
        "role": "creditor_viewer", "full_name": "N" * 201})
    assert long_user.status_code == 400
    assert set(long_user.json()["errors"]) == {"email", "full_name"}
    edit = await client.patch(f"/api/v1/tenants/{tenant.id}", headers=admin.headers,
                              json={"legal_name": "R" * 201})
    assert edit.status_code == 400 and "legal_name" in edit.json()["errors"]


async def test_defect_9_api_messages_are_portuguese(client, factory):
    admin = await factory.user("admin")
    malformed = await client.post("/api/v1/tenants", headers={
        **admin.headers, "content-type": "application/json"}, content=b'{"legal_name": ')
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("JSON inválido")
    broken = await client.post("/api/v1/tenants", headers={
        **admin.headers, "content-type": "application/json"}, content=b"{legal")
    assert broken.json()["detail"].startswith("JSON inválido")
    missing = await client.post("/api/v1/tenants", headers=admin.headers,
                                json={"legal_name": "X", "state": "SP"})
    assert missing.status_code == 400
    assert missing.json()["detail"] == "dados inválidos"
    assert missing.json()["errors"] == {"cnpj": "campo obrigatório"}
    wrong_type = await client.patch(f"/api/v1/users/{admin.user_id}", headers=admin.headers,
                                    json={"tenant_ids": ["não-é-uuid"], "full_name": 3})
    assert wrong_type.status_code == 400
    assert set(wrong_type.json()["errors"]) <= {"tenant_ids", "full_name"}
    assert "Validation failed" not in wrong_type.text and "Expected" not in wrong_type.text
    nowhere = await client.get("/api/v1/nada", headers=admin.headers)
    assert nowhere.status_code == 404 and nowhere.json()["detail"] == "endereço não encontrado"
    portfolio = await client.get(f"/api/v1/portfolios/{uuid.uuid4()}", headers=admin.headers)
    assert portfolio.json()["detail"] == "carteira não encontrada"


async def test_defect_9_audit_page_shows_labels_and_404_page_keeps_the_layout(client, factory):
    from core.auth import service
    from core.runtime import get_db

    tenant = await factory.tenant()
    await token(client, tenant.admin.email, tenant.admin.password)  # an auth.login entry
    principal = await service.load_principal(get_db(), tenant.admin.user_id)
    issued = await service.issue_token(get_db(), principal, "session",
                                       __import__("datetime").timedelta(hours=1))
    cookie = {"Cookie": f"regua_session={issued.token}"}
    page = await client.get("/auditoria", headers=cookie)
    assert page.status_code == 200
    assert "Entrou no sistema" in page.text and ">auth.login<" not in page.text
    assert "Credor cadastrado" in page.text
    missing = await client.get("/pagina-que-nao-existe", headers=cookie)
    assert missing.status_code == 404
    assert "Página não encontrada" in missing.text and 'class="topbar"' in missing.text
    assert "Sair" in missing.text and "Not Found" not in missing.text


async def test_defect_8_times_are_shown_in_the_viewers_tenant_zone(client, factory):
    import datetime as dt

    from sqlalchemy import update

    from core.auth import service
    from core.models import User
    from core.runtime import get_db

    tenant = await factory.tenant(state="AM")
    admin = await factory.user("admin")
    await client.patch(f"/api/v1/tenants/{tenant.id}", headers=admin.headers,
                       json={"timezone": "America/Manaus"})
    async with get_db().transaction(Scope(frozenset({tenant.id}))) as session:
        await session.execute(update(User).where(User.id == tenant.admin.user_id).values(
            last_login_at=dt.datetime(2026, 12, 5, 18, 3, tzinfo=dt.UTC)))

    async def users_page(login) -> str:
        principal = await service.load_principal(get_db(), login.user_id)
        issued = await service.issue_token(get_db(), principal, "session", dt.timedelta(hours=1))
        answer = await client.get("/usuarios", headers={"Cookie": f"regua_session={issued.token}"})
        assert answer.status_code == 200
        return answer.text

    creditor_view = await users_page(tenant.admin)
    assert "horário de Manaus" in creditor_view and "05/12/2026 14:03" in creditor_view
    agency_view = await users_page(admin)
    assert "horário de Brasília" in agency_view and "05/12/2026 15:03" in agency_view


def test_defect_8_the_filter_labels_the_zone():
    import datetime as dt

    from jinja2 import Environment

    from portal.filters import FILTERS

    env = Environment(autoescape=True)
    env.filters.update(FILTERS)
    moment = dt.datetime(2026, 12, 5, 17, 3, tzinfo=dt.UTC)
    template = env.from_string("{{ t | datetime_br }}|{{ t | datetime_br(label=False) }}")
    assert template.render(t=moment, zone="America/Sao_Paulo") == (
        "05/12/2026 14:03 (horário de Brasília)|05/12/2026 14:03")
    assert template.render(t=moment, zone="America/Rio_Branco").startswith(
        "05/12/2026 12:03 (horário de Rio Branco)")


def test_defect_9_not_found_agrees_in_gender_and_actions_have_labels():
    from core.audit import action_label
    from core.errors import NotFound

    assert str(NotFound("carteira")) == "carteira não encontrada"
    assert str(NotFound("usuário")) == "usuário não encontrado"
    assert str(NotFound("layout 'padrão'")) == "layout 'padrão' não encontrado"
    assert action_label("auth.login") == "Entrou no sistema"
    assert action_label("portfolio.exploded") == "Carteira: exploded"


async def test_defect_12_schema_lists_only_the_api_and_declares_bearer(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = set(schema["paths"])
    assert paths and all(p.startswith("/api/") or p in {"/health", "/ready"} for p in paths), (
        sorted(p for p in paths if not p.startswith("/api/")))
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token."}
    assert schema["info"]["description"]
    users_patch = schema["paths"]["/api/v1/users/{user_id}"]["patch"]
    assert users_patch["security"] == [{"bearer": []}] and users_patch["description"]
    token_post = schema["paths"]["/api/v1/auth/token"]["post"]
    assert not token_post.get("security")
    assert {t["name"] for t in schema["tags"]} >= {"tenants", "users", "portfolios"}


async def test_another_tenants_email_is_refused_without_saying_it_exists(client, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    answer = await client.post("/api/v1/users", headers=alfa.admin.headers, json={
        "email": beta.admin.email, "password": "outra-senha-bem-forte-42",
        "role": "creditor_viewer"})
    assert answer.status_code == 409
    assert answer.json()["errors"] == {"email": "este e-mail não pode ser usado"}
    assert "existe" not in answer.text


async def test_a_password_equal_to_the_users_email_or_name_is_refused(client, factory):
    tenant = await factory.tenant()
    email = "marcela.quintanilha@credorx.test"
    for password, name in ((email, ""), ("Marcela Quintanilha", "Marcela Quintanilha")):
        answer = await client.post("/api/v1/users", headers=tenant.admin.headers, json={
            "email": email, "password": password, "full_name": name,
            "role": "creditor_viewer"})
        assert answer.status_code == 422, answer.text
        assert "fácil de adivinhar" in answer.json()["errors"]["password"]
    created = (await client.post("/api/v1/users", headers=tenant.admin.headers, json={
        "email": email, "password": "uma-frase-longa-e-imprevisivel-73",
        "full_name": "Marcela Quintanilha", "role": "creditor_viewer"})).json()
    reset = await client.post(f"/api/v1/users/{created['id']}/password",
                              headers=tenant.admin.headers, json={"password": email})
    assert reset.status_code == 422 and "password" in reset.json()["errors"]
