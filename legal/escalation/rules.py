"""A tenant's escalation rules: which debts are eligible and which path each takes, and
their daily evaluation.

A rule names a path (credit-bureau listing, protest, judicial handoff), the days overdue
it waits for (in the debtor's zone), and optional bounds on the debt's balance and the
debtor's score (a debtor not scored yet does not meet a score bound). Rules are tried in
priority order (lower first); the first a debt meets decides. Whatever a rule says, the
stop conditions apply: the debt must be workable by `regua_debt_blocker` (open — so in
no active agreement —, under no hold, dispute included, and not prescribed), and have
no unfinished escalation. A debt goes down a path again only if every earlier
escalation on that path was cancelled by a stop condition or removed (an agreement that
took the listing down and then broke), never after a bureau refused it or a notary
returned it.

The evaluation is one statement per tenant (`CANDIDATES` fed to `journal.open_many`):
rules joined to the open debts they reach, `DISTINCT ON` the debt by priority; each
opening is recorded with the rule's id and name.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId, access_tenant, tenant_of, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import Conflict, Forbidden, ValidationFailed, too_long
from core.ids import uuid7
from legal.escalation import journal
from legal.escalation.models import (
    PATH_LABELS,
    EscalationPath,
    EscalationRule,
    EscalationState,
)

RuleId = NewType("RuleId", uuid.UUID)
READING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEGAL})
EDITING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})

# Where each path starts: the bureau with its notice, protest in the queue for the next
# remessa, the judicial path with the legal team (whose job opens the case).
INITIAL_STATE = {
    EscalationPath.BUREAU: EscalationState.NOTICE_PENDING,
    EscalationPath.PROTEST: EscalationState.QUEUED,
    EscalationPath.JUDICIAL: EscalationState.HANDED_OFF,
}
INITIAL_SQL = ("CASE r.path " + " ".join(f"WHEN '{p.value}' THEN '{s.value}'"
                                         for p, s in INITIAL_STATE.items()) + " END")
FIELDS = ("name", "priority", "path", "min_days_overdue", "min_amount", "max_amount",
          "min_score", "max_score", "active")

CANDIDATES = f"""
SELECT DISTINCT ON (x.id) x.tenant_id, x.id AS debt_id, x.debtor_id, r.path,
       {INITIAL_SQL} AS state, r.id AS rule_id, r.name AS rule_name,
       x.current_balance AS amount
FROM escalation_rule r
JOIN debt x ON x.tenant_id = r.tenant_id AND x.status = 'open'
JOIN debtor b ON b.tenant_id = x.tenant_id AND b.id = x.debtor_id
LEFT JOIN debtor_score sc ON sc.tenant_id = x.tenant_id AND sc.debtor_id = x.debtor_id
WHERE r.tenant_id = :t AND r.active
  AND x.due_date <= (CAST(:at AS timestamptz) AT TIME ZONE b.timezone)::date
                    - r.min_days_overdue
  AND (r.min_amount IS NULL OR x.current_balance >= r.min_amount)
  AND (r.max_amount IS NULL OR x.current_balance <= r.max_amount)
  AND (r.min_score IS NULL OR sc.score >= r.min_score)
  AND (r.max_score IS NULL OR sc.score <= r.max_score)
  -- a listing must fit in the five years: none whose limit ends before the notice does
  AND (r.path <> 'bureau'
       OR x.due_date + interval '5 years'
          > CAST(:at AS timestamptz) + make_interval(days => CAST(:margin AS int)))
  AND regua_debt_blocker(x, CAST(:at AS timestamptz)) IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM escalation e
      WHERE e.tenant_id = x.tenant_id AND e.debt_id = x.id
        AND (e.closed_at IS NULL
             OR (e.path = r.path
                 AND (e.state NOT IN ('cancelled', 'removed') OR e.details ? 'final'))))
