"""Pages of legal escalation: "Escalonamentos" (the list with its filters, one escalation
with its history, hold and release), a person's "escalar" from the debtor file, and each
tenant's rules and policy with what the bureau sandbox received.

Each handler parses its form, calls one service of `legal.escalation`, and renders or
redirects.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.web import requires
from core.errors import DomainError, NotFound, ValidationFailed
from core.settings import get_settings
from legal.escalation import bureau_sandbox, policy, rules, service
from legal.escalation.models import PATH_LABELS, STATE_LABELS, EscalationPath
from portal.pages import page

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
VIEWERS = requires(*service.VIEW_ROLES)
ACTORS = requires(*service.ACT_ROLES)
RULE_READERS = requires(*rules.READING_ROLES)
RULE_EDITORS = requires(*rules.EDITING_ROLES)
DONE = {"retido": "Escalonamento retido: não avança até ser liberado.",
        "liberado": "Escalonamento liberado.", "escalado": "Título escalado.",
        "regra": "Regra salva.", "apagada": "Regra apagada.", "politica": "Política salva."}


def _errors(exc: DomainError) -> dict[str, str]:
    return exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


@get("/escalonamentos", guards=[VIEWERS])
async def escalations_page(request: Req, credor: FromQuery[str | None] = None,
                           caminho: FromQuery[str | None] = None,
                           situacao: FromQuery[str | None] = None,
                           retidos: FromQuery[str | None] = None,
                           atrasados: FromQuery[str | None] = None) -> Template:
    filters = service.Filters(
        tenant_id=_uuid(credor), path=caminho or None, state=situacao or None,
        held={"sim": True, "nao": False}.get(retidos or ""), overdue=atrasados == "sim")
    found = await service.listing(request.user, filters)
    return page(request, "escalations.html", found=found,
                tenants=await service.tenant_choices(request.user),
                paths=PATH_LABELS, states=STATE_LABELS,
                chosen={"credor": credor or "", "caminho": caminho or "",
                        "situacao": situacao or "", "retidos": retidos or "",
                        "atrasados": atrasados or ""},
                may_edit_rules=request.user.role in rules.READING_ROLES)


def _detail_page(request: Req, found: service.Detail, status_code: int = 200,
                 errors: dict[str, str] | None = None) -> Template:
    return page(request, "escalation.html", status_code=status_code, e=found,
                may_act=request.user.role in service.ACT_ROLES, errors=errors or {},
                done=DONE.get(request.query_params.get("feito", "")))


@get("/escalonamentos/{escalation_id:uuid}", guards=[VIEWERS])
async def escalation_page(request: Req, escalation_id: FromPath[uuid.UUID]) -> Template:
    return _detail_page(request, await service.detail(request.user, escalation_id))


async def _act(request: Req, escalation_id: uuid.UUID, action: Any, done: str,
               data: dict[str, str]) -> Template | Redirect:
    try:
        await action(request.user, escalation_id, data.get("reason", ""))
    except NotFound:
        raise
    except DomainError as exc:
        found = await service.detail(request.user, escalation_id)
        return _detail_page(request, found, exc.status_code, _errors(exc))
    return Redirect(f"/escalonamentos/{escalation_id}?feito={done}")


@post("/escalonamentos/{escalation_id:uuid}/reter", guards=[ACTORS])
async def hold(request: Req, escalation_id: FromPath[uuid.UUID],
               data: Form) -> Template | Redirect:
    return await _act(request, escalation_id, service.hold, "retido", data)


@post("/escalonamentos/{escalation_id:uuid}/liberar", guards=[ACTORS])
async def release(request: Req, escalation_id: FromPath[uuid.UUID],
                  data: Form) -> Template | Redirect:
    return await _act(request, escalation_id, service.release, "liberado", data)


@get("/devedores/{debtor_id:uuid}/escalar", guards=[ACTORS])
async def escalate_form(request: Req, debtor_id: FromPath[uuid.UUID]) -> Template:
    return await _escalate_page(request, debtor_id)


async def _escalate_page(request: Req, debtor_id: uuid.UUID, status_code: int = 200,
                         errors: dict[str, str] | None = None,
                         form: dict[str, str] | None = None) -> Template:
    debtor, debts = await service.escalation_candidates(request.user, debtor_id)
    return page(request, "escalate.html", status_code=status_code, debtor=debtor, debts=debts,
                paths=PATH_LABELS, errors=errors or {}, form=form or {})


@post("/devedores/{debtor_id:uuid}/escalar", guards=[ACTORS])
async def escalate(request: Req, debtor_id: FromPath[uuid.UUID],
                   data: Form) -> Template | Redirect:
    debt_id = _uuid(data.get("debt_id"))
    try:
        if debt_id is None:
            raise ValidationFailed({"debt_id": "escolha o título"})
        made = await service.escalate(request.user, debt_id, data.get("path", ""),
                                      data.get("note"), debtor_id=debtor_id)
    except NotFound:
        raise
    except DomainError as exc:
        return await _escalate_page(request, debtor_id, exc.status_code, _errors(exc), data)
    return Redirect(f"/escalonamentos/{made}?feito=escalado")


# ---- rules and policy ---------------------------------------------------------------------

async def _rules_page(request: Req, tenant_id: uuid.UUID | None, status_code: int = 200,
                      errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                      editing: uuid.UUID | None = None) -> Template:
    choices = await service.tenant_choices(request.user)
    chosen = tenant_id or (choices[0][0] if choices else None)
    found = await rules.list_rules(request.user, chosen) if chosen else []
    current = await policy.read_policy(request.user, chosen) if chosen else dict(policy.DEFAULTS)
    cnpj = next((c for i, _, c in choices if i == chosen), "")
    received = bureau_sandbox.received(get_settings(), cnpj) if cnpj else []
    return page(request, "escalation_rules.html", status_code=status_code, tenants=choices,
                tenant_id=chosen, rules=found, policy=current, paths=PATH_LABELS,
                path_values=[p.value for p in EscalationPath], errors=errors or {},
                form=form or {}, editing=editing,
                may_edit=request.user.role in rules.EDITING_ROLES,
                may_edit_policy=request.user.role in policy.EDITING_ROLES,
                received=received[:10], sandboxed=get_settings().bureau_url is None,
                done=DONE.get(request.query_params.get("feito", "")))


@get("/escalonamentos/regras", guards=[RULE_READERS])
async def rules_page(request: Req, credor: FromQuery[str | None] = None,
                     editar: FromQuery[str | None] = None) -> Template:
    return await _rules_page(request, _uuid(credor), editing=_uuid(editar))


@post("/escalonamentos/regras", guards=[RULE_EDITORS])
async def save_rule(request: Req, data: Form) -> Template | Redirect:
    tenant_id = _uuid(data.get("tenant_id"))
    rule_id = _uuid(data.get("rule_id"))
    values = {**data, "active": data.get("active", "")}
    try:
        if rule_id is not None:
            await rules.update_rule(request.user, rule_id, values)
        elif tenant_id is not None:
            await rules.create_rule(request.user, tenant_id, values)
        else:
            raise NotFound("credor")
    except NotFound:
        raise
    except DomainError as exc:
        return await _rules_page(request, tenant_id, exc.status_code, _errors(exc), data,
                                 editing=rule_id)
    return Redirect(f"/escalonamentos/regras?credor={tenant_id}&feito=regra")


@post("/escalonamentos/regras/{rule_id:uuid}/apagar", guards=[RULE_EDITORS])
async def delete_rule(request: Req, rule_id: FromPath[uuid.UUID], data: Form) -> Redirect:
    await rules.delete_rule(request.user, rule_id)
    return Redirect(f"/escalonamentos/regras?credor={data.get('tenant_id', '')}&feito=apagada")


@post("/escalonamentos/politica", guards=[requires(*policy.EDITING_ROLES)])
async def save_policy(request: Req, data: Form) -> Template | Redirect:
    tenant_id = _uuid(data.get("tenant_id"))
    if tenant_id is None:
        raise NotFound("credor")
    values = {k: data.get(k, "") for k in policy.DEFAULTS}
    try:
        await policy.save_policy(request.user, tenant_id, values)
    except NotFound:
        raise
    except DomainError as exc:
        return await _rules_page(request, tenant_id, exc.status_code,
                                 {f"policy_{k}": v for k, v in _errors(exc).items()})
    return Redirect(f"/escalonamentos/regras?credor={tenant_id}&feito=politica")


handlers = [escalations_page, escalation_page, hold, release, escalate_form, escalate,
            rules_page, save_rule, delete_rule, save_policy]
