"""Segments and the collection score: per-debtor scores, their dated history, the
tenant's scoring policy, trained models, and broken agreements as a dated signal."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY

SCORE_CHECKS = (
    CheckConstraint("score BETWEEN 0 AND 1000", name="score_range"),
    CheckConstraint("band IN ('A', 'B', 'C', 'D')", name="band"),
    CheckConstraint("method IN ('rules', 'model')", name="method"),
)


class ScoringPolicy(TenantOwned, Base):
    """A tenant's thresholds for the rule segments; a tenant without a row gets the
    defaults of `core.scoring.segments.DEFAULT_POLICY`."""

    __tablename__ = "scoring_policy"

    high_balance_min: Mapped[Decimal] = mapped_column(MONEY)
    several_debts_min: Mapped[int]
    new_debtor_days: Mapped[int]
    late_days_max: Mapped[int]
    habitual_min: Mapped[int]
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("tenant_id"),)


class DebtorScore(Base):
    """A debtor's current score, band and segments, with the inputs and top reasons it
    was computed from (LGPD art. 20). Joinable by `(tenant_id, debtor_id)` from cadence
    and dialer queries."""

    __tablename__ = "debtor_score"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    debtor_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    band: Mapped[str] = mapped_column(String(1))
    segments: Mapped[list[str]] = mapped_column(ARRAY(String(24)))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    method: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[uuid.UUID | None]
    scored_at: Mapped[dt.datetime]

    __table_args__ = (
        *SCORE_CHECKS,
        Index("ix_debtor_score_band", "tenant_id", "band"),
        Index("ix_debtor_score_segments", "segments", postgresql_using="gin"),
    )


class DebtorScoreHistory(TenantOwned, Base):
    """One score per debtor and day: the training rows (was there a payment within 30
    days of `scored_on`?) and the record a review under LGPD art. 20 reads."""

    __tablename__ = "debtor_score_history"

    debtor_id: Mapped[uuid.UUID]
    scored_on: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(SmallInteger)
    band: Mapped[str] = mapped_column(String(1))
    method: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[uuid.UUID | None]
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    vector: Mapped[dict[str, float]] = mapped_column(JSONB)  # the model's inputs
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)

    __table_args__ = (
        *SCORE_CHECKS,
        UniqueConstraint("tenant_id", "debtor_id", "scored_on"),
        Index("ix_debtor_score_history_day", "tenant_id", "scored_on"),
    )


class ScoringModel(TenantOwned, Base):
    """One training run: a logistic regression over the score's inputs, its held-out
    AUC beside the rules' on the same rows, and whether it replaced the rules."""

    __tablename__ = "scoring_model"

    trained_at: Mapped[dt.datetime] = created_at_column()
    kind: Mapped[str] = mapped_column(String(32))
    intercept: Mapped[float] = mapped_column(Float)
    coefficients: Mapped[dict[str, float]] = mapped_column(JSONB)
    rules_auc: Mapped[float | None] = mapped_column(Float)
    model_auc: Mapped[float | None] = mapped_column(Float)
    train_rows: Mapped[int]
    test_rows: Mapped[int]
    positives: Mapped[int]
    active: Mapped[bool]
    note: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_scoring_model_trained", "tenant_id", "trained_at"),)


class AgreementBreak(TenantOwned, Base):
    """A debt that left an agreement unpaid and came back to collection.

    Written today by a trigger on `debt` (status in_agreement -> open); the agreements
    issue writes here too when it declares a *quebra de acordo* (`source`)."""

    __tablename__ = "agreement_break"

    debt_id: Mapped[uuid.UUID]
    debtor_id: Mapped[uuid.UUID]
    broken_at: Mapped[dt.datetime] = created_at_column()
    source: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_agreement_break_debtor", "tenant_id", "debtor_id"),)
