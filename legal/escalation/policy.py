"""A tenant's escalation policy: the notice's waiting period (10 days; 20 for debtors in
São Paulo, whose state law asks for more), the removal deadline after payment (5
business days, STJ Súmula 548), whether an agreement takes a listing down, and which
extras go with the notice letter. Defaults until saved; agency admins and supervisors
edit it; audited."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import Forbidden, ValidationFailed
from core.ids import uuid7
from legal.escalation.bureau_models import EscalationPolicy

EDITING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
DEFAULTS: dict[str, Any] = {"notice_days": 10, "notice_days_sp": 20,
                            "removal_business_days": 5, "remove_on_agreement": True,
                            "notice_email": True, "notice_sms": True}
BOUNDS = {"notice_days": (10, 90), "notice_days_sp": (20, 90), "removal_business_days": (1, 5)}
LABELS = {"notice_days": "prazo da notificação (dias)",
          "notice_days_sp": "prazo da notificação para devedores de SP (dias)",
          "removal_business_days": "prazo de baixa (dias úteis)"}
FLAGS = ("remove_on_agreement", "notice_email", "notice_sms")


async def policy_for(session: AsyncSession, tenant_id: uuid.UUID) -> EscalationPolicy:
    found = (await session.execute(select(EscalationPolicy).where(
        EscalationPolicy.tenant_id == tenant_id))).scalar_one_or_none()
    return found or EscalationPolicy(tenant_id=tenant_id, **DEFAULTS)


def notice_days(policy: EscalationPolicy, debtor_state: str | None) -> int:
    return policy.notice_days_sp if debtor_state == "SP" else policy.notice_days


def as_dict(policy: EscalationPolicy) -> dict[str, Any]:
    return {k: getattr(policy, k) for k in DEFAULTS}


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Clean values from a form or JSON; errors in Portuguese, by field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, (low, high) in BOUNDS.items():
        raw = values.get(name, DEFAULTS[name])
        try:
            number = int(str(raw).strip())
        except ValueError:
            errors[name] = f"{LABELS[name]}: informe um número inteiro"
            continue
        if not low <= number <= high:
            errors[name] = f"{LABELS[name]}: use de {low} a {high}"
        clean[name] = number
    for name in FLAGS:
        raw = values.get(name, False)
        clean[name] = raw is True or str(raw).lower() in ("1", "true", "on", "sim")
    if errors:
        raise ValidationFailed(errors)
    return clean


async def read_policy(principal: Principal, tenant_id: uuid.UUID) -> dict[str, Any]:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return as_dict(await policy_for(session, checked))


async def save_policy(principal: Principal, tenant_id: uuid.UUID,
                      values: dict[str, Any]) -> dict[str, Any]:
    if principal.role not in EDITING_ROLES:
        raise Forbidden("seu perfil não pode alterar a política de escalonamento")
    clean = validate(values)
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        row = (await session.execute(select(EscalationPolicy).where(
            EscalationPolicy.tenant_id == checked).with_for_update())).scalar_one_or_none()
        before = as_dict(row) if row is not None else dict(DEFAULTS)
        if row is None:
            row = EscalationPolicy(tenant_id=checked, id=uuid7(), **clean)
            session.add(row)
        for key, value in clean.items():
            setattr(row, key, value)
        row.updated_by = None if principal.is_system else principal.user_id
        row.updated_at = dt.datetime.now(dt.UTC)
        await session.flush()
        await audit.record(session, principal.actor, "escalation_policy.saved",
                           tenant_id=checked, entity="tenant", entity_id=checked,
                           before=before, after=clean)
        return clean
