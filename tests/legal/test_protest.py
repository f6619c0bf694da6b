"""Protest through the CRA against the real database, S3, worker and command line: the
remessa, return files written here and read back, the authorisation to cancel after
payment, roles and a second tenant's wall."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core.access import DebtId, TenantId, transaction
from core.auth.principal import Principal
from core.collection import ledger
from core.compliance.business_days import add_business_days
from core.db import Scope, app_url
from core.ids import uuid7
from core.jobs import scoped, send
from core.models import Bucket, ContactPoint, Debt, Debtor, EntryKind, Payment
from core.runtime import get_storage
from core.settings import get_settings
from legal.agreements import pay_installment
from legal.escalation import journal
from legal.escalation.models import Escalation, EscalationEvent, EscalationPath, EscalationState
from legal.models import Agreement, AgreementDebt, Installment
from legal.protest import service
from legal.protest.models import ProtestFile, ProtestItem
from tenants.intake.service import recall_debts
from tests.jobs import drain
from tests.legal.helpers import set_address

SP = {"street": "Rua das Flores, 12", "district": "Centro", "city": "São Paulo",
      "state": "SP", "zip": "01310100"}
CE = {"street": "Av. Beira Mar, 500", "district": "Meireles", "city": "Fortaleza",
      "state": "CE", "zip": "60165121"}


def regua(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", "run", "--no-sync", "regua", *args], capture_output=True,
                          text=True, env=os.environ, timeout=180)


def last_json(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def random_cpf() -> str:
    digits = [random.randint(0, 9) for _ in range(9)]
    for weight in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight, 1, -1), strict=False))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


def today(tenant_id: uuid.UUID) -> dt.date:
    return dt.datetime.now(ZoneInfo("America/Sao_Paulo")).date()


async def queued(database_url: str, tenant_id: uuid.UUID, *, address: dict | None = SP,  # type: ignore[type-arg]
                 principal_amount: str = "300.00", status: str = "open",
                 species: str | None = "DMI") -> uuid.UUID:
    """A debtor, an open debt 200 days overdue and its protest escalation, queued as the
    rules engine leaves it. Returns the escalation's id."""
    set_address(database_url, tenant_id)
    principal = system(tenant_id)
    async with transaction(principal) as session:
        debtor = Debtor(tenant_id=tenant_id, id=uuid7(), document=random_cpf(),
                        document_kind="cpf", name="Ana Souza Lima", state="SP")
        session.add(debtor)
        if address is not None:
            session.add(ContactPoint(
                tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id, kind="address",
                value=f"{address['street']}, {address['city']}", details=address,
                source="portfolio"))
        debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id,
                    portfolio_id=uuid7(), last_portfolio_id=uuid7(),
                    contract=f"C{uuid.uuid4().hex[:6]}", installment=1,
                    original_amount=Decimal(principal_amount), current_balance=Decimal("0"),
                    due_date=today(tenant_id) - dt.timedelta(days=200), status=status)
        session.add(debt)
        await session.flush()
        await ledger.post(session, principal, DebtId(debt.id), [
            (Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal(principal_amount)),
            (Bucket.INTEREST, EntryKind.CREDITOR_UPDATE, Decimal("25.00"))], source="portfolio")
        escalation = await journal.open_escalation(
            session, principal, DebtId(debt.id), EscalationPath.PROTEST, EscalationState.QUEUED,
            amount=Decimal(principal_amount) + Decimal("25.00"), rule_name="protesto 90 dias",
            details={"protest": {"species": species}} if species else None)
        return escalation.id


async def state_of(tenant_id: uuid.UUID, escalation_id: uuid.UUID) -> Escalation:
    async with transaction(system(tenant_id)) as session:
        return (await session.execute(select(Escalation).where(
            Escalation.id == escalation_id))).scalar_one()


def at(record: str, start: int, end: int) -> str:
    return record[start - 1:end]


def put(record: str, start: int, end: int, value: str) -> str:
    assert len(value) == end - start + 1, (start, end, value)
    return record[:start - 1] + value + record[end:]


