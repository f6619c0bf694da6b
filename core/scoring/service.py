"""Computing segments and scores for a whole tenant in one statement, and reading them.

`refresh` is set-based: one SQL statement gathers each debtor's facts with grouped
joins over debts, payments, contact points, opt-outs, holds, interactions and broken
agreements, applies the segment rules and the score's weights, upserts `debtor_score`,
writes the day's `debtor_score_history` row and drops the scores of debtors no longer in
collection. No Python loop runs over debtors.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtorId, TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.models import (
    CHANNELS_BY_KIND,
    DebtorScore,
    ScoringModel,
    ScoringPolicy,
    Tenant,
)
from core.scoring.rules import (
    BAND_LABELS,
    BANDS,
    DEFAULT_POLICY,
    FEATURES,
    HORIZON_DAYS,
    MIN_EFFECT,
    RULES_INTERCEPT,
    RULES_WEIGHTS,
    SEGMENT_HELP,
    SEGMENT_LABELS,
    SEGMENTS,
    TOP_REASONS,
    Policy,
    band_sql,
    reason_text,
)

if TYPE_CHECKING:
    from core.scoring.training import TrainingResult

UNUSABLE_SQL = "('wrong_party', 'invalid', 'bounced')"  # core.collection.contacts.UNUSABLE
CHANNEL_COUNT_SQL = "CASE c.kind " + " ".join(
    f"WHEN '{kind.value}' THEN {len(chans)}" for kind, chans in CHANNELS_BY_KIND.items()
) + " END"

_X = ",\n        ".join(f"({f.sql})::float8 AS x_{f.name}" for f in FEATURES)
_LOGIT = " + ".join(f":w_{f.name} * x_{f.name}" for f in FEATURES)
_EFFECTS = ", ".join(f"('{f.name}', :w_{f.name} * x_{f.name})" for f in FEATURES)
_VECTOR = ", ".join(f"'{f.name}', round(x_{f.name}::numeric, 6)" for f in FEATURES)

REFRESH = f"""
WITH d AS (
    SELECT id, document_kind, timezone, created_at,
           (CAST(:at AS timestamptz) AT TIME ZONE timezone)::date AS today
    FROM debtor WHERE tenant_id = :t
), debts AS (
    SELECT x.debtor_id,
        count(*) FILTER (WHERE x.status IN ('open', 'in_agreement')) AS placed,
        count(*) FILTER (WHERE x.status = 'open') AS open_debts,
        count(*) FILTER (WHERE x.status = 'open' AND x.due_date < d.today) AS overdue,
        count(*) FILTER (WHERE x.status <> 'open') AS not_open,
        coalesce(sum(x.current_balance)
                 FILTER (WHERE x.status IN ('open', 'in_agreement')), 0) AS balance,
        greatest(coalesce(max(d.today - x.due_date) FILTER (WHERE x.status = 'open'), 0), 0)
            AS days_overdue
    FROM debt x JOIN d ON d.id = x.debtor_id
    WHERE x.tenant_id = :t
    GROUP BY x.debtor_id
), paid AS (
    -- Past debts closed as paid or settled, paid on their first payment's date (else
    -- the day they were closed), as many days after their due date.
    SELECT x.debtor_id, count(*) AS paid_debts,
        count(*) FILTER (WHERE coalesce(p.first_paid, (x.closed_at AT TIME ZONE d.timezone)::date)
                               - x.due_date BETWEEN 1 AND :late_days_max) AS late_paid
    FROM debt x JOIN d ON d.id = x.debtor_id
    LEFT JOIN (SELECT debt_id, min(paid_on) AS first_paid FROM payment
               WHERE tenant_id = :t AND paid_on IS NOT NULL GROUP BY debt_id) p
           ON p.debt_id = x.id
    WHERE x.tenant_id = :t AND x.status IN ('paid', 'settled_by_creditor')
    GROUP BY x.debtor_id
), contacts AS (
    -- Usable: not known to be wrong, and some channel it serves not opted out of.
    SELECT c.debtor_id,
        bool_or(c.quality NOT IN {UNUSABLE_SQL} AND coalesce(o.n, 0) < {CHANNEL_COUNT_SQL})
            AS usable,
        bool_or(c.quality = 'good' AND coalesce(o.n, 0) < {CHANNEL_COUNT_SQL}) AS good
    FROM contact_point c
    LEFT JOIN (SELECT contact_point_id, count(DISTINCT channel) AS n FROM contact_opt_out
               WHERE tenant_id = :t AND revoked_at IS NULL AND opted_out_at <= :at
               GROUP BY contact_point_id) o ON o.contact_point_id = c.id
    WHERE c.tenant_id = :t
    GROUP BY c.debtor_id
), holds AS (
    SELECT DISTINCT debtor_id FROM hold
    WHERE tenant_id = :t AND starts_at <= :at AND (ends_at IS NULL OR ends_at > :at)
), breaks AS (
    SELECT DISTINCT debtor_id FROM agreement_break
    WHERE tenant_id = :t AND broken_at <= :at AND broken_at > :at - interval '365 days'
), inbound AS (
    SELECT debtor_id, count(*) AS n FROM interaction
    WHERE tenant_id = :t AND direction = 'inbound'
      AND started_at <= :at AND started_at > :at - interval '90 days'
    GROUP BY debtor_id
), f AS (
    SELECT d.id AS debtor_id, x.days_overdue, x.balance, x.open_debts, x.overdue, x.not_open,
        coalesce(p.paid_debts, 0) AS paid_debts, coalesce(p.late_paid, 0) AS late_paid,
        coalesce(c.good, false) AS contact_good, NOT coalesce(c.usable, false) AS contact_none,
        h.debtor_id IS NOT NULL AS hold, b.debtor_id IS NOT NULL AS broken,
        d.created_at > CAST(:at AS timestamptz) - make_interval(days => :new_debtor_days)
            AS new_debtor,
        d.document_kind = 'cnpj' AS company, coalesce(i.n, 0) AS inbound
    FROM d JOIN debts x ON x.debtor_id = d.id AND x.placed > 0
    LEFT JOIN paid p ON p.debtor_id = d.id
    LEFT JOIN contacts c ON c.debtor_id = d.id
    LEFT JOIN holds h ON h.debtor_id = d.id
    LEFT JOIN breaks b ON b.debtor_id = d.id
    LEFT JOIN inbound i ON i.debtor_id = d.id
), v AS (
    SELECT f.*,
        {_X}
    FROM f
), s AS (
    SELECT v.*,
        least(1000, greatest(0, round(1000.0 / (1 + exp(-(:b + {_LOGIT}))))))::int AS score,
        array_remove(ARRAY[
            CASE WHEN v.overdue = 1 AND v.not_open = 0 AND NOT v.broken THEN 'primeiro_atraso' END,
            CASE WHEN v.late_paid >= :habitual_min THEN 'devedor_viciado' END,
            CASE WHEN v.balance >= :high_balance_min THEN 'saldo_alto' END,
            CASE WHEN v.open_debts >= :several_debts_min THEN 'varios_titulos' END,
            CASE WHEN v.new_debtor THEN 'novo' END,
            CASE WHEN v.broken THEN 'acordo_quebrado' END,
            CASE WHEN v.contact_none THEN 'sem_contato' END
        ], NULL)::varchar[] AS segments,
        jsonb_build_object(
            'days_overdue', v.days_overdue, 'balance', v.balance, 'open_debts', v.open_debts,
            'paid_debts', v.paid_debts, 'late_paid', v.late_paid,
            'contact_good', v.contact_good, 'contact_none', v.contact_none, 'hold', v.hold,
            'broken_agreement', v.broken, 'new_debtor', v.new_debtor, 'company', v.company,
            'inbound', v.inbound) AS inputs,
        jsonb_build_object({_VECTOR}) AS vector,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('feature', e.k,
                                                      'effect', round(e.w::numeric, 3))
                                   ORDER BY abs(e.w) DESC), '[]'::jsonb)
         FROM (SELECT k, w FROM (VALUES {_EFFECTS}) AS r(k, w)
               WHERE abs(w) >= {MIN_EFFECT} ORDER BY abs(w) DESC LIMIT {TOP_REASONS}) e)
            AS reasons
    FROM v
), up AS (
    INSERT INTO debtor_score AS ds (tenant_id, debtor_id, score, band, segments, inputs,
                                    reasons, method, model_id, scored_at)
    SELECT :t, s.debtor_id, s.score, {band_sql("s.score")}, s.segments, s.inputs, s.reasons,
           :method, :model_id, :at
    FROM s
    ON CONFLICT (tenant_id, debtor_id) DO UPDATE SET
        score = excluded.score, band = excluded.band, segments = excluded.segments,
        inputs = excluded.inputs, reasons = excluded.reasons, method = excluded.method,
        model_id = excluded.model_id, scored_at = excluded.scored_at
    RETURNING ds.band, ds.segments
), hist AS (
    INSERT INTO debtor_score_history AS h (tenant_id, id, debtor_id, scored_on, score, band,
                                           method, model_id, inputs, vector, reasons)
    SELECT :t, regua_uuid7(), s.debtor_id, :scored_on, s.score, {band_sql("s.score")}, :method,
           :model_id, s.inputs, s.vector, s.reasons
    FROM s
    ON CONFLICT (tenant_id, debtor_id, scored_on) DO UPDATE SET
        score = excluded.score, band = excluded.band, method = excluded.method,
        model_id = excluded.model_id, inputs = excluded.inputs, vector = excluded.vector,
        reasons = excluded.reasons
), gone AS (
    DELETE FROM debtor_score g
    WHERE g.tenant_id = :t AND NOT EXISTS (
        SELECT 1 FROM debt x WHERE x.tenant_id = :t AND x.debtor_id = g.debtor_id
          AND x.status IN ('open', 'in_agreement'))
)
SELECT (SELECT jsonb_object_agg(band, n) FROM (SELECT band, count(*) AS n FROM up
                                               GROUP BY band) b) AS bands,
       (SELECT jsonb_object_agg(seg, n) FROM (SELECT unnest(segments) AS seg, count(*) AS n
                                              FROM up GROUP BY 1) g) AS segments,
       (SELECT count(*) FROM up) AS debtors
