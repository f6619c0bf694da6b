"""Approval answers reach the proposer and the debtor: the agent desktop shows the answer
until the agent marks it seen; the debtor gets, through the channels and the sandbox's
servers, the acceptance link of an approved proposal (which works) or the refusal. Each
step of the agreement lands on the debtor's timeline."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select, update

from core.access import ContactPointId, transaction
from core.auth.principal import Principal
from core.channels import sandbox, sms
from core.channels import service as channels
from core.collection import contacts
from core.compliance import guard
from core.db import Scope
from core.debtors.file import debtor_file
from core.errors import NotFound
from core.models import Channel, DebtorEvent, MessageDispatch
from core.settings import get_settings
from legal import agreements, notices, policy, simulator
from legal.models import Agreement
from portal.jobs import load_tasks
from tests.core.test_channels import sandbox_servers, wait_for, web_url
from tests.legal.helpers import AT, principal, set_address

__all__ = ["sandbox_servers", "web_url"]  # the fixtures, shared with the channel tests


@pytest.fixture
def via_sandbox(sandbox_servers, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REGUA_SANDBOX_URL", sandbox_servers.url)
    monkeypatch.setenv("REGUA_SANDBOX_SMTP_PORT", str(sandbox_servers.smtp_port))
    monkeypatch.setenv("REGUA_PUBLIC_URL", "https://regua.exemplo")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


async def _pending(book, database_url: str, installments: int):  # type: ignore[no-untyped-def]
    """An agent's proposal that needs the supervisor (3 installments) or the creditor (in
    full): agents grant nothing alone, supervisors up to 4%."""
    set_address(database_url, book["alfa"].id)
    await policy.save_policy(book["p_supervisor"], book["alfa"].id, {
        "agent_discount_pct": "0", "supervisor_discount_pct": "4"})
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    option = next(o for o in sim.options if o.installments == installments)
    made = await agreements.create(book["p_agent"], book["jose"], option.option,
                                   [book["debts"][1]], AT)
    assert made.status == "pending_approval"
    return made


async def _messages(tenant_id: uuid.UUID, agreement_id: uuid.UUID) -> list[MessageDispatch]:
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        return list((await session.execute(select(MessageDispatch).where(
            MessageDispatch.cause_id == agreement_id)
            .order_by(MessageDispatch.channel))).scalars())


def _open_hours() -> dt.datetime:
    """The next moment SMS may reach a debtor in São Paulo (now, inside its window): the
    decisions below are taken then, so the SMS goes at once whatever the clock says."""
    now = dt.datetime.now(dt.UTC)
    moment = guard.next_allowed(Channel.SMS, now, state="SP", zone="America/Sao_Paulo")
    assert moment is not None
    return moment


async def _delivered(tenant_id: uuid.UUID, agreement_id: uuid.UUID,
                     count: int) -> list[MessageDispatch]:
    async def done() -> list[MessageDispatch] | None:
        rows = await _messages(tenant_id, agreement_id)
        ready = len(rows) == count and all(r.provider_message_id for r in rows)
        return rows if ready else None

    found = await wait_for(done, seconds=30)
    assert found, await _messages(tenant_id, agreement_id)
    return found


async def test_an_approval_sends_the_debtor_the_link_and_tells_the_agent(
        client, db, book, database_url, via_sandbox, worker):
    made = await _pending(book, database_url, 3)
    await agreements.decide(book["p_supervisor"], made.approval_request_id, True, "ok, parcelas",
                            at=_open_hours())

    email, text = await _delivered(book["alfa"].id, made.agreement_id, 2)
    assert (email.channel, text.channel) == ("email", "sms")
    assert email.template_name == text.template_name == "aviso"
    mail = sandbox.received(via_sandbox, "smtp", email.provider_message_id)
    assert mail is not None and "jose@ex.com" in mail["to"]
    assert "proposta de acordo aprovada" in mail["subject"]
    assert "A proposta de acordo com Alfa foi aprovada" in mail["text"]
    link = re.search(r"https://regua\.exemplo(/acordo\?t=\S+)", mail["text"])
    assert link, mail["text"]
    phone = sandbox.received(via_sandbox, sms.PROVIDER, text.provider_message_id)
    assert phone is not None and link.group(0) in str(phone)
    # The creditor and the agency identify themselves (CDC art. 42-A).
    assert "Rua do Credor, 100" in mail["text"] and "CNPJ" in mail["text"]

    # The link in the message is the debtor's one-time acceptance.
    client.cookies.clear()
    public = await client.get(link.group(1))
    assert public.status_code == 200 and "TERMO DE ACORDO EXTRAJUDICIAL" in public.text
    await client.get("/")
    accepted = await client.post("/acordo", data={"t": link.group(1).split("t=", 1)[1]},
                                 headers={"x-csrftoken": client.cookies.get("regua_csrf", "")})
    assert accepted.status_code == 200 and "Acordo aceito" in accepted.text
    assert (await agreements.get(book["p_agent"], made.agreement_id)).status == "active"

    # The agent sees the answer on the desktop until it says it has seen it.
    [answer] = await notices.answers_for(book["p_agent"])
    assert answer.accepted and answer.decided_by_label == "supervisor"
    assert answer.debtor_notice == "Link de aceite enviado ao devedor por e-mail e SMS"
    desk = await client.get("/atendimento", headers=book["agent"].headers)
    assert desk.status_code == 200 and "Respostas às suas propostas de acordo" in desk.text
    assert "José da Conceição" in desk.text and "Aprovado" in desk.text
    assert await notices.answers_for(book["p_supervisor"]) == []
    with pytest.raises(NotFound):
        await notices.acknowledge(book["p_supervisor"], answer.request_id)
    await client.get("/")
    seen = await client.post(f"/atendimento/respostas/{answer.request_id}/ciente",
                             headers={**book["agent"].headers,
                                      "x-csrftoken": client.cookies.get("regua_csrf", "")})
    assert seen.status_code == 200 and "Resposta marcada como vista." in seen.text
    assert "Respostas às suas propostas de acordo" not in seen.text
    assert await notices.answers_for(book["p_agent"]) == []

    # Each step is on the debtor's timeline, beside the two messages.
    timeline = (await debtor_file(book["p_agent"], book["jose"])).timeline
    steps = [e.title for e in reversed(timeline) if e.kind == "agreement"]
    assert steps == ["Proposta de acordo", "Acordo aprovado pelo supervisor", "Aceite do acordo"]
    approved = next(e for e in timeline if e.title == "Acordo aprovado pelo supervisor")
    assert approved.detail == ("motivo: ok, parcelas · Link de aceite enviado ao devedor por"
                               " e-mail e SMS")
    assert approved.link == f"/acordos/{made.agreement_id}"
    assert next(e for e in timeline if e.title == "Aceite do acordo").by == (
        "o devedor, pelo link de aceite")
    assert sum(1 for e in timeline if e.kind == "interaction") == 2
    page = await client.get(f"/devedores/{book['jose']}", headers=book["agent"].headers)
    assert "Acordo aprovado pelo supervisor" in page.text and ">acordo<" in page.text


async def test_a_refusal_tells_the_debtor_without_the_reason_and_waits_for_the_agent(
        client, db, book, database_url, via_sandbox, worker):
    made = await _pending(book, database_url, 1)
    await agreements.decide(book["p_creditor"], made.approval_request_id, False,
                            "desconto acima do que aceitamos", at=_open_hours())
    [email, _text] = await _delivered(book["alfa"].id, made.agreement_id, 2)
    mail = sandbox.received(via_sandbox, "smtp", email.provider_message_id)
    assert mail is not None and "não foi aprovada" in mail["text"]
    assert "/acordo?t=" not in mail["text"] and "desconto acima" not in mail["text"]
    [answer] = await notices.answers_for(book["p_agent"])
    assert not answer.accepted and answer.reason == "desconto acima do que aceitamos"
    assert answer.decided_by_label == "credor"
    assert answer.debtor_notice == "Resposta enviada ao devedor por e-mail e SMS"
    desk = await client.get("/atendimento", headers=book["agent"].headers)
    assert "Recusado" in desk.text and "desconto acima do que aceitamos" in desk.text
    timeline = (await debtor_file(book["p_creditor"], book["jose"])).timeline
    refused = next(e for e in timeline if e.kind == "agreement" and "recusado" in e.title)
    assert refused.title == "Acordo recusado pelo credor"
    assert refused.detail.startswith("motivo: desconto acima do que aceitamos")
    # Another tenant's staff neither see nor acknowledge it.
    beta_admin = await principal(db, book["beta"].admin)
    with pytest.raises(NotFound):
        await notices.acknowledge(beta_admin, answer.request_id)
    await client.get("/")
    other = await client.post(f"/atendimento/respostas/{uuid.uuid4()}/ciente",
                              headers={**book["agent"].headers,
                                       "x-csrftoken": client.cookies.get("regua_csrf", "")})
    assert other.status_code == 404
    async with db.transaction(Scope.tenant(book["beta"].id)) as session:
        assert (await session.execute(select(DebtorEvent.id))).first() is None


async def test_an_sms_outside_its_window_goes_when_it_opens_and_the_answer_says_when(
        db, book, database_url, via_sandbox):
    load_tasks()  # the messages' jobs are sent by name (and left queued here)
    made = await _pending(book, database_url, 3)
    sunday = dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC)  # 12:00 in São Paulo, a Sunday
    monday = dt.datetime(2026, 12, 7, 11, tzinfo=dt.UTC)  # 08:00, when the window opens
    system = Principal.system(Scope.tenant(book["alfa"].id))
    async with transaction(system) as session:
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == made.agreement_id))).scalar_one()
        told = await notices.tell_debtor(session, agreement,
                                         notices.refused_notice("Alfa", agreement), now=sunday)
    assert told == ("Resposta enviada ao devedor por e-mail; SMS agendado para 07/12/2026 08:00"
                    " (domingo: contato por SMS não é permitido neste dia (permitido: seg a sex"
                    " 08:00–20:00, sáb 08:00–14:00))")
    [email, text] = await _messages(book["alfa"].id, made.agreement_id)
    assert (email.not_before, text.not_before) == (None, monday)

    async with transaction(system) as session:
        # Before its moment the SMS stays queued, and no sweep picks it.
        assert await channels.deliver(session, text.id, at=monday - dt.timedelta(minutes=1)) \
            is None
        assert await channels.due(session, monday - dt.timedelta(minutes=1)) == []
        assert await channels.due(session, monday) == [text.id]
    async with transaction(system) as session:
        attempt = await channels.deliver(session, text.id, at=monday)
        assert attempt is not None and attempt.started_at == monday
    [_, text] = await _messages(book["alfa"].id, made.agreement_id)
    assert text.status == "sent" and text.sent_at == monday
    assert sandbox.received(via_sandbox, sms.PROVIDER, text.provider_message_id) is not None
    async with transaction(system) as session:
        assert await channels.due(session, monday) == []


async def test_a_waiting_sms_is_not_sent_after_the_debtor_opts_out(db, book, database_url):
    load_tasks()
    made = await _pending(book, database_url, 3)
    sunday = dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC)
    monday = dt.datetime(2026, 12, 7, 11, tzinfo=dt.UTC)
    system = Principal.system(Scope.tenant(book["alfa"].id))
    async with transaction(system) as session:
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == made.agreement_id))).scalar_one()
        await notices.tell_debtor(session, agreement, notices.refused_notice("Alfa", agreement),
                                  now=sunday)
    [_, text] = await _messages(book["alfa"].id, made.agreement_id)
    async with transaction(system) as session:
        await contacts.opt_out(session, system, ContactPointId(text.contact_point_id), "sms",
                               at=sunday + dt.timedelta(hours=2))
    async with transaction(system) as session:
        attempt = await channels.deliver(session, text.id, at=monday)
    assert attempt is not None and attempt.outcome == "failed"
    [_, text] = await _messages(book["alfa"].id, made.agreement_id)
    assert (text.status, text.provider_message_id) == ("failed", None)
    assert text.status_reason == "o contato deixou de ser utilizável antes do envio"


def test_the_platforms_notice_templates_obey_the_template_rules(services):
    from core.channels import templates
    from core.models import Channel

    settings = get_settings()
    for channel in (Channel.EMAIL, Channel.SMS):
        source = templates.default_template(channel, templates.NOTICE_NAME)
        templates.check(source, settings)  # identification, wording, SP/RJ itemisation
        shown = templates.render(source, templates.sample_context(settings)).body
        assert templates.SAMPLE_NOTICE.link in shown
    assert not templates.has_default(Channel.WHATSAPP, templates.NOTICE_NAME)



async def test_the_sweep_sends_a_waiting_message_whose_delayed_job_was_lost(
        db, book, database_url, via_sandbox, worker):
    from core.channels import tasks as channel_tasks

    made = await _pending(book, database_url, 3)
    sunday = dt.datetime(2027, 1, 3, 15, tzinfo=dt.UTC)  # its delayed job waits a month
    system = Principal.system(Scope.tenant(book["alfa"].id))
    async with transaction(system) as session:
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == made.agreement_id))).scalar_one()
        await notices.tell_debtor(session, agreement, notices.refused_notice("Alfa", agreement),
                                  now=sunday)
    async def email_sent() -> bool:
        return bool((await _messages(book["alfa"].id, made.agreement_id))[0].provider_message_id)

    assert await wait_for(email_sent, seconds=30)  # the e-mail went at once
    [_, text] = await _messages(book["alfa"].id, made.agreement_id)
    assert text.status == "queued" and text.not_before > dt.datetime.now(dt.UTC)
    # The month passes and the process holding the delayed job is gone: only the sweep
    # knows the message is due.
    async with transaction(system) as session:
        await session.execute(update(MessageDispatch).where(MessageDispatch.id == text.id)
                              .values(not_before=dt.datetime.now(dt.UTC)))
    await channel_tasks.send_due.fn.__wrapped__()  # the job's coroutine, in this loop
    await _delivered(book["alfa"].id, made.agreement_id, 2)


async def test_the_home_page_says_what_waits_for_the_users_decision(client, db, book,
                                                                    database_url):
    load_tasks()
    await _pending(book, database_url, 1)  # in full: the creditor decides
    await _pending(book, database_url, 3)  # three installments: the supervisor decides
    for who in ("creditor", "supervisor"):
        home = await client.get("/inicio", headers=book[who].headers)
        assert home.status_code == 200
        assert "1 pedido de aprovação de acordo aguarda a sua decisão" in home.text, who
    # The agent who asked decides nothing; another tenant's admin sees nothing of it.
    for login in (book["agent"], book["beta"].admin):
        home = await client.get("/inicio", headers=login.headers)
        assert "aguarda a sua decisão" not in home.text
