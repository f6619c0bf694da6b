"""Portfolio intake as the API, pages and CLI use it: uploads, imports, reports, recalls."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NewType

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId, access_tenant, tenant_of, transaction
from core.auth.principal import Principal
from core.db import Scope
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import uuid7
from core.jobs import enqueue_after_commit
from core.models import (
    PLACED,
    ColumnLayout,
    Debt,
    DebtStatus,
    ImportMode,
    Portfolio,
    PortfolioStatus,
    Tenant,
)
from core.runtime import get_storage
from core.settings import get_settings
from core.storage_keys import acknowledgement_key, upload_key
from tenants.intake import limits
from tenants.intake.formats import confined, reader
from tenants.intake.pipeline import run_import, sha256_of

DEFAULT_PLACEMENT_DAYS = 180


def parse_mode(value: str | None) -> ImportMode:
    try:
        return ImportMode(value or ImportMode.INCREMENTAL)
    except ValueError:
        raise ValidationFailed(
            {"mode": "use incremental, full, settlement ou recall"}
        ) from None


async def create_upload(
    session: AsyncSession, actor: audit.Actor, tenant_id: TenantId, file_name: str, *,
    file_size: int | None = None, mode: str | None = None, layout_name: str | None = None,
    mapping: dict[str, Any] | None = None, sheet: str | None = None,
    placement_days: int | None = None,
) -> Portfolio:
    """A portfolio waiting for its file; the caller uploads to `file_key` (presigned PUT of
    exactly `file_size` bytes, which must be within the tenant's limit)."""
    if not file_name.strip():
        raise ValidationFailed({"file_name": "informe o nome do arquivo"})
    if file_size is not None:
        refusal = reader.too_large(file_size, await tenant_limits(session, tenant_id))
        if refusal:
            raise ValidationFailed({"file_size": refusal})
    parsed_mode = parse_mode(mode)
    if layout_name and mapping is None:
        layout = await get_layout(session, tenant_id, layout_name)
        mapping, sheet = layout.mapping, sheet or layout.sheet
    portfolio_id = uuid7()
    portfolio = Portfolio(
        tenant_id=tenant_id, id=portfolio_id, file_name=file_name.strip()[:255],
        file_key=upload_key(tenant_id, portfolio_id, file_name), mode=parsed_mode,
        status=PortfolioStatus.UPLOADING, layout_name=layout_name, mapping=mapping, sheet=sheet,
        placement_days=placement_days or DEFAULT_PLACEMENT_DAYS, uploaded_by=actor.id,
    )
    session.add(portfolio)
    await session.flush()
    await audit.record(session, actor, "portfolio.upload_created", tenant_id=tenant_id,
                       entity="portfolio", entity_id=portfolio_id,
                       after={"file_name": file_name, "mode": parsed_mode})
    return portfolio


# Minutes a browser has to start its upload; the URL also works once only.
UPLOAD_URL_SECONDS = 10 * 60


def upload_url(portfolio: Portfolio, size: int) -> str:
    return get_storage().presigned_upload_url(portfolio.file_key, size, UPLOAD_URL_SECONDS)


async def start_import(session: AsyncSession, actor: audit.Actor,
                       portfolio_id: uuid.UUID, *, mapping: dict[str, Any] | None = None,
                       sheet: str | None = None) -> Portfolio:
    """Queue the import of an uploaded file (the job runs after this transaction commits)."""
    portfolio = await get_portfolio(session, portfolio_id, for_update=True)
    if portfolio.status != PortfolioStatus.UPLOADING:
        raise Conflict({"status": f"a importação já foi iniciada ({portfolio.status})"})
    if mapping is not None:
        portfolio.mapping = mapping
    if sheet is not None:
        portfolio.sheet = sheet
    portfolio.status = PortfolioStatus.QUEUED
    portfolio.phase = "queued"
    await audit.record(session, actor, "portfolio.import_started",
                       tenant_id=portfolio.tenant_id, entity="portfolio",
                       entity_id=portfolio.id)
    enqueue_after_commit(session, "intake.import_portfolio", str(portfolio.tenant_id),
                         str(portfolio.id))
    return portfolio


async def import_file(actor: audit.Actor, tenant_id: uuid.UUID, file: Path, *,
                      mode: str | None = None, layout_name: str | None = None,
                      sheet: str | None = None,
                      wait_seconds: float = 4 * 3600) -> Portfolio:
    """Import a file on this machine for a tenant and wait for the outcome: the one entry
    point of the CLI and the demo (the web uploads to S3 and calls `start_import`).

    A file this tenant already imported is recognised by its hash before anything is
    uploaded. With the in-process broker the import runs here while the file goes to S3;
    with a real broker the file is uploaded, the import enqueued, and this waits for a
    worker to finish it (or for `wait_seconds`).
    """
    confined.warm_up()  # its imports run while the file is hashed
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        allowed = await tenant_limits(session, checked)
    try:
        reader.check_size((await asyncio.to_thread(file.stat)).st_size, allowed)
    except reader.FileError as exc:
        raise ValidationFailed({"file": _sentence(str(exc))}) from None
    digest = await asyncio.to_thread(sha256_of, file)
    async with transaction(principal) as session:
        earlier = await _imported_before(session, checked, digest)
        portfolio = await create_upload(session, actor, checked, file.name, mode=mode,
                                        layout_name=layout_name, sheet=sheet)
        if earlier is not None:
            _mark_duplicate(portfolio, earlier, digest)
    if earlier is not None:
        return portfolio
    upload = partial(get_storage().upload_file, portfolio.file_key, str(file))
    if get_settings().embedded_broker:
        # The file goes to S3 while the import reads it here, and the import waits for
        # the upload before it commits: a placed portfolio always has its file.
        with ThreadPoolExecutor(1, thread_name_prefix="portfolio-upload") as pool:
            uploaded = pool.submit(upload)
            await asyncio.to_thread(run_import, tenant_id, portfolio.id, file, digest,
                                    uploaded.result)
    else:
        await asyncio.to_thread(upload)
        async with transaction(principal) as session:
            fresh = await get_portfolio(session, portfolio.id, for_update=True)
            fresh.status, fresh.phase = PortfolioStatus.QUEUED, "queued"
            enqueue_after_commit(session, "intake.import_portfolio", str(tenant_id),
                                 str(fresh.id))
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        async with transaction(principal) as session:
            portfolio = await get_portfolio(session, portfolio.id)
        if portfolio.status not in (PortfolioStatus.QUEUED, PortfolioStatus.RUNNING):
            return portfolio
        if asyncio.get_running_loop().time() > deadline:
            return portfolio
        await asyncio.sleep(1)


async def _imported_before(session: AsyncSession, tenant_id: uuid.UUID,
                           digest: str) -> uuid.UUID | None:
    """The tenant's import of the file with this SHA-256, if one is done or under way."""
    return (await session.execute(
        select(Portfolio.id).where(
            Portfolio.tenant_id == tenant_id, Portfolio.file_sha256 == digest,
            Portfolio.status.in_((PortfolioStatus.QUEUED, PortfolioStatus.RUNNING,
                                  PortfolioStatus.DONE)))
        .order_by(Portfolio.created_at).limit(1)
    )).scalar_one_or_none()


def _mark_duplicate(portfolio: Portfolio, earlier: uuid.UUID, digest: str) -> None:
    """The same file again changes nothing: the portfolio ends at once, naming the first."""
    portfolio.status, portfolio.phase = PortfolioStatus.DUPLICATE, "done"
    portfolio.duplicate_of, portfolio.file_sha256 = earlier, digest
    portfolio.finished_at = dt.datetime.now(dt.UTC)


# Uploads whose file never came (the browser closed, the upload failed) expire after
# ABANDON_AFTER; a file refused on arrival (empty, not a spreadsheet) ends at once. Both
# end as FAILED with one of these phases, and the history shows them apart from imports.
ABANDON_AFTER = dt.timedelta(hours=24)
ABANDONED, REFUSED = "abandoned", "refused"
SYSTEM = audit.Actor(id=None, email="system")


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


async def receive_upload(principal: Principal, portfolio_id: uuid.UUID) -> Portfolio:
    """The browser has put the file in S3: refuse it at once if it is empty or not a
    spreadsheet, and recognise by its SHA-256 a file this tenant imported before (the
    portfolio ends as a duplicate naming the first), all before any column matching."""
    storage, actor = get_storage(), principal.actor
    async with transaction(principal) as session:
        checked = await access_portfolio(session, principal, portfolio_id)
        portfolio = await get_portfolio(session, checked)
        allowed = await tenant_limits(session, portfolio.tenant_id)
    if portfolio.status != PortfolioStatus.UPLOADING:
        raise Conflict({"status": f"o arquivo já foi recebido ({portfolio.status})"})
    try:
        size = await asyncio.to_thread(storage.size, portfolio.file_key)
    except Exception as exc:  # no object: the PUT never arrived
        raise ValidationFailed({"file": "o arquivo não chegou ao armazenamento; envie-o de"
                                        " novo"}) from exc
    refusal = None
    digest = None
    try:
        reader.check_size(size, allowed)
    except reader.FileError as exc:
        refusal = str(exc)
    if refusal is None:
        digest = await asyncio.to_thread(_sha256_of_object, portfolio.file_key)
        try:
            await asyncio.to_thread(preview, portfolio, None, allowed)
        except ValidationFailed as exc:
            refusal = ("; ".join(exc.detail.values()) if isinstance(exc.detail, dict)
                       else exc.detail)
    async with transaction(principal) as session:
        portfolio = await get_portfolio(session, checked, for_update=True)
        if refusal is not None:
            _end_upload(portfolio, REFUSED, f"recusado: {refusal}")
            await audit.record(session, actor, "portfolio.upload_refused",
                               tenant_id=portfolio.tenant_id, entity="portfolio",
                               entity_id=portfolio.id, after={"error": portfolio.error})
        else:
            assert digest is not None
            portfolio.file_size = portfolio.bytes_total = size
            earlier = await _imported_before(session, portfolio.tenant_id, digest)
            if earlier is not None:
                _mark_duplicate(portfolio, earlier, digest)
                await audit.record(session, actor, "portfolio.duplicate",
                                   tenant_id=portfolio.tenant_id, entity="portfolio",
                                   entity_id=portfolio.id, after={"duplicate_of": str(earlier)})
            else:
                portfolio.file_sha256 = digest
    if refusal is not None:
        raise ValidationFailed({"file": _sentence(refusal)})
    return portfolio


def _sha256_of_object(key: str) -> str:
    digest = hashlib.sha256()
    for chunk in get_storage().stream(key):
        digest.update(chunk)
    return digest.hexdigest()


def _end_upload(portfolio: Portfolio, phase: str, error: str) -> None:
    portfolio.status, portfolio.phase, portfolio.error = PortfolioStatus.FAILED, phase, error
    portfolio.finished_at = dt.datetime.now(dt.UTC)


def never_started(portfolio: Portfolio) -> bool:
    """An upload whose import never began: waiting for its file, abandoned or refused."""
    return portfolio.status == PortfolioStatus.UPLOADING or portfolio.phase in (ABANDONED,
                                                                                REFUSED)


async def expire_uploads(session: AsyncSession, tenant_id: uuid.UUID,
                         now: dt.datetime) -> int:
    """End the tenant's uploads whose file has not come in ABANDON_AFTER."""
    stale = list((await session.execute(
        select(Portfolio).where(Portfolio.tenant_id == tenant_id,
                                Portfolio.status == PortfolioStatus.UPLOADING,
                                Portfolio.created_at < now - ABANDON_AFTER)
        .with_for_update(skip_locked=True))).scalars())
    for portfolio in stale:
        _end_upload(portfolio, ABANDONED,
                    "envio abandonado: o arquivo não chegou em 24 horas")
        await audit.record(session, SYSTEM, "portfolio.upload_abandoned", tenant_id=tenant_id,
                           entity="portfolio", entity_id=portfolio.id)
    return len(stale)


@dataclass
class History:
    """The portfolio page's history: imports, and apart, uploads that never started."""

    imports: list[Portfolio]
    never_started: list[Portfolio]
    # When each earlier import named by a duplicate was made.
    earlier: dict[uuid.UUID, dt.datetime]


async def history(session: AsyncSession, limit: int = 100) -> History:
    portfolios = await list_portfolios(session, limit=limit)
    named = {p.duplicate_of for p in portfolios if p.duplicate_of}
    earlier: dict[uuid.UUID, dt.datetime] = {}
    if named:
        rows = await session.execute(
            select(Portfolio.id, Portfolio.created_at).where(Portfolio.id.in_(named)))
        earlier = {pid: created for pid, created in rows}
    return History([p for p in portfolios if not never_started(p)],
                   [p for p in portfolios if never_started(p)], earlier)


PortfolioId = NewType("PortfolioId", uuid.UUID)


async def access_portfolio(session: AsyncSession, principal: Principal,
                           portfolio_id: uuid.UUID) -> PortfolioId:
    """The house access helper for portfolios: "carteira não encontrada" for a missing
    portfolio and for another tenant's alike."""
    await tenant_of(session, Portfolio, portfolio_id, principal, "carteira")
    return PortfolioId(portfolio_id)


async def get_portfolio(session: AsyncSession, portfolio_id: uuid.UUID, *,
                        for_update: bool = False) -> Portfolio:
    stmt = select(Portfolio).where(Portfolio.id == portfolio_id)
    if for_update:
        stmt = stmt.with_for_update()
    portfolio = (await session.execute(stmt)).scalar_one_or_none()
    if portfolio is None:
        raise NotFound("carteira")
    return portfolio


async def list_portfolios(session: AsyncSession, tenant_id: uuid.UUID | None = None,
                          limit: int = 100) -> list[Portfolio]:
    stmt = select(Portfolio).order_by(Portfolio.created_at.desc()).limit(limit)
    if tenant_id is not None:
        stmt = stmt.where(Portfolio.tenant_id == tenant_id)
    return list((await session.execute(stmt)).scalars())


REPORT_LABELS = {"errors": "erros", "warnings": "avisos", "return": "devolucao",
                 "acknowledgement": "recibo"}


def read_report(portfolio: Portfolio, kind: str) -> bytes:
    key = {"errors": portfolio.error_report_key, "warnings": portfolio.warning_report_key,
           "return": portfolio.return_report_key,
           "acknowledgement": acknowledgement_key(portfolio.tenant_id, portfolio.id)
           if portfolio.status == PortfolioStatus.DONE else None}.get(kind)
    if key is None:
        raise NotFound("relatório")
    return get_storage().get(key)


PREVIEW_BYTES = 256 * 1024


def preview(portfolio: Portfolio, mapping: dict[str, Any] | None,
            tenant_limits: limits.Limits) -> dict[str, Any]:
    """The uploaded file's shape, the suggested column mapping and its first rows, read
    under the tenant's limits in a process of its own (`confined`), as the import reads."""
    import tempfile
    from pathlib import Path

    from tenants.intake.formats import parsing
    from tenants.intake.rules import columns

    storage = get_storage()
    with tempfile.TemporaryDirectory(prefix="regua-preview-") as tmp:
        path = Path(tmp) / "head"
        try:
            size = storage.size(portfolio.file_key)
            head = storage.client.get_object(
                Bucket=storage.bucket, Key=portfolio.file_key,
                Range=f"bytes=0-{PREVIEW_BYTES - 1}")["Body"].read() if size else b""
        except Exception as exc:
            raise NotFound("arquivo enviado") from exc
        try:
            reader.check_size(size, tenant_limits)
            path.write_bytes(head)
            if reader.is_spreadsheet(path):  # a zip's directory is at its end
                storage.download_file(portfolio.file_key, str(path))
            else:
                # Keep whole records only: the last line of the sample may be cut.
                path.write_bytes(head[: head.rfind(b"\n") + 1] or head)
            fmt = confined.sniff(path, portfolio.sheet, tenant_limits)
        except (reader.FileError, parsing.FileError) as exc:
            raise ValidationFailed({"file": str(exc)}) from exc
        mode = parse_mode(portfolio.mode)
        chosen = mapping if mapping is not None else portfolio.mapping
        matched = columns.match_headers(fmt.headers, chosen, mode, strict=False)
    return {
        "format": {"kind": fmt.kind, "encoding": fmt.encoding, "delimiter": fmt.delimiter,
                   "sheet": fmt.sheet, "sheets": fmt.sheets, "description": fmt.description,
                   "header_row": fmt.header_row},
        "headers": fmt.headers,
        "mapping": matched.as_layout(),
        "missing": [f.label for f in matched.missing],
        # A phone column (header) and the column with its DDD, joined by the import.
        "area_codes": {fmt.headers[p]: fmt.headers[d] for p, d in matched.area_codes.items()},
        "fields": [{"name": f.name, "label": f.label, "required": f.required,
                    "multiple": f.multiple} for f in columns.fields_for(mode)],
        "rows": fmt.head,
    }


async def open_debt_figures(session: AsyncSession) -> dict[uuid.UUID, dict[str, Any]]:
    """Per visible tenant: open debts, their balance and debtors (RLS limits the rows)."""
    rows = await session.execute(
        select(Debt.tenant_id, func.count(), func.coalesce(func.sum(Debt.current_balance), 0),
               func.count(func.distinct(Debt.debtor_id)))
        .where(Debt.status == DebtStatus.OPEN).group_by(Debt.tenant_id)
    )
    return {tenant: {"debts": debts, "balance": balance, "debtors": debtors}
            for tenant, debts, balance, debtors in rows}


# ---- a tenant's limits on files ----------------------------------------------------------

async def stored_limits(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    """The tenant's overrides as kept (RLS: only a tenant the session may see)."""
    value: dict[str, Any] | None = (await session.execute(
        select(Tenant.intake_limits).where(Tenant.id == tenant_id))).scalar_one_or_none()
    return value


async def tenant_limits(session: AsyncSession, tenant_id: uuid.UUID) -> limits.Limits:
    return limits.effective(await stored_limits(session, tenant_id))


async def set_tenant_limits(session: AsyncSession, principal: Principal,
                            tenant_id: TenantId, raw: Any) -> dict[str, Any]:
    """Replace the tenant's overrides (an empty object: back to the defaults), audited."""
    overrides = limits.parse(raw)
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update())).scalar_one()
    before = tenant.intake_limits
    tenant.intake_limits = overrides or None
    await session.flush()
    await audit.record(session, principal.actor, "tenant.intake_limits_set",
                       tenant_id=tenant.id, entity="tenant", entity_id=tenant.id,
                       before={"intake_limits": before}, after={"intake_limits": overrides})
    return limits.described(overrides)


