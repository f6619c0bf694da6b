"""Payment slips: each installment's PIX code and boleto, one PDF, stored and sent.

A slip is issued once per installment (its "nosso número" from the agency-wide sequence,
its txid from that) and kept; issuing again returns what was issued. The PDF has a page
per installment with the QR image, the boleto's Interleaved 2 of 5 bars and its line.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass
from decimal import Decimal

from fpdf import FPDF
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import ContactPointId, DebtId, DebtorId
from core.auth.principal import Principal
from core.channels import service as channels
from core.channels.base import Attachment
from core.errors import NotFound
from core.formatting import brl, date_br
from core.ids import uuid7
from core.models import (
    Channel,
    ContactKind,
    ContactOptOut,
    ContactPoint,
    Debtor,
    Tenant,
)
from core.pdf import FONT, new_pdf
from core.settings import Settings, get_settings
from core.storage import Storage
from core.storage_keys import slip_key
from legal import boleto, pix
from legal.access import AgreementId
from legal.models import Agreement, AgreementDebt, Installment, InstallmentStatus
from legal.payment_models import Slip

# Statuses whose installments still get slips (drafts and dead agreements do not).
ISSUABLE = ("active", "reinstated")


@dataclass(frozen=True)
class SlipView:
    number: int
    due_date: dt.date
    amount: Decimal
    status: str
    pix_payload: str
    boleto_barcode: str
    boleto_line: str
    nosso_numero: str
    txid: str

    def as_json(self) -> dict[str, object]:
        return {"number": self.number, "due_date": self.due_date.isoformat(),
                "amount": f"{self.amount:.2f}", "pix_payload": self.pix_payload,
                "boleto_barcode": self.boleto_barcode, "boleto_line": self.boleto_line,
                "nosso_numero": self.nosso_numero, "txid": self.txid, "status": self.status}


def pix_for(installment: Installment, txid: str, settings: Settings) -> str:
    location = settings.pix_location_url
    return pix.build_payload(
        merchant_name=settings.agency_name, merchant_city=settings.pix_merchant_city,
        amount=installment.amount, txid=txid,
        key=None if location else (settings.pix_key or settings.agency_cnpj),
        location=f"{location.rstrip('/')}/{txid}" if location else None,
        description=f"Acordo parcela {installment.number}",
    )


async def _issue_one(session: AsyncSession, installment: Installment,
                     settings: Settings) -> Slip:
    if installment.nosso_numero is None:
        sequence = (await session.execute(text("SELECT nextval('nosso_numero_seq')"))).scalar_one()
        installment.nosso_numero = boleto.nosso_numero_bb(settings.boleto_convenio, sequence)
        # The txid is the nosso número with a prefix: unique across tenants, alphanumeric.
        installment.txid = "RG" + installment.nosso_numero
    assert installment.txid is not None
    slip = boleto.generate(settings.boleto_bank, installment.amount, installment.due_date,
                           boleto.free_field_bb(installment.nosso_numero,
                                                settings.boleto_carteira))
    row = Slip(tenant_id=installment.tenant_id, id=uuid7(),
               agreement_id=installment.agreement_id, installment_id=installment.id,
               pix_payload=pix_for(installment, installment.txid, settings),
               boleto_barcode=slip.barcode, boleto_line=slip.line)
    session.add(row)
    await session.flush()
    return row


async def issue(session: AsyncSession, principal: Principal, agreement_id: AgreementId,
                *, settings: Settings | None = None) -> list[SlipView]:
    """The slips of an agreement's installments, issued where they were not yet."""
    settings = settings or get_settings()
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == agreement_id).with_for_update())).scalar_one()
    installments = list((await session.execute(select(Installment).where(
        Installment.agreement_id == agreement_id).order_by(Installment.number))).scalars())
    slips = {s.installment_id: s for s in (await session.execute(select(Slip).where(
        Slip.agreement_id == agreement_id))).scalars()}
    new = 0
    if agreement.status in ISSUABLE:
        for inst in installments:
            if inst.id not in slips and inst.status in (InstallmentStatus.OPEN,
                                                        InstallmentStatus.OVERDUE):
                slips[inst.id] = await _issue_one(session, inst, settings)
                new += 1
    if new:
        await audit.record(session, principal.actor, "agreement.slips_issued",
                           tenant_id=agreement.tenant_id, entity="agreement",
                           entity_id=agreement.id, after={"slips": new})
    return [SlipView(i.number, i.due_date, i.amount, i.status, slips[i.id].pix_payload,
                     slips[i.id].boleto_barcode, slips[i.id].boleto_line,
                     i.nosso_numero or "", i.txid or "")
            for i in installments if i.id in slips]


def _bars(pdf: FPDF, digits: str, x: float, y: float, height: float) -> None:
    runs = boleto.interleaved_2of5(digits)
    units = sum(width for _, width in runs)
    module = 103.0 / units  # FEBRABAN: the barcode is 103 mm wide
    for is_bar, width in runs:
        if is_bar:
            pdf.rect(x, y, module * width, height, style="F")
        x += module * width


