"""The debtor file: search by every key, masking by role, the timeline, actions and their
audit, holds stopping and resuming collection, the API with a second tenant and roles."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.access import DebtId, access_debt, transaction
from core.auth import service
from core.auth.principal import Principal
from core.collection import interactions, ledger
from core.db import Scope
from core.debtors import actions, file, search
from core.errors import Forbidden, NotFound, ValidationFailed
from core.masking import mask_document, mask_email, mask_phone
from core.models import (
    AuditLog,
    CauseKind,
    Channel,
    ContactPoint,
    Debt,
    Debtor,
    Outcome,
    PaymentSource,
)
from portal.operator import import_portfolio

HEADER = "CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor;Telefone;E-mail"
JOSE = "52998224725"
MARIA = "11144477735"


async def load(tmp_path: Path, tenant, rows: list[str], name: str = "carteira.csv") -> None:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-{name}"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", None)
    assert result["status"] == "done", result


async def principal(db, login) -> Principal:
    found = await service.load_principal(db, login.user_id)
    assert found is not None
    return found


async def debtor_id(db, tenant_id: uuid.UUID, document: str) -> uuid.UUID:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(
            select(Debtor.id).where(Debtor.document == document))).scalar_one()


@pytest.fixture
async def book(db, factory, services, tmp_path):
    """Alfa has José (two installments, a mobile and an e-mail) and Maria; Beta has a
    José of its own with the same CPF, phone and contract number."""
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await load(tmp_path, alfa, [
        f"{JOSE};José da Conceição;CT-1001;1;10/01/2025;100,00;(11) 98765-4321;jose@ex.com",
        f"{JOSE};José da Conceição;CT-1001;2;10/02/2025;150,00;(11) 98765-4321;jose@ex.com",
        f"{MARIA};Maria Souza;CT-2002;1;10/03/2025;80,00;(21) 3333-4444;maria@ex.com",
    ])
    await load(tmp_path, beta, [
        f"{JOSE};José Beta;CT-1001;1;10/01/2025;999,00;(11) 98765-4321;jose@ex.com",
    ])
    return {"alfa": alfa, "beta": beta,
            "jose": await debtor_id(db, alfa.id, JOSE),
            "maria": await debtor_id(db, alfa.id, MARIA),
            "jose_beta": await debtor_id(db, beta.id, JOSE)}


async def test_search_finds_a_debtor_by_every_key_within_the_tenants_worked(db, factory, book):
    agent = await principal(db, await factory.user("agent", tenant_ids=[book["alfa"].id]))
    keys = {
        "529.982.247-25": "documento", JOSE: "documento",
        "conceicao": "nome ou documento", "JOSÉ DA": "nome ou documento",
        "jose da conceição": "nome ou documento", "982.247": "nome ou documento",
        "CT-1001": "contrato", "ct-1001": "contrato",
        "(11) 98765-4321": "telefone", "11987654321": "telefone",
        "+55 11 98765-4321": "telefone", "JOSE@EX.COM": "e-mail",
    }
    for query, key in keys.items():
        found = await search.search(agent, query)
        assert [h.id for h in found.items] == [book["jose"]], query
        hit = found.items[0]
        assert hit.matched_by == key, query
        assert hit.tenant_name == "Alfa" and hit.document == "529.982.247-25"
        assert hit.placed_debts == 2 and hit.balance == Decimal("250.00")
    assert [h.name for h in (await search.search(agent, "souza")).items] == ["Maria Souza"]
    assert (await search.search(agent, "ninguém com este nome")).items == []
    with pytest.raises(ValidationFailed) as short:
        await search.search(agent, "zé")
    assert "ao menos 3" in short.value.detail["q"]


async def test_search_pages_and_agency_staff_see_every_tenant_they_work(db, factory, book):
    both = await principal(db, await factory.user(
        "supervisor", tenant_ids=[book["alfa"].id, book["beta"].id]))
    found = await search.search(both, JOSE)
    assert {(h.tenant_name, h.name) for h in found.items} == {
        ("Alfa", "José da Conceição"), ("Beta", "José Beta")}
    first = await search.search(both, "jos", page=1, page_size=1)
    second = await search.search(both, "jos", page=2, page_size=1)
    assert first.has_more and len(first.items) == len(second.items) == 1
    assert first.items[0].id != second.items[0].id
    viewer = await principal(db, await factory.user("creditor_viewer",
                                                    tenant_id=book["beta"].id))
    assert [h.name for h in (await search.search(viewer, "CT-1001")).items] == ["José Beta"]


def test_masking_rules():
    assert mask_document("cpf", "52998224725") == "***.982.247-**"
    assert mask_document("cnpj", "11222333000181") == "11.222.333/0001-81"
    assert mask_phone("+5511987654321") == "(11) *****-4321"
    assert mask_phone("+552133334444") == "(21) ****-4444"
    assert mask_email("jose.silva@ex.com.br") == "j***@ex.com.br"


async def test_a_creditor_viewer_reads_the_file_masked_and_an_admin_in_full(db, factory, book):
    alfa = book["alfa"]
    viewer = await principal(db, await factory.user("creditor_viewer", tenant_id=alfa.id))
    admin = await principal(db, alfa.admin)
    masked = await file.debtor_file(viewer, book["jose"])
    assert masked.debtor.document == "***.982.247-**"
    assert {c.value for c in masked.contacts} == {"(11) *****-4321", "j***@ex.com"}
    assert not masked.viewer.sees_in_full and not masked.viewer.may_act
    hits = await search.search(viewer, JOSE)
    assert hits.items[0].document == "***.982.247-**"
    full = await file.debtor_file(admin, book["jose"])
    assert full.debtor.document == "529.982.247-25"
    assert {c.value for c in full.contacts} == {"(11) 98765-4321", "jose@ex.com"}
    assert full.viewer.may_act


async def test_the_file_shows_debts_balances_and_whether_they_may_be_worked(db, factory, book):
    agent = await principal(db, await factory.user("agent", tenant_ids=[book["alfa"].id]))
    at = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    f = await file.debtor_file(agent, book["jose"], at)
    assert f.debtor.name == "José da Conceição" and f.debtor.tenant_name == "Alfa"
    assert f.debtor.kind_label == "Pessoa física" and f.debtor.zone_label == "horário de Brasília"
    assert [(d.contract, d.installment) for d in f.debts] == [("CT-1001", 1), ("CT-1001", 2)]
    first = f.debts[0]
    assert first.status_label == "em aberto" and first.days_overdue == 50
    assert first.buckets["principal"] == Decimal("100.00") and first.balance == Decimal("100.00")
    assert first.workable and first.blocker is None
    assert f.summary.total_balance == Decimal("250.00") and f.summary.workable
    assert f.summary.headline.startswith("Pode ser cobrado hoje: 2 de 2")
    phone = next(c for c in f.contacts if c.kind == "phone")
    assert [(c.channel, c.opted_out) for c in phone.channels] == [
        ("call", False), ("sms", False), ("whatsapp", False)]
    assert phone.quality_label == "não verificado"


async def test_a_hold_stops_collection_and_its_end_resumes_it(db, factory, book):
    agent = await principal(db, await factory.user("agent", tenant_ids=[book["alfa"].id]))
    jose = book["jose"]
    held = await actions.set_hold(agent, jose, "dispute", "devedor contesta os juros")
    assert not held.summary.workable and held.summary.headline == "Não pode ser cobrado hoje"
    assert held.summary.reasons == ["bloqueado: contestação"]
    assert {d.blocker for d in held.debts} == {"hold:dispute"}
    assert all(d.holds == ["contestação"] for d in held.debts)
    async with transaction(agent) as session:  # the SQL form of the rule agrees
        codes = set((await session.execute(text(
            "SELECT regua_debt_blocker(debt) FROM debt WHERE debtor_id = :d"),
            {"d": jose})).scalars())
    assert codes == {"hold:dispute"}
    hold = next(h for h in held.holds if h.active)
    assert hold.scope_label == "todos os títulos" and hold.set_by == agent.email

    with pytest.raises(ValidationFailed) as no_reason:
        await actions.end_hold(agent, jose, hold.id, "  ")
    assert no_reason.value.detail == {"reason": "informe o motivo"}
    resumed = await actions.end_hold(agent, jose, hold.id, "contestação improcedente")
    assert resumed.summary.workable and all(d.workable for d in resumed.debts)
    assert [h.active for h in resumed.holds] == [False]

    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        entries = [tuple(row) for row in await session.execute(
            select(AuditLog.action, AuditLog.actor_email)
            .where(AuditLog.entity_id == str(jose)).order_by(AuditLog.created_at))]
    assert entries == [("hold.set", agent.email), ("hold.ended", agent.email)]


async def test_a_hold_on_one_debt_leaves_the_other_workable(db, factory, book):
    admin = await principal(db, book["alfa"].admin)
    f = await file.debtor_file(admin, book["jose"])
    second = f.debts[1]
    held = await actions.set_hold(admin, book["jose"], "legal", "ação revisional",
                                  debt_id=second.id)
    assert [d.workable for d in held.debts] == [True, False]
    assert held.holds[0].scope_label == "título CT-1001 / 2"
    with pytest.raises(ValidationFailed):  # a death covers every debt
        await actions.set_hold(admin, book["jose"], "deceased", "certidão", debt_id=second.id)
    with pytest.raises(ValidationFailed) as bad_kind:
        await actions.set_hold(admin, book["jose"], "férias", "x")
    assert "kind" in bad_kind.value.detail
    beta_debt = await _first_debt(db, book["beta"].id)
    with pytest.raises(NotFound):  # another tenant's debt
        await actions.set_hold(admin, book["jose"], "legal", "x", debt_id=beta_debt)


async def _first_debt(db, tenant_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(select(Debt.id).limit(1))).scalar_one()


async def test_contact_actions_are_per_channel_and_audited(db, factory, book):
    agent = await principal(db, await factory.user("agent", tenant_ids=[book["alfa"].id]))
    jose = book["jose"]
    f = await file.debtor_file(agent, jose)
    phone = next(c for c in f.contacts if c.kind == "phone")
    after = await actions.opt_out(agent, jose, phone.id, "sms", "debtor", "pediu por telefone")
    states = {c.channel: c.opted_out for c in next(
        c for c in after.contacts if c.id == phone.id).channels}
    assert states == {"call": False, "sms": True, "whatsapp": False}
    with pytest.raises(ValidationFailed):
        await actions.opt_out(agent, jose, phone.id, "email")
    after = await actions.set_quality(agent, jose, phone.id, "wrong_party")
    assert next(c for c in after.contacts if c.id == phone.id).quality_label == "não é do devedor"
    after = await actions.revoke_opt_out(agent, jose, phone.id, "sms")
    assert not any(ch.opted_out for c in after.contacts for ch in c.channels)
    maria_phone = next(c for c in (await file.debtor_file(agent, book["maria"])).contacts
                       if c.kind == "phone")
    with pytest.raises(NotFound):  # Maria's phone through José's file
        await actions.opt_out(agent, jose, maria_phone.id, "sms")
    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        done = list((await session.execute(select(AuditLog.action).where(
            AuditLog.entity_id == str(phone.id)).order_by(AuditLog.created_at))).scalars())
    assert done == ["contact.opted_out", "contact.quality_set", "contact.opt_out_revoked"]


async def test_the_timeline_has_every_kind_of_event_newest_first(db, factory, book):
    agent_login = await factory.user("agent", tenant_ids=[book["alfa"].id])
    agent = await principal(db, agent_login)
    jose = book["jose"]
    f = await file.debtor_file(agent, jose)
    phone = next(c for c in f.contacts if c.kind == "phone")
    async with transaction(agent) as session:
        await interactions.record(
            session, debtor_id=jose, channel=Channel.CALL, outcome=Outcome.ANSWERED,
            cause_kind=CauseKind.AGENT, user_id=agent.user_id, contact_point_id=phone.id)
        debt: DebtId = await access_debt(session, agent, f.debts[0].id)
        await ledger.record_payment(session, agent, debt, Decimal("40.00"),
                                    paid_on=dt.date(2025, 2, 20), source=PaymentSource.AGENCY)
    await actions.add_note(agent, jose, "Prometeu pagar na sexta")
    await actions.set_hold(agent, jose, "dispute", "contesta")
    f = await file.debtor_file(agent, jose)
    kinds = [e.kind for e in f.timeline]
    assert kinds[:2] == ["hold_set", "note"]
    assert {"interaction", "payment", "import"} <= set(kinds)
    assert [e.at for e in f.timeline] == sorted((e.at for e in f.timeline), reverse=True)
    call = next(e for e in f.timeline if e.kind == "interaction")
    assert call.title == "Ligação: atendido"
    assert call.by == agent.email and "(11) 98765-4321" in call.detail
    payment = next(e for e in f.timeline if e.kind == "payment")
    assert payment.amount == Decimal("40.00") and "pago em 20/02/2025" in payment.detail
    imported = next(e for e in f.timeline if e.kind == "import")
    assert "carteira.csv" in imported.detail and "2 títulos colocados" in imported.detail
    note = next(e for e in f.timeline if e.kind == "note")
    assert note.detail == "Prometeu pagar na sexta" and note.by == agent.email
    assert f.debts[0].balance == Decimal("60.00")
    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        noted = (await session.execute(select(AuditLog.after).where(
            AuditLog.action == "debtor.note_added", AuditLog.entity_id == str(jose)))).scalar_one()
    assert noted["body"] == "Prometeu pagar na sexta"


async def test_a_viewer_may_not_act_and_nobody_reaches_another_tenant(db, factory, book):
    viewer = await principal(db, await factory.user("creditor_viewer",
                                                    tenant_id=book["alfa"].id))
    with pytest.raises(Forbidden):
        await actions.add_note(viewer, book["jose"], "nota")
    admin = await principal(db, book["alfa"].admin)
    for call in (file.debtor_file(admin, book["jose_beta"]),
                 actions.add_note(admin, book["jose_beta"], "nota")):
        with pytest.raises(NotFound):
            await call
    assert [h.id for h in (await search.search(admin, JOSE)).items] == [book["jose"]]


# ---- API -----------------------------------------------------------------------------


async def _ids(db, tenant_id: uuid.UUID, document: str) -> dict[str, str]:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        debtor = (await session.execute(
            select(Debtor).where(Debtor.document == document))).scalar_one()
        phone = (await session.execute(select(ContactPoint.id).where(
            ContactPoint.debtor_id == debtor.id, ContactPoint.kind == "phone"))).scalar_one()
    return {"debtor": str(debtor.id), "phone": str(phone)}


async def test_api_flow_for_an_agent(client, db, factory, book):
    agent = await factory.user("agent", tenant_ids=[book["alfa"].id])
    ids = await _ids(db, book["alfa"].id, JOSE)
    base = f"/api/v1/debtors/{ids['debtor']}"
    found = await client.get("/api/v1/debtors", params={"q": "conceição"}, headers=agent.headers)
    assert found.status_code == 200
    assert [i["id"] for i in found.json()["items"]] == [ids["debtor"]]
    short = await client.get("/api/v1/debtors", params={"q": "ab"}, headers=agent.headers)
    assert short.status_code == 422 and "q" in short.json()["errors"]

    got = await client.get(base, headers=agent.headers)
    assert got.status_code == 200
    body = got.json()
    assert body["debtor"]["document"] == "529.982.247-25"
    assert body["debts"][0]["buckets"]["principal"] == "100.00"

    note = await client.post(f"{base}/notes", json={"body": "ligar à tarde"},
                             headers=agent.headers)
    assert note.status_code == 201 and note.json()["author"] == agent.email
    empty = await client.post(f"{base}/notes", json={"body": " "}, headers=agent.headers)
    assert empty.status_code == 422 and empty.json()["errors"] == {"body": "escreva a anotação"}

    held = await client.post(f"{base}/holds", json={"kind": "dispute", "reason": "contesta"},
                             headers=agent.headers)
    assert held.status_code == 201 and held.json()["summary"]["workable"] is False
    hold_id = held.json()["holds"][0]["id"]
    ended = await client.post(f"{base}/holds/{hold_id}/end", json={"reason": "resolvido"},
                              headers=agent.headers)
    assert ended.status_code == 200 and ended.json()["summary"]["workable"] is True
    again = await client.post(f"{base}/holds/{hold_id}/end", json={"reason": "de novo"},
                              headers=agent.headers)
    assert again.status_code == 409

    contact = f"{base}/contacts/{ids['phone']}"
    out = await client.post(f"{contact}/opt-outs", json={"channel": "sms"}, headers=agent.headers)
    assert out.status_code == 201
    assert await client.post(f"{contact}/quality", json={"quality": "invalid"},
                             headers=agent.headers) is not None
    back = await client.delete(f"{contact}/opt-outs/sms", headers=agent.headers)
    assert back.status_code == 200
    phone = next(c for c in back.json()["contacts"] if c["id"] == ids["phone"])
    assert phone["quality"] == "invalid" and not any(c["opted_out"] for c in phone["channels"])


async def test_api_masks_for_a_viewer_who_may_not_act(client, db, factory, book):
    viewer = await factory.user("creditor_viewer", tenant_id=book["alfa"].id)
    ids = await _ids(db, book["alfa"].id, JOSE)
    base = f"/api/v1/debtors/{ids['debtor']}"
    got = await client.get(base, headers=viewer.headers)
    assert got.status_code == 200
    assert "***.982.247-**" in got.text
    for secret in (JOSE, "529.982.247-25", "98765-4321", "987654321", "jose@ex.com"):
        assert secret not in got.text
    found = await client.get("/api/v1/debtors", params={"q": JOSE}, headers=viewer.headers)
    assert found.status_code == 200  # the query echoes what the viewer typed; no more
    assert JOSE not in str(found.json()["items"])
    contact = f"{base}/contacts/{ids['phone']}"
    for method, url, body in (
        ("POST", f"{base}/notes", {"body": "x"}),
        ("POST", f"{base}/holds", {"kind": "dispute", "reason": "x"}),
        ("POST", f"{contact}/quality", {"quality": "invalid"}),
        ("POST", f"{contact}/opt-outs", {"channel": "sms"}),
        ("DELETE", f"{contact}/opt-outs/sms", None),
    ):
        answer = await client.request(method, url, json=body, headers=viewer.headers)
        assert answer.status_code == 403, (method, url)


async def test_api_answers_404_for_another_tenants_debtor_on_every_endpoint(client, db, factory,
                                                                            book):
    alfa_admin = book["alfa"].admin
    alfa, beta = await _ids(db, book["alfa"].id, JOSE), await _ids(db, book["beta"].id, JOSE)
    beta_admin = await principal(db, book["beta"].admin)
    beta_file = await actions.set_hold(beta_admin, uuid.UUID(beta["debtor"]), "legal", "x")
    beta_hold = str(beta_file.holds[0].id)
    found = await client.get("/api/v1/debtors", params={"q": JOSE}, headers=alfa_admin.headers)
    assert [i["id"] for i in found.json()["items"]] == [alfa["debtor"]]
    checks = [
        ("GET", f"/api/v1/debtors/{beta['debtor']}", None),
        ("POST", f"/api/v1/debtors/{beta['debtor']}/notes", {"body": "x"}),
        ("POST", f"/api/v1/debtors/{beta['debtor']}/holds", {"kind": "legal", "reason": "x"}),
        ("POST", f"/api/v1/debtors/{beta['debtor']}/holds/{beta_hold}/end", {"reason": "x"}),
        # Alfa's own debtor with Beta's hold, contact point: not found either.
        ("POST", f"/api/v1/debtors/{alfa['debtor']}/holds/{beta_hold}/end", {"reason": "x"}),
        ("POST", f"/api/v1/debtors/{alfa['debtor']}/contacts/{beta['phone']}/quality",
         {"quality": "invalid"}),
        ("POST", f"/api/v1/debtors/{alfa['debtor']}/contacts/{beta['phone']}/opt-outs",
         {"channel": "sms"}),
        ("DELETE", f"/api/v1/debtors/{alfa['debtor']}/contacts/{beta['phone']}/opt-outs/sms",
         None),
        ("POST", f"/api/v1/debtors/{alfa['debtor']}/holds",
         {"kind": "legal", "reason": "x", "debt_id": str(await _first_debt(db, book["beta"].id))}),
    ]
    for method, url, body in checks:
        answer = await client.request(method, url, json=body, headers=alfa_admin.headers)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["detail"].endswith("não encontrado")
    beta_view = await file.debtor_file(beta_admin, uuid.UUID(beta["debtor"]))
    assert [h.active for h in beta_view.holds] == [True] and beta_view.timeline[0].by != ""