# ---- layouts ---------------------------------------------------------------------------
# A tenant names its layouts: each is reached by name within a tenant that passed
# `access_tenant` (a `TenantId`), so another tenant's layout is never in reach.

async def get_layout(session: AsyncSession, tenant_id: TenantId, name: str) -> ColumnLayout:
    layout = (await session.execute(
        select(ColumnLayout).where(ColumnLayout.tenant_id == tenant_id,
                                   ColumnLayout.name == name)
    )).scalar_one_or_none()
    if layout is None:
        raise NotFound(f"layout {name!r}")
    return layout


async def list_layouts(session: AsyncSession, tenant_id: TenantId) -> list[ColumnLayout]:
    return list((await session.execute(
        select(ColumnLayout).where(ColumnLayout.tenant_id == tenant_id)
        .order_by(ColumnLayout.name)
    )).scalars())


async def save_layout(session: AsyncSession, actor: audit.Actor, tenant_id: TenantId,
                      name: str, mapping: dict[str, Any], *, mode: str | None = None,
                      sheet: str | None = None) -> ColumnLayout:
    from tenants.intake.rules.columns import validate_mapping

    if not name.strip():
        raise ValidationFailed({"name": "informe um nome para o layout"})
    validate_mapping(mapping, parse_mode(mode))
    layout = (await session.execute(
        select(ColumnLayout).where(ColumnLayout.tenant_id == tenant_id,
                                   ColumnLayout.name == name.strip())
    )).scalar_one_or_none()
    before = dict(layout.mapping) if layout else None
    if layout is None:
        layout = ColumnLayout(tenant_id=tenant_id, id=uuid7(), name=name.strip(),
                              mapping=mapping, mode=parse_mode(mode), sheet=sheet)
        session.add(layout)
    else:
        layout.mapping, layout.sheet = mapping, sheet
        layout.mode = parse_mode(mode)
    await session.flush()
    await audit.record(session, actor, "layout.saved", tenant_id=tenant_id, entity="layout",
                       entity_id=layout.id, before=before, after=mapping)
    return layout


