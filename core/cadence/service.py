"""Cadence definitions: load a version, list and export them, choose the tenant's cadence
and its challenger, move enrolments. Every change is audited."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.auth.roles import Role
from core.cadence import definition as cdef
from core.cadence import engine
from core.errors import Forbidden, NotFound, ValidationFailed
from core.ids import uuid7
from core.models import (
    Arm,
    Cadence,
    CadenceEnrolment,
    CadencePolicy,
    CadenceStep,
    CadenceVersion,
    Channel,
    MessageTemplate,
    StepChannel,
)

EDITORS = (Role.ADMIN, Role.SUPERVISOR)


def may_edit(principal: Principal) -> bool:
    return principal.is_system or principal.role in EDITORS


@dataclass(frozen=True)
class Loaded:
    cadence_id: uuid.UUID
    version: int
    version_id: uuid.UUID
    active: bool

    def as_json(self) -> dict[str, object]:
        return {"cadence_id": str(self.cadence_id), "version": self.version,
                "version_id": str(self.version_id), "active": self.active}


async def _check_templates(session: AsyncSession, tenant_id: uuid.UUID,
                           parsed: cdef.Definition) -> None:
    """A step naming a template the tenant does not have is refused now, not at send."""
    rows = await session.execute(select(MessageTemplate.channel, MessageTemplate.name).where(
        MessageTemplate.tenant_id == tenant_id, MessageTemplate.active))
    have = {(channel, name) for channel, name in rows}
    for i, step in enumerate(sorted(parsed.steps, key=lambda s: s.day)):
        for channel, name in step.templates.items():
            if name != cdef.DEFAULT_TEMPLATE and (channel, name) not in have:
                raise ValidationFailed({f"steps[{i + 1}].template": (
                    f"passo {i + 1} (dia {step.day}), campo template: o credor não tem o "
                    f"modelo '{name}' para {channel}")})


def _step_rows(tenant_id: uuid.UUID, version_id: uuid.UUID,
               parsed: cdef.Definition) -> list[CadenceStep]:
    return [CadenceStep(
        tenant_id=tenant_id, id=uuid7(), version_id=version_id, position=i, day=s.day,
        channels=[c.value for c in s.channels], templates=dict(s.templates),
        fallback=s.fallback.value if s.fallback else None, score_min=s.when.score_min,
        score_max=s.when.score_max, amount_min=s.when.amount_min, amount_max=s.when.amount_max,
        states=list(s.when.states) or None, segments=list(s.when.segments) or None)
        for i, s in enumerate(parsed.steps)]


async def load(session: AsyncSession, principal: Principal, tenant_id: TenantId, text: str,
               *, activate: bool = False) -> Loaded:
    """Add a version of the cadence the YAML names (a new cadence when the name is new).

    Running enrolments keep their version; `activate` makes this cadence the tenant's
    cadence for all its debtors (the champion side moves to this version)."""
    if not may_edit(principal):
        raise Forbidden("apenas administradores e supervisores editam réguas")
    parsed = cdef.parse(text)
    await _check_templates(session, tenant_id, parsed)
    cadence = (await session.execute(select(Cadence).where(
        Cadence.tenant_id == tenant_id, Cadence.name == parsed.name).with_for_update()
    )).scalar_one_or_none()
    if cadence is None:
        cadence = Cadence(tenant_id=tenant_id, id=uuid7(), name=parsed.name, current_version=1)
        session.add(cadence)
        number = 1
    else:
        number = cadence.current_version + 1
        cadence.current_version = number
    version = CadenceVersion(tenant_id=tenant_id, id=uuid7(), cadence_id=cadence.id,
                             version=number, source=text, created_by=principal.email)
    session.add(version)
    session.add_all(_step_rows(tenant_id, version.id, parsed))
    await session.flush()
    await audit.record(session, principal.actor, "cadence.version_saved", tenant_id=tenant_id,
                       entity="cadence", entity_id=cadence.id,
                       after={"name": parsed.name, "version": number,
                              "steps": cdef.to_data(parsed)["steps"]})
    policy = await policy_of(session, tenant_id)
    if activate:
        await set_champion(session, principal, tenant_id, cadence.id)
    return Loaded(cadence.id, number, version.id,
                  activate or (policy is not None and policy.champion_id == cadence.id))


async def policy_of(session: AsyncSession, tenant_id: uuid.UUID) -> CadencePolicy | None:
    return (await session.execute(select(CadencePolicy).where(
        CadencePolicy.tenant_id == tenant_id))).scalar_one_or_none()


async def current_version_id(session: AsyncSession, cadence_id: uuid.UUID) -> uuid.UUID:
    found = (await session.execute(
        select(CadenceVersion.id).join(Cadence, (Cadence.tenant_id == CadenceVersion.tenant_id)
                                       & (Cadence.id == CadenceVersion.cadence_id))
        .where(Cadence.id == cadence_id, CadenceVersion.version == Cadence.current_version)
    )).scalar_one_or_none()
    if found is None:
        raise NotFound("régua")
    return found


async def set_champion(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                       cadence_id: uuid.UUID) -> None:
    """Make `cadence_id` the tenant's cadence: its current version for every debtor on
    the champion side, enrolled already or not."""
    if not may_edit(principal):
        raise Forbidden("apenas administradores e supervisores ativam réguas")
    version_id = await current_version_id(session, cadence_id)
    policy = await policy_of(session, tenant_id)
    before = {"champion_id": str(policy.champion_id)} if policy else None
    if policy is None:
        session.add(CadencePolicy(tenant_id=tenant_id, id=uuid7(), champion_id=cadence_id,
                                  challenger_id=None, challenger_percent=0,
                                  salt=secrets.token_hex(8)))
    else:
        policy.champion_id = cadence_id
        if policy.challenger_id == cadence_id:
            policy.challenger_id, policy.challenger_percent = None, 0
    await session.execute(update(CadenceEnrolment).where(
        CadenceEnrolment.tenant_id == tenant_id, CadenceEnrolment.arm == Arm.CHAMPION)
        .values(version_id=version_id))
    await session.flush()
    await audit.record(session, principal.actor, "cadence.activated", tenant_id=tenant_id,
                       entity="cadence", entity_id=cadence_id, before=before,
                       after={"champion_id": str(cadence_id)})


async def set_challenger(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                         cadence_id: uuid.UUID | None, percent: int) -> CadencePolicy:
    """Run `cadence_id` on `percent`% of the tenant's debtors (a stable split by a hash of
    each debtor's id with the tenant's salt); None ends the test. The challenger's
    debtors move to its current version; ending it moves them back to the champion."""
    if not may_edit(principal):
        raise Forbidden("apenas administradores e supervisores ativam réguas")
    policy = await policy_of(session, tenant_id)
    if policy is None:
        raise ValidationFailed({"challenger": "ative antes a régua principal do credor"})
    if cadence_id is not None and not 1 <= percent <= 50:
        raise ValidationFailed({"percent": "use de 1% a 50% dos devedores para a desafiante"})
    if cadence_id == policy.champion_id:
        raise ValidationFailed({"challenger": "a desafiante deve ser outra régua"})
    target = await current_version_id(session, cadence_id or policy.champion_id)
    before = {"challenger_id": str(policy.challenger_id) if policy.challenger_id else None,
              "percent": policy.challenger_percent}
    policy.challenger_id = cadence_id
    policy.challenger_percent = percent if cadence_id else 0
    moved = update(CadenceEnrolment).where(CadenceEnrolment.tenant_id == tenant_id,
                                          CadenceEnrolment.arm == Arm.CHALLENGER)
    if cadence_id is None:
        await session.execute(moved.values(version_id=target, arm=Arm.CHAMPION))
    else:
        await session.execute(moved.values(version_id=target))
    await session.flush()
    await audit.record(session, principal.actor, "cadence.challenger_set", tenant_id=tenant_id,
                       entity="cadence", entity_id=cadence_id, before=before,
                       after={"challenger_id": str(cadence_id) if cadence_id else None,
                              "percent": policy.challenger_percent})
    return policy


async def move_enrolments(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                          cadence_id: uuid.UUID) -> int:
    """Move every debtor following an older version of `cadence_id` to its current one."""
    if not may_edit(principal):
        raise Forbidden("apenas administradores e supervisores movem devedores de versão")
    target = await current_version_id(session, cadence_id)
    older = select(CadenceVersion.id).where(CadenceVersion.cadence_id == cadence_id,
                                            CadenceVersion.id != target)
    result = await session.execute(update(CadenceEnrolment).where(
        CadenceEnrolment.tenant_id == tenant_id, CadenceEnrolment.version_id.in_(older))
        .values(version_id=target))
    moved = int(getattr(result, "rowcount", 0) or 0)
    await audit.record(session, principal.actor, "cadence.enrolments_moved",
                       tenant_id=tenant_id, entity="cadence", entity_id=cadence_id,
                       after={"moved": moved})
    return moved


# ---- reading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VersionView:
    id: uuid.UUID
    version: int
    created_by: str
    created_at: object
    enrolled: int


@dataclass(frozen=True)
class CadenceView:
    id: uuid.UUID
    name: str
    current_version: int
    role: str | None  # "champion", "challenger" or None
    percent: int
    versions: list[VersionView]


async def list_cadences(session: AsyncSession, tenant_id: TenantId) -> list[CadenceView]:
    from sqlalchemy import func

    policy = await policy_of(session, tenant_id)
    cadences = list((await session.execute(select(Cadence).where(
        Cadence.tenant_id == tenant_id).order_by(Cadence.name))).scalars())
    counts = {v: n for v, n in (await session.execute(
        select(CadenceEnrolment.version_id, func.count()).where(
            CadenceEnrolment.tenant_id == tenant_id).group_by(CadenceEnrolment.version_id))
    ).all()}
    versions = list((await session.execute(select(CadenceVersion).where(
        CadenceVersion.tenant_id == tenant_id).order_by(CadenceVersion.version.desc())
    )).scalars())
    out = []
    for c in cadences:
        role, percent = None, 0
        if policy is not None and policy.champion_id == c.id:
            role, percent = Arm.CHAMPION.value, 100 - policy.challenger_percent
        elif policy is not None and policy.challenger_id == c.id:
            role, percent = Arm.CHALLENGER.value, policy.challenger_percent
        out.append(CadenceView(c.id, c.name, c.current_version, role, percent, [
            VersionView(v.id, v.version, v.created_by, v.created_at, int(counts.get(v.id, 0)))
            for v in versions if v.cadence_id == c.id]))
    return out


async def access_cadence(session: AsyncSession, principal: Principal,
                         cadence_id: uuid.UUID) -> Cadence:
    """The cadence, if the principal may see its tenant; 'não encontrada' otherwise."""
    row = (await session.execute(select(Cadence).where(Cadence.id == cadence_id)
                                 )).scalar_one_or_none()
    if row is None or not principal.may_work(row.tenant_id):
        raise NotFound("régua")
    return row


async def definition_of(session: AsyncSession, cadence: Cadence,
                        version: int | None = None) -> cdef.Definition:
    """A version of a cadence (its current one by default), from its step rows."""
    number = version or cadence.current_version
    version_id = (await session.execute(select(CadenceVersion.id).where(
        CadenceVersion.cadence_id == cadence.id, CadenceVersion.version == number)
    )).scalar_one_or_none()
    if version_id is None:
        raise NotFound("versão da régua")
    steps = (await session.execute(select(CadenceStep).where(
        CadenceStep.version_id == version_id).order_by(CadenceStep.position))).scalars()
    return cdef.Definition(cadence.name, tuple(
        cdef.Step(s.day, tuple(StepChannel(c) for c in s.channels), dict(s.templates),
                  StepChannel(s.fallback) if s.fallback else None,
                  cdef.When(s.score_min, s.score_max, s.amount_min, s.amount_max,
                            tuple(s.states or ()), tuple(s.segments or ())))
        for s in steps))


async def export(session: AsyncSession, tenant_id: TenantId, name: str | None = None) -> str:
    """The YAML of the tenant's cadence `name` (its active one by default)."""
    query = select(Cadence).where(Cadence.tenant_id == tenant_id)
    if name is not None:
        query = query.where(Cadence.name == name)
    else:
        policy = await policy_of(session, tenant_id)
        if policy is None:
            raise NotFound("régua ativa (informe --name)")
        query = query.where(Cadence.id == policy.champion_id)
    cadence = (await session.execute(query)).scalar_one_or_none()
    if cadence is None:
        raise NotFound("régua")
    return cdef.dump(await definition_of(session, cadence))


