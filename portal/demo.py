"""Demo data for `regua up --demo`: created once, reused on later starts.

The demo touches only its own tenants, found by their slugs: a creditor the user
created beside them gets no demo rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from core import audit
from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.documents import strip_document
from core.errors import NotFound
from core.maintenance import operator
from core.runtime import get_db
from portal import demo_history
from portal.demo_desk import principal_of, seed_desk
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
        op = await operator()
        async with transaction(op) as session:
            async def exists(email: str) -> bool:
                found = await session.execute(text("SELECT regua_email_taken(:e)"), {"e": email})
                return bool(found.scalar())

            tenant_ids: list[uuid.UUID] = []
            slugs: list[str] = []
            logins = []
            for slug, legal, trade, cnpj, uf, zone, email, password in TENANTS:
                try:
                    tenant = await onboarding.get_tenant_by_slug(session, op, slug)
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
    operator_email = next(s[1] for s in STAFF if s[4] is Role.AGENT)
    # The tenants' imports side by side: each file's import waits mostly on its reader
    # process and the database, and the history has five files per tenant.
    await asyncio.gather(*(_demo_portfolio(tenant_id, slug, seed=index + 1) for index, (
        tenant_id, slug) in enumerate(zip(tenant_ids, slugs, strict=True))))
    for index, (tenant_id, slug) in enumerate(zip(tenant_ids, slugs, strict=True)):
        await _demo_cadences(tenant_id)
        await _demo_escalation(tenant_id)
        # After the escalations: the files they took stay out of the history's agreements.
        await _demo_history(tenant_id, slug, seed=index + 1, operator_email=operator_email)
    if "banco-exemplo" in slugs:
        await _demo_protest(tenant_ids[slugs.index("banco-exemplo")])
    if tenant_ids:
        await _demo_case(tenant_ids[0])
    for tenant_id in tenant_ids:
        await seed_desk(tenant_id, operator_email)
    for tenant_id in tenant_ids:  # last: the figures include the demos above
        await _demo_reports(tenant_id)
    return logins


async def _demo_protest(tenant_id: uuid.UUID) -> None:
    """Once: two overdue debts go to protest in today's remessa; the cartório's retorno
    gives one back for an irregularity (CEP incorreto), the other stays sent."""
    from sqlalchemy import exists, select

    from core.access import DebtId, transaction
    from core.db import Scope
    from core.models import ContactPoint, Debt
    from legal.escalation import journal
    from legal.escalation.models import Escalation, EscalationPath, EscalationState
    from legal.protest import sandbox
    from legal.protest import service as protest
    from legal.protest.models import ProtestFile

    principal = Principal.system(Scope.tenant(tenant_id))
    db = get_db()
    try:
        async with transaction(principal) as session:
            if (await session.execute(select(ProtestFile.id).limit(1))).first():
                return
            with_address = exists().where(
                ContactPoint.debtor_id == Debt.debtor_id, ContactPoint.kind == "address",
                ContactPoint.details["zip"].astext.regexp_match("^[0-9]{8}$"))
            debts = (await session.execute(select(Debt).where(
                Debt.status == "open", Debt.due_date < dt.date.today() - dt.timedelta(days=90),
                with_address, ~exists().where(Escalation.debt_id == Debt.id))
                .order_by(Debt.due_date, Debt.id).limit(2))).scalars().all()
            opened = [await journal.open_escalation(
                session, principal, DebtId(d.id), EscalationPath.PROTEST,
                EscalationState.QUEUED, amount=d.current_balance, rule_name="demonstração",
                details={"protest": {"species": "CCB"}}) for d in debts]
        if len(opened) < 2:
            return
        day = dt.date.today()
        sent = await protest.write_remessa(TenantId(tenant_id), day)
        number = next((t["our_number"] for t in sent.sent
                       if t["escalation_id"] == str(opened[1].id)), None)
        if not sent.file or number is None:
            return
        data = sandbox.retorno(sent.content, {number: {
            "notary": "01", "protocol": "0000000001", "protocol_on": day, "occurrence": "5",
            "occurrence_on": day, "irregularity": "14"}})
        await protest.import_return(Principal.system(Scope(frozenset({tenant_id}),
                                                           agency=True)),
                                    data, "R" + sent.file[1:])
        log.info("demo: protest remessa %s; one title returned", sent.file)
    finally:
        await db.dispose()


async def _demo_case(tenant_id: uuid.UUID) -> None:
    """A case in the legal queue, with its dossier (legal.cases.demo)."""
    from legal.cases.demo import seed_case

    db = get_db()
    try:
        case_id = await seed_case(tenant_id)
        if case_id:
            log.info("demo: tenant %s: judicial case %s opened with its dossier", tenant_id,
                     case_id)
    finally:
        await db.dispose()


async def _demo_reports(tenant_id: uuid.UUID) -> None:
    """The reports' figures now (the refresh job keeps them from here on), and this
    month's report so far e-mailed once to the creditor's users: the sandbox page shows
    it without waiting for the first days of next month."""
    from reports import monthly
    from reports.refresh import refresh_tenant

    # The scheduled refresh may hold the tenant's lock this moment (then a refresh skips):
    # the full one must run, since the demo's history rewrote past months.
    for _ in range(60):
        if not (await refresh_tenant(TenantId(tenant_id), full=True)).skipped:
            break
        await asyncio.sleep(0.5)
    await monthly.send(tenant_id, dt.date.today().replace(day=1))


DEMO_ROWS = 3000


async def _demo_portfolio(tenant_id: uuid.UUID, slug: str, seed: int) -> None:
    """Import a generated portfolio (with some bad rows) once per demo tenant, as the
    files of its placements over the last ten months (`portal.demo_history.place`)."""
    from core.db import Scope
    from tenants.intake import service

    db = get_db()
    try:
        async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
            if await service.list_portfolios(session, tenant_id, limit=1):
                return
            zone = (await session.execute(text("SELECT timezone FROM tenant WHERE id = :t"),
                                          {"t": tenant_id})).scalar_one()

        async def import_file(path: Path) -> Any:
            return await service.import_file(DEMO_ACTOR, tenant_id, path)

        await demo_history.place(tenant_id, slug, _portfolio_rows(seed), _write_rows,
                                 import_file, zone)
    finally:
        await db.dispose()


async def _demo_history(tenant_id: uuid.UUID, slug: str, seed: int,
                        operator_email: str) -> None:
    from tenants.intake import service

    async def import_file(path: Path, mode: str) -> Any:
        return await service.import_file(DEMO_ACTOR, tenant_id, path, mode=mode)

    db = get_db()
    try:
        await demo_history.seed_history(tenant_id, slug, seed,
                                        await principal_of(operator_email), import_file)
    finally:
        await db.dispose()


def _portfolio_rows(seed: int) -> list[list[str]]:
    """The sample portfolio with its due dates moved so the last first installments fall
    due about now: the cadence has reminders, today's steps and overdue steps to show."""
    from tenants.intake.formats.sample import rows

    shift = dt.date.today() - SAMPLE_LAST_DUE
    out = []
    for row in rows(DEMO_ROWS, seed, 0.03):
        try:
            due = dt.datetime.strptime(row[4], "%d/%m/%Y").date()
            row[4] = (due + shift).strftime("%d/%m/%Y")
        except ValueError:
            pass  # the sample's deliberately bad dates stay bad
        out.append(row)
    return out