"""


# One type for every use of the moment (asyncpg types each placeholder on its own).
REFRESH = re.sub(r"(?<!CAST\():at\b", "CAST(:at AS timestamptz)", REFRESH)


@dataclass
class RunSummary:
    tenant_id: uuid.UUID
    scored_on: dt.date
    method: str
    debtors: int
    bands: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"tenant_id": str(self.tenant_id), "scored_on": self.scored_on.isoformat(),
                "method": self.method, "debtors": self.debtors,
                "bands": {b: self.bands.get(b, 0) for b, _ in BANDS},
                "segments": {s: self.segments.get(s, 0) for s in SEGMENTS}}


async def policy_of(session: AsyncSession, tenant_id: uuid.UUID) -> Policy:
    row = (await session.execute(select(ScoringPolicy).where(
        ScoringPolicy.tenant_id == tenant_id))).scalar_one_or_none()
    if row is None:
        return DEFAULT_POLICY
    return Policy(high_balance_min=row.high_balance_min, several_debts_min=row.several_debts_min,
                  new_debtor_days=row.new_debtor_days, late_days_max=row.late_days_max,
                  habitual_min=row.habitual_min)


async def active_model(session: AsyncSession, tenant_id: uuid.UUID) -> ScoringModel | None:
    """The tenant's latest training run, when it replaced the rules."""
    latest = (await session.execute(
        select(ScoringModel).where(ScoringModel.tenant_id == tenant_id)
        .order_by(ScoringModel.trained_at.desc(), ScoringModel.id.desc()).limit(1)
    )).scalar_one_or_none()
    return latest if latest is not None and latest.active else None