# ---- running a day -----------------------------------------------------------------------------

async def run_day(principal: Principal, tenant_id: uuid.UUID, day: dt.date, *,
                  dry_run: bool = False) -> engine.Summary:
    """Plan `day` for the tenant (and send after commit), or only show it (`dry_run`)."""
    from core.access import access_tenant, transaction
    from core.jobs import enqueue_after_commit

    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        if dry_run:
            summary, _ = await engine.preview(session, checked, day)
            return summary
        if not may_edit(principal):
            raise Forbidden("apenas administradores e supervisores executam a régua")
        summary = await engine.run(session, checked, day)
        enqueue_after_commit(session, "cadence.dispatch", str(checked), day.isoformat())
        return summary


@dataclass(frozen=True)
class Sample:
    debtor_name: str
    channel: str
    step_day: int
    subject: str | None
    body: str


@dataclass(frozen=True)
class Forecast:
    days: list[engine.Summary]
    blocked_reasons: dict[str, int]
    by_channel: dict[str, list[int]]  # channel -> planned per day
    samples: list[Sample]


async def forecast(principal: Principal, tenant_id: uuid.UUID, start: dt.date,
                   days: int) -> Forecast:
    """The dry-run over `days` days from `start`: counts per day, step and channel, what
    the guard would block and why, and a few messages rendered as the debtors would read
    them."""
    from collections import Counter

    from core.access import access_tenant, transaction

    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        out: list[engine.Summary] = []
        reasons: Counter[str] = Counter()
        by_channel: dict[str, list[int]] = {}
        first_rows: list[engine.PlannedRow] = []
        for offset in range(days):
            summary, rows = await engine.preview(session, checked,
                                                 start + dt.timedelta(days=offset))
            out.append(summary)
            reasons.update(summary.blocked_reasons)
            for (_, channel), (planned, _) in summary.by_step.items():
                by_channel.setdefault(channel, [0] * days)[offset] += planned
            if not first_rows:
                first_rows = [r for r in rows if r.state == "planned"]
        samples = await _samples(session, first_rows)
    return Forecast(out, dict(reasons.most_common()), by_channel, samples)


