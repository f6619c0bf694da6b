"""Demo data for `regua up --demo`: created once, reused on later starts.

The demo touches only its own tenants, found by their slugs: a creditor the user
created beside them gets no demo rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

from sqlalchemy import text

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.auth.roles import Role
from core.documents import strip_document
from core.errors import NotFound
from core.maintenance import operator_scope
from core.runtime import get_db
from tenants import onboarding, users

log = logging.getLogger("regua.demo")
DEMO_ACTOR = audit.Actor(id=None, email="demo")
TENANTS = [
    # (slug, legal name, trade name, CNPJ, UF, zone, creditor admin e-mail, password)
    ("banco-exemplo", "Banco Exemplo de Crédito S.A.", "Banco Exemplo", "11.222.333/0001-81",
     "SP", "America/Sao_Paulo", "credor@banco-exemplo.demo", "banco-carteira-2026"),
    ("varejo-modelo", "Varejo Modelo Comércio Ltda.", "Varejo Modelo", "12.ABC.345/01DE-35",
     "CE", "America/Fortaleza", "credor@varejo-modelo.demo", "varejo-carteira-2026"),
]
# One user of every role (label, e-mail, password, name, role). Agency staff work both
# demo creditors; the creditor viewer reads the first one.
STAFF = [
    ("administrador da assessoria", "admin@regua.demo", "regua-admin-2026", "Ana Admin",
     Role.ADMIN),
    ("supervisor dos dois credores", "supervisor@regua.demo", "regua-supervisor-2026",
     "Sílvia Supervisora", Role.SUPERVISOR),
    ("operador dos dois credores", "operador@regua.demo", "regua-operador-2026",
     "Otávio Operador", Role.AGENT),
    ("jurídico dos dois credores", "juridico@regua.demo", "regua-juridico-2026",
     "Júlia Jurídico", Role.LEGAL),
]
VIEWER = ("consulta do credor Banco Exemplo", "consulta@banco-exemplo.demo",
          "banco-consulta-2026", "Carla Consulta", Role.CREDITOR_VIEWER)


async def seed() -> list[tuple[str, str, str]]:
    """Create (once) the demo tenants and a user of every role; import a portfolio into
    each demo tenant that has none. Returns (label, e-mail, password) for each login."""
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            async def exists(email: str) -> bool:
                found = await session.execute(text("SELECT regua_email_taken(:e)"), {"e": email})
                return bool(found.scalar())

            tenant_ids: list[uuid.UUID] = []
            slugs: list[str] = []
            logins = []
            for slug, legal, trade, cnpj, uf, zone, email, password in TENANTS:
                try:
                    tenant = await onboarding.get_tenant_by_slug(session, slug)
                except NotFound:
                    taken = await session.execute(text("SELECT regua_cnpj_taken(:c)"),
                                                  {"c": strip_document(cnpj)})
                    if taken.scalar():
                        # A creditor of the user's holds the demo's CNPJ: leave it alone.
                        log.warning("demo: CNPJ %s belongs to another tenant; %s skipped",
                                    cnpj, trade)
                        continue
                    tenant, _ = await onboarding.create_tenant(
                        session, DEMO_ACTOR,
                        onboarding.NewTenant(legal_name=legal, trade_name=trade, cnpj=cnpj,
                                             state=uf, timezone=zone, slug=slug,
                                             address="Av. Paulista, 1000 - São Paulo/SP"),
                        users.NewUser(email=email, password=password,
                                      full_name=f"Gestor {trade}"),
                    )
                tenant_ids.append(tenant.id)
                slugs.append(slug)
                logins.append((f"administrador do credor {trade}", email, password))
            for _, email, password, name, role in STAFF:
                if not await exists(email):
                    await users.add_user(
                        session, DEMO_ACTOR,
                        users.NewUser(email=email, password=password, full_name=name,
                                      tenant_ids=[] if role is Role.ADMIN else tenant_ids),
                        role=role)
            _, email, password, name, role = VIEWER
            viewed = "banco-exemplo" in slugs
            if viewed and not await exists(email):
                await users.add_user(session, DEMO_ACTOR,
                                     users.NewUser(email=email, password=password,
                                                   full_name=name),
                                     tenant_id=tenant_ids[slugs.index("banco-exemplo")],
                                     role=role)
            admin, *others = [(s[0], s[1], s[2]) for s in STAFF]
            logins = [admin, *logins, *others, *([VIEWER[:3]] if viewed else [])]
    finally:
        await db.dispose()
    for index, (tenant_id, slug) in enumerate(zip(tenant_ids, slugs, strict=True)):
        await _demo_portfolio(tenant_id, slug, seed=index + 1)
        await _demo_cadences(tenant_id)
    return logins


DEMO_ROWS = 3000


async def _demo_portfolio(tenant_id: uuid.UUID, slug: str, seed: int) -> None:
    """Import a generated portfolio (with some bad rows) once per demo tenant."""
    import asyncio
    import tempfile

    from core.db import Scope
    from tenants.intake import service

    db = get_db()
    try:
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            if await service.list_portfolios(session, tenant_id, limit=1):
                return
        with tempfile.TemporaryDirectory(prefix="regua-demo-") as tmp:
            path = Path(tmp) / f"carteira-{slug}.csv"
            await asyncio.to_thread(_write_portfolio, path, seed)
            await service.import_file(DEMO_ACTOR, tenant_id, path)
    finally:
        await db.dispose()


def _write_portfolio(path: Path, seed: int) -> None:
    """The sample portfolio with its due dates moved so the last first installments fall
    due about now: the cadence has reminders, today's steps and overdue steps to show."""
    from tenants.intake.formats.sample import HEADER, rows

    shift = dt.date.today() - SAMPLE_LAST_DUE
    with path.open("w", encoding="cp1252", newline="") as fh:
        fh.write(";".join(HEADER) + "\r\n")
        for row in rows(DEMO_ROWS, seed, 0.03):
            try:
                due = dt.datetime.strptime(row[4], "%d/%m/%Y").date()
                row[4] = (due + shift).strftime("%d/%m/%Y")
            except ValueError:
                pass  # the sample's deliberately bad dates stay bad
            fh.write(";".join(row) + "\r\n")