async def refresh(session: AsyncSession, tenant_id: TenantId,
                  at: dt.datetime | None = None) -> RunSummary:
    """Compute every segment and score of the tenant now (or as of `at`)."""
    at = at or dt.datetime.now(dt.UTC)
    zone = (await session.execute(
        select(Tenant.timezone).where(Tenant.id == tenant_id))).scalar_one()
    scored_on = at.astimezone(ZoneInfo(zone)).date()
    policy = await policy_of(session, tenant_id)
    model = await active_model(session, tenant_id)
    weights = dict(RULES_WEIGHTS) if model is None else {
        f.name: float(model.coefficients.get(f.name, 0.0)) for f in FEATURES}
    params: dict[str, Any] = {
        "t": tenant_id, "at": at, "scored_on": scored_on,
        "b": RULES_INTERCEPT if model is None else model.intercept,
        "method": "rules" if model is None else "model",
        "model_id": None if model is None else model.id,
        "high_balance_min": policy.high_balance_min,
        "several_debts_min": policy.several_debts_min,
        "new_debtor_days": policy.new_debtor_days, "late_days_max": policy.late_days_max,
        "habitual_min": policy.habitual_min,
        **{f"w_{name}": weight for name, weight in weights.items()},
    }
    # A whole tenant in one pass wants hash joins. Right after a large import the tables
    # have no statistics yet, and the planner, reading them as nearly empty, would pick
    # nested loops over every debtor (measured on 100,000 debtors: over ten minutes).
    await session.execute(text("SET LOCAL enable_nestloop = off"))
    row = (await session.execute(text(REFRESH), params)).one()
    await session.execute(text("SET LOCAL enable_nestloop TO DEFAULT"))
    summary = RunSummary(tenant_id=tenant_id, scored_on=scored_on, method=params["method"],
                         debtors=int(row.debtors), bands=dict(row.bands or {}),
                         segments=dict(row.segments or {}))
    principal: Principal | None = session.info.get("principal")
    actor = principal.actor if principal is not None else audit.SYSTEM
    await audit.record(session, actor, "scoring.refreshed", tenant_id=tenant_id,
                       entity="tenant", entity_id=tenant_id, after=summary.as_json())
    return summary


