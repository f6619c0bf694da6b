"""The agency's fee contract with each creditor.

- Commission: a percentage of what is recovered from each balance bucket (principal,
  correction, interest, fine, fees), by the band of days the debt was overdue when it was
  placed. A bucket a band does not name earns nothing. Until a tenant's contract is
  saved, every bucket of every debt earns `DEFAULT_PCT`.
- Whether payments made directly to the creditor (its settlement files) earn commission.
- Optionally a collection fee charged to the debtor: a percentage added to the updated
  balance (`legal.updating`, its own line in the memória de cálculo). None: the
  creditor's contract with its debtors does not allow it.

The monthly statement (`legal.statement`) applies the commission; the simulator applies
the debtor fee. Only the agency's admin sets a contract (the page, `regua fees set`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import Forbidden, ValidationFailed
from core.ids import uuid7
from core.models import Bucket
from core.models.ledger import BUCKET_LABELS
from legal.payment_models import FeeBand, FeeContract

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
DEFAULT_PCT = Decimal("10")  # commission when a tenant has no contract yet
BUCKETS = [b.value for b in Bucket]
EDITING_ROLES = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Band:
    min_days: int
    max_days: int | None
    bucket: Bucket
    pct: Decimal


@dataclass(frozen=True)
class Contract:
    bands: tuple[Band, ...]
    debtor_fee_pct: Decimal | None
    direct_payments_earn: bool
    default: bool = False

    def pct(self, bucket: Bucket, days_overdue: int) -> Decimal:
        for band in self.bands:
            if band.bucket == bucket and band.min_days <= days_overdue and (
                    band.max_days is None or days_overdue <= band.max_days):
                return band.pct
        return ZERO


DEFAULT_CONTRACT = Contract(tuple(Band(0, None, b, DEFAULT_PCT) for b in Bucket), None, False,
                            default=True)


async def contract_of(session: AsyncSession, tenant_id: uuid.UUID) -> Contract:
    row = (await session.execute(select(FeeContract).where(
        FeeContract.tenant_id == tenant_id))).scalar_one_or_none()
    if row is None:
        return DEFAULT_CONTRACT
    bands = (await session.execute(select(FeeBand).where(FeeBand.tenant_id == tenant_id)
                                   .order_by(FeeBand.min_days, FeeBand.bucket))).scalars()
    return Contract(tuple(Band(b.min_days, b.max_days, Bucket(b.bucket), b.commission_pct)
                          for b in bands), row.debtor_fee_pct, row.direct_payments_earn)


def _check(contract: Contract) -> None:
    errors: dict[str, str] = {}
    for band in contract.bands:
        if not ZERO <= band.pct <= HUNDRED:
            errors["bands"] = "percentual de comissão deve estar entre 0 e 100"
        if band.min_days < 0 or (band.max_days is not None and band.max_days < band.min_days):
            errors["bands"] = (f"faixa de {band.min_days} a {band.max_days} dias inválida: o fim"
                               " é menor que o início")
    overlaps = []
    for bucket in Bucket:
        ranges = sorted((b.min_days, b.max_days) for b in contract.bands if b.bucket == bucket)
        for (low, high), (next_low, _) in itertools.pairwise(ranges):
            if high is None or next_low <= high:
                overlaps.append(f"{BUCKET_LABELS[bucket]} (a faixa que começa em {low} dias e a"
                                f" que começa em {next_low} dias)")
                break
    if overlaps:
        errors["bands"] = "faixas sobrepostas para " + "; ".join(overlaps)
    if contract.debtor_fee_pct is not None and not ZERO <= contract.debtor_fee_pct <= HUNDRED:
        errors["debtor_fee_pct"] = "percentual de honorários deve estar entre 0 e 100"
    if errors:
        raise ValidationFailed(errors)


async def set_contract(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                       contract: Contract) -> None:
    """Replace a tenant's fee contract (callers check the role; see `save`)."""
    _check(contract)
    row = (await session.execute(select(FeeContract).where(
        FeeContract.tenant_id == tenant_id).with_for_update())).scalar_one_or_none()
    before = None
    if row is None:
        row = FeeContract(tenant_id=tenant_id, id=uuid7())
        session.add(row)
    else:
        before = as_dict(await contract_of(session, tenant_id))
    row.debtor_fee_pct, row.direct_payments_earn = (contract.debtor_fee_pct,
                                                    contract.direct_payments_earn)
    row.updated_by = None if principal.is_system else principal.user_id
    row.updated_at = dt.datetime.now(dt.UTC)
    await session.execute(delete(FeeBand).where(FeeBand.tenant_id == tenant_id))
    session.add_all([FeeBand(tenant_id=tenant_id, id=uuid7(), min_days=b.min_days,
                             max_days=b.max_days, bucket=b.bucket, commission_pct=b.pct)
                     for b in contract.bands])
    await session.flush()
    await audit.record(session, principal.actor, "fee_contract.saved", tenant_id=tenant_id,
                       entity="fee_contract", entity_id=row.id, before=before,
                       after=as_dict(contract))


