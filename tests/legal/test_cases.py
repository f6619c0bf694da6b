"""Judicial handoff: cases opened from handed-off escalations (once), the dossier's PDF
and ZIP, new versions, state moves, the CNJ number, deadlines."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.access import DebtId, DebtorId, transaction
from core.auth import service as auth
from core.auth.principal import Principal
from core.channels import OutboundMessage, send
from core.channels import sandbox as channel_sandbox
from core.collection import ledger
from core.db import Scope
from core.errors import Conflict, Forbidden, ValidationFailed
from core.ids import uuid7
from core.models import Channel, ContactPoint, Debt, Debtor
from core.runtime import get_storage
from core.settings import get_settings
from legal import agreements, simulator
from legal.cases import cnj, documents, service
from legal.cases.models import CaseDocument, CaseEscalation, LegalCase
from legal.escalation import journal
from legal.escalation.models import Escalation, EscalationPath, EscalationState
from legal.fees import contract_of
from legal.policy import policy_for, terms_for
from legal.updating import update_debts
from portal.operator import import_portfolio
from tests.legal.helpers import set_address
from tests.pdftext import flat, fonts

# The dossier's footer on every page (its page count is written apart).
FOOTER = r"^(Dossiê JUR-|Página \d+ de|\d+$)"

HEADER = "CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor;Telefone;E-mail"
JOSE = "52998224725"
# A real process number of the TJRJ, with its check digits 77.
REAL_CNJ = "0058967-77.2016.8.19.0000"


def cnj_number(sequence: int, year: int = 2026) -> str:
    seq = f"{sequence:07d}"
    digits = cnj.check_digits(seq, str(year), "8", "26", "0100")
    return f"{seq}-{digits}.{year}.8.26.0100"


async def principal_of(db, login) -> Principal:
    found = await auth.load_principal(db, login.user_id)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def smtp_settings(services):
    """Real SMTP (the local sandbox server) for the e-mail notice."""
    running = channel_sandbox.Sandbox(get_settings(), "http://127.0.0.1:9")
    running.start_smtp()
    yield get_settings().model_copy(update={"sandbox_smtp_port": running.smtp_port})
    running.stop()


async def _import(tmp_path: Path, tenant, rows: list[str]) -> None:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", None)
    assert result["status"] == "done", result


async def escalate(tenant_id: uuid.UUID, debt_ids: list[uuid.UUID], rule: str = "judicial"
                   ) -> list[uuid.UUID]:
    """What the escalation rules do: judicial escalations handed off to the legal team."""
    system = Principal.system(Scope.tenant(tenant_id))
    async with transaction(system) as session:
        made = []
        for debt_id in debt_ids:
            balance = sum((await ledger.balances(session, [debt_id]))[debt_id].values(),
                          Decimal("0.00"))
            made.append((await journal.open_escalation(
                session, system, DebtId(debt_id), EscalationPath.JUDICIAL,
                EscalationState.HANDED_OFF, amount=balance, rule_name=rule)).id)
        return made


@pytest.fixture
async def book(db, factory, database_url, tmp_path, smtp_settings):
    """Alfa's José owes two installments; he got a letter and an e-mail, broke an
    agreement accepted on a recorded call, and both debts were handed to court."""
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    set_address(database_url, alfa.id)
    email = f"jose-{uuid.uuid4().hex[:6]}@exemplo.com.br"
    await _import(tmp_path, alfa, [
        f"{JOSE};José da Conceição;CT-1;1;10/06/2024;1000,00;(11) 98765-4321;{email}",
        f"{JOSE};José da Conceição;CT-1;2;10/08/2024;500,00;(11) 98765-4321;{email}"])
    await _import(tmp_path, beta, [
        f"{JOSE};José Beta;CT-9;1;10/06/2024;700,00;(11) 98765-4321;{email}"])
    staff = Principal.system(Scope.tenant(alfa.id))
    async with transaction(staff) as session:
        jose = (await session.execute(select(Debtor.id))).scalar_one()
        debts = [d.id for d in (await session.execute(
            select(Debt).order_by(Debt.installment))).scalars()]
        session.add(ContactPoint(tenant_id=alfa.id, id=uuid7(), debtor_id=jose, kind="address",
                                 value="Rua das Flores, 12 - Centro, Campinas/SP - 13010-000",
                                 source="portfolio"))
    async with transaction(staff) as session:
        await send(session, OutboundMessage(Channel.LETTER, DebtorId(jose)),
                   settings=smtp_settings)
        await send(session, OutboundMessage(Channel.EMAIL, DebtorId(jose)),
                   settings=smtp_settings)
    legal = await factory.user("legal", tenant_ids=[alfa.id])
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    p_legal = await principal_of(db, legal)
    sim = await simulator.simulate(p_legal, jose)
    option = next(o for o in sim.options if o.approval == "agent")
    made = await agreements.create(p_legal, jose, option.option)
    await agreements.accept_by_agent(p_legal, made.agreement_id, "GRAV-CASO-77")
    broken = await agreements.break_overdue(alfa.id, dt.date.today() + dt.timedelta(days=400))
    assert broken == [made.agreement_id]
    return {"alfa": alfa, "beta": beta, "jose": jose, "debts": debts, "email": email,
            "legal": legal, "p_legal": p_legal, "agent": agent,
            "p_agent": await principal_of(db, agent), "agreement": made.agreement_id}


async def the_case(tenant_id: uuid.UUID) -> LegalCase:
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        return (await session.execute(select(LegalCase))).scalar_one()


async def test_the_job_opens_one_case_per_debtor_with_its_dossier_once(book):
    escalations = await escalate(book["alfa"].id, book["debts"])
    # Two runs at once, then a third: one case holds both escalations.
    first, second = await asyncio.gather(service.open_handed_off(book["alfa"].id),
                                         service.open_handed_off(book["alfa"].id))
    assert len(first + second) == 1
    assert await service.open_handed_off(book["alfa"].id) == []
    case = await the_case(book["alfa"].id)
    async with transaction(Principal.system(Scope.tenant(book["alfa"].id))) as session:
        held = set((await session.execute(select(CaseEscalation.escalation_id))).scalars())
        generated = list((await session.execute(select(CaseDocument))).scalars())
    assert held == set(escalations)
    assert case.state == "received" and case.dossier_version == 1
    assert {d.kind for d in generated} == {"dossier_pdf", "dossier_zip"}
    assert case.reason == "escalonamento para cobrança judicial: regra judicial"
    assert get_storage().get(case.dossier_pdf_key or "").startswith(b"%PDF")


async def test_the_dossier_shows_the_debtor_the_debts_with_their_memoria_the_agreement_and_the_notices(  # noqa: E501
        book):
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    text = flat(get_storage().get(case.dossier_pdf_key or ""), FOOTER)

    assert "Dossiê para cobrança judicial" in text and case.code in text
    assert "José da Conceição" in text and "529.982.247-25" in text
    assert "Alfa Ltda." in text and "Rua do Credor, 100" in text
    # Each debt with its memória to today, as legal.updating writes it.
    system = Principal.system(Scope.tenant(book["alfa"].id))
    async with transaction(system) as session:
        debts = list((await session.execute(select(Debt).order_by(Debt.installment))).scalars())
        debtor = (await session.execute(select(Debtor))).scalar_one()
        today = await service.today_of(session, book["alfa"].id)
        updates = await update_debts(session, debts, today,
                                     terms_for(await policy_for(session, book["alfa"].id),
                                               await contract_of(session, book["alfa"].id),
                                               debtor))
    assert [u.label for u in updates] == ["CT-1 / 1", "CT-1 / 2"]
    for update in updates:
        assert f"Memória de cálculo do título {update.label}" in text
        for line in update.memoria:
            assert " ".join(line.split()) in text, line  # its "−" and "×" as written
    total = sum((u.total for u in updates), Decimal("0"))
    assert f"Total atualizado em {today:%d/%m/%Y}: R$ {total:,.2f}".replace(",", "X").replace(
        ".", ",").replace("X", ".") in text
    # The broken agreement, its terms and how it was accepted.
    assert "acordo quebrado: título executivo" in text
    assert "TERMO DE ACORDO EXTRAJUDICIAL" in text and "GRAV-CASO-77" in text
    # The notices with their status, and the escalation's history.
    assert "Rua das Flores, 12" in text and book["email"] in text
    assert "carta" in text and "e-mail" in text and "enviada" in text
    assert "cobrança judicial do título CT-1 / 1" in text and "com o jurídico" in text
    assert "Nenhum documento enviado pelo credor" in text


async def test_the_dossier_embeds_its_font_and_reads_back_in_portuguese(book):
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    pdf = get_storage().get(case.dossier_pdf_key or "")
    # One TrueType font, embedded in each style used: no core font a viewer substitutes.
    used = fonts(pdf)
    assert {"DejaVuSansBook", "DejaVuSansBold"} <= set(used)
    assert all(name.startswith("DejaVuSans") and embedded for name, embedded in used.items())
    text = flat(pdf, FOOTER)
    for written in ("José da Conceição", "Correção monetária", "cobrança judicial",
                    "R$ 1.000,00 × fator − R$ 1.000,00", "Página 1 de"):
        assert written in text or written in flat(pdf), written


async def test_the_zip_holds_the_originals_and_a_new_version_keeps_the_old(book, db):
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    contract = b"%PDF-1.4\n% contrato assinado\n"
    await documents.upload(book["p_legal"], case.id, "Contrato CT-1.pdf", contract, "contract",
                           "contrato de empréstimo")
    version = await service.regenerate(book["p_legal"], case.id)
    assert version == 2
    case = await the_case(book["alfa"].id)
    archive = zipfile.ZipFile(io.BytesIO(get_storage().get(case.dossier_zip_key or "")))
    names = archive.namelist()
    assert f"dossie-{case.code}-v002.pdf" in names
    assert any(n.startswith("documentos-do-credor/") and n.endswith("Contrato CT-1.pdf")
               and archive.read(n) == contract for n in names)
    letters = [n for n in names if n.startswith("notificacoes/") and "-carta-" in n]
    assert len(letters) == 1 and archive.read(letters[0]).startswith(b"%PDF")
    mails = [n for n in names if n.startswith("notificacoes/") and "-email-" in n]
    assert len(mails) == 1 and book["email"].encode() in archive.read(mails[0])
    assert any(n.startswith("acordos/") and n.endswith("-broken.txt") for n in names)
    index = list(csv.reader(io.StringIO(archive.read("indice.csv").decode("utf-8-sig")),
                            delimiter=";"))
    assert index[0] == ["Arquivo", "Bytes", "SHA-256"]
    for name, size, digest in index[1:]:
        data = archive.read(name)
        assert len(data) == int(size) and hashlib.sha256(data).hexdigest() == digest
    text = flat(archive.read(f"dossie-{case.code}-v002.pdf"))
    assert "Contrato CT-1.pdf" in text and "enviado pela assessoria" in text
    # Version 1 is still there, as it was.
    async with transaction(Principal.system(Scope.tenant(book["alfa"].id))) as session:
        versions = sorted((d.version, d.kind) for d in (await session.execute(
            select(CaseDocument).where(CaseDocument.version.is_not(None)))).scalars())
        first = (await session.execute(select(CaseDocument).where(
            CaseDocument.version == 1, CaseDocument.kind == "dossier_pdf"))).scalar_one()
    assert versions == [(1, "dossier_pdf"), (1, "dossier_zip"), (2, "dossier_pdf"),
                        (2, "dossier_zip")]
    assert "Contrato CT-1.pdf" not in flat(get_storage().get(first.key))


async def test_uploads_are_checked_for_type_and_size(book):
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    for name, data, message in (
            ("nota.exe", b"MZ...", "tipo de arquivo não aceito (.exe)"),
            ("contrato.pdf", b"<html>not a pdf</html>", "não é de um arquivo PDF"),
            ("vazio.pdf", b"", "está vazio"),
            ("grande.pdf", b"%PDF-" + b"0" * documents.MAX_BYTES, "o limite é 10 MB")):
        with pytest.raises(ValidationFailed) as caught:
            await documents.upload(book["p_legal"], case.id, name, data, "contract")
        assert message in caught.value.detail["file"], caught.value.detail
    nfe = b'<?xml version="1.0"?><nfeProc/>'
    doc_id = await documents.upload(book["p_legal"], case.id, "NFe-123.xml", nfe, "invoice")
    got = await documents.download(book["p_legal"], case.id, doc_id)
    assert b"".join(got.chunks) == nfe and got.content_type == "application/xml"
    with pytest.raises(Forbidden):
        await documents.upload(book["p_agent"], case.id, "c.pdf", b"%PDF-1.4", "contract")


async def test_a_person_hands_a_debtor_to_court_from_the_file(book):
    with pytest.raises(Forbidden):
        await service.hand_off(book["p_agent"], book["jose"], book["debts"], None)
    with pytest.raises(ValidationFailed):
        await service.hand_off(book["p_legal"], book["jose"], [], None)
    screen = await service.handoff_screen(book["p_legal"], book["jose"])
    assert [d.blocked for d in screen.debts] == [None, None]
    case_id = await service.hand_off(book["p_legal"], book["jose"], book["debts"][:1],
                                     "devedor não responde há 90 dias")
    view = await service.view(book["p_legal"], case_id)
    assert [d.label for d in view.debts] == ["CT-1 / 1"]
    assert view.reason == "devedor não responde há 90 dias" and view.dossier_version == 1
    screen = await service.handoff_screen(book["p_legal"], book["jose"])
    assert screen.debts[0].blocked == "em cobrança judicial: com o jurídico"
    with pytest.raises(Conflict):
        await service.hand_off(book["p_legal"], book["jose"], book["debts"][:1], None)
    # The job finds nothing to do: the person's escalation already has its case.
    assert await service.open_handed_off(book["alfa"].id) == []


async def test_states_move_as_allowed_and_filing_needs_a_valid_process_number(book, db):
    case_id = await service.hand_off(book["p_legal"], book["jose"], book["debts"], None)
    legal = book["p_legal"]
    assert await worked(book) == {False}  # in court: the friendly collection stops
    with pytest.raises(Conflict) as caught:
        await service.move(legal, case_id, "filed")
    assert "um caso recebido não passa a ajuizado" in caught.value.detail["state"]
    await service.move(legal, case_id, "in_analysis", "petição em preparo")
    with pytest.raises(ValidationFailed) as caught:
        await service.move(legal, case_id, "filed")
    assert set(caught.value.detail) == {"court_number", "filed_on"}
    wrong = REAL_CNJ.replace("-77.", "-78.")
    with pytest.raises(ValidationFailed) as caught:
        await service.move(legal, case_id, "filed", court=service.CourtData(wrong, None,
                                                                            "2026-01-05"))
    assert "dígito verificador" in caught.value.detail["court_number"]
    with pytest.raises(ValidationFailed) as caught:
        await service.move(legal, case_id, "filed", court=service.CourtData(
            REAL_CNJ, None, (dt.date.today() + dt.timedelta(days=30)).isoformat()))
    assert "futuro" in caught.value.detail["filed_on"]
    await service.move(legal, case_id, "filed", "distribuída",
                       service.CourtData(REAL_CNJ, "2ª Vara Cível de Campinas", "2026-01-05"))
    view = await service.view(legal, case_id)
    assert view.state == "filed" and view.court_number == REAL_CNJ
    assert [s for s, _ in view.next_states] == ["hearing", "judgment", "settled", "closed"]
    with pytest.raises(Forbidden):
        await service.move(book["p_agent"], case_id, "hearing")
    await service.move(legal, case_id, "closed", "desistência do credor")
    async with transaction(Principal.system(Scope.tenant(book["alfa"].id))) as session:
        states = set((await session.execute(select(Escalation.state).where(
            Escalation.path == "judicial"))).scalars())
    assert states == {"closed"}  # the escalations the case held closed with it
    assert await worked(book) == {True}  # and its legal holds ended
    with pytest.raises(Conflict):
        await service.move(legal, case_id, "in_analysis")


async def worked(book) -> set[bool]:
    """Whether each of the book's debts may be worked now (the one definition)."""
    async with transaction(Principal.system(Scope.tenant(book["alfa"].id))) as session:
        blockers = (await session.execute(text(
            "SELECT regua_debt_blocker(d, now()) FROM debt d WHERE d.id = ANY(:ids)"),
            {"ids": list(book["debts"])})).scalars()
        return {blocker is None for blocker in blockers}