SAMPLE_LAST_DUE = dt.date(2025, 12, 1)  # about the latest first due date of the sample
# Two cadences, as the source practice recommends: the gentle one for debtors the score
# expects to pay, the accelerated one for those at risk. A debtor follows one cadence (the
# tenant's, or its challenger on a stable half), so each cadence treats both kinds and the
# score decides how hard each step presses.
GENTLE = """\
name: Régua suave (score alto)
steps:
  - day: -3
    channels: [email]
  - day: 0
    channels: [email]
  - day: 5
    channels: [email]
    when: {score_min: 600}
  - day: 5
    channels: [whatsapp]
    fallback: sms
    when: {score_max: 599}
  - day: 15
    channels: [sms]
  - day: 30
    channels: [call]
    when: {score_max: 399}
"""
ACCELERATED = """\
name: Régua acelerada (score baixo)
steps:
  - day: -3
    channels: [email]
  - day: -3
    channels: [sms]
    when: {score_max: 599}
  - day: 0
    channels: [email, sms]
  - day: 2
    channels: [whatsapp]
    fallback: sms
    when: {score_max: 599}
  - day: 7
    channels: [call]
    when: {score_max: 599}
  - day: 10
    channels: [email]
    when: {score_min: 600}
  - day: 20
    channels: [whatsapp]
    fallback: sms
"""


async def _demo_cadences(tenant_id: uuid.UUID) -> None:
    """Load (once) the gentle cadence as the tenant's and the accelerated one as its
    challenger on half of the debtors; score the debtors and plan today, so the sandbox
    page and the debtors' timelines have the cadence's messages."""
    from core.access import transaction
    from core.cadence import service as cadences
    from core.cadence.engine import local_today
    from core.db import Scope

    principal = Principal.system(Scope.tenant(tenant_id))
    db = get_db()
    try:
        async with transaction(principal) as session:
            checked = TenantId(tenant_id)
            if not await cadences.list_cadences(session, checked):
                await cadences.load(session, principal, checked, GENTLE, activate=True)
                challenger = await cadences.load(session, principal, checked, ACCELERATED)
                await cadences.set_challenger(session, principal, checked,
                                              challenger.cadence_id, 50)
            today = await local_today(session, tenant_id)
        await _score(principal, checked)
        await _analyze()
        summary = await cadences.run_day(principal, tenant_id, today)
        log.info("demo: tenant %s: %d cadence actions today for %d debtors", tenant_id,
                 summary.actions, summary.debtors)
    finally:
        await db.dispose()


async def _analyze() -> None:
    """Statistics for the tables the import just filled: without them the planner reads
    them as nearly empty and plans the day with nested loops of debts by debtors
    (minutes on the demo's 3,000 debts instead of a fraction of a second). Autovacuum
    would get there, but the demo plans right away."""
    from core.db import owner_engine
    from core.settings import get_settings

    engine = owner_engine(get_settings())
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("debtor", "debt", "contact_point", "debtor_score"):
                await conn.execute(text(f"ANALYZE {table}"))
    finally:
        await engine.dispose()


async def _score(principal: Principal, tenant_id: TenantId) -> None:
    """Score the tenant now. The import has sent its own refresh to the workers, which
    may run at the same moment and deadlock with this one on the same rows: try again."""
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from core.access import transaction
    from core.scoring import service as scoring

    for attempt in range(3):
        try:
            async with transaction(principal) as session:
                await scoring.refresh(session, tenant_id)
            return
        except DBAPIError:
            if attempt == 2:
                raise
            log.warning("demo: scoring met a concurrent refresh; trying again")
            await asyncio.sleep(1 + attempt)