# ---- the contract as the page and the CLI read and write it ---------------------------

def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"  # 10.0000 reads "10", 2.5000 reads "2.5"


def as_dict(contract: Contract) -> dict[str, Any]:
    """`bands` as rows by days overdue, each with the percentage of the buckets it names
    (None where it names none: that bucket's commission comes from another row)."""
    rows: dict[tuple[int, int | None], dict[str, Any]] = {}
    for band in contract.bands:
        row = rows.setdefault((band.min_days, band.max_days), {
            "min_days": band.min_days, "max_days": band.max_days,
            **dict.fromkeys(BUCKETS)})
        row[band.bucket.value] = _text(band.pct)
    return {"default": contract.default,
            "debtor_fee_pct": (None if contract.debtor_fee_pct is None
                               else _text(contract.debtor_fee_pct)),
            "direct_payments_earn": contract.direct_payments_earn,
            "bands": [rows[k] for k in sorted(rows, key=lambda k: k[0])]}


def _number(raw: Any, what: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{what}: informe um número") from None
    if not value.is_finite():
        raise ValueError(f"{what}: informe um número")
    return value


def from_dict(values: dict[str, Any]) -> Contract:
    """A contract from the shape `as_dict` gives (a form's table, a JSON body, the CLI's
    options), checked; Portuguese errors by field."""
    bands: list[Band] = []
    raw_bands = values.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        raise ValidationFailed({"bands": "informe ao menos uma faixa de atraso"})
    for i, row in enumerate(raw_bands, 1):
        try:
            low = int(str(row.get("min_days", "")).strip())
            top = row.get("max_days")
            high = None if top in (None, "") else int(str(top).strip())
        except (ValueError, TypeError, AttributeError):
            raise ValidationFailed({"bands": f"faixa {i}: informe os dias (início e fim)"
                                             " em números inteiros"}) from None
        named = [b for b in Bucket if row.get(b.value) not in (None, "")]
        if not named:
            raise ValidationFailed({"bands": f"faixa {i}: informe a comissão de ao menos um"
                                             " componente"})
        for bucket in named:
            try:
                bands.append(Band(low, high, bucket, _number(row[bucket.value],
                                                             BUCKET_LABELS[bucket])))
            except ValueError as exc:
                raise ValidationFailed({"bands": f"faixa {i}, {exc}"}) from None
    fee = values.get("debtor_fee_pct")
    try:
        debtor_fee = None if fee in (None, "") else _number(fee, "honorários do devedor")
    except ValueError as exc:
        raise ValidationFailed({"debtor_fee_pct": str(exc)}) from None
    earns = values.get("direct_payments_earn", False) in (True, "on", "true", "1", "sim")
    contract = Contract(tuple(bands), debtor_fee, earns)
    _check(contract)
    return contract


def band_from_text(text: str) -> dict[str, Any]:
    """A band written "DE-ATÉ:componente=pct,..." (the CLI's `--band`): "0-180:principal=10,
    interest=30", "181-:principal=20" (no end: open). Components by their code (principal,
    correction, interest, fine, fees)."""
    days, sep, rates = text.partition(":")
    low, dash, high = days.partition("-")
    if not sep or not dash or not low.strip().isdigit() or not (
            high.strip() == "" or high.strip().isdigit()):
        raise ValidationFailed({"bands": f"faixa '{text}': use DE-ATÉ:componente=pct,..."
                                          " (ex.: 0-180:principal=10,interest=30)"})
    row: dict[str, Any] = {"min_days": low.strip(), "max_days": high.strip() or None}
    for part in rates.split(","):
        name, eq, value = part.partition("=")
        if not eq or name.strip() not in BUCKETS:
            raise ValidationFailed({"bands": f"faixa '{text}': componente '{name.strip()}'"
                                              f" desconhecido (use {', '.join(BUCKETS)})"})
        row[name.strip()] = value.strip()
    return row


async def read(principal: Principal, tenant_id: uuid.UUID) -> dict[str, Any]:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        _may_edit(principal)
        return as_dict(await contract_of(session, checked))


async def save(principal: Principal, tenant_id: uuid.UUID,
               values: dict[str, Any]) -> dict[str, Any]:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        _may_edit(principal)
        contract = from_dict(values)
        await set_contract(session, principal, checked, contract)
        return as_dict(contract)


def _may_edit(principal: Principal) -> None:
    if principal.role not in EDITING_ROLES:
        raise Forbidden("só o administrador da assessoria define o contrato de honorários")
