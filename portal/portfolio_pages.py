"""The creditor portal's portfolio page: upload, column mapping, progress, history."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from portal.pages import page
from tenants import onboarding
from tenants.intake import counters, service

MODE_LABELS = {"incremental": "Incremental", "full": "Completa", "settlement": "Baixa",
               "recall": "Recolhimento"}
STATUS_LABELS = {"uploading": "Aguardando arquivo", "queued": "Na fila", "running": "Importando",
                 "done": "Concluída", "failed": "Recusada", "duplicate": "Arquivo repetido"}
NEVER_STARTED_LABELS = {service.ABANDONED: "Envio abandonado", service.REFUSED: "Recusado"}


@get("/carteiras", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN,
                                    Role.CREDITOR_VIEWER)])
async def portfolios_page(request: Request[Principal, str, Any]) -> Template:
    async with transaction(request.user) as session:
        tenants = [t for t in await onboarding.list_tenants(session) if t.status == "active"]
        history = await service.history(session)
    return page(
        request, "portfolios.html", tenants=tenants, portfolios=history.imports,
        never_started=history.never_started,
        tenant_names={t.id: t.trade_name for t in tenants}, duplicates=history.earlier,
        mode_labels=MODE_LABELS, status_labels=STATUS_LABELS,
        never_started_labels=NEVER_STARTED_LABELS, counter_labels=counters.labels(),
        can_import=request.user.role is not Role.CREDITOR_VIEWER,
    )


handlers = [portfolios_page]