def test_cnj_numbers_are_checked_by_their_digits():
    assert cnj.normalize(REAL_CNJ) == "00589677720168190000"
    assert cnj.normalize("00589677720168190000") == "00589677720168190000"
    assert cnj.formatted("00589677720168190000") == REAL_CNJ
    for sequence in (1, 123, 9999999):
        number = cnj_number(sequence)
        digits = "".join(ch for ch in number if ch.isdigit())
        assert int(digits[:7] + digits[9:] + digits[7:9]) % 97 == 1
        assert cnj.normalize(number) == digits
    for bad, message in (("0058967-77.2016.8.19", "formato"),
                         ("0058967-76.2016.8.19.0000", "dígito verificador"),
                         ("0058967-77.2016.0.19.0000", "segmento"),
                         ("0058967-77.1850.8.19.0000", "ano")):
        with pytest.raises(ValueError, match=message):
            cnj.normalize(bad)


async def test_deadlines_alert_when_near_and_overdue_and_lawyers_are_from_the_legal_team(
        book, factory, db):
    case_id = await service.hand_off(book["p_legal"], book["jose"], book["debts"], None)
    today = dt.date.today()
    late = await service.add_deadline(book["p_legal"], case_id, "Réplica",
                                      today - dt.timedelta(days=2))
    await service.add_deadline(book["p_legal"], case_id, "Audiência",
                               (today + dt.timedelta(days=2)).isoformat())
    with pytest.raises(ValidationFailed) as caught:
        await service.add_deadline(book["p_legal"], case_id, "", "amanhã")
    assert set(caught.value.detail) == {"what", "due_on"}
    found = await service.queue(book["p_legal"], tenant=book["alfa"].id)
    [row] = found.rows
    assert row.next_deadline is not None and row.next_deadline.what == "Réplica"
    assert row.next_deadline.alert == "overdue" and row.overdue == 1
    assert found.overdue == 1 and found.near == 1
    assert [r.id for r in (await service.queue(book["p_legal"], tenant=book["alfa"].id,
                                               late=True)).rows] == [case_id]
    await service.complete_deadline(book["p_legal"], case_id, late)
    [row] = (await service.queue(book["p_legal"], tenant=book["alfa"].id)).rows
    assert row.next_deadline is not None and row.next_deadline.alert == "near"
    with pytest.raises(ValidationFailed):
        await service.assign(book["p_legal"], case_id, book["agent"].user_id)
    await service.assign(book["p_legal"], case_id, book["legal"].user_id)
    mine = await service.queue(book["p_legal"], tenant=book["alfa"].id, lawyer="meus")
    assert [r.id for r in mine.rows] == [case_id]
    assert (await service.queue(book["p_legal"], tenant=book["alfa"].id, lawyer="sem")).rows == []
