"""Protest through the CRA: the day's remessa, reading confirmações and retornos, and the
desistência or the creditor's authorisation to cancel once a debt at the cartório is paid
or taken back by the creditor.

Every state change goes through `legal.escalation.journal.move`; every file sent or read
is kept in S3 (`core.storage_keys.protest_file_key`) with a `protest_file` row and a
`protest_item` per title. What the page of an escalation shows of its protest is
`escalation_protest`; `list_files` and `read_file` serve the downloads.

A title's protest facts live in `escalation.details["protest"]`: its nosso número,
species, praça, the cartório's code and protocol, the last occurrence, costs, the reasons
it could not be sent yet, and the cancellation (kind, file, payment date, deadline).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, NewType
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtId, TenantId, tenant_of, transaction
from core.addresses import UF_CODES
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import ledger
from core.compliance.business_days import add_business_days
from core.db import Scope
from core.documents import is_valid_cnpj, is_valid_cpf
from core.errors import Forbidden
from core.ids import uuid7
from core.models import (
    DEBT_STATUS_LABELS,
    Bucket,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debt,
    Debtor,
    DebtStatus,
    Payment,
    PaymentSource,
    Tenant,
)
from core.runtime import get_storage
from core.settings import Settings, get_settings
from core.storage import Storage
from core.storage_keys import protest_file_key
from legal.escalation import journal
from legal.escalation.journal import EscalationId
from legal.escalation.models import (
    STATE_LABELS,
    Escalation,
    EscalationPath,
    EscalationState,
)
from legal.protest import layout, municipalities
from legal.protest.codes import IRREGULARITIES, OCCURRENCES, SPECIES
from legal.protest.models import (
    FILE_KIND_LABELS,
    OUR_NUMBER_SEQUENCE,
    REMESSA_SEQUENCE,
    ProtestFile,
    ProtestFileKind,
    ProtestItem,
)

log = logging.getLogger("regua.protest")
ZERO = Decimal("0.00")
S = EscalationState

# Who reads protest files: the legal team, supervisors and admins; a creditor's staff
# read their own tenant's (the access helper and row-level security see to "own").
READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEGAL, Role.CREDITOR_ADMIN,
                     Role.CREDITOR_VIEWER})
# Business days the creditor has to authorise the cancellation once paid: STJ Súmula 548
# sets 5 for removing a bureau listing; Régua applies the same term to the anuência.
CANCELLATION_DAYS = 5

ProtestFileId = NewType("ProtestFileId", uuid.UUID)


def _may_read(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("seu perfil não tem acesso aos arquivos de protesto")


async def access_protest_file(session: AsyncSession, principal: Principal,
                              file_id: uuid.UUID) -> ProtestFileId:
    _may_read(principal)
    await tenant_of(session, ProtestFile, file_id, principal, "arquivo de protesto")
    return ProtestFileId(file_id)


def presenter(settings: Settings) -> layout.Presenter:
    return layout.Presenter(settings.cra_presenter_code,
                            settings.cra_presenter_name or settings.agency_name)


def file_name(prefix: str, code: str, day: dt.date, sequence: int) -> str:
    """The layout's names: BCCCDDMM.AAS (remessa), DPCCCDDMM.AAS, ACCCCDDMM.AAS. S is a
    digit 1 to 9, the layout's limit of files a day; it cycles through the agency's
    continuous sequence."""
    return f"{prefix}{code}{day:%d%m}.{day:%y}{(sequence - 1) % 9 + 1}"


def _protest(escalation: Escalation) -> dict[str, Any]:
    return dict((escalation.details or {}).get("protest") or {})


def _remember(escalation: Escalation, **changes: Any) -> None:
    """Merge `changes` into details["protest"] (a new dict: JSONB changes by assignment)."""
    merged = {**_protest(escalation), **changes}
    escalation.details = {**(escalation.details or {}), "protest": merged}


async def _lock(session: AsyncSession, key: str) -> None:
    # Two runs for one tenant (a retried job, an operator) wait for each other.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": key})


async def _next(session: AsyncSession, sequence: str) -> int:
    return int((await session.execute(text(f"SELECT nextval('{sequence}')"))).scalar_one())


def _put(storage: Storage, key: str, body: bytes) -> None:
    storage.put(key, body, content_type="text/plain; charset=us-ascii")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _maybe_money(value: Decimal | None) -> str | None:
    return None if value is None else _money(value)


# ---- fitness: what the layout needs of a title ---------------------------------------

def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", layout.ascii_upper(key).lower())


SPECIES_KEYS = {"especie", "especiedotitulo", "especietitulo", "especiedocumento"}
ISSUE_KEYS = {"emissao", "dataemissao", "datadeemissao", "dtemissao", "dataemissaotitulo",
              "datadeemissaodotitulo"}


def _extra(debt: Debt, keys: set[str]) -> str | None:
    for key, value in (debt.extra or {}).items():
        if _norm(key) in keys and value not in (None, ""):
            return str(value).strip()
    return None


def _issue_date(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(raw[:10], pattern).date()
        except ValueError:
            continue
    return None


def _title_number(debt: Debt) -> tuple[str, str | None]:
    """Contract/installment in the layout's 11 positions; a longer one keeps the
    installment and the contract's last characters, and says so."""
    suffix = f"/{debt.installment}"
    full = layout.ascii_upper(debt.contract).strip() + suffix
    if len(full) <= 11:
        return full, None
    short = layout.ascii_upper(debt.contract).strip()[-(11 - len(suffix)):] + suffix
    return short, f"número do título abreviado de {full} para {short} (11 posições)"