def answer(remessa: bytes, transaction_kind: str,
           changes: dict[str, dict[tuple[int, int], str]], *,
           drop: set[str] = frozenset(), extra: list[str] = ()) -> bytes:  # type: ignore[assignment]
    """A cartório's answer to `remessa`, as the layout describes it: the confirmação (CRT)
    keeps the remessa and fills fields 31-38; the retorno (RTP) names the titles it
    settles, its trailer counting them and summing their field 18. `drop` leaves titles
    out; `extra` adds records (an unknown title) to the last batch."""
    lines = remessa.decode("ascii").split("\r\n")[:-1]
    out: list[str] = []
    batch: list[str] = []
    for record in lines:
        if record[0] == "0":
            out.append(put(record, 53, 61, f"SDTBFO{transaction_kind}"))
            batch = []
        elif record[0] == "1":
            number = at(record, 199, 213).strip()
            if number in drop:
                continue
            for (start, end), value in changes.get(number, {}).items():
                record = put(record, start, end, value)
            batch.append(record)
            out.append(record)
        else:
            if record is lines[-1]:
                batch.extend(extra)
                out.extend(extra)
            titles = len(batch)
            total = sum(int(at(r, 261, 274)) for r in batch)
            count = titles if transaction_kind == "RTP" else 3 * titles  # 09+10+11+12
            record = put(record, 53, 57, f"{count:05d}")
            out.append(put(record, 58, 75, f"{total:018d}"))
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def confirmed(protocol: str, notary: str = "01") -> dict[tuple[int, int], str]:
    return {(446, 447): notary, (448, 457): protocol.ljust(10), (459, 466): "01122026"}


def occurred(code: str) -> dict[tuple[int, int], str]:
    return {(458, 458): code, (478, 485): "05122026", (467, 476): "0000004590"}


async def our_numbers(tenant_id: uuid.UUID, *escalations: uuid.UUID) -> list[str]:
    return [(await state_of(tenant_id, e)).details["protest"]["our_number"]
            for e in escalations]


async def test_remessa_sends_fit_titles_reports_the_rest_and_runs_once_a_day(
        factory, database_url, tmp_path) -> None:
    tenant = await factory.tenant()
    sp = await queued(database_url, tenant.id)
    ce = await queued(database_url, tenant.id, address=CE, principal_amount="120.50")
    homeless = await queued(database_url, tenant.id, address=None)
    nowhere = await queued(database_url, tenant.id,
                           address={**SP, "city": "Cidade Que Não Existe"})
    no_species = await queued(database_url, tenant.id, species=None)
    paid = await queued(database_url, tenant.id, status="paid")
    held = await queued(database_url, tenant.id)
    async with transaction(system(tenant.id)) as session:
        hold = (await session.execute(select(Escalation).where(
            Escalation.id == held))).scalar_one()
        hold.held_since = dt.datetime.now(dt.UTC)
        hold.held_reason = "devedor contestou a dívida"
    day = today(tenant.id)
    out = tmp_path / "remessa.txt"

    result = last_json(regua("protest", "remessa", "--tenant", tenant.slug, "--date",
                             day.isoformat(), "--out", str(out), "--json"))

    assert result["titles"] == 2 and result["total_amount"] == "420.50"
    assert result["file"] == f"B999{day:%d%m}.{day:%y}{result['file'][-1]}"
    not_sent = {item["escalation_id"]: item for item in result["not_sent"]}
    assert not_sent[str(homeless)]["reasons"] == ["devedor sem endereço"]
    assert not_sent[str(homeless)]["state"] == "queued"
    assert "não encontrada em SP na tabela de municípios do IBGE" in (
        not_sent[str(nowhere)]["reasons"][0])
    assert "espécie do título não informada" in not_sent[str(no_species)]["reasons"][0]
    assert not_sent[str(held)]["reasons"][0].endswith(": devedor contestou a dívida")
    assert not_sent[str(paid)]["state"] == "cancelled"
    assert "não está mais em aberto (pago)" in not_sent[str(paid)]["reasons"][0]
    data = out.read_bytes()
    records = data.decode("ascii").split("\r\n")[:-1]
    assert all(len(r) == 600 for r in records)
    assert [r[0] for r in records] == ["0", "1", "9", "0", "1", "9"]  # CE, then SP
    assert at(records[0], 93, 99) == "2304400" and at(records[3], 93, 99) == "3550308"
    assert at(records[1], 247, 260) == "00000000012050"  # original amount
    assert at(records[1], 261, 274) == "00000000012050"  # principal: interest is not protested
    assert at(records[2], 53, 57) == "00003" and at(records[2], 58, 75) == "0" * 13 + "12050"
    assert at(records[5], 58, 75) == "0" * 13 + "30000"
    stored = await asyncio.to_thread(get_storage().get, result["storage_key"])
    assert stored == data
    for escalation_id in (sp, ce):
        escalation = await state_of(tenant.id, escalation_id)
        assert escalation.state == "sent"
        assert len(escalation.details["protest"]["our_number"]) == 12
    assert (await state_of(tenant.id, held)).state == "queued"
    for escalation_id in (homeless, nowhere, no_species):
        escalation = await state_of(tenant.id, escalation_id)
        assert escalation.state == "queued"
        assert escalation.details["protest"]["unfit"]["reasons"]

    # The same day again: the same file, nothing sent twice; a title queued since waits.
    late = await queued(database_url, tenant.id)
    again = await service.write_remessa(TenantId(tenant.id), day)
    assert again.reused is True and again.file == result["file"]
    assert again.titles == 2 and again.total_amount == "420.50"
    assert again.content == data
    assert "já foi gerada" in {i["escalation_id"]: i for i in again.not_sent}[
        str(late)]["reasons"][0]
    async with transaction(system(tenant.id)) as session:
        sent_events = (await session.execute(select(EscalationEvent).where(
            EscalationEvent.escalation_id.in_([sp, ce]),
            EscalationEvent.to_state == "sent"))).scalars().all()
        files = (await session.execute(select(ProtestFile))).scalars().all()
    assert len(sent_events) == 2 and len(files) == 1
    assert (await state_of(tenant.id, late)).state == "queued"


