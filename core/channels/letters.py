"""Letters: each rendered to PDF pages, each day's letters of a tenant in one print file
in S3 beside a manifest CSV for the print house, listed (`letter_batch`, with the count)
for the letters page. The job `channels.print_letters` builds the file each night for
the day before, in each tenant's zone (`core.channels.tasks`).

PDF library: fpdf2. It is pure Python (a wheel with no system packages: no Cairo,
Pango or fonts to install, unlike WeasyPrint), its API writes text flowing across pages,
which is all a collection letter needs, and it is maintained. reportlab would do too,
but carries C extensions and a larger API for drawing we do not use. Every PDF embeds
the same font (`core.pdf`), so letters print as laid out, whatever the viewer."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import access_tenant, tenant_of, transaction
from core.auth.principal import Principal
from core.errors import NotFound
from core.ids import uuid7
from core.models import Channel, LetterBatch, MessageDispatch, Tenant
from core.pdf import FONT, new_pdf
from core.storage import Storage
from core.storage_keys import print_file_key, print_manifest_key

PROVIDER = "print"
MANIFEST_HEADER = ["Sequência", "Código da carta", "Destinatário", "Endereço",
                   "Página inicial", "Página final", "Credor"]

@dataclass(frozen=True)
class Letter:
    code: str
    recipient_name: str
    address: str
    body: str


def _new_pdf() -> FPDF:
    pdf = new_pdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=25, top=25, right=20)
    return pdf


def _write(pdf: FPDF, letter: Letter) -> tuple[int, int]:
    pdf.add_page()
    first = pdf.page_no()
    pdf.set_font(FONT, size=8)
    pdf.cell(0, 4, f"Carta {letter.code}", new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.ln(4)
    pdf.set_font(FONT, size=11)
    pdf.multi_cell(0, 5.5, letter.body, new_x="LMARGIN", new_y="NEXT")
    return first, pdf.page_no()


def letter_pdf(letter: Letter) -> bytes:
    pdf = _new_pdf()
    _write(pdf, letter)
    return bytes(pdf.output())


@dataclass(frozen=True)
class PrintFile:
    pdf: bytes
    manifest: bytes  # CSV, `;`, CRLF, UTF-8 with BOM
    pages: int


def print_file(letters: list[Letter], creditor: str) -> PrintFile:
    """One PDF with every letter from a fresh page, and its manifest."""
    pdf = _new_pdf()
    manifest = io.StringIO()
    writer = csv.writer(manifest, delimiter=";", lineterminator="\r\n")
    writer.writerow(MANIFEST_HEADER)
    for seq, letter in enumerate(letters, start=1):
        first, last = _write(pdf, letter)
        writer.writerow([seq, letter.code, letter.recipient_name,
                         " ".join(letter.address.split()), first, last, creditor])
    return PrintFile(bytes(pdf.output()), manifest.getvalue().encode("utf-8-sig"),
                     pdf.page_no())


@dataclass(frozen=True)
class Batch:
    day: dt.date
    letters: int
    pdf_key: str | None
    manifest_key: str | None


async def batch_day(session: AsyncSession, storage: Storage, tenant_id: uuid.UUID,
                    day: dt.date) -> Batch:
    """Put the tenant's letters of `day` (sent that day in its zone) into that day's print
    file and manifest. A rerun writes the same file again, so it is safe to repeat."""
    tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()
    zone = ZoneInfo(tenant.timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = start + dt.timedelta(days=1)
    rows = list((await session.execute(select(MessageDispatch).where(
        MessageDispatch.tenant_id == tenant_id, MessageDispatch.channel == Channel.LETTER,
        MessageDispatch.status == "sent", MessageDispatch.sent_at >= start,
        MessageDispatch.sent_at < end).order_by(MessageDispatch.sent_at, MessageDispatch.id)
        .with_for_update())).scalars())
    if not rows:
        return Batch(day, 0, None, None)
    letters = [Letter(str(r.id), r.subject or "", r.recipient, r.body) for r in rows]
    printed = print_file(letters, tenant.legal_name)
    pdf_key, manifest_key = print_file_key(tenant_id, day), print_manifest_key(tenant_id, day)
    storage.put(pdf_key, printed.pdf, "application/pdf")
    storage.put(manifest_key, printed.manifest, "text/csv; charset=utf-8")
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        row.print_key, row.updated_at = pdf_key, now
    counts = {"letters": len(rows), "pages": printed.pages, "pdf_key": pdf_key,
              "manifest_key": manifest_key, "updated_at": now}
    await session.execute(insert(LetterBatch).values(
        tenant_id=tenant_id, id=uuid7(), day=day, created_at=now, **counts,
    ).on_conflict_do_update(constraint="uq_letter_batch_tenant_id_day", set_=counts))
    return Batch(day, len(rows), pdf_key, manifest_key)


# ---- the letters page ----------------------------------------------------------------------

async def batches(principal: Principal, tenant_id: uuid.UUID,
                  limit: int = 90) -> list[LetterBatch]:
    """The tenant's print files, newest day first."""
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return list((await session.execute(select(LetterBatch).where(
            LetterBatch.tenant_id == checked).order_by(LetterBatch.day.desc())
            .limit(limit))).scalars())


FILES = {"pdf": ("cartas-{day}.pdf", "application/pdf"),
         "manifesto": ("manifesto-{day}.csv", "text/csv")}


async def batch_file(principal: Principal, storage: Storage, batch_id: uuid.UUID,
                     kind: str) -> tuple[str, str, bytes]:
    """A print file (`pdf`) or its manifest (`manifesto`): file name, type, content."""
    if kind not in FILES:
        raise NotFound("arquivo")
    async with transaction(principal) as session:
        await tenant_of(session, LetterBatch, batch_id, principal, "arquivo de cartas")
        batch = (await session.execute(select(LetterBatch).where(
            LetterBatch.id == batch_id))).scalar_one()
    name, media = FILES[kind]
    key = batch.pdf_key if kind == "pdf" else batch.manifest_key
    return name.format(day=batch.day.isoformat()), media, await asyncio.to_thread(storage.get, key)
