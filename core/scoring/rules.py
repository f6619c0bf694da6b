"""What the score is made of: its inputs, the rules' weights, the bands, the segments.

The score is 1000 × the estimated probability that the debtor pays within 30 days:
`1000 / (1 + e^-(b + Σ wᵢ·xᵢ))`. The rules and a trained model share this form and these
inputs `xᵢ`; they differ only in the weights, so one SQL statement computes either (a
model replaces the weights when it beats the rules on held-out data, `training`).
Each input's effect `wᵢ·xᵢ` is kept with the score: the largest are its reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.formatting import decimal_br


@dataclass(frozen=True)
class Feature:
    name: str
    sql: str  # over the per-debtor facts `f` of the scoring statement
    weight: float  # the rules' weight, in log-odds per unit of the input


# The rules' weights, as the agency's practice reads payment odds: every month overdue,
# a larger balance and more open debts lower them; a contact that answers, debts paid
# before and a debtor new to collection raise them; a hold, a broken agreement and no
# usable contact lower them most. Being a company and reaching out to the agency are
# inputs the rules leave at zero: a trained model may find they matter for a tenant.
FEATURES: tuple[Feature, ...] = (
    Feature("days_overdue", "least(f.days_overdue, 720) / 30.0", -0.18),
    Feature("balance", "ln(1 + f.balance / 100.0)", -0.15),
    Feature("open_debts", "least(f.open_debts, 10)", -0.12),
    Feature("contact_good", "f.contact_good::int", 0.7),
    Feature("contact_none", "f.contact_none::int", -1.2),
    Feature("paid_debts", "least(f.paid_debts, 5)", 0.45),
    Feature("late_paid", "least(f.late_paid, 5)", 0.2),
    Feature("hold", "f.hold::int", -1.5),
    Feature("broken_agreement", "f.broken::int", -0.8),
    Feature("new_debtor", "f.new_debtor::int", 0.2),
    Feature("company", "f.company::int", 0.0),
    Feature("inbound", "least(f.inbound, 5)", 0.0),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
RULES_INTERCEPT = 0.6
RULES_WEIGHTS = {f.name: f.weight for f in FEATURES}
TOP_REASONS = 3
HORIZON_DAYS = 30  # the score estimates payment within this many days
MIN_TRAINING_ROWS = 200  # debtor-days with a known outcome before a model is tried
MIN_EFFECT = 0.05  # effects smaller than this (log-odds) are not worth naming

# Bands for cadence conditions and dialer lists: (band, lowest score).
BANDS: tuple[tuple[str, int], ...] = (("A", 800), ("B", 600), ("C", 400), ("D", 0))
BAND_LABELS = {"A": "A (800–1000)", "B": "B (600–799)", "C": "C (400–599)", "D": "D (0–399)"}


def band_of(score: int) -> str:
    return next(band for band, low in BANDS if score >= low)


def band_sql(score: str) -> str:
    whens = " ".join(f"WHEN {score} >= {low} THEN '{band}'" for band, low in BANDS[:-1])
    return f"CASE {whens} ELSE '{BANDS[-1][0]}' END"


SEGMENTS = ("primeiro_atraso", "devedor_viciado", "saldo_alto", "varios_titulos", "novo",
            "acordo_quebrado", "sem_contato")
SEGMENT_LABELS = {
    "primeiro_atraso": "primeiro atraso", "devedor_viciado": "devedor viciado",
    "saldo_alto": "saldo alto", "varios_titulos": "vários títulos", "novo": "devedor novo",
    "acordo_quebrado": "acordo quebrado", "sem_contato": "sem contato válido",
}
SEGMENT_HELP = {
    "primeiro_atraso": "um só título vencido e nenhum título anterior na assessoria",
    "devedor_viciado": "pagou vários títulos anteriores poucos dias depois do vencimento",
    "saldo_alto": "saldo em cobrança acima do limite do credor",
    "varios_titulos": "vários títulos em aberto",
    "novo": "chegou à assessoria há poucos dias",
    "acordo_quebrado": "um título saiu de acordo e voltou à cobrança no último ano",
    "sem_contato": "nenhum telefone, e-mail ou endereço utilizável em nenhum canal",
}


@dataclass(frozen=True)
class Policy:
    """A tenant's segment thresholds (`scoring_policy`; these are the defaults)."""

    high_balance_min: Decimal = Decimal("5000.00")
    several_debts_min: int = 3
    new_debtor_days: int = 30
    late_days_max: int = 15  # "a few days late": paid 1 to this many days after due
    habitual_min: int = 2  # that many debts paid a few days late make a habit


DEFAULT_POLICY = Policy()


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


REASON_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "days_overdue": lambda i: _plural(int(i["days_overdue"]), "dia de atraso", "dias de atraso"),
    "balance": lambda i: f"saldo em cobrança de R$ {decimal_br(Decimal(str(i['balance'])))}",
    "open_debts": lambda i: _plural(int(i["open_debts"]), "título em aberto",
                                    "títulos em aberto"),
    "contact_good": lambda i: "tem contato confirmado",
    "contact_none": lambda i: "nenhum contato utilizável",
    "paid_debts": lambda i: _plural(int(i["paid_debts"]), "título pago antes",
                                    "títulos pagos antes"),
    "late_paid": lambda i: _plural(int(i["late_paid"]), "título pago com poucos dias de atraso",
                                   "títulos pagos com poucos dias de atraso"),
    "hold": lambda i: "cobrança suspensa por bloqueio",
    "broken_agreement": lambda i: "acordo quebrado no último ano",
    "new_debtor": lambda i: "devedor novo na assessoria",
    "company": lambda i: "pessoa jurídica" if i.get("company") else "pessoa física",
    "inbound": lambda i: _plural(int(i["inbound"]), "contato do devedor em 90 dias",
                                 "contatos do devedor em 90 dias"),
}


def reason_text(feature: str, effect: float, inputs: dict[str, Any]) -> str:
    """A reason in words: what it is and which way it moved the score."""
    what = REASON_TEXT[feature](inputs) if feature in REASON_TEXT else feature
    return f"{what} ({'aumenta' if effect > 0 else 'reduz'} a nota)"
