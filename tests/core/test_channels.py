"""Channels against real servers: an SMTP server (aiosmtpd) and a local HTTP server that
checks each request against Zenvia's and the WhatsApp Cloud API's formats and posts the
providers' callbacks to the app, served by uvicorn in this process."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from sqlalchemy import select, text

from core.access import ContactPointId, DebtId, DebtorId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.channels import Attachment, OutboundMessage, letters, sandbox, send
from core.channels import whatsapp as wa
from core.collection import contacts, ledger
from core.db import Scope
from core.ids import uuid7
from core.models import (
    Bucket,
    Channel,
    ContactOptOut,
    ContactPoint,
    Debt,
    Debtor,
    EntryKind,
    Interaction,
    LetterBatch,
    MessageDispatch,
)
from core.settings import Settings, get_settings
from tests.jobs import drain
from tests.pdftext import flat, fonts
from tests.serving import serve_app

ADDRESS = "Rua do Credor, 100 - Centro, São Paulo/SP - 01001-000"


@pytest.fixture(scope="session")
def web_url(services: None) -> Iterator[str]:
    """The app served over real HTTP, where the sandbox posts its callbacks."""
    with serve_app() as url:
        yield url


@pytest.fixture(scope="session")
def sandbox_servers(web_url: str) -> Iterator[sandbox.Sandbox]:
    running = sandbox.Sandbox(get_settings(), web_url)
    running.start_smtp()
    running.start_http()
    yield running
    running.stop()


@pytest.fixture
def channel_settings(sandbox_servers: sandbox.Sandbox) -> Settings:
    return get_settings().model_copy(update={"sandbox_url": sandbox_servers.url,
                                             "sandbox_smtp_port": sandbox_servers.smtp_port})


def creditor(tenant_id: uuid.UUID) -> Principal:
    return Principal(user_id=uuid7(), email="staff@credor.test", full_name="Staff",
                     role=Role.CREDITOR_ADMIN, tenant_id=tenant_id,
                     tenant_ids=frozenset({tenant_id}))


def set_address(database_url: str, tenant_id: uuid.UUID, address: str | None) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE tenant SET address = %s WHERE id = %s", (address, tenant_id))


def unique_phone() -> str:
    return "+55119" + str(uuid.uuid4().int)[:8]


@dataclass
class Placed:
    principal: Principal
    tenant_id: uuid.UUID
    debtor_id: DebtorId
    debt_ids: list[DebtId]
    email_id: ContactPointId
    phone_id: ContactPointId
    phone: str
    email: str


async def place(factory, database_url: str, *, state: str = "SP", email: str | None = None,
                phone: str | None = None, tenant=None, with_address: bool = True,
                document: str = "52998224725") -> Placed:
    """A debtor with an e-mail, a phone, an address and one debt carrying interest and a
    fine on top of its principal, as the ledger holds them."""
    tenant = tenant or await factory.tenant(state=state)
    set_address(database_url, tenant.id, ADDRESS if with_address else None)
    staff = creditor(tenant.id)
    email = email or f"devedor-{uuid.uuid4().hex[:8]}@exemplo.com.br"
    phone = phone or unique_phone()
    async with transaction(staff) as session:
        debtor = Debtor(tenant_id=tenant.id, id=uuid7(), document=document,
                        document_kind="cpf", name="Ana Souza", state=state)
        points = [ContactPoint(tenant_id=tenant.id, id=uuid7(), debtor_id=debtor.id, kind=kind,
                               value=value, source="portfolio")
                  for kind, value in (("email", email), ("phone", phone),
                                      ("address", "Rua A, 10 - Centro, Campinas/SP"))]
        session.add_all([debtor, *points])
        debt = Debt(tenant_id=tenant.id, id=uuid7(), debtor_id=debtor.id, portfolio_id=uuid7(),
                    last_portfolio_id=uuid7(), contract=f"CT-{document}", installment=1,
                    original_amount=Decimal("500.00"), current_balance=Decimal("0"),
                    due_date=dt.date(2026, 9, 10))
        session.add(debt)
        await session.flush()
        await ledger.post(session, staff, DebtId(debt.id), [
            (Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal("500.00")),
            (Bucket.INTEREST, EntryKind.CREDITOR_UPDATE, Decimal("15.50")),
            (Bucket.FINE, EntryKind.CREDITOR_UPDATE, Decimal("10.00"))], source="portfolio")
    return Placed(staff, tenant.id, DebtorId(debtor.id), [DebtId(debt.id)],
                  ContactPointId(points[0].id), ContactPointId(points[1].id), phone, email)


async def wait_for(check, seconds: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def dispatch_of(principal: Principal, interaction_id: uuid.UUID) -> MessageDispatch:
    async with transaction(principal) as session:
        return (await session.execute(select(MessageDispatch).where(
            MessageDispatch.interaction_id == interaction_id))).scalar_one()


async def interaction(principal: Principal, interaction_id: uuid.UUID) -> Interaction:
    async with transaction(principal) as session:
        return (await session.execute(select(Interaction).where(
            Interaction.id == interaction_id))).scalar_one()


# ---- e-mail --------------------------------------------------------------------------------------

async def test_an_email_goes_over_smtp_with_text_html_and_attachment(
        factory, database_url, channel_settings):
    placed = await place(factory, database_url)
    slip = Attachment("boleto.pdf", "application/pdf", b"%PDF-1.4 boleto de teste")
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id,
                                                   tuple(placed.debt_ids), attachments=(slip,)),
                          settings=channel_settings)
    assert sent.outcome == "sent" and sent.contact_point_id == placed.email_id
    message = await dispatch_of(placed.principal, sent.id)
    got = sandbox.received(channel_settings, "smtp", message.provider_message_id)
    assert got is not None and got["to"] == [placed.email]
    assert "pendência financeira" in got["subject"]
    assert "Olá, Ana Souza." in got["text"] and "<p>Olá, Ana Souza.</p>" in got["html"]
    assert got["attachments"] == [{"filename": "boleto.pdf", "content_type": "application/pdf",
                                   "size": len(slip.data)}]
    # CDC art. 42-A: the creditor and the agency are identified in what the debtor reads.
    assert ADDRESS in got["text"] and "CNPJ" in got["text"] and channel_settings.agency_name \
        in got["text"]


async def test_a_permanent_refusal_at_rcpt_is_a_bounce_that_marks_the_contact_point(
        factory, database_url, channel_settings):
    placed = await place(factory, database_url, email="ninguem@caixa-inexistente.invalid")
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id),
                          settings=channel_settings)
    assert sent.outcome == "bounced"
    assert sent.details is not None and sent.details["reason"].startswith("550")
    async with transaction(placed.principal) as session:
        point = (await session.execute(select(ContactPoint).where(
            ContactPoint.id == placed.email_id))).scalar_one()
        assert point.quality == "bounced"
        # The bounced address is no longer used: the next e-mail finds no contact point.
        again = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id),
                           settings=channel_settings)
    assert again.outcome == "failed"
    assert again.details["reason"] == "sem contato utilizável neste canal"


async def test_a_creditor_without_an_address_gets_no_message_sent(
        factory, database_url, channel_settings):
    placed = await place(factory, database_url, with_address=False)
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id),
                          settings=channel_settings)
    assert sent.outcome == "failed"
    assert "CDC art. 42-A" in sent.details["reason"]
    assert "endereço do credor" in sent.details["reason"]


# ---- SMS (Zenvia) ----------------------------------------------------------------------------

async def test_an_sms_goes_to_zenvia_in_its_format_and_its_delivery_comes_back(
        factory, database_url, channel_settings):
    placed = await place(factory, database_url)
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.SMS, placed.debtor_id),
                          settings=channel_settings)
    assert sent.outcome == "sent" and sent.contact_point_id == placed.phone_id
    message = await dispatch_of(placed.principal, sent.id)
    got = sandbox.received(channel_settings, "zenvia", message.provider_message_id)
    assert got is not None
    assert got["request"]["to"] == placed.phone.lstrip("+")
    assert got["request"]["from"] == channel_settings.zenvia_sender
    assert got["request"]["contents"][0]["type"] == "text"
    assert "responda SAIR" in got["request"]["contents"][0]["text"]

    async def delivered() -> bool:
        return (await interaction(placed.principal, sent.id)).outcome == "delivered"

    assert await wait_for(delivered)
    assert (await dispatch_of(placed.principal, sent.id)).status == "delivered"


async def test_an_undeliverable_number_is_reported_failed(factory, database_url,
                                                          channel_settings):
    placed = await place(factory, database_url, phone="+55119" + str(uuid.uuid4().int)[:4]
                         + "0000")
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.SMS, placed.debtor_id),
                          settings=channel_settings)

    async def failed() -> MessageDispatch | None:
        found = await dispatch_of(placed.principal, sent.id)
        return found if found.status == "failed" else None

    message = await wait_for(failed)
    assert message is not None and "número inexistente" in message.status_reason
    assert (await interaction(placed.principal, sent.id)).outcome == "failed"


async def test_an_inbound_sair_opts_that_phone_out_of_sms_and_leaves_calls(
        factory, database_url, channel_settings, sandbox_servers):
    placed = await place(factory, database_url)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sandbox_servers.url}/sandbox/reply", json={
            "provider": "zenvia", "from": placed.phone, "text": "SAIR"})
    assert answer.status_code == 202

    async def opted() -> bool:
        async with transaction(placed.principal) as session:
            return (await session.execute(select(ContactOptOut).where(
                ContactOptOut.contact_point_id == placed.phone_id))).first() is not None

    assert await wait_for(opted)
    async with transaction(placed.principal) as session:
        assert await contacts.usable(session, placed.debtor_id, Channel.SMS) == []
        calls = await contacts.usable(session, placed.debtor_id, Channel.CALL)
        assert [p.id for p in calls] == [placed.phone_id]
        inbound = (await session.execute(select(Interaction).where(
            Interaction.debtor_id == placed.debtor_id,
            Interaction.direction == "inbound"))).scalar_one()
        assert (inbound.channel, inbound.outcome, inbound.cause_kind) == (
            "sms", "opted_out", "debtor")


async def test_zenvia_webhook_without_the_subscription_token_is_refused(client, services):
    event = sandbox.zenvia_status_event("qualquer", "5511999990000", "DELIVERED")
    answer = await client.post("/webhooks/zenvia", json=event)
    assert answer.status_code == 403
    answer = await client.post("/webhooks/zenvia", json=event,
                               headers={"X-Regua-Webhook-Token": "errado"})
    assert answer.status_code == 403


# ---- WhatsApp (Cloud API) ---------------------------------------------------------------------

async def test_a_whatsapp_template_message_and_its_signed_status_callbacks(
        factory, database_url, channel_settings):
    placed = await place(factory, database_url)
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.WHATSAPP, placed.debtor_id),
                          settings=channel_settings)
    assert sent.outcome == "sent"
    message = await dispatch_of(placed.principal, sent.id)
    request = sandbox.received(channel_settings, "whatsapp_cloud",
                               message.provider_message_id)["request"]
    assert request["messaging_product"] == "whatsapp" and request["type"] == "template"
    assert request["template"]["name"] == "padrao"
    assert request["template"]["language"] == {"code": "pt_BR"}
    texts = [p["text"] for p in request["template"]["components"][0]["parameters"]]
    assert texts[0] == "Ana" and ADDRESS in texts

    async def read() -> bool:
        return (await interaction(placed.principal, sent.id)).outcome == "read"

    assert await wait_for(read)
    async with transaction(placed.principal) as session:
        point = (await session.execute(select(ContactPoint).where(
            ContactPoint.id == placed.phone_id))).scalar_one()
    assert point.quality == "good"  # the debtor read it


async def test_a_whatsapp_callback_with_a_bad_signature_changes_nothing(
        client, factory, database_url, channel_settings):
    placed = await place(factory, database_url, phone="+55119" + str(uuid.uuid4().int)[:4]
                         + "0000")
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.WHATSAPP, placed.debtor_id),
                          settings=channel_settings)
    message = await dispatch_of(placed.principal, sent.id)
    forged = json.dumps(sandbox.whatsapp_status_event(
        channel_settings.whatsapp_phone_number_id, message.provider_message_id,
        placed.phone.lstrip("+"), "read")).encode()
    for signature in (None, "sha256=" + "0" * 64, wa.signature(forged, "outro-segredo")):
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Hub-Signature-256"] = signature
        answer = await client.post("/webhooks/whatsapp", content=forged, headers=headers)
        assert answer.status_code == 403
    # Properly signed, the same event is taken (after the sandbox's own "failed", a
    # later "read" cannot move the message back; it stays failed).
    good = wa.signature(forged, channel_settings.resolved_whatsapp_app_secret())
    answer = await client.post("/webhooks/whatsapp", content=forged,
                               headers={"Content-Type": "application/json",
                                        "X-Hub-Signature-256": good})
    assert answer.status_code == 200

    async def failed() -> bool:
        return (await dispatch_of(placed.principal, sent.id)).status == "failed"

    assert await wait_for(failed)


async def test_a_whatsapp_status_for_an_unknown_message_asks_for_a_retry(
        client, channel_settings):
    event = json.dumps(sandbox.whatsapp_status_event("1", "wamid.desconhecida", "5511",
                                                     "delivered")).encode()
    answer = await client.post("/webhooks/whatsapp", content=event, headers={
        "X-Hub-Signature-256": wa.signature(event,
                                            channel_settings.resolved_whatsapp_app_secret())})
    assert answer.status_code == 409


async def test_whatsapp_subscription_check(client, channel_settings):
    token = channel_settings.resolved_whatsapp_verify_token()
    answer = await client.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})
    assert answer.status_code == 200 and answer.text == "1158201444"
    answer = await client.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": "errado", "hub.challenge": "1"})
    assert answer.status_code == 403


async def test_a_whatsapp_sair_opts_out_of_whatsapp_only(factory, database_url,
                                                         sandbox_servers):
    placed = await place(factory, database_url)
    async with httpx.AsyncClient() as http:
        await http.post(f"{sandbox_servers.url}/sandbox/reply", json={
            "provider": "whatsapp", "from": placed.phone, "text": "Parar"})

    async def opted() -> list[str]:
        async with transaction(placed.principal) as session:
            return list((await session.execute(select(ContactOptOut.channel).where(
                ContactOptOut.contact_point_id == placed.phone_id))).scalars())

    assert await wait_for(opted) == ["whatsapp"]


# ---- the sandbox holds providers to their formats ------------------------------------------------

def test_the_sandbox_refuses_requests_outside_the_providers_formats(sandbox_servers):
    base = sandbox_servers.url
    answer = httpx.post(f"{base}/zenvia/v2/channels/sms/messages",
                        json={"from": "regua", "to": "+55 11 98765-4321", "contents": []},
                        headers={"X-API-TOKEN": "t"})
    assert answer.status_code == 400
    assert "to:" in answer.json()["message"] and "contents" in answer.json()["message"]
    answer = httpx.post(f"{base}/zenvia/v2/channels/sms/messages",
                        json={"from": "regua", "to": "5511987654321",
                              "contents": [{"type": "text", "text": "oi"}]})
    assert answer.status_code == 400 and "X-API-TOKEN" in answer.json()["message"]
    answer = httpx.post(f"{base}/graph/v21.0/123/messages",
                        json={"messaging_product": "whatsapp", "to": "5511987654321",
                              "type": "text", "text": {"body": "oi"}},
                        headers={"Authorization": "Bearer t"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100
    assert "template" in answer.json()["error"]["message"]


# ---- templates: the rules ------------------------------------------------------------------------

IDENTIFIED = ("Credor: {{ credor.nome }}, CNPJ {{ credor.cnpj }}, {{ credor.endereco }}."
              " Cobrança por {{ assessoria.nome }}, CNPJ {{ assessoria.cnpj }}.")


async def test_a_template_without_the_creditors_identification_is_refused(client, factory):
    tenant = await factory.tenant()
    answer = await client.post("/api/v1/message-templates", headers=tenant.admin.headers, json={
        "channel": "sms", "name": "lembrete",
        "body": "{{ devedor.primeiro_nome }}, pague {{ total }} com {{ credor.nome }}."
                " {{ discriminacao_curta }}"})
    assert answer.status_code == 422
    message = answer.json()["errors"]["body"]
    assert "CDC art. 42-A" in message
    assert "CNPJ do credor" in message and "endereço do credor" in message
    assert "nome do credor" not in message


async def test_the_linter_names_the_threatening_words(client, factory):
    tenant = await factory.tenant()
    answer = await client.post("/api/v1/message-templates", headers=tenant.admin.headers, json={
        "channel": "sms", "name": "ameaca",
        "body": "Caloteiro! Pague {{ total }} ou chamaremos a POLICIA e será PRISÃO. "
                "{{ discriminacao_curta }} " + IDENTIFIED})
    assert answer.status_code == 422
    message = answer.json()["errors"]["body"]
    assert "CDC arts. 42 e 71" in message
    for word in ("caloteiro", "polícia", "prisão"):
        assert f"“{word}”" in message


async def test_a_template_that_does_not_itemise_for_sp_and_rj_is_refused(client, factory):
    tenant = await factory.tenant()
    answer = await client.post("/api/v1/message-templates", headers=tenant.admin.headers, json={
        "channel": "sms", "name": "seco", "body": "Pague {{ total }}. " + IDENTIFIED})
    assert answer.status_code == 422
    message = answer.json()["errors"]["body"]
    assert "SP e RJ" in message and "juros" in message and "valor original" in message


async def test_a_saved_template_is_versioned_and_used(client, factory, database_url,
                                                      channel_settings):
    tenant = await factory.tenant()
    placed = await place(factory, database_url, tenant=tenant)
    admin = tenant.admin
    body = ("{{ devedor.primeiro_nome }}, lembrete amigável: {{ total }}."
            "{% if exige_discriminacao %} {{ discriminacao_curta }}.{% endif %} " + IDENTIFIED)
    for expected_version in (1, 2):
        answer = await client.post("/api/v1/message-templates", headers=admin.headers, json={
            "channel": "sms", "name": "padrao", "body": body})
        assert answer.status_code == 201, answer.text
        assert answer.json()["version"] == expected_version
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.SMS, placed.debtor_id),
                          settings=channel_settings)
    message = await dispatch_of(placed.principal, sent.id)
    assert message.template_version == 2
    assert message.body.startswith("Ana, lembrete amigável: R$ 525,50.")


async def test_messages_to_sp_and_rj_itemise_the_original_amount_and_each_addition(
        factory, database_url, channel_settings):
    bodies = {}
    for state in ("SP", "RJ", "MG"):
        placed = await place(factory, database_url, state=state)
        async with transaction(placed.principal) as session:
            sent = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id),
                              settings=channel_settings)
        bodies[state] = (await dispatch_of(placed.principal, sent.id)).body
    for state in ("SP", "RJ"):
        assert ("valor original R$ 500,00; juros R$ 15,50; multa R$ 10,00; total R$ 525,50"
                in bodies[state])
    assert "Discriminação" not in bodies["MG"] and "R$ 525,50" in bodies["MG"]


# ---- letters -------------------------------------------------------------------------------------

async def test_letters_are_rendered_to_pdf_and_batched_into_the_days_print_file(
        factory, database_url, channel_settings, services):
    from core.runtime import get_storage

    tenant = await factory.tenant()
    first = await place(factory, database_url, tenant=tenant)
    second = await place(factory, database_url, tenant=tenant, document="11144477735")
    for placed in (first, second):
        async with transaction(placed.principal) as session:
            sent = await send(session, OutboundMessage(Channel.LETTER, placed.debtor_id),
                              settings=channel_settings)
            assert sent.outcome == "sent"
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-3))).date()
    storage = get_storage()
    async with transaction(first.principal) as session:
        batch = await letters.batch_day(session, storage, first.tenant_id, today)
    assert batch.letters == 2
    pdf = storage.get(batch.pdf_key)
    manifest = storage.get(batch.manifest_key).decode("utf-8-sig")
    assert "\r\n" in manifest
    rows = list(csv.reader(io.StringIO(manifest), delimiter=";"))
    assert rows[0] == letters.MANIFEST_HEADER
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert rows[1][2] == "Ana Souza" and rows[1][3] == "Rua A, 10 - Centro, Campinas/SP"
    assert int(rows[1][4]) == 1 and int(rows[2][4]) == int(rows[1][5]) + 1
    assert pdf.startswith(b"%PDF") and f"/Count {rows[2][5]}".encode() in pdf
    async with transaction(first.principal) as session:
        again = await letters.batch_day(session, storage, first.tenant_id, today)
        printed = list((await session.execute(select(MessageDispatch.print_key).where(
            MessageDispatch.channel == "letter",
            MessageDispatch.tenant_id == first.tenant_id))).scalars())
    assert again.letters == 2 and again.pdf_key == batch.pdf_key
    assert printed == [batch.pdf_key, batch.pdf_key]


async def test_the_nightly_job_files_yesterdays_letters_for_the_letters_page(
        factory, database_url, channel_settings, client, worker):
    from core.jobs import PERIODIC, scoped
    from core.jobs import send as send_job

    declared = PERIODIC["channels.print_letters"]
    assert declared.per_tenant and declared.daily_at == dt.time(0, 30)
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    for document in ("52998224725", "11144477735"):
        placed = await place(factory, database_url, tenant=alfa, document=document)
        async with transaction(placed.principal) as session:
            await send(session, OutboundMessage(Channel.LETTER, placed.debtor_id),
                       settings=channel_settings)
    async with transaction(placed.principal) as session:  # both went out yesterday
        await session.execute(text("UPDATE message_dispatch SET sent_at = sent_at"
                                   " - interval '1 day' WHERE channel = 'letter'"))
    with scoped(Scope.tenant(alfa.id)):
        send_job("channels.print_letters", str(alfa.id))
    await drain(worker)

    listing = await client.get(f"/cartas?credor={alfa.id}", headers=alfa.admin.headers)
    assert listing.status_code == 200
    yesterday = dt.datetime.now(ZoneInfo("America/Sao_Paulo")).date() - dt.timedelta(days=1)
    row = listing.text.split(yesterday.strftime("%d/%m/%Y"), 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">2</td>' in row
    async with transaction(placed.principal) as session:
        batch = (await session.execute(select(LetterBatch))).scalar_one()
    assert (batch.day, batch.letters) == (yesterday, 2) and batch.pages >= 2
    pdf = await client.get(f"/cartas/{batch.id}/pdf", headers=alfa.admin.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert f'filename="cartas-{yesterday.isoformat()}.pdf"' in pdf.headers["content-disposition"]
    manifest = await client.get(f"/cartas/{batch.id}/manifesto", headers=alfa.admin.headers)
    assert manifest.content.decode("utf-8-sig").startswith(";".join(letters.MANIFEST_HEADER))

    # Beta's staff find neither the list nor the files; Beta's scope holds no batch.
    for path in (f"/cartas?credor={alfa.id}", f"/cartas/{batch.id}/pdf",
                 f"/cartas/{batch.id}/manifesto"):
        assert (await client.get(path, headers=beta.admin.headers)).status_code == 404
    async with transaction(creditor(beta.id)) as session:
        assert (await session.execute(select(LetterBatch))).scalars().all() == []
    empty = await client.get("/cartas", headers=beta.admin.headers)
    assert "Nenhum arquivo de cartas ainda" in empty.text


def test_a_letter_renders_to_a_pdf_with_portuguese_text() -> None:
    body = "Notificação a Maria da Conceição – “débito” em aberto: R$ 1.234,56 ≥ 10 dias…"
    pdf = letters.letter_pdf(letters.Letter("x", "João", "Rua Ç, 1", body))
    assert pdf.startswith(b"%PDF")
    # The font travels in the file, so every viewer lays it out alike, and the text reads
    # back as written, dash, quotes and all.
    assert fonts(pdf) == {"DejaVuSansBook": True}
    assert body in flat(pdf)


# ---- isolation -----------------------------------------------------------------------------------

async def test_another_tenants_templates_and_sandbox_messages_are_not_found(
        client, factory, database_url, channel_settings):
    alfa = await factory.tenant("Alfa")
    beta = await factory.tenant("Beta")
    saved = await client.post("/api/v1/message-templates", headers=beta.admin.headers, json={
        "channel": "sms", "name": "beta_lembrete",
        "body": "{{ total }}. {% if exige_discriminacao %}{{ discriminacao_curta }}{% endif %} "
                + IDENTIFIED})
    assert saved.status_code == 201, saved.text
    template_id = saved.json()["id"]
    assert (await client.get(f"/api/v1/message-templates/{template_id}",
                             headers=beta.admin.headers)).status_code == 200
    assert (await client.get(f"/api/v1/message-templates/{template_id}",
                             headers=alfa.admin.headers)).status_code == 404
    listed = await client.get("/api/v1/message-templates", headers=alfa.admin.headers)
    assert listed.status_code == 200 and listed.json() == []
    answer = await client.post("/api/v1/message-templates", headers=alfa.admin.headers, json={
        "tenant_id": str(beta.id), "channel": "sms", "name": "x", "body": "x"})
    assert answer.status_code == 404

    placed = await place(factory, database_url, tenant=beta)
    async with transaction(placed.principal) as session:
        sent = await send(session, OutboundMessage(Channel.EMAIL, placed.debtor_id),
                          settings=channel_settings)
    message = await dispatch_of(placed.principal, sent.id)
    mine = await client.get(f"/sandbox/{message.id}", headers=beta.admin.headers)
    assert mine.status_code == 200 and "SANDBOX" in mine.text and placed.email in mine.text
    theirs = await client.get(f"/sandbox/{message.id}", headers=alfa.admin.headers)
    assert theirs.status_code == 404 and placed.email not in theirs.text
    listing = await client.get("/sandbox", headers=alfa.admin.headers)
    assert listing.status_code == 200 and placed.email not in listing.text
    listing = await client.get("/sandbox", headers=beta.admin.headers)
    assert placed.email in listing.text


# ---- the job -------------------------------------------------------------------------------------

async def test_an_enqueued_message_is_sent_by_its_job(factory, database_url, sandbox_servers,
                                                      worker, monkeypatch):
    from core.channels import enqueue

    monkeypatch.setenv("REGUA_SANDBOX_URL", sandbox_servers.url)
    monkeypatch.setenv("REGUA_SANDBOX_SMTP_PORT", str(sandbox_servers.smtp_port))
    get_settings.cache_clear()
    try:
        placed = await place(factory, database_url)
        async with transaction(placed.principal) as session:
            queued = await enqueue(session, OutboundMessage(Channel.SMS, placed.debtor_id))
        system = Principal.system(Scope.tenant(placed.tenant_id))

        async def delivered() -> bool:
            async with transaction(system) as session:
                row = (await session.execute(select(MessageDispatch).where(
                    MessageDispatch.id == queued.id))).scalar_one()
                return row.status == "delivered"

        assert await wait_for(delivered, seconds=30)
    finally:
        monkeypatch.delenv("REGUA_SANDBOX_URL")
        monkeypatch.delenv("REGUA_SANDBOX_SMTP_PORT")
        get_settings.cache_clear()