def render_pdf(*, creditor: str, debtor: str, agreement_id: uuid.UUID,
               slips: list[SlipView], settings: Settings) -> bytes:
    pdf = new_pdf(format="A4")
    pdf.set_auto_page_break(auto=False)
    for slip in slips:
        pdf.add_page()
        pdf.set_font(FONT, "B", 14)
        pdf.cell(0, 8, f"Acordo com {creditor}: parcela {slip.number}",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)
        for line in (f"Devedor: {debtor}", f"Vencimento: {date_br(slip.due_date)}",
                     f"Valor: {brl(slip.amount)}", f"Acordo: {agreement_id}",
                     f"Cobrança: {settings.agency_name}"):
            pdf.cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(0, 7, "Pague com PIX", new_x="LMARGIN", new_y="NEXT")
        top = pdf.get_y()
        pdf.image(io.BytesIO(pix.qr_png(slip.pix_payload, scale=8)), x=10, y=top, w=55, h=55)
        pdf.set_xy(70, top)
        pdf.set_font(FONT, size=8)
        pdf.multi_cell(125, 4, "PIX copia e cola:\n" + slip.pix_payload)
        pdf.set_y(top + 60)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(0, 7, "Ou pague o boleto", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "B", 11)
        formatted = boleto.parse(slip.boleto_line, today=slip.due_date).formatted_line
        pdf.cell(0, 7, formatted, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=8)
        pdf.cell(0, 5, f"Nosso número: {slip.nosso_numero}   Banco: {settings.boleto_bank}",
                 new_x="LMARGIN", new_y="NEXT")
        _bars(pdf, slip.boleto_barcode, 10, pdf.get_y() + 3, 13)
    return bytes(pdf.output())


async def _message_points(session: AsyncSession, debtor_id: uuid.UUID
                          ) -> list[tuple[Channel, ContactPointId]]:
    """Where the slips go: the debtor's e-mails and phones (WhatsApp), not opted out."""
    rows = (await session.execute(select(ContactPoint).where(
        ContactPoint.debtor_id == debtor_id,
        ContactPoint.kind.in_([ContactKind.EMAIL, ContactKind.PHONE]),
        ContactPoint.quality.not_in(["invalid", "wrong_party", "bounced"])))).scalars()
    out = []
    for point in rows:
        channel = Channel.EMAIL if point.kind == ContactKind.EMAIL else Channel.WHATSAPP
        opted = (await session.execute(select(ContactOptOut.id).where(
            ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == channel,
            ContactOptOut.revoked_at.is_(None)))).first()
        if opted is None:
            out.append((channel, ContactPointId(point.id)))
    return out


async def issue_and_send(session: AsyncSession, principal: Principal,
                         agreement_id: AgreementId, *, storage: Storage | None = None,
                         settings: Settings | None = None) -> list[SlipView]:
    """Issue the slips, store their PDF in S3 and send it to the debtor's contact points,
    once: slips already sent are not sent again."""
    settings = settings or get_settings()
    views = await issue(session, principal, agreement_id, settings=settings)
    unsent = list((await session.execute(select(Slip).where(
        Slip.agreement_id == agreement_id, Slip.sent_at.is_(None)))).scalars())
    payable = [v for v in views if v.status in (InstallmentStatus.OPEN, InstallmentStatus.OVERDUE)]
    if not unsent or not payable:
        return views
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == agreement_id))).scalar_one()
    debtor = (await session.execute(select(Debtor).where(
        Debtor.id == agreement.debtor_id))).scalar_one()
    tenant = (await session.execute(select(Tenant).where(
        Tenant.id == agreement.tenant_id))).scalar_one()
    data = render_pdf(creditor=tenant.trade_name, debtor=debtor.name, agreement_id=agreement.id,
                      slips=payable, settings=settings)
    if storage is None:
        from core.runtime import get_storage

        storage = get_storage()
    key = slip_key(agreement.tenant_id, agreement.id, payable[0].number)
    storage.put(key, data, "application/pdf")
    debt_ids = tuple(DebtId(d) for d in (await session.execute(select(AgreementDebt.debt_id).where(
        AgreementDebt.agreement_id == agreement_id))).scalars())
    attachment = Attachment("boleto-e-pix.pdf", "application/pdf", data)
    sent_to = []
    for channel, point in await _message_points(session, debtor.id):
        await channels.enqueue(session, channels.OutboundMessage(
            channel=channel, debtor_id=DebtorId(debtor.id), debt_ids=debt_ids,
            contact_point_id=point, attachments=(attachment,), cause_id=agreement.id))
        sent_to.append(channel.value)
    now = dt.datetime.now(dt.UTC)
    for slip in unsent:
        slip.pdf_key, slip.sent_at = key, now
    await audit.record(session, principal.actor, "agreement.slips_sent",
                       tenant_id=agreement.tenant_id, entity="agreement", entity_id=agreement.id,
                       after={"pdf": key, "channels": sent_to})
    return views


async def slip_pdf(session: AsyncSession, agreement_id: AgreementId,
                   settings: Settings | None = None) -> bytes:
    """The PDF of an agreement's open slips, for a page to hand over (not stored)."""
    settings = settings or get_settings()
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == agreement_id))).scalar_one()
    debtor = (await session.execute(select(Debtor).where(
        Debtor.id == agreement.debtor_id))).scalar_one()
    tenant = (await session.execute(select(Tenant).where(
        Tenant.id == agreement.tenant_id))).scalar_one()
    rows = await session.execute(select(Installment, Slip).join(
        Slip, (Slip.installment_id == Installment.id) & (Slip.tenant_id == Installment.tenant_id))
        .where(Installment.agreement_id == agreement_id,
               Installment.status.in_([InstallmentStatus.OPEN, InstallmentStatus.OVERDUE]))
        .order_by(Installment.number))
    views = [SlipView(i.number, i.due_date, i.amount, i.status, s.pix_payload,
                      s.boleto_barcode, s.boleto_line, i.nosso_numero or "", i.txid or "")
             for i, s in rows]
    if not views:
        raise NotFound("nenhuma parcela em aberto")
    return render_pdf(creditor=tenant.trade_name, debtor=debtor.name, agreement_id=agreement.id,
                      slips=views, settings=settings)