@dataclass
class Fitness:
    title: layout.Title | None = None
    reasons: list[str] = field(default_factory=list)  # why it cannot go today (stays queued)
    final: tuple[EscalationState, str] | None = None  # it never can: to this state, why
    warnings: list[str] = field(default_factory=list)


def _address(points: list[ContactPoint]) -> dict[str, str] | None:
    usable = [p for p in points if p.quality not in (ContactQuality.INVALID,
                                                     ContactQuality.WRONG_PARTY)]
    for point in sorted(usable, key=lambda p: p.created_at, reverse=True):
        details = point.details or {}
        if details.get("street") or details.get("zip"):
            return {k: str(details.get(k) or "").strip()
                    for k in ("street", "district", "city", "state", "zip")}
    return None


def check(escalation: Escalation, debt: Debt, debtor: Debtor, tenant: Tenant,
          points: list[ContactPoint], principal_balance: Decimal, day: dt.date,
          settings: Settings) -> Fitness:
    """Whether a queued title can go in today's remessa, and its transaction if so."""
    out = Fitness()
    if debt.status != DebtStatus.OPEN:
        status = DEBT_STATUS_LABELS.get(DebtStatus(debt.status), debt.status)
        out.final = (S.CANCELLED, f"o título não está mais em aberto ({status}): não vai a"
                                  " protesto")
        return out
    if debtor.deceased_on is not None:
        out.final = (S.RETURNED, "devedor falecido (irregularidade 59 do layout): não vai a"
                                 " protesto")
        return out
    document = debtor.document
    if debtor.document_kind == "cpf":
        kind = "002"
        if not is_valid_cpf(document):
            out.reasons.append(f"CPF do devedor inválido ({document})")
    else:
        kind = "001"
        if not document.isdigit():
            out.final = (S.RETURNED, f"CNPJ alfanumérico {document} não cabe no campo 25 do"
                                     " layout 4.3 (numérico, posições 346–359)")
            return out
        if not is_valid_cnpj(document):
            out.reasons.append(f"CNPJ do devedor inválido ({document})")
    balance = min(principal_balance, debt.original_amount)
    if balance <= 0:
        out.final = (S.RETURNED, "sem saldo do título (principal) a protestar")
        return out
    species = (_protest(escalation).get("species") or _extra(debt, SPECIES_KEYS)
               or settings.protest_default_species)
    species = layout.ascii_upper(species).strip() if species else None
    if not species:
        out.reasons.append("espécie do título não informada (coluna 'espécie' da carteira,"
                           " o escalonamento ou REGUA_PROTEST_DEFAULT_SPECIES)")
    elif species not in SPECIES:
        out.reasons.append(f"espécie '{species}' não consta do Anexo 1 do layout")
    address = _address(points)
    place = None
    if address is None:
        out.reasons.append("devedor sem endereço")
    else:
        if not address["street"]:
            out.reasons.append("endereço do devedor sem logradouro")
        if not re.fullmatch(r"\d{8}", address["zip"]):
            out.reasons.append("endereço do devedor sem CEP de 8 dígitos")
        state = address["state"].upper()
        if state not in UF_CODES:
            out.reasons.append("endereço do devedor sem UF")
        elif not address["city"]:
            out.reasons.append("endereço do devedor sem cidade")
        else:
            place = municipalities.lookup(state, address["city"])
            if place is None:
                out.reasons.append(f"cidade '{address['city']}' não encontrada em {state} na"
                                   " tabela de municípios do IBGE")
    uf = address["state"].upper() if address else None
    earliest = add_business_days(debt.due_date, 1, uf)
    if day < earliest:
        out.reasons.append(f"vencimento em {debt.due_date:%d/%m/%Y}: o layout pede um dia útil"
                           f" após o vencimento (a partir de {earliest:%d/%m/%Y})")
    issued_on = _issue_date(_extra(debt, ISSUE_KEYS))
    if issued_on is None:
        out.warnings.append("data de emissão não informada: campo 14 em zeros")
    elif issued_on > debt.due_date:
        out.reasons.append("data de emissão posterior ao vencimento (irregularidade 20)")
    if out.reasons:
        return out
    assert address is not None and place is not None and species is not None
    number, note = _title_number(debt)
    if note:
        out.warnings.append(note)
    zip_match = re.search(r"\b(\d{5})-?(\d{3})\b", tenant.address or "")
    city_match = re.search(r"([^,\-]+)/([A-Z]{2})\b", tenant.address or "")
    if zip_match is None:
        out.warnings.append("endereço do credor sem CEP: campo 08 em zeros")
    out.title = layout.Title(
        our_number=_protest(escalation).get("our_number", ""), species=species,
        title_number=number, issued_on=issued_on, due_on=debt.due_date,
        amount=debt.original_amount, balance=balance, municipality=place[0], place=place[1],
        assignor_code=tenant.cnpj, creditor_name=tenant.legal_name,
        creditor_document=tenant.cnpj, creditor_address=tenant.address or "",
        creditor_zip="".join(zip_match.groups()) if zip_match else "",
        creditor_city=city_match.group(1).strip() if city_match else "",
        creditor_state=tenant.state, debtor_name=debtor.name, debtor_document_kind=kind,
        debtor_document=document, debtor_address=address["street"],
        debtor_zip=address["zip"], debtor_city=place[1], debtor_state=address["state"].upper(),
        debtor_district=address["district"])
    return out


