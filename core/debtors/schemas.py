"""Shapes of the debtor file, returned by the services and sent by the API as they are.

Personal data in them is already masked for the viewer (`core.masking`): nothing here
carries a raw CPF, phone or e-mail to a role that may not see it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec


class DebtorHit(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    name: str
    document: str  # formatted, masked for roles that do not see it in full
    document_kind: str
    state: str | None
    matched_by: str  # which key found it: documento, nome, contrato, telefone, e-mail
    placed_debts: int
    balance: Decimal


class SearchPage(msgspec.Struct, kw_only=True):
    query: str
    page: int
    page_size: int
    has_more: bool
    items: list[DebtorHit]


class Identification(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    name: str
    document: str
    document_kind: str
    kind_label: str
    birth_date: dt.date | None
    state: str | None
    timezone: str
    zone_label: str
    deceased_on: dt.date | None
    created_at: dt.datetime


class HoldOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    debt_id: uuid.UUID | None
    scope_label: str  # "todos os títulos" or the contract and installment
    kind: str
    kind_label: str
    reason: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    active: bool
    set_by: str
    ended_by: str | None
    end_reason: str | None


class DebtOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    contract: str
    installment: int
    status: str
    status_label: str
    due_date: dt.date
    days_overdue: int | None  # in the debtor's zone; None once the debt left collection
    original_amount: Decimal
    balance: Decimal
    buckets: dict[str, Decimal]  # principal, correction, interest, fine, fees
    workable: bool
    blocker: str | None
    blocker_label: str | None
    holds: list[str]  # labels of the holds covering it now
    placed_until: dt.date | None


class ChannelState(msgspec.Struct, kw_only=True):
    channel: str
    label: str
    opted_out: bool
    since: dt.datetime | None = None
    source_label: str | None = None


class ContactOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    kind_label: str
    value: str  # formatted, masked for roles that do not see it in full
    quality: str
    quality_label: str
    last_outcome: str | None
    last_outcome_label: str | None
    last_outcome_at: dt.datetime | None
    source: str
    channels: list[ChannelState]


class TimelineEvent(msgspec.Struct, kw_only=True):
    at: dt.datetime
    # interaction, import, hold_set, hold_ended, note, payment, opt_out, opt_in, cadence,
    # or the area of an event another package recorded (agreement)
    kind: str
    title: str
    detail: str = ""
    by: str = ""
    amount: Decimal | None = None  # a payment's, an agreement's
    link: str | None = None  # a page about it


class Summary(msgspec.Struct, kw_only=True):
    total_balance: Decimal
    placed_debts: int
    open_debts: int
    workable_debts: int
    workable: bool
    headline: str  # "Pode ser cobrado hoje" or why not
    reasons: list[str]


class Viewer(msgspec.Struct, kw_only=True):
    zone: str
    zone_label: str
    sees_in_full: bool
    may_act: bool


class SegmentOut(msgspec.Struct, kw_only=True):
    code: str
    label: str
    help: str


class ScoreReasonOut(msgspec.Struct, kw_only=True):
    feature: str
    effect: float  # in log-odds: above zero raised the score
    text: str


class ScoreOut(msgspec.Struct, kw_only=True):
    """The debtor's collection score, with the reasons kept beside it (LGPD art. 20)."""

    score: int
    band: str
    band_label: str
    segments: list[SegmentOut]
    reasons: list[ScoreReasonOut]
    method: str
    method_label: str
    scored_at: dt.datetime


class DebtorFile(msgspec.Struct, kw_only=True):
    debtor: Identification
    summary: Summary
    debts: list[DebtOut]
    holds: list[HoldOut]
    contacts: list[ContactOut]
    timeline: list[TimelineEvent]
    viewer: Viewer
    score: ScoreOut | None = None  # None until the tenant's scores are first computed


class NoteIn(msgspec.Struct, kw_only=True):
    body: str = ""


class NoteOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    debtor_id: uuid.UUID
    body: str
    author: str
    created_at: dt.datetime


class HoldIn(msgspec.Struct, kw_only=True):
    kind: str = ""
    reason: str = ""
    debt_id: uuid.UUID | None = None  # none: every debt of the debtor


class HoldEndIn(msgspec.Struct, kw_only=True):
    reason: str = ""


class QualityIn(msgspec.Struct, kw_only=True):
    quality: str = ""


class OptOutIn(msgspec.Struct, kw_only=True):
    channel: str = ""
    source: str = "debtor"
    note: str | None = None
