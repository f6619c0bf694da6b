"""Write and verify the audit log.

Writers only insert; the database numbers, links and hashes each entry (see the
`regua_audit_append` trigger). `verify_chain` recomputes every hash with the same SQL
function and names the first entry that does not fit. A superuser could rewrite history
and recompute every hash; the chain heads published each day outside the database
(anchors, see `core.maintenance`) catch that: the anchored entry's hash no longer fits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.models import AuditLog
from core.settings import MAINTENANCE_DB_ROLE


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or the system itself (id None, email 'system')."""

    id: uuid.UUID | None
    email: str
    ip: str | None = None


SYSTEM = Actor(id=None, email="system")

# What people read on the audit page for each action code (codes stay in English in the
# log itself). A code missing here is shown by `action_label`'s fallback.
ACTION_LABELS = {
    "auth.login": "Entrou no sistema",
    "auth.login_failed": "Tentativa de login recusada",
    "tenant.created": "Credor cadastrado",
    "tenant.updated": "Dados do credor alterados",
    "tenant.deactivated": "Credor desativado",
    "tenant.reactivated": "Credor reativado",
    "tenant.intake_limits_set": "Limites de arquivo do credor alterados",
    "user.created": "Usuário criado",
    "user.updated": "Usuário alterado",
    "user.deactivated": "Usuário desativado",
    "user.reactivated": "Usuário reativado",
    "user.password_reset": "Senha do usuário redefinida",
    "portfolio.upload_created": "Envio de carteira iniciado",
    "portfolio.import_started": "Importação de carteira iniciada",
    "portfolio.imported": "Carteira importada",
    "layout.saved": "Layout de colunas salvo",
    "debt.recalled": "Dívidas recolhidas pelo credor",
    "case.opened": "Caso judicial aberto",
    "case.moved": "Situação do caso judicial alterada",
    "case.court_set": "Dados do processo alterados",
    "case.assigned": "Advogado do caso alterado",
    "case.deadline_added": "Prazo do caso registrado",
    "case.deadline_done": "Prazo do caso cumprido",
    "case.dossier_generated": "Nova versão do dossiê gerada",
    "case.exported": "Caso enviado ao escritório de advocacia",
    "case_webhook.saved": "Webhook do escritório de advocacia salvo",
}

ENTITY_LABELS = {
    "auth": "Acesso", "tenant": "Credor", "user": "Usuário", "portfolio": "Carteira",
    "layout": "Layout", "debt": "Dívida", "debtor": "Devedor", "agreement": "Acordo",
    "case": "Caso judicial",
}


def action_label(code: str) -> str:
    """The Portuguese label of an action code; an unlisted code still reads sensibly."""
    if code in ACTION_LABELS:
        return ACTION_LABELS[code]
    entity, _, verb = code.partition(".")
    return f"{ENTITY_LABELS.get(entity, entity)}: {verb.replace('_', ' ') or 'ação'}"


def entity_label(entity: str | None) -> str:
    return ENTITY_LABELS.get(entity or "", entity or "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    tenant_id: uuid.UUID | None = None,
    entity: str | None = None,
    entity_id: object | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditLog(
            tenant_id=tenant_id,
            actor_id=actor.id,
            actor_email=actor.email,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            before=_jsonable(before),
            after=_jsonable(after),
            ip=actor.ip,
        )
    )
    await session.flush()


async def recent_entries(session: AsyncSession, limit: int = 200) -> list[AuditLog]:
    """The newest entries the session's scope may read (at most 1000)."""
    stmt = select(AuditLog).order_by(AuditLog.created_at.desc()).limit(max(1, min(limit, 1000)))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class ChainReport:
    chain: str
    entries: int
    broken_at_seq: int | None = None
    broken_entry_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Anchor:
    """A chain's head as published outside the database on `day`."""

    day: str
    seq: int
    hash: str


def chain_name(tenant_id: uuid.UUID | None) -> str:
    return str(tenant_id) if tenant_id else "agency"


async def verify_chain(conn: AsyncConnection, tenant_id: uuid.UUID | None,
                       anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk one chain (a tenant's, or the agency's when `tenant_id` is None), checking it
    against its published `anchors` too.

    Runs on an owner connection, switching to the maintenance role to read past RLS.
    """
    await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
    chain = chain_name(tenant_id)
    anchored = {anchor.seq: anchor for anchor in anchors}
    rows = await conn.stream(
        text(
            "SELECT id, seq, prev_hash, hash, regua_audit_hash(a) AS expected"
            " FROM audit_log a WHERE tenant_id IS NOT DISTINCT FROM :tenant ORDER BY seq"
        ),
        {"tenant": tenant_id},
    )
    previous_hash = ""
    expected_seq = 1
    count = 0
    async for row in rows:
        count += 1
        problem = None
        if row.seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next found is {row.seq})"
        elif row.prev_hash != previous_hash:
            problem = "its link to the previous entry does not match (an entry before it changed)"
        elif row.hash != row.expected:
            problem = "its content does not match its hash (the entry was changed)"
        elif row.seq in anchored and anchored[row.seq].hash != row.hash:
            problem = (f"it differs from the chain head published on {anchored[row.seq].day}"
                       " (history was rewritten and rehashed)")
        if problem:
            return ChainReport(chain, count, expected_seq, str(row.id), problem)
        previous_hash = row.hash
        expected_seq += 1
    head = (
        await conn.execute(
            text("SELECT seq, hash FROM audit_chain_head WHERE chain = :chain"), {"chain": chain}
        )
    ).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != previous_hash):
        return ChainReport(
            chain, count, last_seq + 1, None,
            f"the chain ends at entry {last_seq} but {head.seq} were written (entries removed)",
        )
    beyond = [a for a in anchors if a.seq > last_seq]
    if beyond:
        latest = max(beyond, key=lambda a: a.seq)
        return ChainReport(
            chain, count, last_seq + 1, None,
            f"the chain ends at entry {last_seq} but the head published on {latest.day}"
            f" is entry {latest.seq} (entries removed)",
        )
    if head is None and count:
        return ChainReport(chain, count, None, None,
                           "its chain head row is missing (removed from audit_chain_head)")
    return ChainReport(chain, count)


async def chains(conn: AsyncConnection) -> list[uuid.UUID | None]:
    """Every chain: found in the log itself (and the head table, whose rows a superuser
    could delete), the agency's always."""
    await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
    result = await conn.execute(text(
        "SELECT DISTINCT tenant_id::text FROM audit_log WHERE tenant_id IS NOT NULL"
        " UNION SELECT chain FROM audit_chain_head WHERE chain <> 'agency'"
    ))
    return [None, *sorted(uuid.UUID(c) for (c,) in result)]


async def chain_heads(conn: AsyncConnection) -> dict[str, tuple[int, str]]:
    """Each chain's last entry (seq, hash), read from the log itself."""
    await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
    result = await conn.execute(text(
        "SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM audit_log"
        " ORDER BY tenant_id, seq DESC"
    ))
    return {chain_name(row.tenant_id): (row.seq, row.hash) for row in result}