# ---- the remessa ------------------------------------------------------------------------

@dataclass
class RemessaResult:
    tenant: str
    date: str
    file: str | None = None
    file_id: str | None = None
    storage_key: str | None = None
    reused: bool = False
    titles: int = 0
    total_amount: str = "0.00"
    sent: list[dict[str, Any]] = field(default_factory=list)
    not_sent: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    content: bytes = b""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("content")
        return data


async def _queued(session: AsyncSession) -> list[Escalation]:
    return list((await session.execute(
        select(Escalation).where(
            Escalation.path == EscalationPath.PROTEST, Escalation.state == S.QUEUED,
            Escalation.closed_at.is_(None))
        .order_by(Escalation.decided_at, Escalation.id).with_for_update())).scalars())


async def write_remessa(tenant_id: TenantId, day: dt.date, *,
                        settings: Settings | None = None,
                        storage: Storage | None = None) -> RemessaResult:
    """The tenant's remessa of `day`: every fit queued title, sent. Run again the same
    day, it answers the file already made (the same bytes), and titles queued since wait
    for the next day's. Unfit titles are listed with their reasons and stay queued, or,
    when they never can go (paid, alphanumeric CNPJ, deceased debtor), leave the queue
    with the reason."""
    settings = settings or get_settings()
    storage = storage or get_storage()
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        await _lock(session, f"protest:remessa:{tenant_id}")
        tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))
                  ).scalar_one()
        result = RemessaResult(tenant=tenant.slug, date=day.isoformat())
        existing = (await session.execute(select(ProtestFile).where(
            ProtestFile.kind == ProtestFileKind.REMESSA, ProtestFile.outgoing,
            ProtestFile.movement_on == day))).scalar_one_or_none()
        queued = await _queued(session)
        for escalation in queued:
            if escalation.held_since is not None:
                result.not_sent.append(_not_sent(escalation, [
                    f"em espera desde {escalation.held_since:%d/%m/%Y}"
                    + (f": {escalation.held_reason}" if escalation.held_reason else "")]))
        fit = await _assess(session, principal, tenant,
                            [e for e in queued if e.held_since is None], day, settings, result)
        if existing is not None:
            for escalation, _ in fit:
                result.not_sent.append(_not_sent(escalation, [
                    f"a remessa de {day:%d/%m/%Y} já foi gerada ({existing.name}); o título"
                    " segue na próxima"]))
            result.file, result.file_id = existing.name, str(existing.id)
            result.storage_key, result.reused = existing.storage_key, True
            result.titles, result.total_amount = existing.titles, _money(existing.total_amount)
            result.content = await asyncio.to_thread(storage.get, existing.storage_key)
            return result
        if not fit:
            return result
        for escalation, title in fit:
            if not title.our_number:
                number = f"{await _next(session, OUR_NUMBER_SEQUENCE):012d}"
                _remember(escalation, our_number=number)
        titles = [_with_number(title, escalation) for escalation, title in fit]
        sequence = await _next(session, REMESSA_SEQUENCE)
        who = presenter(settings)
        name = file_name("B", who.code, day, sequence)
        body = layout.encode(layout.remessa(who, day, sequence, titles))
        key = protest_file_key(tenant_id, day, name)
        await asyncio.to_thread(_put, storage, key, body)
        total = sum((t.balance for t in titles), ZERO)
        record = ProtestFile(
            tenant_id=tenant_id, id=uuid7(), kind=ProtestFileKind.REMESSA, outgoing=True,
            movement_on=day, sequence=sequence, name=name, storage_key=key,
            sha256=hashlib.sha256(body).hexdigest(), titles=len(titles), total_amount=total,
            created_by=principal.actor.id)
        session.add(record)
        await session.flush()
        lines = _lines_by_number(body)
        for (escalation, _), title in zip(fit, titles, strict=True):
            session.add(ProtestItem(
                tenant_id=tenant_id, id=uuid7(), file_id=record.id,
                escalation_id=escalation.id, debt_id=escalation.debt_id,
                line=lines[title.our_number], our_number=title.our_number,
                title_number=title.title_number, species=title.species, amount=title.amount,
                balance=title.balance, municipality=title.municipality,
                from_state=S.QUEUED, to_state=S.SENT, note=f"remessa {name}"))
            _remember(escalation, species=title.species, title_number=title.title_number,
                      municipality=title.municipality, place=title.place,
                      uf=title.debtor_state, amount=_money(title.amount),
                      balance=_money(title.balance), remessa_file_id=str(record.id),
                      sent_on=day.isoformat(), unfit=None)
            await journal.move(session, principal, escalation, S.SENT,
                               note=f"enviado ao cartório na remessa {name}")
            result.sent.append({"escalation_id": str(escalation.id),
                                "our_number": title.our_number,
                                "title_number": title.title_number,
                                "debtor": title.debtor_name, "species": title.species,
                                "amount": _money(title.amount),
                                "balance": _money(title.balance),
                                "municipality": title.municipality})
        result.file, result.file_id, result.storage_key = name, str(record.id), key
        result.titles, result.total_amount, result.content = len(titles), _money(total), body
        log.info("protest remessa %s for %s: %d titles, %s", name, tenant.slug, len(titles),
                 total)
        return result