async def refresh_tenant(principal: Principal, tenant_id: uuid.UUID,
                         at: dt.datetime | None = None) -> RunSummary:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return await refresh(session, checked, at)


# ---- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    feature: str
    effect: float
    text: str


@dataclass(frozen=True)
class DebtorScoreView:
    score: int
    band: str
    band_label: str
    segments: list[tuple[str, str, str]]  # code, label, what it means
    reasons: list[Reason]
    method: str
    method_label: str
    scored_at: dt.datetime
    inputs: dict[str, Any]


METHOD_LABELS = {"rules": "regras", "model": "modelo treinado do credor"}


def view_of(row: DebtorScore) -> DebtorScoreView:
    return DebtorScoreView(
        score=row.score, band=row.band, band_label=BAND_LABELS[row.band],
        segments=[(s, SEGMENT_LABELS.get(s, s), SEGMENT_HELP.get(s, "")) for s in row.segments],
        reasons=[Reason(r["feature"], float(r["effect"]),
                        reason_text(r["feature"], float(r["effect"]), row.inputs))
                 for r in row.reasons],
        method=row.method, method_label=METHOD_LABELS[row.method], scored_at=row.scored_at,
        inputs=row.inputs)


async def score_of(session: AsyncSession, debtor_id: DebtorId) -> DebtorScoreView | None:
    """The debtor's current score (None: not scored yet, or no debt in collection)."""
    row = (await session.execute(
        select(DebtorScore).where(DebtorScore.debtor_id == debtor_id))).scalar_one_or_none()
    return None if row is None else view_of(row)


async def scores_for(session: AsyncSession,
                     debtor_ids: list[uuid.UUID]) -> dict[uuid.UUID, DebtorScoreView]:
    """Scores of many debtors at once, for lists (dialer lists, cadence previews)."""
    if not debtor_ids:
        return {}
    rows = (await session.execute(
        select(DebtorScore).where(DebtorScore.debtor_id.in_(debtor_ids)))).scalars()
    return {r.debtor_id: view_of(r) for r in rows}


async def train_tenant(principal: Principal, tenant_id: uuid.UUID,
                       at: dt.datetime | None = None) -> tuple[TrainingResult, RunSummary]:
    """Train the tenant's model, then score again with whichever won."""
    from core.scoring import training  # scikit-learn loads only where a model is trained

    at = at or dt.datetime.now(dt.UTC)
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        zone = (await session.execute(
            select(Tenant.timezone).where(Tenant.id == checked))).scalar_one()
        result = await training.train(session, checked, at.astimezone(ZoneInfo(zone)).date(),
                                      principal)
        return result, await refresh(session, checked, at)


# ---- the supervisor's page -------------------------------------------------------------


