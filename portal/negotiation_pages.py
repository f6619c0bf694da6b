"""Pages of negotiation: the screen with the options and their memória de cálculo, an
agreement with its acceptance, the approval queue, the tenant's policy, and the debtor's
one-time acceptance link.

Each handler parses its form, calls one service of `legal`, and renders or redirects.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES
from core.auth.web import client_ip, requires
from core.errors import DomainError, NotFound
from core.models.ledger import BUCKET_LABELS
from legal import agreements, policy
from legal.controllers import DECIDERS
from legal.models import AGREEMENT_STATUS_LABELS
from portal.pages import page

Req = Request[Principal, str, Any]
MultiForm = Annotated[dict[str, str | list[str]], Body(media_type=RequestEncodingType.URL_ENCODED)]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
READERS = requires(*ALL_ROLES)
NEGOTIATORS = requires(*agreements.NEGOTIATING_ROLES)
EDITORS = requires(*policy.EDITING_ROLES)
DONE = {"criado": "Acordo criado.", "aceito": "Aceite registrado: os títulos estão em acordo e"
        " fora da régua de cobrança.", "restabelecido": "Acordo restabelecido.",
        "decidido": "Decisão registrada.", "politica": "Política de negociação salva."}


def _errors(exc: DomainError) -> dict[str, str]:
    return exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}


def _ids(raw: str | list[str] | None) -> list[uuid.UUID]:
    values = raw if isinstance(raw, list) else [raw] if raw else []
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise NotFoundException(detail="título não encontrado") from None


def _day(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def _screen(request: Req, debtor_id: uuid.UUID, debt_ids: list[uuid.UUID],
                  at: dt.date | None, status_code: int = 200,
                  errors: dict[str, str] | None = None) -> Template:
    found = await agreements.negotiation_screen(request.user, debtor_id, debt_ids or None, at)
    return page(request, "negotiation.html", status_code=status_code, s=found,
                may_negotiate=request.user.role in agreements.NEGOTIATING_ROLES,
                may_edit_policy=request.user.role in policy.EDITING_ROLES,
                bucket_labels=BUCKET_LABELS, errors=errors or {})


@get("/devedores/{debtor_id:uuid}/negociacao", guards=[READERS])
async def negotiation_page(request: Req, debtor_id: FromPath[uuid.UUID]) -> Template:
    chosen = _ids(request.query_params.getall("titulos", []))
    return await _screen(request, debtor_id, chosen, _day(request.query_params.get("data")))


@post("/devedores/{debtor_id:uuid}/acordos", guards=[NEGOTIATORS])
async def create_agreement(request: Req, debtor_id: FromPath[uuid.UUID],
                           data: MultiForm) -> Template | Redirect:
    chosen = _ids(data.get("titulos"))
    at = _day(str(data.get("data") or ""))
    try:
        option = int(str(data.get("option") or "0"))
    except ValueError:
        option = 0
    try:
        made = await agreements.create(request.user, debtor_id, option, chosen or None, at)
    except NotFound:
        raise
    except DomainError as exc:
        return await _screen(request, debtor_id, chosen, at, exc.status_code, _errors(exc))
    return Redirect(f"/acordos/{made.agreement_id}?feito=criado")


def _agreement_page(request: Req, view: agreements.AgreementView, status_code: int = 200,
                    errors: dict[str, str] | None = None, link: str | None = None) -> Template:
    return page(request, "agreement.html", status_code=status_code, a=view,
                may_negotiate=request.user.role in agreements.NEGOTIATING_ROLES,
                done=DONE.get(request.query_params.get("feito", "")), errors=errors or {},
                link=link)


@get("/acordos/{agreement_id:uuid}", guards=[READERS])
async def agreement_page(request: Req, agreement_id: FromPath[uuid.UUID]) -> Template:
    return _agreement_page(request, await agreements.get(request.user, agreement_id))


async def _act(request: Req, agreement_id: uuid.UUID, done: str, action: Any,
               *args: Any) -> Template | Redirect:
    try:
        await action(request.user, agreement_id, *args)
    except NotFound:
        raise
    except DomainError as exc:
        view = await agreements.get(request.user, agreement_id)
        return _agreement_page(request, view, exc.status_code, _errors(exc))
    return Redirect(f"/acordos/{agreement_id}?feito={done}")


@post("/acordos/{agreement_id:uuid}/aceite", guards=[NEGOTIATORS])
async def accept(request: Req, agreement_id: FromPath[uuid.UUID],
                 data: Form) -> Template | Redirect:
    return await _act(request, agreement_id, "aceito", agreements.accept_by_agent,
                      data.get("call_recording_ref"))


@post("/acordos/{agreement_id:uuid}/restabelecer", guards=[NEGOTIATORS])
async def reinstate(request: Req, agreement_id: FromPath[uuid.UUID]) -> Template | Redirect:
    return await _act(request, agreement_id, "restabelecido", agreements.reinstate)


@post("/acordos/{agreement_id:uuid}/link", guards=[NEGOTIATORS])
async def issue_link(request: Req, agreement_id: FromPath[uuid.UUID]) -> Template:
    try:
        path = await agreements.issue_link(request.user, agreement_id)
    except NotFound:
        raise
    except DomainError as exc:
        view = await agreements.get(request.user, agreement_id)
        return _agreement_page(request, view, exc.status_code, _errors(exc))
    view = await agreements.get(request.user, agreement_id)
    return _agreement_page(request, view, link=f"{request.base_url}{path.lstrip('/')}")


@get("/acordos", guards=[READERS])
async def agreements_page(request: Req) -> Template:
    status = request.query_params.get("situacao") or None
    try:
        items = await agreements.listed(request.user, status)
    except DomainError:
        items, status = await agreements.listed(request.user), None
    return page(request, "agreements.html", items=items, status=status,
                statuses=list(AGREEMENT_STATUS_LABELS.items()))


@get("/aprovacoes", guards=[requires(*DECIDERS)])
async def approvals_page(request: Req) -> Template:
    items = await agreements.queue(request.user, include_decided=True)
    return page(request, "approvals.html", items=items, errors={},
                done=DONE.get(request.query_params.get("feito", "")))


@post("/aprovacoes/{request_id:uuid}/decisao", guards=[requires(*DECIDERS)])
async def decide(request: Req, request_id: FromPath[uuid.UUID],
                 data: Form) -> Template | Redirect:
    choice = data.get("decision")
    accept = {"aprovar": True, "recusar": False}.get(choice or "")
    try:
        await agreements.decide(request.user, request_id, accept, data.get("reason"))
    except NotFound:
        raise
    except DomainError as exc:
        items = await agreements.queue(request.user, include_decided=True)
        return page(request, "approvals.html", status_code=exc.status_code, items=items,
                    errors={str(request_id): "; ".join(_errors(exc).values())}, done=None)
    return Redirect("/aprovacoes?feito=decidido")


@get("/credores/{tenant_id:uuid}/negociacao", guards=[EDITORS])
async def policy_page(request: Req, tenant_id: FromPath[uuid.UUID]) -> Template:
    values = await policy.read_policy(request.user, tenant_id)
    return page(request, "negotiation_policy.html", tenant_id=tenant_id, p=values, errors={},
                done=DONE.get(request.query_params.get("feito", "")),
                bucket_labels=BUCKET_LABELS)


@post("/credores/{tenant_id:uuid}/negociacao", guards=[EDITORS])
async def save_policy(request: Req, tenant_id: FromPath[uuid.UUID],
                      data: MultiForm) -> Template | Redirect:
    values: dict[str, Any] = {k: v for k, v in data.items() if not k.startswith("band_")}
    values["discount_bands"] = _bands(data)
    values.setdefault("reinstatement_allowed", "off")
    order = data.get("allocation_order", [])
    values["allocation_order"] = order if isinstance(order, list) else [order]
    try:
        await policy.save_policy(request.user, tenant_id, values)
    except NotFound:
        raise
    except DomainError as exc:
        return page(request, "negotiation_policy.html", status_code=exc.status_code,
                    tenant_id=tenant_id, p={**values, "discount_bands": values["discount_bands"]},
                    errors=_errors(exc), done=None, bucket_labels=BUCKET_LABELS)
    return Redirect(f"/credores/{tenant_id}/negociacao?feito=politica")


def _bands(data: dict[str, str | list[str]]) -> list[dict[str, Any]]:
    """The bands' table: `band_<field>` columns, one value per row; empty rows dropped."""
    def column(name: str) -> list[str]:
        raw = data.get(f"band_{name}", [])
        return raw if isinstance(raw, list) else [raw]

    fields = ["min_days", "max_days", *policy.BUCKETS]
    columns = {f: column(f) for f in fields}
    rows = max((len(v) for v in columns.values()), default=0)
    out = []
    for i in range(rows):
        row = {f: (columns[f][i] if i < len(columns[f]) else "") for f in fields}
        if str(row["min_days"]).strip():
            out.append(row)
    return out


# ---- the debtor's link (public: the signed token is the credential) ---------------------

@get("/acordo")
async def link_page(request: Request[Any, Any, Any]) -> Template:
    token = request.query_params.get("t", "")
    view = await agreements.view_by_link(token)
    return page(request, "agreement_link.html", v=view, token=token, accepted=False)


@post("/acordo")
async def link_accept(request: Request[Any, Any, Any], data: Form) -> Template:
    token = data.get("t", "")
    await agreements.accept_by_link(token, client_ip(request),
                                    request.headers.get("user-agent"))
    return page(request, "agreement_link.html", v=None, token="", accepted=True)


handlers = [agreements_page, negotiation_page, create_agreement, agreement_page, accept,
            reinstate, issue_link, approvals_page, decide, policy_page, save_policy, link_page,
            link_accept]