def _with_number(title: layout.Title, escalation: Escalation) -> layout.Title:
    return replace(title, our_number=_protest(escalation)["our_number"])


def _lines_by_number(body: bytes) -> dict[str, int]:
    """Each transaction's record number in the file, by nosso número."""
    out = {}
    for number, line in enumerate(layout.split_lines(body), start=1):
        if line[:1] == "1":
            out[line[198:213].strip()] = number
    return out


def _not_sent(escalation: Escalation, reasons: list[str],
              state: str | None = None) -> dict[str, Any]:
    return {"escalation_id": str(escalation.id), "debt_id": str(escalation.debt_id),
            "reasons": reasons, "state": state or escalation.state}


async def _assess(session: AsyncSession, principal: Principal, tenant: Tenant,
                  queued: list[Escalation], day: dt.date, settings: Settings,
                  result: RemessaResult) -> list[tuple[Escalation, layout.Title]]:
    if not queued:
        return []
    debt_ids = [e.debt_id for e in queued]
    debts = {d.id: d for d in (await session.execute(
        select(Debt).where(Debt.id.in_(debt_ids)))).scalars()}
    debtor_ids = {d.debtor_id for d in debts.values()}
    debtors = {d.id: d for d in (await session.execute(
        select(Debtor).where(Debtor.id.in_(debtor_ids)))).scalars()}
    points: dict[uuid.UUID, list[ContactPoint]] = {}
    for point in (await session.execute(select(ContactPoint).where(
            ContactPoint.debtor_id.in_(debtor_ids),
            ContactPoint.kind == ContactKind.ADDRESS))).scalars():
        points.setdefault(point.debtor_id, []).append(point)
    balances = await ledger.balances(session, debt_ids)
    fit = []
    for escalation in queued:
        debt = debts[escalation.debt_id]
        debtor = debtors[debt.debtor_id]
        verdict = check(escalation, debt, debtor, tenant, points.get(debtor.id, []),
                        balances.get(debt.id, {}).get(Bucket.PRINCIPAL, ZERO), day, settings)
        label = f"{debt.contract}/{debt.installment}"
        result.warnings.extend(f"{label}: {w}" for w in verdict.warnings)
        if verdict.final is not None:
            state, reason = verdict.final
            _remember(escalation, unfit=None)
            await journal.move(session, principal, escalation, state,
                               note=f"recusado na remessa: {reason}")
            result.not_sent.append(_not_sent(escalation, [reason], state))
        elif verdict.title is None:
            _remember(escalation, unfit={"on": day.isoformat(), "reasons": verdict.reasons})
            result.not_sent.append(_not_sent(escalation, verdict.reasons))
        else:
            fit.append((escalation, verdict.title))
    return fit


# ---- reading confirmações and retornos ----------------------------------------------------

# From which states each outcome may move a title.
ALLOWED = {
    S.REGISTERED: {S.SENT},
    S.RETURNED: {S.SENT, S.REGISTERED, S.CANCELLATION_SENT},
    S.PROTESTED: {S.SENT, S.REGISTERED, S.CANCELLATION_SENT},
    S.PAID_AT_NOTARY: {S.SENT, S.REGISTERED, S.CANCELLATION_SENT},
    S.WITHDRAWN: {S.SENT, S.REGISTERED, S.CANCELLATION_SENT},
    S.CANCELLED: {S.PROTESTED, S.CANCELLATION_SENT},
}
# Retorno occurrences (Anexo 2) and the state each leads to; None: recorded, no move.
RETURN_STATES: dict[str, EscalationState | None] = {
    "1": S.PAID_AT_NOTARY, "7": S.PAID_AT_NOTARY, "2": S.PROTESTED, "B": S.PROTESTED,
    "C": S.PROTESTED, "3": S.WITHDRAWN, "D": S.WITHDRAWN, "F": S.WITHDRAWN,
    "5": S.RETURNED, "6": S.RETURNED, "G": S.RETURNED, "A": S.CANCELLED, "E": S.CANCELLED,
    "J": S.CANCELLED, "4": None, "8": None, "9": None, "I": None, "X": None,
}


def _irregularities(values: dict[str, Any]) -> list[str]:
    more = values.get("more_irregularities") or ""
    codes = [values.get("irregularity") or ""] + [more[i:i + 2] for i in range(0, 8, 2)]
    return [c.strip() for c in codes if c.strip()]


def _irregularity_text(codes: list[str]) -> str:
    return "; ".join(f"irregularidade {c} – {IRREGULARITIES.get(c, 'código desconhecido')}"
                     for c in codes)


def outcome(kind: str, values: dict[str, Any]) -> tuple[EscalationState | None, str]:
    """What a confirmação or retorno record says of its title: the state it leads to
    (None: nothing to move) and the reason, in Portuguese."""
    occurrence = (values.get("occurrence") or "").upper()
    codes = _irregularities(values)
    if kind == "confirmacao" and not occurrence and not codes:
        protocol = values.get("protocol") or ""
        if not protocol:
            return None, "confirmação sem número de protocolo (campo 32)"
        on = values.get("protocol_on")
        return S.REGISTERED, (f"apontado no cartório {values.get('notary') or '?'},"
                              f" protocolo {protocol}"
                              + (f" de {on:%d/%m/%Y}" if on else ""))
    if kind == "confirmacao" and not occurrence:
        occurrence = "5"  # irregular at distribution: returned, as the layout notes
    if occurrence not in RETURN_STATES:
        return None, (f"tipo de ocorrência '{occurrence}' desconhecido (campo 33)"
                      if occurrence else "retorno sem tipo de ocorrência (campo 33)")
    reason = OCCURRENCES[occurrence]
    if codes:
        reason += "; " + _irregularity_text(codes)
    return RETURN_STATES[occurrence], reason


