"""The supervisor's "Score" page: each tenant's debtors by band and segment, and the
rules' and the trained model's AUCs on held-out data. Recalculating and training are
buttons that call `core.scoring.service`; the rules live there."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import NotFound
from core.scoring import service
from core.scoring.rules import (
    BAND_LABELS,
    FEATURES,
    HORIZON_DAYS,
    MIN_TRAINING_ROWS,
    RULES_INTERCEPT,
    SEGMENT_HELP,
)
from portal.pages import page

Req = Request[Principal, str, Any]
SUPERVISORS = requires(Role.ADMIN, Role.SUPERVISOR)
DONE = {"calculo": "Segmentos e notas recalculados.",
        "treino": "Modelo treinado e comparado com as regras; as notas foram recalculadas.",
        "sem-dados": "Ainda não há resultados suficientes para treinar um modelo; as notas"
                     " seguem pelas regras e foram recalculadas."}


def _render(request: Req, overviews: list[service.TenantOverview], single: bool,
            done: str | None) -> Template:
    return page(request, "score.html", overviews=overviews, single=single,
                done=DONE.get(done or ""), band_labels=BAND_LABELS, segment_help=SEGMENT_HELP,
                features=FEATURES, rules_intercept=RULES_INTERCEPT,
                min_rows=MIN_TRAINING_ROWS, horizon=HORIZON_DAYS)


@get("/score", guards=[SUPERVISORS])
async def score_page(request: Req) -> Template:
    return _render(request, await service.overview(request.user), False, None)


@get("/score/{tenant_id:uuid}", guards=[SUPERVISORS])
async def tenant_score_page(request: Req, tenant_id: FromPath[uuid.UUID],
                            feito: FromQuery[str | None] = None) -> Template:
    try:
        overviews = await service.overview(request.user, tenant_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    return _render(request, overviews, True, feito)


@post("/score/{tenant_id:uuid}/calcular", guards=[SUPERVISORS])
async def refresh_form(request: Req, tenant_id: FromPath[uuid.UUID]) -> Redirect:
    try:
        await service.refresh_tenant(request.user, tenant_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    return Redirect(f"/score/{tenant_id}?feito=calculo")


@post("/score/{tenant_id:uuid}/treinar", guards=[SUPERVISORS])
async def train_form(request: Req, tenant_id: FromPath[uuid.UUID]) -> Redirect:
    try:
        result, _ = await service.train_tenant(request.user, tenant_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    return Redirect(f"/score/{tenant_id}?feito={'treino' if result.trained else 'sem-dados'}")


handlers = [score_page, tenant_score_page, refresh_form, train_form]