# ---- placement lifecycle ----------------------------------------------------------------

async def recall_debts(session: AsyncSession, actor: audit.Actor, tenant_id: TenantId,
                       items: list[tuple[str, int]]) -> dict[str, Any]:
    """The creditor takes debts back: they close as recalled; the rest is reported."""
    closed, missing = [], []
    for contract, installment in items:
        debt = (await session.execute(
            select(Debt).where(Debt.tenant_id == tenant_id, Debt.contract == contract,
                               Debt.installment == installment).with_for_update()
        )).scalar_one_or_none()
        if debt is None or debt.status not in PLACED:
            missing.append({"contract": contract, "installment": installment,
                            "reason": "não encontrado" if debt is None
                            else f"já encerrado ({debt.status})"})
            continue
        debt.status = DebtStatus.RECALLED
        debt.status_reason = "recolhida pelo credor"
        debt.closed_at = dt.datetime.now(dt.UTC)
        closed.append({"contract": contract, "installment": installment})
    await audit.record(session, actor, "debt.recalled", tenant_id=tenant_id, entity="debt",
                       after={"closed": closed, "not_closed": missing})
    return {"closed": closed, "not_closed": missing}


async def expire_placements(session: AsyncSession, tenant_id: uuid.UUID,
                            today: dt.date) -> list[uuid.UUID]:
    """Close as returned every open debt whose placement term ended; return their ids."""
    result = await session.execute(
        update(Debt)
        .where(Debt.tenant_id == tenant_id, Debt.status == DebtStatus.OPEN,
               Debt.placed_until < today)
        .values(status=DebtStatus.RETURNED, status_reason="prazo de colocação encerrado",
                closed_at=dt.datetime.now(dt.UTC))
        .returning(Debt.id)
    )
    return [r[0] for r in result]