@dataclass
class ReturnLine:
    line: int
    our_number: str
    title_number: str
    result: str  # changed, unchanged, recorded, ignored, duplicate, unknown
    reason: str
    occurrence: str | None = None
    tenant: str | None = None
    escalation_id: str | None = None
    from_state: str | None = None
    to_state: str | None = None


@dataclass
class ImportReport:
    file: str
    kind: str
    movement_on: str | None
    titles: list[ReturnLine] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for line in self.titles:
            counts[line.result] = counts.get(line.result, 0) + 1
        return {"file": self.file, "kind": self.kind, "movement_on": self.movement_on,
                "counts": counts, "titles": [_line_json(t) for t in self.titles],
                "malformed": self.malformed}


def _line_json(line: ReturnLine) -> dict[str, Any]:
    data = asdict(line)
    data["from"] = data.pop("from_state")
    data["to"] = data.pop("to_state")
    return data


async def import_return(principal: Principal, data: bytes, name: str, *,
                        settings: Settings | None = None,
                        storage: Storage | None = None) -> ImportReport:
    """Read a confirmação or retorno and move each title it names. One transaction: the
    file applies whole or not at all. A title of another apresentante, or whose nosso
    número no remessa of a tenant `principal` works carried, is reported unknown; a
    file read before (same bytes) reports its titles as duplicates and changes nothing.
    Raises layout.LayoutError for a file that is not a readable return file."""
    settings = settings or get_settings()
    storage = storage or get_storage()
    parsed = layout.read_return(data)
    digest = hashlib.sha256(data).hexdigest()
    report = ImportReport(file=name, kind=parsed.kind, movement_on=(
        parsed.movement_on.isoformat() if parsed.movement_on else None),
        malformed=[str(e) for e in parsed.malformed])
    ours = settings.cra_presenter_code
    async with transaction(principal) as session:
        numbers = [t.values["our_number"] for t in parsed.titles]
        sent = {row.our_number: row for row in (await session.execute(
            select(ProtestItem.our_number, ProtestItem.tenant_id, ProtestItem.escalation_id)
            .join(ProtestFile, (ProtestFile.tenant_id == ProtestItem.tenant_id)
                  & (ProtestFile.id == ProtestItem.file_id))
            .where(ProtestFile.kind == ProtestFileKind.REMESSA,
                   ProtestItem.our_number.in_(numbers)))).all()}
        slugs = {tenant_id: slug for tenant_id, slug in (await session.execute(
            select(Tenant.id, Tenant.slug).where(
                Tenant.id.in_({row.tenant_id for row in sent.values()})))).all()}
        matched: dict[uuid.UUID, list[tuple[layout.ReturnedTitle, ReturnLine]]] = {}
        for title in parsed.titles:
            values = title.values
            line = ReturnLine(title.line, values["our_number"], values["title_number"],
                              "unknown", "", occurrence=values["occurrence"] or None)
            report.titles.append(line)
            if title.presenter != ours:
                line.reason = (f"apresentante {title.presenter} no campo 02 não é o desta"
                               f" assessoria ({ours})")
                continue
            row = sent.get(values["our_number"])
            if row is None:
                line.reason = (f"título desconhecido: nosso número {values['our_number']!r}"
                               " (campo 11) não está em remessa enviada por esta assessoria")
                continue
            line.tenant, line.escalation_id = slugs[row.tenant_id], str(row.escalation_id)
            matched.setdefault(row.tenant_id, []).append((title, line))
        day = parsed.movement_on or dt.date.today()
        for tenant_id, group in matched.items():
            total = sum((t.values["balance"] or ZERO for t, _ in group), ZERO)
            record = await _incoming(session, principal, tenant_id, parsed, digest, name, day,
                                     data, storage, len(group), total)
            done: dict[str, int] = {}
            for title, line in group:
                if record is None:
                    line.result, line.reason = "duplicate", "arquivo já importado antes"
                elif line.escalation_id in done:
                    line.result = "duplicate"
                    line.reason = f"título repetido no arquivo (linha {done[line.escalation_id]})"
                else:
                    done[line.escalation_id or ""] = title.line
                    await _apply(session, principal, record, parsed.kind, title,
                                 uuid.UUID(line.escalation_id), line)
    return report


async def _incoming(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                    parsed: layout.ReturnFile, digest: str, name: str, day: dt.date,
                    data: bytes, storage: Storage, titles: int,
                    total: Decimal) -> ProtestFile | None:
    """The tenant's row for this return file, made now; None when read before."""
    seen = (await session.execute(select(ProtestFile.id).where(
        ProtestFile.tenant_id == tenant_id, ~ProtestFile.outgoing,
        ProtestFile.sha256 == digest))).first()
    if seen is not None:
        return None
    key = protest_file_key(tenant_id, day, f"{digest[:8]}-{name}")
    await asyncio.to_thread(_put, storage, key, data)
    record = ProtestFile(
        tenant_id=tenant_id, id=uuid7(), kind=parsed.kind, outgoing=False, movement_on=day,
        sequence=None, name=name[:120], storage_key=key, sha256=digest, titles=titles,
        total_amount=total, created_by=principal.actor.id)
    session.add(record)
    await session.flush()
    return record