ORDER BY x.id, r.priority, r.id
"""


async def evaluate(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                   at: dt.datetime, margin_days: int) -> dict[str, int]:
    """Open an escalation for every debt a rule picks today; counts by path."""
    return await journal.open_many(
        session, principal, CANDIDATES, {"t": tenant_id, "margin": margin_days}, at,
        "escolhido pela regra")


# ---- the rules ----------------------------------------------------------------------------

async def access_rule(session: AsyncSession, principal: Principal,
                      rule_id: uuid.UUID) -> RuleId:
    await tenant_of(session, EscalationRule, rule_id, principal, "regra de escalonamento")
    return RuleId(rule_id)


def _integer(raw: Any, field: str, label: str, low: int, high: int,
             errors: dict[str, str], optional: bool = False) -> int | None:
    if raw is None or str(raw).strip() == "":
        if optional:
            return None
        errors[field] = f"{label}: obrigatório"
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors[field] = f"{label}: informe um número inteiro"
        return None
    if not low <= value <= high:
        errors[field] = f"{label}: use de {low} a {high}"
    return value


def _money(raw: Any, field: str, label: str, errors: dict[str, str]) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip().replace("R$", "").strip()
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[field] = f"{label}: informe um valor em reais, como 1.500,00"
        return None
    if value < 0 or value >= Decimal("1e12") or value != value.quantize(Decimal("0.01")):
        errors[field] = f"{label}: valor inválido (até centavos, não negativo)"
    return value


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """A rule from a form or JSON body, with every error named by field, in Portuguese."""
    errors: dict[str, str] = {}
    name = " ".join(str(values.get("name") or "").split())
    if not name:
        errors["name"] = "nome: obrigatório"
    errors.update(too_long(EscalationRule, {"name": name}))
    path = str(values.get("path") or "")
    if path not in {p.value for p in EscalationPath}:
        errors["path"] = ("caminho: use " + ", ".join(
            f"{p.value} ({PATH_LABELS[p]})" for p in EscalationPath))
    clean: dict[str, Any] = {
        "name": name, "path": path,
        "priority": _integer(values.get("priority"), "priority", "prioridade", 0, 999, errors),
        "min_days_overdue": _integer(values.get("min_days_overdue"), "min_days_overdue",
                                     "dias de atraso", 0, 3650, errors),
        "min_amount": _money(values.get("min_amount"), "min_amount", "valor mínimo", errors),
        "max_amount": _money(values.get("max_amount"), "max_amount", "valor máximo", errors),
        "min_score": _integer(values.get("min_score"), "min_score", "score mínimo", 0, 1000,
                              errors, optional=True),
        "max_score": _integer(values.get("max_score"), "max_score", "score máximo", 0, 1000,
                              errors, optional=True),
    }
    active = values.get("active", True)
    clean["active"] = active is True or str(active).lower() in ("1", "true", "on", "sim")
    low, high = clean["min_amount"], clean["max_amount"]
    if low is not None and high is not None and low > high and "max_amount" not in errors:
        errors["max_amount"] = "valor máximo: deve ser maior ou igual ao valor mínimo"
    low, high = clean["min_score"], clean["max_score"]
    if low is not None and high is not None and low > high and "max_score" not in errors:
        errors["max_score"] = "score máximo: deve ser maior ou igual ao score mínimo"
    if errors:
        raise ValidationFailed(errors)
    return clean


def _may_edit(principal: Principal) -> None:
    if principal.role not in EDITING_ROLES:
        raise Forbidden("seu perfil não pode alterar regras de escalonamento")


def _may_read(principal: Principal) -> None:
    if principal.role not in READING_ROLES:
        raise Forbidden("seu perfil não pode ver as regras de escalonamento")


def as_dict(rule: EscalationRule) -> dict[str, Any]:
    return {"id": rule.id, "tenant_id": rule.tenant_id,
            **{f: getattr(rule, f) for f in FIELDS}}


async def list_rules(principal: Principal, tenant_id: uuid.UUID) -> list[EscalationRule]:
    _may_read(principal)
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return await rules_of(session, checked)


async def rules_of(session: AsyncSession, tenant_id: TenantId) -> list[EscalationRule]:
    return list((await session.execute(select(EscalationRule).where(
        EscalationRule.tenant_id == tenant_id).order_by(EscalationRule.priority,
                                                        EscalationRule.name))).scalars())


async def get_rule(principal: Principal, rule_id: uuid.UUID) -> EscalationRule:
    _may_read(principal)
    async with transaction(principal) as session:
        checked = await access_rule(session, principal, rule_id)
        return (await session.execute(select(EscalationRule).where(
            EscalationRule.id == checked))).scalar_one()


async def _name_taken(session: AsyncSession, tenant_id: uuid.UUID, name: str,
                      other_than: uuid.UUID | None = None) -> None:
    query = select(EscalationRule.id).where(EscalationRule.tenant_id == tenant_id,
                                            EscalationRule.name == name)
    if other_than is not None:
        query = query.where(EscalationRule.id != other_than)
    if (await session.execute(query)).first() is not None:
        raise Conflict({"name": f"nome: já existe uma regra chamada “{name}”"})


async def create_rule(principal: Principal, tenant_id: uuid.UUID,
                      values: dict[str, Any]) -> EscalationRule:
    _may_edit(principal)
    clean = validate(values)
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        await _name_taken(session, checked, clean["name"])
        rule = EscalationRule(tenant_id=checked, id=uuid7(), **clean,
                              created_by=None if principal.is_system else principal.user_id)
        session.add(rule)
        await session.flush()
        await audit.record(session, principal.actor, "escalation_rule.created",
                           tenant_id=checked, entity="escalation_rule", entity_id=rule.id,
                           after={k: clean[k] for k in FIELDS})
        return rule


async def update_rule(principal: Principal, rule_id: uuid.UUID,
                      values: dict[str, Any]) -> EscalationRule:
    _may_edit(principal)
    clean = validate(values)
    async with transaction(principal) as session:
        checked = await access_rule(session, principal, rule_id)
        rule = (await session.execute(select(EscalationRule).where(
            EscalationRule.id == checked).with_for_update())).scalar_one()
        await _name_taken(session, rule.tenant_id, clean["name"], rule.id)
        before = {k: getattr(rule, k) for k in FIELDS}
        for key, value in clean.items():
            setattr(rule, key, value)
        await audit.record(session, principal.actor, "escalation_rule.updated",
                           tenant_id=rule.tenant_id, entity="escalation_rule",
                           entity_id=rule.id, before=before, after=clean)
        return rule


async def delete_rule(principal: Principal, rule_id: uuid.UUID) -> None:
    """Escalations keep the name of the rule that opened them, so the history stands."""
    _may_edit(principal)
    async with transaction(principal) as session:
        checked = await access_rule(session, principal, rule_id)
        rule = (await session.execute(select(EscalationRule).where(
            EscalationRule.id == checked))).scalar_one()
        before = {k: getattr(rule, k) for k in FIELDS}
        await session.execute(delete(EscalationRule).where(EscalationRule.id == checked))
        await audit.record(session, principal.actor, "escalation_rule.deleted",
                           tenant_id=rule.tenant_id, entity="escalation_rule",
                           entity_id=rule.id, before=before)