async def _samples(session: AsyncSession, rows: list[engine.PlannedRow],
                   limit: int = 3) -> list[Sample]:
    seen: set[str] = set()
    out: list[Sample] = []
    for row in rows:
        if row.channel in seen or row.channel not in cdef.WRITTEN:
            continue
        seen.add(row.channel)
        rendered = await render_for(session, row.debtor_id, Channel(row.channel),
                                    row.template, row.debt_ids)
        if rendered is not None:
            name, subject, body = rendered
            out.append(Sample(name, row.channel, row.step_day, subject, body))
        if len(out) >= limit:
            break
    return out


async def render_for(session: AsyncSession, debtor_id: uuid.UUID, channel: Channel,
                     template: str, debt_ids: list[uuid.UUID] | None = None
                     ) -> tuple[str, str | None, str] | None:
    """A template rendered for a real debtor of the tenant (the editor's preview)."""
    from core.channels import templates as tpl
    from core.channels.service import context_for
    from core.models import PLACED, Debt, Debtor
    from core.settings import get_settings

    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id)
                                    )).scalar_one_or_none()
    if debtor is None:
        return None
    query = select(Debt).where(Debt.debtor_id == debtor_id)
    query = (query.where(Debt.id.in_(debt_ids)) if debt_ids
             else query.where(Debt.status.in_(PLACED)))
    debts = list((await session.execute(query.order_by(Debt.due_date))).scalars())
    source = await tpl.active(session, debtor.tenant_id, channel, template)
    context = await context_for(session, debtor, debts, get_settings())
    rendered = tpl.render(source, context)
    return debtor.name, rendered.subject, rendered.body