async def _apply(session: AsyncSession, principal: Principal, record: ProtestFile,
                 kind: str, title: layout.ReturnedTitle, escalation_id: uuid.UUID,
                 line: ReturnLine) -> None:
    values = title.values
    escalation = (await session.execute(select(Escalation).where(
        Escalation.id == escalation_id).with_for_update())).scalar_one()
    target, reason = outcome(kind, values)
    line.from_state, line.reason = escalation.state, reason
    costs = sum((values.get(k) or ZERO for k in ("costs", "distributor_costs",
                                                   "recording_costs", "other_costs")), ZERO)
    facts: dict[str, Any] = {"last_occurrence": values["occurrence"] or None,
                             "last_reason": reason, "last_file_id": str(record.id)}
    if values.get("protocol"):
        facts.update(notary=values.get("notary"), protocol=values["protocol"],
                     protocol_on=values["protocol_on"].isoformat()
                     if values.get("protocol_on") else None)
    if costs:
        facts["costs"] = _money(costs)
    current = EscalationState(escalation.state)
    if target is None:
        line.result = "recorded"
    elif target == current:
        line.result, line.to_state = "unchanged", current
    elif current in ALLOWED[target] and escalation.closed_at is None:
        line.result, line.to_state = "changed", target
    else:
        line.result = "ignored"
        line.reason = (f"o título está '{STATE_LABELS[current]}'; a ocorrência"
                       f" '{reason}' não se aplica a esse estado")
    session.add(ProtestItem(
        tenant_id=escalation.tenant_id, id=uuid7(), file_id=record.id,
        escalation_id=escalation.id, debt_id=escalation.debt_id, line=title.line,
        our_number=values["our_number"], title_number=values["title_number"],
        species=values.get("species") or None, amount=values.get("amount"),
        balance=values.get("balance"), municipality=None,
        notary=values.get("notary"), protocol=values.get("protocol") or None,
        protocol_on=values.get("protocol_on"), occurrence=values["occurrence"] or None,
        occurrence_on=values.get("occurrence_on"),
        irregularities=",".join(_irregularities(values)) or None, costs=costs or None,
        from_state=current, to_state=line.to_state, note=line.reason))
    if line.result == "ignored":
        return
    _remember(escalation, **facts)
    if line.result == "changed" and line.to_state is not None:
        label = FILE_KIND_LABELS[ProtestFileKind(kind)]
        await journal.move(session, principal, escalation, EscalationState(line.to_state),
                           note=f"{label} {record.name}: {reason}")
        if line.to_state == S.PAID_AT_NOTARY and values.get("balance"):
            # The cartório passes what the debtor paid on to the presenter (the agency):
            # it is a payment on the debt, or the cadence would go on asking for it.
            await ledger.record_payment(
                session, principal, DebtId(escalation.debt_id), values["balance"],
                paid_on=values.get("occurrence_on") or record.movement_on,
                source=PaymentSource.AGENCY,
                reference=f"cartório {values.get('notary') or '?'}"
                          f" protocolo {values.get('protocol') or '?'}")


# ---- after payment: the desistência or the authorisation to cancel ------------------------

@dataclass
class CancellationResult:
    tenant: str
    date: str
    files: list[dict[str, Any]] = field(default_factory=list)
    issued: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# Debts the creditor took back (a recall from a file or the portal, a withdrawal, the
# end of the placement): the agency no longer presents them, so their titles leave the
# cartório as paid ones do, by desistência before the protest and by the creditor's
# authorisation to cancel after it (the CRA cancels a protest only with the creditor's
# anuência, whatever the reason).
TAKEN_BACK = (DebtStatus.RECALLED, DebtStatus.WITHDRAWN, DebtStatus.RETURNED)
PAID = (DebtStatus.PAID, DebtStatus.SETTLED_BY_CREDITOR)


@dataclass(frozen=True)
class Why:
    """Why a title leaves the cartório: the debt's status, since when, and in words."""

    status: str
    since: dt.date
    words: str  # "pago em 05/12/2026", "recolhido pelo credor em 05/12/2026"


async def _why(session: AsyncSession, debt: Debt, zone: str) -> Why:
    if debt.status in PAID:
        last = (await session.execute(select(func.max(Payment.paid_on)).where(
            Payment.debt_id == debt.id))).scalar_one_or_none()
        if last is not None:
            return Why(debt.status, last, f"pago em {last:%d/%m/%Y}")
    moment = debt.closed_at or debt.updated_at
    day = moment.astimezone(ZoneInfo(zone)).date()
    label = ("pago" if debt.status in PAID
             else DEBT_STATUS_LABELS.get(DebtStatus(debt.status), debt.status))
    return Why(debt.status, day, f"{label} em {day:%d/%m/%Y}")