async def test_confirmacao_and_retorno_move_titles_and_say_what_changed(
        factory, database_url, tmp_path) -> None:
    tenant = await factory.tenant()
    ids = [await queued(database_url, tenant.id) for _ in range(5)]
    day = today(tenant.id)
    remessa = await service.write_remessa(TenantId(tenant.id), day)
    a, b, c, d, e = ids
    na, nb, nc, nd, ne = await our_numbers(tenant.id, *ids)
    stranger = put(remessa.content.decode("ascii").split("\r\n")[1], 199, 213,
                   "999999999999   ")
    confirmation = answer(remessa.content, "CRT", {
        na: confirmed("0000000101"), nc: confirmed("0000000103"), nd: confirmed("0000000104"),
        nb: {(458, 458): "5", (486, 487): "14", (558, 565): "22      "},
        ne: {(459, 466): "32132026"},  # not a date: the record is reported, not applied
    }, extra=[stranger])
    path = tmp_path / f"C999{day:%d%m}.{day:%y}1"
    path.write_bytes(confirmation)

    report = last_json(regua("protest", "import-return", str(path), "--json"))

    assert report["kind"] == "confirmacao"
    by_number = {t["our_number"]: t for t in report["titles"]}
    assert by_number[na]["result"] == "changed"
    assert (by_number[na]["from"], by_number[na]["to"]) == ("sent", "registered")
    assert by_number[na]["reason"] == "apontado no cartório 01, protocolo 0000000101 de 01/12/2026"
    assert (by_number[nb]["from"], by_number[nb]["to"]) == ("sent", "returned")
    assert "irregularidade 14 – CEP incorreto" in by_number[nb]["reason"]
    assert "irregularidade 22 – CEP do sacado incompatível" in by_number[nb]["reason"]
    assert by_number["999999999999"]["result"] == "unknown"
    assert "título desconhecido" in by_number["999999999999"]["reason"]
    assert ne not in by_number
    assert report["malformed"] == [
        "linha 6, campo 34 'Data do Protocolo' (posições 459–466): data inválida '32132026'"
        " (DDMMAAAA)"]
    registered = await state_of(tenant.id, a)
    assert registered.state == "registered"
    assert registered.details["protest"]["protocol"] == "0000000101"
    assert registered.details["protest"]["notary"] == "01"
    returned = await state_of(tenant.id, b)
    assert returned.state == "returned" and returned.closed_at is not None
    assert (await state_of(tenant.id, e)).state == "sent"

    retorno = answer(remessa.content, "RTP", {
        na: {**confirmed("0000000101"), **occurred("2")},
        nc: {**confirmed("0000000103"), **occurred("1")},
        nd: {**confirmed("0000000104"), **occurred("3")},
        ne: {**confirmed("0000000105"), **occurred("4")},
    }, drop={nb})
    principal = Principal.system(Scope(frozenset({tenant.id}), agency=True))
    read = await service.import_return(principal, retorno, "R9990512.261")
    moves = {t.our_number: (t.result, t.from_state, t.to_state) for t in read.titles}
    assert moves[na] == ("changed", "registered", "protested")
    assert moves[nc] == ("changed", "registered", "paid_at_notary")
    assert moves[nd] == ("changed", "registered", "withdrawn")
    assert moves[ne] == ("recorded", "sent", None)  # sustado: noted, no move
    protested = await state_of(tenant.id, a)
    assert protested.state == "protested" and protested.details["protest"]["costs"] == "45.90"
    paid = await state_of(tenant.id, c)
    assert paid.state == "paid_at_notary" and paid.closed_at is not None
    async with transaction(system(tenant.id)) as session:  # booked on the debt, not lost
        booked = (await session.execute(select(Payment.amount, Payment.reference).where(
            Payment.debt_id == paid.debt_id))).one()
    assert booked.amount > 0 and booked.reference == "cartório 01 protocolo 0000000103"
    assert (await state_of(tenant.id, d)).closed_at is not None  # withdrawn: finished
    again = await service.import_return(principal, retorno, "R9990512.261")
    assert {t.result for t in again.titles} == {"duplicate"}
    async with transaction(system(tenant.id)) as session:
        incoming = (await session.execute(select(ProtestFile).where(
            ~ProtestFile.outgoing))).scalars().all()
        lines = (await session.execute(select(ProtestItem).where(
            ProtestItem.escalation_id == a))).scalars().all()
    assert sorted(f.kind for f in incoming) == ["confirmacao", "retorno"]
    assert [(i.from_state, i.to_state) for i in sorted(lines, key=lambda i: i.id)] == [
        ("queued", "sent"), ("sent", "registered"), ("registered", "protested")]