@dataclass(frozen=True)
class TenantOverview:
    tenant_id: uuid.UUID
    tenant_name: str
    debtors: int
    bands: list[tuple[str, str, int]]  # band, label, debtors
    segments: list[tuple[str, str, int]]  # code, label, debtors
    scored_at: dt.datetime | None
    method_label: str
    latest_model: ScoringModel | None
    history_rows: int  # debtor-days old enough to have an outcome


async def overview(principal: Principal,
                   tenant_id: uuid.UUID | None = None) -> list[TenantOverview]:
    """Distribution by band and segment, and the latest training, per tenant the
    principal works (or the one named, 404 when it is not theirs)."""
    async with transaction(principal) as session:
        wanted: list[uuid.UUID] = list(principal.tenant_ids)
        if tenant_id is not None:
            wanted = [await access_tenant(session, principal, tenant_id)]
        tenants = list((await session.execute(
            select(Tenant).where(Tenant.id.in_(wanted)).order_by(Tenant.trade_name)
        )).scalars())
        ids = [t.id for t in tenants]
        bands: dict[uuid.UUID, dict[str, int]] = {t: {} for t in ids}
        for tid, band, n in await session.execute(text(
                "SELECT tenant_id, band, count(*) FROM debtor_score"
                " WHERE tenant_id = ANY(:ids) GROUP BY 1, 2"), {"ids": ids}):
            bands[tid][band] = n
        segments: dict[uuid.UUID, dict[str, int]] = {t: {} for t in ids}
        for tid, seg, n in await session.execute(text(
                "SELECT tenant_id, seg, count(*) FROM debtor_score, unnest(segments) AS seg"
                " WHERE tenant_id = ANY(:ids) GROUP BY 1, 2"), {"ids": ids}):
            segments[tid][seg] = n
        runs = {tid: (at, method) for tid, at, method in await session.execute(text(
            "SELECT tenant_id, max(scored_at), (array_agg(method ORDER BY scored_at DESC))[1]"
            " FROM debtor_score WHERE tenant_id = ANY(:ids) GROUP BY 1"), {"ids": ids})}
        models: dict[uuid.UUID, ScoringModel] = {}
        for m in (await session.execute(  # a few training runs per tenant, weekly
                select(ScoringModel).where(ScoringModel.tenant_id.in_(ids))
                .order_by(ScoringModel.trained_at.desc()))).scalars():
            models.setdefault(m.tenant_id, m)
        history = {tid: n for tid, n in await session.execute(text(
            "SELECT tenant_id, count(*) FROM debtor_score_history WHERE tenant_id = ANY(:ids)"
            f" AND scored_on <= current_date - {HORIZON_DAYS} GROUP BY 1"),
            {"ids": ids})}
    return [TenantOverview(
        tenant_id=t.id, tenant_name=t.trade_name, debtors=sum(bands[t.id].values()),
        bands=[(b, BAND_LABELS[b], bands[t.id].get(b, 0)) for b, _ in BANDS],
        segments=[(s, SEGMENT_LABELS[s], segments[t.id].get(s, 0)) for s in SEGMENTS],
        scored_at=runs[t.id][0] if t.id in runs else None,
        method_label=METHOD_LABELS[runs[t.id][1]] if t.id in runs else "—",
        latest_model=models.get(t.id), history_rows=history.get(t.id, 0))
        for t in tenants]


# ---- for cadence conditions and dialer lists --------------------------------------------


def matching(tenant_id: uuid.UUID, *, score_max: int | None = None,
             score_min: int | None = None, bands: list[str] | None = None,
             segments: list[str] | None = None) -> Select[uuid.UUID]:
    """Debtor ids of a tenant whose current score fits a condition (`segments`: any of
    them, as a cadence step's `when: {segments: [...]}` reads). Join it, or
    `debtor_score` itself on `(tenant_id, debtor_id)`, into a set-based selection."""
    query = select(DebtorScore.debtor_id).where(DebtorScore.tenant_id == tenant_id)
    if score_max is not None:
        query = query.where(DebtorScore.score <= score_max)
    if score_min is not None:
        query = query.where(DebtorScore.score >= score_min)
    if bands:
        query = query.where(DebtorScore.band.in_(bands))
    if segments:
        query = query.where(DebtorScore.segments.overlap(segments))
    return query