async def authorize_cancellations(tenant_id: TenantId, day: dt.date | None = None, *,
                                  settings: Settings | None = None,
                                  storage: Storage | None = None) -> CancellationResult:
    """For each debt paid, or taken back by the creditor, whose title is at the cartório:
    a desistência (DP) when it is registered and not yet protested, the creditor's
    authorisation to cancel (AC, the anuência) when protested; the escalation moves to
    `cancellation_sent` with the deadline (5 business days from the payment or the
    recall) and the reason on it. A title still without protocol waits for its
    confirmação. One file of each kind per tenant and day: run again, it issues nothing
    twice; titles paid or recalled since wait for the next day's."""
    settings = settings or get_settings()
    storage = storage or get_storage()
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        await _lock(session, f"protest:cancellations:{tenant_id}")
        tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))
                  ).scalar_one()
        day = day or dt.datetime.now(ZoneInfo(tenant.timezone)).date()
        result = CancellationResult(tenant=tenant.slug, date=day.isoformat())
        rows = (await session.execute(
            select(Escalation, Debt, Debtor)
            .join(Debt, (Debt.tenant_id == Escalation.tenant_id)
                  & (Debt.id == Escalation.debt_id))
            .join(Debtor, (Debtor.tenant_id == Debt.tenant_id) & (Debtor.id == Debt.debtor_id))
            .where(Escalation.path == EscalationPath.PROTEST, Escalation.closed_at.is_(None),
                   Escalation.state.in_([S.SENT, S.REGISTERED, S.PROTESTED]),
                   Debt.status.in_([*PAID, *TAKEN_BACK]))
            .order_by(Escalation.decided_at, Escalation.id)
            .with_for_update(of=Escalation))).all()
        pending: dict[ProtestFileKind, list[tuple[Escalation, Debtor, Why, dt.date]]] = {
            ProtestFileKind.DESISTENCIA: [], ProtestFileKind.AUTORIZACAO_CANCELAMENTO: []}
        for escalation, debt, debtor in rows:
            facts = _protest(escalation)
            why = await _why(session, debt, tenant.timezone)
            due_on = add_business_days(why.since, CANCELLATION_DAYS, facts.get("uf"))
            if escalation.state == S.SENT:
                _remember(escalation, paid_on=why.since.isoformat() if why.status in PAID
                          else None, cancel_reason=why.status,
                          cancel_due_on=due_on.isoformat())
                result.waiting.append({
                    "escalation_id": str(escalation.id), "state": escalation.state,
                    "reason": f"{why.words}; aguardando a confirmação (protocolo) do cartório"
                              " para enviar a desistência", "due_on": due_on.isoformat()})
                continue
            kind = (ProtestFileKind.DESISTENCIA if escalation.state == S.REGISTERED
                    else ProtestFileKind.AUTORIZACAO_CANCELAMENTO)
            pending[kind].append((escalation, debtor, why, due_on))
        for kind, entries in pending.items():
            if entries:
                await _request_file(session, principal, tenant_id, kind, entries, day,
                                    settings, storage, result)
        return result


REQUEST_FILES = {
    ProtestFileKind.DESISTENCIA: ("DP", "S", "desistência"),
    ProtestFileKind.AUTORIZACAO_CANCELAMENTO: ("AC", "C", "autorização de cancelamento"),
}


async def _request_file(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                        kind: ProtestFileKind,
                        entries: list[tuple[Escalation, Debtor, Why, dt.date]],
                        day: dt.date, settings: Settings, storage: Storage,
                        result: CancellationResult) -> None:
    prefix, marker, label = REQUEST_FILES[kind]
    existing = (await session.execute(select(ProtestFile).where(
        ProtestFile.kind == kind, ProtestFile.outgoing, ProtestFile.movement_on == day))
    ).scalar_one_or_none()
    if existing is not None:
        for escalation, _, _, due_on in entries:
            result.waiting.append({
                "escalation_id": str(escalation.id), "state": escalation.state,
                "reason": f"o arquivo de {label} de {day:%d/%m/%Y} já foi gerado"
                          f" ({existing.name}); segue no próximo", "due_on": due_on.isoformat()})
        return
    requests = []
    for escalation, debtor, _, _ in entries:
        facts = _protest(escalation)
        requests.append(layout.Request(
            notary=facts.get("notary") or "", municipality=facts.get("municipality") or "",
            protocol=facts.get("protocol") or "",
            protocol_on=dt.date.fromisoformat(facts["protocol_on"])
            if facts.get("protocol_on") else None,
            title_number=facts.get("title_number") or "", debtor_name=debtor.name,
            amount=Decimal(facts.get("amount") or "0"), our_number=facts.get("our_number", "")))
    sequence = await _next(session, REMESSA_SEQUENCE)
    who = presenter(settings)
    name = file_name(prefix, who.code, day, sequence)
    body = layout.encode(layout.requests(who, day, marker, requests))
    key = protest_file_key(tenant_id, day, name)
    await asyncio.to_thread(_put, storage, key, body)
    total = sum((r.amount for r in requests), ZERO)
    record = ProtestFile(
        tenant_id=tenant_id, id=uuid7(), kind=kind, outgoing=True, movement_on=day,
        sequence=sequence, name=name, storage_key=key, sha256=hashlib.sha256(body).hexdigest(),
        titles=len(requests), total_amount=total, created_by=principal.actor.id)
    session.add(record)
    await session.flush()
    numbers = {line[102:114].strip(): n for n, line in
               enumerate(layout.split_lines(body), start=1) if line[:1] == "2"}
    for (escalation, _, why, due_on), request in zip(entries, requests, strict=True):
        session.add(ProtestItem(
            tenant_id=tenant_id, id=uuid7(), file_id=record.id, escalation_id=escalation.id,
            debt_id=escalation.debt_id, line=numbers[request.our_number],
            our_number=request.our_number, title_number=request.title_number,
            amount=request.amount, municipality=request.municipality or None,
            notary=request.notary or None, protocol=request.protocol or None,
            protocol_on=request.protocol_on, from_state=escalation.state,
            to_state=S.CANCELLATION_SENT, note=f"{label} {name}"))
        late = day > due_on
        paid_on = why.since.isoformat() if why.status in PAID else None
        _remember(escalation, cancellation={
            "kind": kind.value, "file_id": str(record.id), "file": name,
            "reason": why.status, "paid_on": paid_on, "since": why.since.isoformat(),
            "due_on": due_on.isoformat(), "sent_on": day.isoformat(), "late": late})
        before = escalation.state
        await journal.move(session, principal, escalation, S.CANCELLATION_SENT,
                           deadline_on=due_on,
                           note=f"{why.words}: {label} enviada no arquivo {name}"
                                f" (prazo {due_on:%d/%m/%Y}{', fora do prazo' if late else ''})")
        result.issued.append({"escalation_id": str(escalation.id), "kind": kind.value,
                              "from": before, "file": name, "reason": why.status,
                              "paid_on": paid_on, "since": why.since.isoformat(),
                              "due_on": due_on.isoformat(), "late": late})
    result.files.append({"kind": kind.value, "file": name, "file_id": str(record.id),
                         "titles": len(requests), "total_amount": _money(total)})