async def preview_debtor(session: AsyncSession, tenant_id: uuid.UUID) -> uuid.UUID | None:
    """A real debtor of the tenant with an open debt, for the editor's preview."""
    from core.models import Debt

    return (await session.execute(select(Debt.debtor_id).where(
        Debt.tenant_id == tenant_id, Debt.status == "open").order_by(Debt.due_date.desc())
        .limit(1))).scalar_one_or_none()


# ---- the supervisor's pages --------------------------------------------------------------------

@dataclass(frozen=True)
class Editor:
    cadence: Cadence
    source: str
    definition: cdef.Definition
    previews: list[Sample]


async def editor(principal: Principal, cadence_id: uuid.UUID) -> Editor:
    """A cadence's current version as YAML and steps, with each step's templates rendered
    for a real debtor of the tenant."""
    from core.access import transaction

    async with transaction(principal) as session:
        cadence = await access_cadence(session, principal, cadence_id)
        parsed = await definition_of(session, cadence)
        debtor_id = await preview_debtor(session, cadence.tenant_id)
        previews: list[Sample] = []
        if debtor_id is not None:
            for step in parsed.steps:
                for channel in step.channels:
                    if channel not in cdef.WRITTEN:
                        continue
                    shown = await render_for(session, debtor_id, Channel(channel.value),
                                             step.template_for(channel.value))
                    if shown is not None:
                        previews.append(Sample(shown[0], channel.value, step.day, shown[1],
                                               shown[2]))
        return Editor(cadence, cdef.dump(parsed), parsed, previews)


async def save_version(principal: Principal, cadence_id: uuid.UUID, source: str) -> Loaded:
    """The editor's save: a new version of this cadence (the name stays the cadence's)."""
    from core.access import transaction

    async with transaction(principal) as session:
        cadence = await access_cadence(session, principal, cadence_id)
        parsed = cdef.parse(source)
        if parsed.name != cadence.name:
            raise ValidationFailed({"name": "o nome identifica a régua; para outra régua, "
                                    "carregue um arquivo novo"})
        return await load(session, principal, TenantId(cadence.tenant_id), source)