def _write_rows(path: Path, rows: Sequence[list[str]]) -> None:
    from tenants.intake.formats.sample import HEADER

    with path.open("w", encoding="cp1252", newline="") as fh:
        fh.write(";".join(HEADER) + "\r\n")
        for row in rows:
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
    await demo_history.analyze("debtor", "debt", "contact_point", "debtor_score")


async def _score(principal: Principal, tenant_id: TenantId) -> None:
    """Score the tenant now. The import has sent its own refresh to the workers, which
    may run at the same moment and deadlock with this one on the same rows: try again."""
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


# The demo's rules: bounds drawn from each tenant's own portfolio so that a handful of
# its largest overdue debts escalate (a dozen notices, not thousands): (name, priority,
# path, days overdue, how many of the largest such balances it reaches).
DEMO_RULES = [("Judicial: saldo alto, mais de 1 ano", 0, "judicial", 365, 2),
              ("Protesto: mais de 180 dias", 1, "protest", 180, 4),
              ("Negativação: mais de 60 dias", 2, "bureau", 60, 12)]
NOTICE_BACKDATE_DAYS = 21  # the notices of the first run have served their period


async def _demo_escalation(tenant_id: uuid.UUID) -> None:
    """Once per tenant: its rules, then the escalation day run 21 days ago (its notices
    have waited their period) and today (they are listed; protest and judicial files are
    queued and with the legal team), plus one file a person escalated today, whose notice
    waits its period."""
    from sqlalchemy import select

    from core.access import transaction
    from core.cadence.engine import local_today
    from core.db import Scope
    from legal.escalation import journal, rules, service
    from legal.escalation.models import EscalationPath, EscalationRule, EscalationState

    principal = Principal.system(Scope.tenant(tenant_id))
    db = get_db()
    try:
        async with transaction(principal) as session:
            if (await session.execute(select(EscalationRule.id).where(
                    EscalationRule.tenant_id == tenant_id).limit(1))).first():
                return
            today = await local_today(session, tenant_id)
            ceiling = None  # each rule's band of balances lies below the one before
            for name, priority, path, days, reach in DEMO_RULES:
                floor = (await session.execute(text(
                    "SELECT current_balance FROM debt WHERE tenant_id = :t AND status = 'open'"
                    " AND due_date <= CAST(:d AS date) - CAST(:days AS int)"
                    " AND (CAST(:top AS numeric) IS NULL OR current_balance < :top)"
                    " ORDER BY current_balance DESC OFFSET :n LIMIT 1"),
                    {"t": tenant_id, "d": today, "days": days, "n": reach - 1,
                     "top": ceiling})).scalar()
                session.add(EscalationRule(tenant_id=tenant_id, **rules.validate({
                    "name": name, "priority": priority, "path": path,
                    "min_days_overdue": days, "min_amount": floor,
                    "max_amount": None if ceiling is None else ceiling - Decimal("0.01")})))
                ceiling = floor
        first = await service.run(tenant_id, today - dt.timedelta(days=NOTICE_BACKDATE_DAYS))
        second = await service.run(tenant_id, today)
        async with transaction(principal) as session:
            waiting = (await session.execute(text(
                "SELECT x.id, x.current_balance FROM debt x WHERE x.tenant_id = :t"
                " AND x.status = 'open' AND x.due_date <= CAST(:d AS date) - 30"
                " AND regua_debt_blocker(x, now()) IS NULL AND NOT EXISTS (SELECT 1 FROM"
                " escalation e WHERE e.tenant_id = x.tenant_id AND e.debt_id = x.id)"
                " ORDER BY x.current_balance DESC LIMIT 1"),
                {"t": tenant_id, "d": today})).first()
            if waiting is not None:
                await journal.open_escalation(
                    session, principal, waiting.id, EscalationPath.BUREAU,
                    EscalationState.NOTICE_PENDING,
                    amount=waiting.current_balance, note="escalado na demonstração")
        await service.run(tenant_id, today)
        async with transaction(principal) as session:
            states: dict[str, int] = {r[0]: r[1] for r in await session.execute(text(
                "SELECT state, count(*) FROM escalation GROUP BY state"))}
        log.info("demo: tenant %s escalations: %s (runs: %s, %s)", tenant_id, states,
                 first["opened"], second["listed"])
    finally:
        await db.dispose()