# ---- reading files back (the escalation's page and the API) ------------------------------

@dataclass
class FileView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    label: str
    outgoing: bool
    name: str
    movement_on: dt.date
    titles: int
    total_amount: Decimal
    created_at: dt.datetime


def _view(record: ProtestFile) -> FileView:
    return FileView(record.id, record.tenant_id, record.kind,
                    FILE_KIND_LABELS[ProtestFileKind(record.kind)], record.outgoing,
                    record.name, record.movement_on, record.titles, record.total_amount,
                    record.created_at)


async def list_files(principal: Principal, tenant_id: uuid.UUID | None = None,
                     escalation_id: uuid.UUID | None = None) -> list[FileView]:
    """The protest files `principal` may read, newest first; of one tenant, or those
    naming one escalation."""
    _may_read(principal)
    async with transaction(principal) as session:
        query = select(ProtestFile)
        if tenant_id is not None:
            query = query.where(ProtestFile.tenant_id == tenant_id)
        if escalation_id is not None:
            checked = await journal.access_escalation(session, principal, escalation_id)
            query = query.where(ProtestFile.id.in_(select(ProtestItem.file_id).where(
                ProtestItem.escalation_id == checked)))
        rows = (await session.execute(query.order_by(
            ProtestFile.movement_on.desc(), ProtestFile.created_at.desc()).limit(500))).scalars()
        return [_view(r) for r in rows]


async def read_file(principal: Principal, file_id: uuid.UUID, *,
                    storage: Storage | None = None) -> tuple[FileView, bytes]:
    """A file's description and its bytes, as sent or received."""
    storage = storage or get_storage()
    async with transaction(principal) as session:
        checked = await access_protest_file(session, principal, file_id)
        record = (await session.execute(select(ProtestFile).where(
            ProtestFile.id == checked))).scalar_one()
    return _view(record), await asyncio.to_thread(storage.get, record.storage_key)


async def escalation_protest(principal: Principal,
                             escalation_id: uuid.UUID) -> dict[str, Any]:
    """An escalation's protest: its facts (nosso número, cartório, protocol, costs,
    cancellation), every file line about it, and the files."""
    _may_read(principal)
    async with transaction(principal) as session:
        checked: EscalationId = await journal.access_escalation(session, principal,
                                                                escalation_id)
        escalation = (await session.execute(select(Escalation).where(
            Escalation.id == checked))).scalar_one()
        rows = (await session.execute(
            select(ProtestItem, ProtestFile)
            .join(ProtestFile, (ProtestFile.tenant_id == ProtestItem.tenant_id)
                  & (ProtestFile.id == ProtestItem.file_id))
            .where(ProtestItem.escalation_id == checked)
            .order_by(ProtestFile.created_at, ProtestItem.line))).all()
    return {
        "escalation_id": str(escalation.id), "state": escalation.state,
        "state_label": STATE_LABELS[EscalationState(escalation.state)],
        "deadline_on": escalation.deadline_on.isoformat() if escalation.deadline_on else None,
        "protest": _protest(escalation),
        "lines": [{"file_id": str(f.id), "file": f.name, "kind": f.kind,
                   "kind_label": FILE_KIND_LABELS[ProtestFileKind(f.kind)],
                   "outgoing": f.outgoing, "movement_on": f.movement_on.isoformat(),
                   "line": i.line, "occurrence": i.occurrence,
                   "occurrence_label": OCCURRENCES.get(i.occurrence or ""),
                   "protocol": i.protocol, "costs": _maybe_money(i.costs),
                   "from": i.from_state, "to": i.to_state, "note": i.note}
                  for i, f in rows],
    }
