"""A tenant's negotiation policy: read (with the defaults until one is saved), edited by
agency supervisors and admins and by the creditor's admin, audited."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection.ledger import DEFAULT_ALLOCATION
from core.errors import Forbidden, ValidationFailed
from core.ids import uuid7
from core.models import Bucket, Debtor
from core.models.ledger import BUCKET_LABELS
from legal.fees import Contract
from legal.models import DiscountRevocation, NegotiationPolicy
from legal.updating import Terms

EDITING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN})
BUCKETS = [b.value for b in Bucket]

# Until a tenant saves its own: older debts allow deeper discounts; the principal is
# discounted only after a year. Percentages of each bucket.
DEFAULT_BANDS: list[dict[str, Any]] = [
    {"min_days": 0, "max_days": 90, "principal": "0", "correction": "0", "interest": "50",
     "fine": "50", "fees": "0"},
    {"min_days": 91, "max_days": 365, "principal": "0", "correction": "50", "interest": "80",
     "fine": "100", "fees": "50"},
    {"min_days": 366, "max_days": None, "principal": "20", "correction": "100",
     "interest": "100", "fine": "100", "fees": "100"},
]
DEFAULTS: dict[str, Any] = {
    "discount_bands": DEFAULT_BANDS, "installment_plans": [3, 6, 10, 12],
    "max_installments": 12, "min_installment": Decimal("50.00"),
    "min_down_payment_pct": Decimal("10"), "installment_interest_pct": Decimal("1"),
    "max_first_due_days": 10, "agent_discount_pct": Decimal("30"),
    "agent_max_installments": 6, "supervisor_discount_pct": Decimal("50"),
    "supervisor_max_installments": 12, "breach_tolerance_days": 5,
    "reinstatement_allowed": True, "discount_revocation": DiscountRevocation.PROPORTIONAL.value,
    "correction_index": "IPCA", "contract_interest_pct": None, "late_fee_pct": Decimal("2"),
    "rounding": "half_even", "allocation_order": [b.value for b in DEFAULT_ALLOCATION],
}
DECIMALS = ("min_installment", "min_down_payment_pct", "installment_interest_pct",
            "agent_discount_pct", "supervisor_discount_pct", "late_fee_pct")
OPTIONAL_DECIMALS = ("contract_interest_pct",)
INTEGERS = ("max_installments", "max_first_due_days", "agent_max_installments",
            "supervisor_max_installments", "breach_tolerance_days")


def default_policy(tenant_id: uuid.UUID) -> NegotiationPolicy:
    return NegotiationPolicy(tenant_id=tenant_id, **DEFAULTS)


async def policy_for(session: AsyncSession, tenant_id: uuid.UUID) -> NegotiationPolicy:
    found = (await session.execute(select(NegotiationPolicy).where(
        NegotiationPolicy.tenant_id == tenant_id))).scalar_one_or_none()
    return found or default_policy(tenant_id)


def band_for(policy: NegotiationPolicy, days_overdue: int) -> dict[str, Any]:
    for band in policy.discount_bands:
        top = band.get("max_days")
        if days_overdue >= int(band["min_days"]) and (top is None or days_overdue <= int(top)):
            return band
    return {"min_days": days_overdue, "max_days": None, **dict.fromkeys(BUCKETS, "0")}


def terms_for(policy: NegotiationPolicy, contract: Contract, debtor: Debtor) -> Terms:
    """How the debtor's debts are updated: the policy's figures and the fee contract's
    collection fee."""
    return Terms(correction_index=policy.correction_index,
                 contract_interest_pct=policy.contract_interest_pct,
                 late_fee_pct=policy.late_fee_pct, debtor_fee_pct=contract.debtor_fee_pct,
                 rounding=policy.rounding, consumer=debtor.document_kind == "cpf")


def allocation_of(policy: NegotiationPolicy) -> tuple[Bucket, ...]:
    return tuple(Bucket(b) for b in policy.allocation_order)


def as_dict(policy: NegotiationPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(policy, k) for k in DEFAULTS}
    for k in (*DECIMALS, *OPTIONAL_DECIMALS):
        # 10.0000 reads as "10", 50.50 as "50.5": what a person typed.
        out[k] = None if out[k] is None else f"{Decimal(out[k]).normalize():f}"
    return out


def _decimal(raw: Any, field: str, errors: dict[str, str], *, optional: bool = False,
             top: Decimal | None = None) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        if optional:
            return None
        errors[field] = "campo obrigatório"
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        errors[field] = "informe um número"
        return None
    if not value.is_finite() or value < 0 or (top is not None and value > top):
        errors[field] = f"informe um número de 0 a {top}" if top else "informe um número ≥ 0"
        return None
    return value


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """The policy's fields from a form or a JSON body, checked; Portuguese errors by field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for k in DECIMALS:
        clean[k] = _decimal(values.get(k, DEFAULTS[k]), k, errors,
                            top=Decimal("100") if k.endswith("_pct") else None)
    for k in OPTIONAL_DECIMALS:
        clean[k] = _decimal(values.get(k), k, errors, optional=True, top=Decimal("100"))
    for k in INTEGERS:
        raw = values.get(k, DEFAULTS[k])
        try:
            clean[k] = int(str(raw).strip())
            if clean[k] < 0 or clean[k] > 360:
                raise ValueError
        except ValueError:
            errors[k] = "informe um número inteiro de 0 a 360"
    if clean.get("max_installments") == 0:
        errors["max_installments"] = "informe ao menos 1"
    plans_raw = values.get("installment_plans", DEFAULTS["installment_plans"])
    if isinstance(plans_raw, str):
        plans_raw = [p for p in plans_raw.replace(";", ",").split(",") if p.strip()]
    try:
        plans = sorted({int(str(p).strip()) for p in plans_raw})
        if any(p < 2 for p in plans):
            raise ValueError
        clean["installment_plans"] = plans
    except (ValueError, TypeError):
        errors["installment_plans"] = ("informe números de parcelas (2 ou mais) separados"
                                       " por vírgula")
    clean["allocation_order"] = _allocation(values.get("allocation_order",
                                                       DEFAULTS["allocation_order"]), errors)
    if values.get("debtor_fee_pct") not in (None, ""):
        errors["debtor_fee_pct"] = ("os honorários cobrados do devedor fazem parte do contrato"
                                    " de honorários do credor (página Contrato de honorários,"
                                    " ou regua fees set)")
    bands = values.get("discount_bands", DEFAULTS["discount_bands"])
    clean["discount_bands"] = _bands(bands, errors)
    reinstatement = values.get("reinstatement_allowed", DEFAULTS["reinstatement_allowed"])
    clean["reinstatement_allowed"] = reinstatement in (True, "on", "true", "1", "sim")
    for k, allowed in (("discount_revocation", {d.value for d in DiscountRevocation}),
                       ("correction_index", {"IPCA", "none"}),
                       ("rounding", {"half_even", "half_up"})):
        clean[k] = str(values.get(k, DEFAULTS[k]))
        if clean[k] not in allowed:
            errors[k] = "valor não aceito: " + ", ".join(sorted(allowed))
    if not errors:
        if clean["supervisor_discount_pct"] < clean["agent_discount_pct"]:
            errors["supervisor_discount_pct"] = ("o limite do supervisor não pode ser menor que"
                                                 " o do operador")
        if clean["supervisor_max_installments"] < clean["agent_max_installments"]:
            errors["supervisor_max_installments"] = "não pode ser menor que o do operador"
    if errors:
        raise ValidationFailed(errors)
    return clean


