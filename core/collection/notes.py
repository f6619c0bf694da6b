"""Staff notes on a debtor's file: free text, append-only, audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtorId
from core.auth.principal import Principal
from core.errors import ValidationFailed
from core.ids import uuid7
from core.models import Debtor, DebtorNote

NOTE_MAX = 4000


async def add_note(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                   body: str | None) -> DebtorNote:
    text = (body or "").strip()
    if not text:
        raise ValidationFailed({"body": "escreva a anotação"})
    if len(text) > NOTE_MAX:
        raise ValidationFailed({"body": f"a anotação tem {len(text)} caracteres; o máximo é"
                                        f" {NOTE_MAX}"})
    tenant_id = (await session.execute(
        select(Debtor.tenant_id).where(Debtor.id == debtor_id))).scalar_one()
    note = DebtorNote(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, body=text,
                      author_id=principal.actor.id, author_email=principal.email)
    session.add(note)
    await session.flush()
    await audit.record(session, principal.actor, "debtor.note_added", tenant_id=tenant_id,
                       entity="debtor", entity_id=debtor_id,
                       after={"note_id": note.id, "body": text})
    return note


async def debtor_notes(session: AsyncSession, debtor_id: DebtorId,
                       limit: int = 200) -> list[DebtorNote]:
    return list((await session.execute(
        select(DebtorNote).where(DebtorNote.debtor_id == debtor_id)
        .order_by(DebtorNote.created_at.desc(), DebtorNote.id.desc()).limit(limit))).scalars())
