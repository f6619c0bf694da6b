"""A tenant's own model: a logistic regression over the score's inputs, trained on its
score history and the payments that followed, used only when it beats the rules.

A training row is one day's score of one debtor (`debtor_score_history`) at least 30 days
old; its outcome is whether the debtor paid within the 30 days after it (a payment
dated then, or a debt closed as paid or settled by the creditor then). Rows are split
by date: the oldest 70% train, the newest 30% are held out, and on those the model's AUC
is compared with the rules' (the rules' weights applied to the same inputs). The model
replaces the rules when its AUC is higher by more than `MARGIN`, which keeps a model
that only matches the rules by chance from replacing them. Its coefficients are stored
on the raw inputs (the scaling folded in), so the scoring statement uses them as it
uses the rules' weights.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.ids import uuid7
from core.models import ScoringModel
from core.scoring.rules import (
    FEATURE_NAMES,
    HORIZON_DAYS,
    MIN_TRAINING_ROWS,
    RULES_INTERCEPT,
    RULES_WEIGHTS,
)

MIN_ROWS = MIN_TRAINING_ROWS
MIN_CLASS = 20  # payers and non-payers each, in both the training and held-out rows
TEST_SHARE = 0.3
MARGIN = 0.01
MAX_ROWS = 300_000  # the newest rows; older behaviour says less about today's
KIND = "logistic_regression"

ROWS = """
SELECT h.scored_on, h.vector,
    EXISTS (SELECT 1 FROM payment p
            WHERE p.tenant_id = :t AND p.debtor_id = h.debtor_id
              AND p.paid_on > h.scored_on AND p.paid_on <= h.scored_on + CAST(:horizon AS int))
    OR EXISTS (SELECT 1 FROM debt x
               WHERE x.tenant_id = :t AND x.debtor_id = h.debtor_id
                 AND x.status IN ('paid', 'settled_by_creditor')
                 AND x.closed_at::date > h.scored_on
                 AND x.closed_at::date <= h.scored_on + CAST(:horizon AS int)) AS paid
FROM debtor_score_history h
WHERE h.tenant_id = :t AND h.scored_on <= CAST(:today AS date) - CAST(:horizon AS int)
ORDER BY h.scored_on DESC, h.id
LIMIT :max_rows
"""


@dataclass(frozen=True)
class TrainingResult:
    trained: bool
    active: bool
    rows: int
    positives: int
    rules_auc: float | None
    model_auc: float | None
    note: str
    model_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {"trained": self.trained, "active": self.active, "rows": self.rows,
                "positives": self.positives, "rules_auc": self.rules_auc,
                "model_auc": self.model_auc, "note": self.note,
                "model_id": str(self.model_id) if self.model_id else None}


def _enough(y: Any) -> bool:
    positives = int(y.sum())
    return positives >= MIN_CLASS and len(y) - positives >= MIN_CLASS


def fit(x_train: Any, y_train: Any) -> tuple[float, dict[str, float]]:
    """A logistic regression on standardised inputs, returned on the raw inputs."""
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x_train), y_train)
    coef = model.coef_[0] / scaler.scale_
    intercept = float(model.intercept_[0] - float(np.sum(coef * scaler.mean_)))
    return intercept, {name: float(c) for name, c in zip(FEATURE_NAMES, coef, strict=True)}


async def train(session: AsyncSession, tenant_id: TenantId, today: dt.date,
                principal: Principal | None = None) -> TrainingResult:
    newest_first = (await session.execute(text(ROWS), {
        "t": tenant_id, "today": today, "horizon": HORIZON_DAYS, "max_rows": MAX_ROWS,
    })).all()
    rows = list(reversed(newest_first))  # oldest first: the held-out rows are the newest
    y = np.array([bool(r.paid) for r in rows], dtype=int)
    positives = int(y.sum())
    if len(rows) < MIN_ROWS or not _enough(y):
        return TrainingResult(
            trained=False, active=False, rows=len(rows), positives=positives, rules_auc=None,
            model_auc=None, note=f"resultados insuficientes: {len(rows)} de {MIN_ROWS} linhas"
            f" e ao menos {MIN_CLASS} com e {MIN_CLASS} sem pagamento")
    x = np.array([[float(r.vector.get(n, 0.0)) for n in FEATURE_NAMES] for r in rows])
    days = [r.scored_on for r in rows]
    cut_day = days[int(len(rows) * (1 - TEST_SHARE))]
    split = next(i for i, day in enumerate(days) if day >= cut_day)
    if split == 0 or not _enough(y[:split]) or not _enough(y[split:]):
        return TrainingResult(
            trained=False, active=False, rows=len(rows), positives=positives, rules_auc=None,
            model_auc=None, note="resultados insuficientes em uma das partes (treino ou"
            " validação) para comparar modelo e regras")
    intercept, coefficients = fit(x[:split], y[:split])
    held_x, held_y = x[split:], y[split:]
    rules_w = np.array([RULES_WEIGHTS[n] for n in FEATURE_NAMES])
    model_w = np.array([coefficients[n] for n in FEATURE_NAMES])
    rules_auc = float(roc_auc_score(held_y, RULES_INTERCEPT + held_x @ rules_w))
    model_auc = float(roc_auc_score(held_y, intercept + held_x @ model_w))
    active = model_auc > rules_auc + MARGIN
    note = ("o modelo substitui as regras" if active else
            "as regras continuam: o modelo não as superou nos dados de validação")
    row = ScoringModel(
        tenant_id=tenant_id, id=uuid7(), trained_at=dt.datetime.now(dt.UTC), kind=KIND,
        intercept=intercept, coefficients=coefficients, rules_auc=round(rules_auc, 4),
        model_auc=round(model_auc, 4), train_rows=split, test_rows=len(rows) - split,
        positives=positives, active=active, note=note)
    session.add(row)
    await session.flush()
    await audit.record(session, principal.actor if principal else audit.SYSTEM,
                       "scoring.model_trained", tenant_id=tenant_id, entity="scoring_model",
                       entity_id=row.id,
                       after={"rules_auc": row.rules_auc, "model_auc": row.model_auc,
                              "active": active, "train_rows": split,
                              "test_rows": len(rows) - split})
    return TrainingResult(trained=True, active=active, rows=len(rows), positives=positives,
                          rules_auc=row.rules_auc, model_auc=row.model_auc, note=note,
                          model_id=row.id)