def _allocation(raw: Any, errors: dict[str, str]) -> list[str]:
    """Every bucket once, in the order a payment settles them."""
    order = [p.strip() for p in raw.replace(";", ",").split(",")] if isinstance(raw, str) else raw
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(BUCKETS):
        names = ", ".join(BUCKET_LABELS[b] for b in Bucket)
        errors["allocation_order"] = ("informe a ordem de quitação com cada componente uma"
                                      f" vez ({names})")
        return list(DEFAULTS["allocation_order"])
    return [str(b) for b in order]


def _bands(raw: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        errors["discount_bands"] = "informe ao menos uma faixa de atraso"
        return []
    out = []
    for i, band in enumerate(raw):
        try:
            low = int(band["min_days"])
            high = None if band.get("max_days") in (None, "") else int(band["max_days"])
            limits = {}
            for b in BUCKETS:
                value = Decimal(str(band.get(b, "0")).replace(",", "."))
                if not value.is_finite() or not 0 <= value <= 100:
                    raise ValueError
                limits[b] = str(value)
        except (KeyError, ValueError, TypeError, InvalidOperation):
            errors["discount_bands"] = (f"faixa {i + 1}: informe dias (início e fim) e descontos"
                                        " de 0 a 100%")
            return []
        if high is not None and high < low:
            errors["discount_bands"] = f"faixa {i + 1}: o fim é menor que o início"
            return []
        out.append({"min_days": low, "max_days": high, **limits})
    return sorted(out, key=lambda b: b["min_days"])


async def read_policy(principal: Principal, tenant_id: uuid.UUID) -> dict[str, Any]:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return as_dict(await policy_for(session, checked))


async def save_policy(principal: Principal, tenant_id: uuid.UUID,
                      values: dict[str, Any]) -> dict[str, Any]:
    async with transaction(principal) as session:
        checked: TenantId = await access_tenant(session, principal, tenant_id)
        if principal.role not in EDITING_ROLES:
            raise Forbidden("seu perfil não pode alterar a política de negociação")
        clean = validate(values)
        current = (await session.execute(select(NegotiationPolicy).where(
            NegotiationPolicy.tenant_id == checked).with_for_update())).scalar_one_or_none()
        before = as_dict(current) if current else None
        if current is None:
            current = NegotiationPolicy(tenant_id=checked, id=uuid7(), **clean)
            session.add(current)
        else:
            for k, v in clean.items():
                setattr(current, k, v)
            current.updated_at = dt.datetime.now(dt.UTC)
        current.updated_by = None if principal.is_system else principal.user_id
        await session.flush()
        after = as_dict(current)
        await audit.record(session, principal.actor, "negotiation_policy.saved",
                           tenant_id=checked, entity="negotiation_policy", entity_id=current.id,
                           before=before, after=after)
        return after
