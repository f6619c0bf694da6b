"""The judicial dossier: a PDF a lawyer files from, and a ZIP with the originals.

The PDF holds the debtor's identification and contacts; each debt of the case with its
memória de cálculo to today (`legal.updating`, the calculation agreements use); the
agreement history, with the terms and acceptance record of each agreement (a broken
acordo is itself an enforceable title); every notice sent by letter, e-mail or SMS with
its delivery status, and the escalations with their history (the credit-bureau notice
among them); the contact history of the file; and the list of the creditor's documents.
The ZIP adds the originals: the creditor's documents, each letter's PDF, the texts of the
e-mails and SMS, each agreement's terms, the dossier PDF and an index with SHA-256 sums.

Both are stored in S3 as a new version each time; earlier versions stay.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtorId
from core.auth.principal import Principal
from core.channels.letters import Letter, letter_pdf
from core.db import Scope
from core.debtors.file import build_file
from core.debtors.schemas import DebtorFile
from core.documents import format_document
from core.formatting import brl, date_br, datetime_br
from core.ids import uuid7
from core.models import (
    CHANNEL_LABELS,
    DISPATCH_STATUS_LABELS,
    Channel,
    Debt,
    Debtor,
    DispatchStatus,
    MessageDispatch,
    Tenant,
)
from core.pdf import FONT, register_font
from core.settings import get_settings
from core.storage import Storage
from core.storage_keys import dossier_key
from core.zones import zone_label
from legal.agreements import AgreementView, debtor_views
from legal.cases.cnj import formatted
from legal.cases.models import (
    CASE_STATE_LABELS,
    DOCUMENT_KIND_LABELS,
    DOCUMENT_ORIGIN_LABELS,
    CaseDocument,
    CaseEscalation,
    CaseState,
    DocumentKind,
    DocumentOrigin,
    LegalCase,
)
from legal.escalation.models import (
    PATH_LABELS,
    STATE_LABELS,
    Escalation,
    EscalationEvent,
    EscalationPath,
    EscalationState,
)
from legal.fees import contract_of
from legal.policy import policy_for, terms_for
from legal.updating import DebtUpdate, IndexTable, update_debts

NOTICE_CHANNELS = (Channel.LETTER, Channel.EMAIL, Channel.SMS)
@dataclass
class Notice:
    id: str
    channel: str
    channel_label: str
    at: dt.datetime
    sent_at: dt.datetime | None
    recipient: str
    subject: str | None
    status: str
    status_label: str
    status_reason: str | None
    provider: str
    provider_message_id: str | None
    print_key: str | None
    body: str


@dataclass
class EscalationRecord:
    path_label: str
    state_label: str
    debt_label: str
    decided_at: dt.datetime
    rule_name: str
    events: list[tuple[dt.datetime, str, str]]  # at, what, by


@dataclass
class Contents:
    """Everything the dossier shows, read in one transaction."""

    case: LegalCase
    version: int
    tenant: Tenant
    today: dt.date
    now: dt.datetime
    zone: str
    file: DebtorFile
    updates: list[DebtUpdate]
    debts: list[Debt]
    agreements: list[AgreementView]
    notices: list[Notice]
    escalations: list[EscalationRecord]
    documents: list[CaseDocument]

    def when(self, value: dt.datetime | None) -> str:
        return datetime_br(value, ZoneInfo(self.zone))


async def gather(session: AsyncSession, case: LegalCase, version: int,
                 now: dt.datetime) -> Contents:
    tenant = (await session.execute(select(Tenant).where(Tenant.id == case.tenant_id))
              ).scalar_one()
    zone = tenant.timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    # The dossier is the agency's record: nothing masked, people named by e-mail.
    reader = Principal.system(Scope.tenant(case.tenant_id))
    debtor_file = await build_file(session, reader, DebtorId(case.debtor_id), now)
    debt_ids = list((await session.execute(select(CaseEscalation.debt_id).where(
        CaseEscalation.case_id == case.id))).scalars())
    debts = list((await session.execute(select(Debt).where(Debt.id.in_(debt_ids)).order_by(
        Debt.due_date, Debt.contract, Debt.installment))).scalars())
    policy = await policy_for(session, case.tenant_id)
    debtor = (await session.execute(select(Debtor).where(Debtor.id == case.debtor_id))
              ).scalar_one()
    contract = await contract_of(session, case.tenant_id)
    updates = await update_debts(session, debts, today, terms_for(policy, contract, debtor),
                                 await IndexTable.load(session))
    return Contents(
        case=case, version=version, tenant=tenant, today=today, now=now, zone=zone,
        file=debtor_file, updates=updates, debts=debts,
        agreements=await debtor_views(session, DebtorId(case.debtor_id)),
        notices=await _notices(session, case),
        escalations=await _escalations(session, case),
        documents=list((await session.execute(select(CaseDocument).where(
            CaseDocument.case_id == case.id,
            CaseDocument.origin != DocumentOrigin.GENERATED).order_by(
            CaseDocument.created_at))).scalars()))


async def _notices(session: AsyncSession, case: LegalCase) -> list[Notice]:
    rows = (await session.execute(select(MessageDispatch).where(
        MessageDispatch.debtor_id == case.debtor_id,
        MessageDispatch.channel.in_([c.value for c in NOTICE_CHANNELS]))
        .order_by(MessageDispatch.created_at))).scalars()
    return [Notice(
        id=str(m.id), channel=m.channel, channel_label=CHANNEL_LABELS[Channel(m.channel)],
        at=m.created_at, sent_at=m.sent_at, recipient=m.recipient, subject=m.subject,
        status=m.status, status_label=DISPATCH_STATUS_LABELS[DispatchStatus(m.status)],
        status_reason=m.status_reason, provider=m.provider,
        provider_message_id=m.provider_message_id, print_key=m.print_key, body=m.body)
        for m in rows]


async def _escalations(session: AsyncSession, case: LegalCase) -> list[EscalationRecord]:
    """Every escalation of the debtor's debts (bureau notices and listings, protests,
    this handoff), with its history."""
    rows = (await session.execute(
        select(Escalation, Debt.contract, Debt.installment)
        .join(Debt, (Debt.tenant_id == Escalation.tenant_id) & (Debt.id == Escalation.debt_id))
        .where(Escalation.debtor_id == case.debtor_id)
        .order_by(Escalation.decided_at))).all()
    events: dict[object, list[EscalationEvent]] = {}
    if rows:
        for event in (await session.execute(select(EscalationEvent).where(
                EscalationEvent.escalation_id.in_([e.id for e, _, _ in rows]))
                .order_by(EscalationEvent.at))).scalars():
            events.setdefault(event.escalation_id, []).append(event)
    out = []
    for escalation, contract, installment in rows:
        out.append(EscalationRecord(
            path_label=PATH_LABELS[EscalationPath(escalation.path)],
            state_label=STATE_LABELS[EscalationState(escalation.state)],
            debt_label=f"{contract} / {installment}", decided_at=escalation.decided_at,
            rule_name=escalation.rule_name,
            events=[(e.at, STATE_LABELS[EscalationState(e.to_state)]
                     + (f" ({e.note})" if e.note else ""),
                     e.actor_email or (f"regra {e.rule_name}" if e.rule_name else "Régua"))
                    for e in events.get(escalation.id, [])]))
    return out


# ---- the PDF -----------------------------------------------------------------------------

class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, size=7.5)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.footer_text, align="L")
        self.cell(0, 5, f"Página {self.page_no()} de {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


class _Writer:
    def __init__(self, footer: str) -> None:
        self.pdf = _Pdf(format="A4")
        register_font(self.pdf)
        self.pdf.footer_text = footer
        self.pdf.alias_nb_pages()
        self.pdf.set_auto_page_break(auto=True, margin=20)
        self.pdf.set_margins(left=18, top=18, right=18)
        self.pdf.add_page()

    def title(self, text: str) -> None:
        self.pdf.set_font(FONT, "B", 16)
        self.pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")

    def section(self, text: str) -> None:
        if self.pdf.get_y() > 250:
            self.pdf.add_page()
        self.pdf.ln(3)
        self.pdf.set_fill_color(11, 93, 75)
        self.pdf.set_text_color(255, 255, 255)
        self.pdf.set_font(FONT, "B", 11)
        self.pdf.cell(0, 7, " " + text, fill=True, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(1.5)

    def subtitle(self, text: str) -> None:
        self.pdf.ln(1)
        self.pdf.set_font(FONT, "B", 9.5)
        self.pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")

    def text(self, text: str, size: float = 9, style: str = "") -> None:
        self.pdf.set_font(FONT, style, size)
        self.pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")

    def facts(self, pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            self.pdf.set_font(FONT, "B", 9)
            self.pdf.cell(48, 5, label)
            self.pdf.set_font(FONT, "", 9)
            self.pdf.multi_cell(0, 5, value or "-", new_x="LMARGIN", new_y="NEXT")

    def table(self, widths: list[float], header: list[str], rows: list[list[str]],
              right: set[int] | None = None) -> None:
        """A table whose cells wrap: an address, a reason or a message id is printed whole,
        never cut, and the heading comes again on each page it runs over. No rows: none
        (the text before it says so)."""
        if not rows:
            return
        right = right or set()
        self.pdf.set_font(FONT, "", 8)
        self.pdf.set_fill_color(255, 255, 255)  # the section bars' colour stays set
        heading = FontFace(emphasis="BOLD", size_pt=8, fill_color=(235, 239, 243))
        with self.pdf.table(width=sum(widths), col_widths=widths, align="LEFT",
                            line_height=4, padding=(0.8, 1), v_align="TOP",
                            headings_style=heading) as table:
            for values in (header, *rows):
                row = table.row()
                for i, value in enumerate(values):
                    row.cell(value, align="RIGHT" if i in right else "LEFT")
        self.pdf.ln(1)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_pdf(c: Contents) -> bytes:
    settings = get_settings()
    case, d = c.case, c.file.debtor
    w = _Writer(f"Dossiê {case.code} v{c.version} · {c.tenant.trade_name} · gerado em"
                f" {c.when(c.now)}")
    w.title("Dossiê para cobrança judicial")
    w.text(f"Caso {case.code} · versão {c.version} · gerado em {c.when(c.now)}"
           f" ({zone_label(c.zone)}) · valores atualizados até {date_br(c.today)}", 9)
    w.section("1. Partes")
    w.facts([
        ("Credor", c.tenant.legal_name),
        ("CNPJ do credor", format_document("cnpj", c.tenant.cnpj)),
        ("Endereço do credor", c.tenant.address or "não informado"),
        ("Assessoria", f"{settings.agency_name}, CNPJ"
                       f" {format_document('cnpj', settings.agency_cnpj)}"),
        ("Situação do caso", CASE_STATE_LABELS[CaseState(case.state)]),
        ("Processo", formatted(case.court_number) or "ainda não ajuizado"),
        ("Motivo do envio", case.reason or "escalonamento para cobrança judicial"),
    ])
    w.subtitle("Devedor(a)")
    w.facts([
        ("Nome", d.name),
        ("CPF" if d.document_kind == "cpf" else "CNPJ", d.document),
        ("Tipo", d.kind_label),
        ("Nascimento", date_br(d.birth_date) or "não informado"),
        ("UF", d.state or "não informada"),
        ("Falecimento registrado", date_br(d.deceased_on) if d.deceased_on else "não"),
    ])
    w.subtitle("Contatos conhecidos")
    w.table([26, 88, 36, 24], ["Tipo", "Contato", "Qualidade", "Origem"],
            [[x.kind_label, x.value, x.quality_label, x.source] for x in c.file.contacts]
            or [["-", "nenhum contato registrado", "", ""]])

    w.section("2. Títulos e memória de cálculo")
    total = sum((u.total for u in c.updates), Decimal("0.00"))
    w.table([38, 22, 26, 22, 22, 22, 22], ["Contrato / parcela", "Vencimento", "Original",
                                           "Principal", "Correção", "Juros + multa", "Atualizado"],
            [[u.label, date_br(u.due_date), brl(debt.original_amount), brl(u.principal),
              brl(u.correction), brl(u.interest + u.fine + u.fees), brl(u.total)]
             for u, debt in zip(c.updates, c.debts, strict=True)], right={2, 3, 4, 5, 6})
    w.text(f"Total atualizado em {date_br(c.today)}: {brl(total)}", 10, "B")
    for u in c.updates:
        w.subtitle(f"Memória de cálculo do título {u.label}")
        for line in u.memoria:
            w.text(line, 8.5)
        for note in u.notes:
            w.text(f"Observação: {note}", 8, "I")

    w.section("3. Acordos")
    if not c.agreements:
        w.text("Nenhum acordo registrado com o devedor.")
    for a in c.agreements:
        broken = a.broken_at is not None
        w.subtitle(f"Acordo {a.option_label}, criado em {c.when(a.created_at)}:"
                   f" {a.status_label}" + (" - acordo quebrado: título executivo" if broken
                                             else ""))
        facts = [("Total do acordo", brl(a.total)), ("Desconto", brl(a.discount_total)),
                 ("Saldo atualizado na data", f"{brl(a.updated_balance)} em"
                                              f" {date_br(a.reference_date)}")]
        if a.accepted_at:
            if a.accepted_via == "agent":
                how = (f"pelo operador em ligação gravada (gravação {a.call_recording_ref})")
            else:
                how = (f"pelo devedor no link de aceite (IP {a.accepted_ip or '?'}, navegador"
                       f" {a.accepted_user_agent or '?'})")
            facts.append(("Aceite", f"{c.when(a.accepted_at)}, {how}"))
        else:
            facts.append(("Aceite", "não aceito"))
        if broken:
            facts.append(("Quebra", f"{c.when(a.broken_at)}: {a.broken_reason}"))
        if a.cancel_reason:
            facts.append(("Cancelamento", a.cancel_reason))
        w.facts(facts)
        w.table([16, 30, 30, 40, 30], ["Parcela", "Vencimento", "Valor", "Situação", "Pago"],
                [[str(i.number), date_br(i.due_date), brl(i.amount), i.status_label,
                  brl(i.paid_amount) if i.paid_amount else "-"] for i in a.installments],
                right={2, 4})
        if broken or a.accepted_at:
            w.text("Termos como aceitos:", 8.5, "B")
            w.text(a.terms, 8)

    w.section("4. Notificações enviadas")
    if not c.notices:
        w.text("Nenhuma carta, e-mail ou SMS enviado ao devedor.")
    w.table([30, 16, 60, 22, 46], ["Enviada em", "Canal", "Destinatário", "Situação",
                                   "Comprovação"],
            [[c.when(n.sent_at or n.at), n.channel_label, n.recipient.replace("\n", " "),
              n.status_label, _proof(n)] for n in c.notices])
    if c.escalations:
        w.subtitle("Escalonamentos (negativação, protesto, cobrança judicial)")
        for e in c.escalations:
            by = "manual" if e.rule_name == "manual" else f"regra {e.rule_name}"
            w.text(f"{e.path_label} do título {e.debt_label}, decidido em"
                   f" {c.when(e.decided_at)} ({by}): {e.state_label}", 8.5, "B")
            for at, what, by in e.events:
                w.text(f"  {c.when(at)} - {what} - {by}", 8)

    w.section("5. Histórico de contatos")
    events = [e for e in c.file.timeline if e.kind != "import"]
    if not events:
        w.text("Nenhum contato registrado.")
    w.table([30, 66, 52, 26], ["Data", "Evento", "Detalhe", "Por"],
            [[c.when(e.at), e.title, e.detail, e.by] for e in events])

    w.section("6. Documentos do credor")
    if not c.documents:
        w.text("Nenhum documento enviado pelo credor até a geração deste dossiê.")
    w.table([62, 34, 34, 22, 22], ["Arquivo", "Tipo", "Origem", "Tamanho", "Enviado em"],
            [[doc.file_name, DOCUMENT_KIND_LABELS[DocumentKind(doc.kind)],
              DOCUMENT_ORIGIN_LABELS[DocumentOrigin(doc.origin)], _size(doc.size),
              c.when(doc.created_at)[:10]] for doc in c.documents], right={3})
    w.text("Os originais estão no arquivo ZIP deste dossiê (pasta documentos-do-credor), com"
           " o SHA-256 de cada arquivo no índice.", 8, "I")
    return w.output()


def _proof(n: Notice) -> str:
    if n.channel == Channel.LETTER:
        return f"carta {n.id[-8:]} no arquivo de impressão" if n.print_key else \
            f"carta {n.id[-8:]} (PDF no ZIP)"
    ref = n.provider_message_id or n.status_reason or ""
    return f"{n.provider} {ref}".strip()


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB".replace(".", ",")
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


# ---- the ZIP -----------------------------------------------------------------------------

def build_zip(c: Contents, pdf: bytes, storage: Storage) -> tempfile.SpooledTemporaryFile[bytes]:
    """The originals beside the dossier, with an index of SHA-256 sums. The documents
    stream from S3 into a file that spills to disk past 32 MB."""
    out = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    index: list[tuple[str, int, str]] = []

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            archive.writestr(name, data)
            index.append((name, len(data), hashlib.sha256(data).hexdigest()))

        add(f"dossie-{c.case.code}-v{c.version:03d}.pdf", pdf)
        for doc in c.documents:
            add(f"documentos-do-credor/{str(doc.id)[-8:]}-{doc.file_name}", storage.get(doc.key))
        for n in c.notices:
            stamp = (n.sent_at or n.at).astimezone(ZoneInfo(c.zone)).strftime("%Y-%m-%d")
            if n.channel == Channel.LETTER:
                add(f"notificacoes/{stamp}-carta-{n.id[-8:]}.pdf",
                    letter_pdf(Letter(n.id, n.subject or "", n.recipient, n.body)))
            else:
                head = (f"Canal: {n.channel_label}\nDestinatário: {n.recipient}\n"
                        f"Enviada em: {c.when(n.sent_at or n.at)} ({zone_label(c.zone)})\n"
                        f"Situação: {n.status_label}\nProvedor: {n.provider}"
                        f" {n.provider_message_id or ''}\n"
                        + (f"Assunto: {n.subject}\n" if n.subject else "") + "\n")
                add(f"notificacoes/{stamp}-{n.channel}-{n.id[-8:]}.txt",
                    (head + n.body).encode("utf-8"))
        for a in c.agreements:
            add(f"acordos/acordo-{str(a.id)[-8:]}-{a.status}.txt", a.terms.encode("utf-8"))
        listing = io.StringIO()
        writer = csv.writer(listing, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Arquivo", "Bytes", "SHA-256"])
        writer.writerows([(name, size, digest) for name, size, digest in index])
        archive.writestr("indice.csv", listing.getvalue().encode("utf-8-sig"))
    out.seek(0)
    return out


@dataclass
class Stored:
    version: int
    pdf_key: str
    zip_key: str


async def build_and_store(session: AsyncSession, storage: Storage, case: LegalCase,
                          by_id: uuid.UUID | None, by_email: str) -> Stored:
    """Render the next version of `case`'s dossier (the caller holds the case row), put
    both files in S3 and record them; the case points to the new version."""
    now = dt.datetime.now(dt.UTC)
    version = case.dossier_version + 1
    contents = await gather(session, case, version, now)
    pdf = render_pdf(contents)
    pdf_key = dossier_key(case.tenant_id, case.id, version, "pdf")
    zip_key = dossier_key(case.tenant_id, case.id, version, "zip")
    storage.put(pdf_key, pdf, "application/pdf")
    archive = build_zip(contents, pdf, storage)
    try:
        digest, size = hashlib.sha256(), 0
        for chunk in iter(lambda: archive.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
        archive.seek(0)
        storage.put(zip_key, archive, "application/zip")
    finally:
        archive.close()
    files = ((DocumentKind.DOSSIER_PDF, pdf_key, len(pdf), hashlib.sha256(pdf).hexdigest()),
             (DocumentKind.DOSSIER_ZIP, zip_key, size, digest.hexdigest()))
    for kind, key, length, sha in files:
        pdf_file = kind == DocumentKind.DOSSIER_PDF
        session.add(CaseDocument(
            tenant_id=case.tenant_id, id=uuid7(), case_id=case.id,
            origin=DocumentOrigin.GENERATED, kind=kind, version=version,
            file_name=f"dossie-{case.code}-v{version:03d}.{'pdf' if pdf_file else 'zip'}",
            content_type="application/pdf" if pdf_file else "application/zip",
            size=length, sha256=sha, key=key, uploaded_by=by_id, uploaded_by_email=by_email))
    case.dossier_version = version
    case.dossier_pdf_key, case.dossier_zip_key = pdf_key, zip_key
    case.updated_at = now
    await session.flush()
    return Stored(version, pdf_key, zip_key)