def test_a_file_that_is_no_return_is_refused_naming_the_line(tmp_path) -> None:
    path = tmp_path / "retorno.txt"
    path.write_bytes(b"0" + b" " * 598 + b"\r\n")
    result = regua("protest", "import-return", str(path), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"].startswith("linha 1: o registro tem 599 posições")


async def settle(tenant_id: uuid.UUID, escalation_id: uuid.UUID) -> dt.date:
    """The debtor agrees and pays: the agreements service settles the debt (paid)."""
    principal = system(tenant_id)
    async with transaction(principal) as session:
        escalation = (await session.execute(select(Escalation).where(
            Escalation.id == escalation_id))).scalar_one()
        debt = (await session.execute(select(Debt).where(
            Debt.id == escalation.debt_id))).scalar_one()
        debt.status = "in_agreement"
        agreement = Agreement(
            tenant_id=tenant_id, id=uuid7(), debtor_id=debt.debtor_id, status="active",
            reference_date=dt.date.today(), terms="Termos.", calculation={},
            option_label="à vista", updated_balance=Decimal("325.00"),
            discount_total=Decimal("0"), installment_interest=Decimal("0"),
            total=Decimal("325.00"), down_payment=Decimal("325.00"), installment_count=1,
            installment_amount=Decimal("325.00"), approval_level="agent")
        session.add(agreement)
        await session.flush()
        session.add(AgreementDebt(
            tenant_id=tenant_id, id=uuid7(), agreement_id=agreement.id, debt_id=debt.id,
            principal=Decimal("0"), correction=Decimal("0"), interest=Decimal("0"),
            fine=Decimal("0"), fees=Decimal("0")))
        installment = Installment(tenant_id=tenant_id, id=uuid7(), agreement_id=agreement.id,
                                  number=1, amount=Decimal("325.00"), status="open",
                                  due_date=dt.date.today())
        session.add(installment)
        await session.flush()
        paid_on = dt.date.today() - dt.timedelta(days=1)
        await pay_installment(session, principal, installment.id, Decimal("325.00"), paid_on)
    return paid_on


async def test_paid_debts_get_the_cancellation_authorised_once(
        factory, database_url, worker) -> None:
    tenant = await factory.tenant()
    protested_id, registered_id, sent_id = [await queued(database_url, tenant.id)
                                            for _ in range(3)]
    day = today(tenant.id)
    remessa = await service.write_remessa(TenantId(tenant.id), day)
    np_, nr, ns = await our_numbers(tenant.id, protested_id, registered_id, sent_id)
    principal = Principal.system(Scope(frozenset({tenant.id}), agency=True))
    await service.import_return(principal, answer(remessa.content, "CRT", {
        np_: confirmed("0000000201", "02"), nr: confirmed("0000000202", "02")},
        drop={ns}), "C.txt")
    await service.import_return(principal, answer(remessa.content, "RTP", {
        np_: {**confirmed("0000000201", "02"), **occurred("2")}}, drop={nr, ns}), "R.txt")
    paid_on = {e: await settle(tenant.id, e) for e in (protested_id, registered_id, sent_id)}

    for _ in range(2):  # the daily job, and a retry of it
        with scoped(Scope.tenant(tenant.id)):
            send("protest.authorize_cancellations", str(tenant.id))
        await drain(worker)

    protested = await state_of(tenant.id, protested_id)
    registered = await state_of(tenant.id, registered_id)
    waiting = await state_of(tenant.id, sent_id)
    assert protested.state == registered.state == "cancellation_sent"
    due = add_business_days(paid_on[protested_id], 5, "SP")
    assert protested.deadline_on == due
    assert protested.details["protest"]["cancellation"]["kind"] == "autorizacao_cancelamento"
    assert registered.details["protest"]["cancellation"]["kind"] == "desistencia"
    assert waiting.state == "sent"  # no protocol yet: it waits for its confirmação
    assert waiting.details["protest"]["cancel_due_on"] == due.isoformat()
    async with transaction(system(tenant.id)) as session:
        outgoing = {f.kind: f for f in (await session.execute(select(ProtestFile).where(
            ProtestFile.outgoing))).scalars()}
        events = (await session.execute(select(EscalationEvent).where(
            EscalationEvent.to_state == "cancellation_sent"))).scalars().all()
    assert set(outgoing) == {"remessa", "desistencia", "autorizacao_cancelamento"}
    assert len(events) == 2  # the second run issued nothing again
    authorization = await asyncio.to_thread(
        get_storage().get, outgoing["autorizacao_cancelamento"].storage_key)
    records = authorization.decode("ascii").split("\r\n")[:-1]
    assert outgoing["autorizacao_cancelamento"].name.startswith(f"AC999{day:%d%m}.")
    assert all(len(r) == 127 for r in records)
    assert [r[0] for r in records] == ["0", "1", "2", "8", "9"]
    request = records[2]
    assert at(request, 2, 11) == "0000000201" and at(request, 12, 19) == "01122026"
    assert at(request, 76, 89) == "00000000030000" and at(request, 90, 90) == "C"
    assert at(request, 103, 114) == np_
    assert at(records[1], 2, 3) == "02" and at(records[1], 9, 15) == "3550308"
    desistencia = await asyncio.to_thread(
        get_storage().get, outgoing["desistencia"].storage_key)
    assert at(desistencia.decode("ascii").split("\r\n")[2], 90, 90) == "S"

    # The cartório confirms the cancellation in its retorno (occurrence A).
    await service.import_return(principal, answer(remessa.content, "RTP", {
        np_: {**confirmed("0000000201", "02"), **occurred("A")}}, drop={nr, ns}), "R2.txt")
    assert (await state_of(tenant.id, protested_id)).state == "cancelled"


async def recall(tenant_id: uuid.UUID, escalation_id: uuid.UUID) -> dt.date:
    """The creditor takes the debt back (a recall file or the portal: one service)."""
    principal = system(tenant_id)
    async with transaction(principal) as session:
        escalation = (await session.execute(select(Escalation).where(
            Escalation.id == escalation_id))).scalar_one()
        debt = (await session.execute(select(Debt).where(
            Debt.id == escalation.debt_id))).scalar_one()
        answer = await recall_debts(session, principal.actor, tenant_id,
                                    [(debt.contract, debt.installment)])
    assert len(answer["closed"]) == 1
    return dt.datetime.now(ZoneInfo("America/Sao_Paulo")).date()


async def test_recalled_debts_leave_the_cartorio_as_paid_ones_do_and_say_why(
        factory, database_url, worker) -> None:
    tenant = await factory.tenant()
    protested_id, registered_id, sent_id, kept_id = [await queued(database_url, tenant.id)
                                                     for _ in range(4)]
    day = today(tenant.id)
    remessa = await service.write_remessa(TenantId(tenant.id), day)
    np_, nr, ns, nk = await our_numbers(tenant.id, protested_id, registered_id, sent_id,
                                        kept_id)
    principal = Principal.system(Scope(frozenset({tenant.id}), agency=True))
    await service.import_return(principal, answer(remessa.content, "CRT", {
        np_: confirmed("0000000301", "02"), nr: confirmed("0000000302", "02"),
        nk: confirmed("0000000303", "02")}, drop={ns}), "C.txt")
    await service.import_return(principal, answer(remessa.content, "RTP", {
        np_: {**confirmed("0000000301", "02"), **occurred("2")}}, drop={nr, ns, nk}),
        "R.txt")
    recalled_on = {e: await recall(tenant.id, e) for e in (protested_id, registered_id,
                                                            sent_id)}

    with scoped(Scope.tenant(tenant.id)):
        send("protest.authorize_cancellations", str(tenant.id))
    await drain(worker)

    protested = await state_of(tenant.id, protested_id)
    registered = await state_of(tenant.id, registered_id)
    waiting = await state_of(tenant.id, sent_id)
    untouched = await state_of(tenant.id, kept_id)  # still placed: stays at the cartório
    assert protested.state == registered.state == "cancellation_sent"
    assert untouched.state == "registered"
    assert registered.details["protest"]["cancellation"]["kind"] == "desistencia"
    assert registered.details["protest"]["cancellation"]["reason"] == "recalled"
    assert protested.details["protest"]["cancellation"]["kind"] == "autorizacao_cancelamento"
    due = add_business_days(recalled_on[registered_id], 5, "SP")
    assert registered.deadline_on == due
    assert waiting.state == "sent" and waiting.details["protest"]["cancel_reason"] == "recalled"
    async with transaction(system(tenant.id)) as session:
        notes = {e.escalation_id: e.note for e in (await session.execute(
            select(EscalationEvent).where(EscalationEvent.to_state == "cancellation_sent")
        )).scalars()}
        outgoing = {f.kind: f for f in (await session.execute(select(ProtestFile).where(
            ProtestFile.outgoing))).scalars()}
    stamp = f"{recalled_on[registered_id]:%d/%m/%Y}"
    assert notes[registered_id].startswith(f"recolhido pelo credor em {stamp}: desistência")
    assert notes[protested_id].startswith(f"recolhido pelo credor em {stamp}: autorização")
    desistencia = await asyncio.to_thread(
        get_storage().get, outgoing["desistencia"].storage_key)
    requests = [r for r in desistencia.decode("ascii").split("\r\n")[:-1] if r[0] == "2"]
    assert [(at(r, 2, 11), at(r, 90, 90), at(r, 103, 114)) for r in requests] == [
        ("0000000302", "S", nr)]


async def test_files_by_role_and_tenant(client, factory, database_url) -> None:
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await queued(database_url, alfa.id)
    escalation_id = await queued(database_url, alfa.id)
    made = await service.write_remessa(TenantId(alfa.id), today(alfa.id))
    file_id = made.file_id
    legal = await factory.user("legal", tenant_ids=[alfa.id])
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    url = f"/api/v1/protest/files/{file_id}/download"

    for login in (legal, alfa.admin):
        listed = await client.get("/api/v1/protest/files", headers=login.headers)
        assert listed.status_code == 200 and file_id in {f["id"] for f in listed.json()}
        download = await client.get(url, headers=login.headers)
        assert download.status_code == 200 and download.content == made.content
        assert made.file in download.headers["content-disposition"]
    page = await client.get(f"/api/v1/protest/escalations/{escalation_id}",
                            headers=legal.headers)
    assert page.status_code == 200 and page.json()["state"] == "sent"
    assert page.json()["lines"][0]["file"] == made.file
    assert (await client.get(url, headers=agent.headers)).status_code == 403
    assert (await client.get(url, headers=beta.admin.headers)).status_code == 404
    assert (await client.get(f"/api/v1/protest/escalations/{escalation_id}",
                             headers=beta.admin.headers)).status_code == 404
    listed = await client.get("/api/v1/protest/files", headers=beta.admin.headers)
    assert listed.status_code == 200 and listed.json() == []
    # Row-level security underneath: under Beta's setting, none of Alfa's rows.
    url = make_url(app_url(get_settings())).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", (f"{{{beta.id}}}",))
        assert conn.execute("SELECT count(*) FROM protest_file").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM protest_item").fetchone() == (0,)
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", (f"{{{alfa.id}}}",))
        assert conn.execute("SELECT count(*) FROM protest_file").fetchone() == (1,)


def test_business_days_skip_weekends_and_holidays() -> None:
    # From Friday 13/11/2026: 16, 17, 18, 19 and, past the national holiday of 20/11
    # (Consciência Negra) and the weekend, Monday 23.
    assert add_business_days(dt.date(2026, 11, 13), 5, "SP") == dt.date(2026, 11, 23)
