"""The agent desktop ("Atendimento") and the supervisor's board ("Supervisão").

The desktop hears the dialer through server-sent events (`/atendimento/eventos`, fed by
PostgreSQL LISTEN on the dialer's channel, this agent's events only): a screen pop opens
the debtor on the desktop. Handlers parse, call one service of `dialer`, and render. The
desktop also shows the answers to the agent's approval requests until the agent marks
them as seen (`legal.notices`: the page composes both packages, which do not import each
other).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import DomainError, Forbidden, NotFound
from core.scoring.rules import BAND_LABELS, SEGMENT_LABELS
from dialer import agenda, campaigns, desktop, dispositions, events
from legal import notices
from portal.pages import page
from tenants import onboarding

Req = Request[Principal, str, Any]
MultiForm = Annotated[dict[str, str | list[str]],
                      Body(media_type=RequestEncodingType.URL_ENCODED)]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
AGENTS = requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
SUPERVISORS = requires(Role.SUPERVISOR, Role.ADMIN)
DONE = {"entrada": "Você entrou nas campanhas.", "saida": "Você saiu das campanhas.",
        "estado": "Situação atualizada.", "resultado": "Resultado registrado.",
        "encerrada": "Pedido de encerramento enviado ao discador.",
        "vazia": "Nada a fazer agora: a agenda está vazia.",
        "aguardando": "Ninguém da agenda pode ser chamado agora (fora do horário permitido "
                      "para ligações, ou limite de contatos do dia): cada item mostra quando "
                      "volta.",
        "sem-fichas": "Nenhuma ficha para ligar agora nas campanhas em prévia (lista vazia "
                      "ou fora do horário permitido).",
        "ligando": "Ligação pedida ao discador: seu telefone toca quando o devedor atender.",
        "pulada": "Ficha pulada: ela volta à lista mais tarde.",
        "ciente": "Resposta marcada como vista."}
DISPOSITION_FIELDS = ("disposition", "promise_date", "promise_amount", "callback_date",
                      "callback_time", "note")


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        raise NotFoundException(detail="endereço não encontrado") from None


async def _render(request: Req, debtor_id: uuid.UUID | None = None,
                  call_id: uuid.UUID | None = None, status_code: int = 200,
                  errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Template:
    try:
        view = await desktop.desktop(request.user, debtor_id, call_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    answers = await notices.answers_for(request.user)
    return page(request, "desktop.html", status_code=status_code, d=view, call_id=call_id,
                answers=answers,
                done=DONE.get(request.query_params.get("feito", "")),
                dispositions=list(dispositions.LABELS.items()), form=values or {},
                errors=errors or {})


@get("/atendimento", guards=[AGENTS])
async def desktop_page(request: Req, devedor: FromQuery[str | None] = None,
                       ligacao: FromQuery[str | None] = None) -> Template:
    return await _render(request, _uuid(devedor), _uuid(ligacao))


async def _act(request: Req, action: Any, *args: Any, back: str = "/atendimento",
               form_values: dict[str, str] | None = None) -> Template | Redirect:
    try:
        await action(request.user, *args)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return await _render(request, status_code=exc.status_code, errors=errors,
                             values=form_values)
    return Redirect(back)


@post("/atendimento/entrar", guards=[AGENTS])
async def login_form(request: Req, data: MultiForm) -> Template | Redirect:
    chosen = data.get("campaign_ids") or []
    ids = [chosen] if isinstance(chosen, str) else chosen
    sip = data.get("sip_uri")
    return await _act(request, desktop.login, ids, sip if isinstance(sip, str) else "",
                      back="/atendimento?feito=entrada",
                      form_values={"sip_uri": sip if isinstance(sip, str) else ""})


@post("/atendimento/sair", guards=[AGENTS])
async def logout_form(request: Req) -> Template | Redirect:
    return await _act(request, desktop.logout, back="/atendimento?feito=saida")


@post("/atendimento/estado", guards=[AGENTS])
async def state_form(request: Req, data: Form) -> Template | Redirect:
    return await _act(request, desktop.set_state, data.get("state", ""), data.get("reason"),
                      back="/atendimento?feito=estado", form_values=data)


@post("/atendimento/proximo", guards=[AGENTS])
async def next_form(request: Req) -> Redirect:
    try:
        item = await agenda.take_next(request.user)
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    if item is None:
        waiting = await agenda.upcoming(request.user, limit=1)
        return Redirect("/atendimento?feito=" + ("aguardando" if waiting else "vazia"))
    return Redirect(f"/atendimento?devedor={item.debtor_id}")


@post("/atendimento/previa/proxima", guards=[AGENTS])
async def preview_next_form(request: Req) -> Template | Redirect:
    try:
        found = await desktop.preview_next(request.user)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    return Redirect("/atendimento" if found else "/atendimento?feito=sem-fichas")


@post("/atendimento/previa/{entry_id:uuid}/ligar", guards=[AGENTS])
async def preview_dial_form(request: Req, entry_id: FromPath[uuid.UUID]) -> Template | Redirect:
    try:
        placed = await desktop.preview_dial(request.user, entry_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return await _render(request, status_code=exc.status_code, errors=errors)
    if placed.call_id is None:
        return await _render(request, placed.debtor_id, status_code=409, errors={
            "_": f"A ligação não foi feita: {placed.refused}. A ficha volta à lista quando "
                 "o contato for permitido."})
    return Redirect(f"/atendimento?devedor={placed.debtor_id}&ligacao={placed.call_id}"
                    "&feito=ligando")


@post("/atendimento/previa/{entry_id:uuid}/pular", guards=[AGENTS])
async def preview_skip_form(request: Req, entry_id: FromPath[uuid.UUID],
                            data: Form) -> Template | Redirect:
    return await _act(request, desktop.preview_skip, entry_id, data.get("skip_reason"),
                      back="/atendimento?feito=pulada", form_values=data)


@post("/atendimento/devedores/{debtor_id:uuid}/resultado", guards=[AGENTS])
async def disposition_form(request: Req, debtor_id: FromPath[uuid.UUID],
                           data: Form) -> Template | Redirect:
    call_id = _uuid(data.get("call_id"))
    form = dispositions.Form(**{k: data.get(k, "") for k in DISPOSITION_FIELDS})
    try:
        await dispositions.dispose(request.user, debtor_id, form, call_id=call_id,
                                   contact_point_id=_uuid(data.get("contact_point_id")))
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return await _render(request, debtor_id, call_id, exc.status_code, errors, data)
    return Redirect("/atendimento?feito=resultado")


@post("/atendimento/respostas/{request_id:uuid}/ciente", guards=[AGENTS])
async def answer_seen_form(request: Req, request_id: FromPath[uuid.UUID]) -> Redirect:
    try:
        await notices.acknowledge(request.user, request_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    return Redirect("/atendimento?feito=ciente")


@post("/atendimento/ligacoes/{call_id:uuid}/encerrar", guards=[AGENTS])
async def hang_up_form(request: Req, call_id: FromPath[uuid.UUID]) -> Template | Redirect:
    return await _act(request, desktop.end_call, call_id, back="/atendimento?feito=encerrada")


@get("/atendimento/eventos", guards=[AGENTS])
async def event_stream(request: Req) -> ServerSentEvent:
    """This agent's dialer events: its state and its screen pops."""
    principal = request.user

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(comment="conectado")
        async for event in events.listen(principal.tenant_ids, principal.user_id):
            yield ServerSentEventMessage(data=json.dumps(event), event=event["kind"])

    return ServerSentEvent(stream())


BOARD_DONE = {"active": "Campanha em andamento.", "paused": "Campanha pausada.",
              "stopped": "Campanha encerrada.",
              "ritmo": "Ritmo de discagem salvo: o discador passa a usá-lo na próxima rodada."}
NEW_CAMPAIGN = "nova"  # `editing` when the new-campaign form has errors


async def _board(request: Req, status_code: int = 200,
                 editing: uuid.UUID | str | None = None,
                 errors: dict[str, str] | None = None,
                 values: dict[str, Any] | None = None) -> Template:
    try:
        found = await desktop.boards(request.user)
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    async with transaction(request.user) as session:
        tenants = await onboarding.list_tenants(session)
    done = BOARD_DONE.get(request.query_params.get("feito", ""))
    if request.query_params.get("feito") in ("criada", "lista"):
        listed = request.query_params.get("n", "0")
        done = ("Campanha criada" if request.query_params["feito"] == "criada"
                else "Lista atualizada") + f": {listed} devedor(es) entraram na lista."
    return page(request, "supervisor.html", status_code=status_code, boards=found,
                modes=list(campaigns.MODE_LABELS.items()), tenants=tenants,
                bands=list(BAND_LABELS.items()), segments=list(SEGMENT_LABELS.items()),
                done=done, error=request.query_params.get("erro"), editing=editing,
                new_campaign=NEW_CAMPAIGN, errors=errors or {}, form=values or {})


@get("/atendimento/supervisao", guards=[SUPERVISORS])
async def supervisor_page(request: Req) -> Template:
    return await _board(request)


@post("/atendimento/supervisao/campanhas/{campaign_id:uuid}/ritmo", guards=[SUPERVISORS])
async def campaign_pacing_form(request: Req, campaign_id: FromPath[uuid.UUID],
                               data: Form) -> Template | Redirect:
    try:
        await desktop.set_pacing(request.user, campaign_id, data.get("mode", ""),
                                 data.get("abandon_target", ""),
                                 data.get("max_lines_per_agent", ""))
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return await _board(request, exc.status_code, campaign_id, errors, data)
    return Redirect(f"/atendimento/supervisao?feito=ritmo#campanha-{campaign_id}")


@post("/atendimento/supervisao/campanhas", guards=[SUPERVISORS])
async def campaign_create_form(request: Req, data: MultiForm) -> Template | Redirect:
    def one(value: str | list[str]) -> str:
        return value if isinstance(value, str) else (value[0] if value else "")

    def many(value: str | list[str]) -> list[str]:
        return [value] if isinstance(value, str) else value

    values: dict[str, Any] = {k: one(data.get(k, "")) for k in desktop.CAMPAIGN_FIELDS}
    values.update({k: many(data.get(k, [])) for k in desktop.CAMPAIGN_CHOICES})
    try:
        campaign_id, listed = await desktop.create_campaign(request.user, values)
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return await _board(request, exc.status_code, NEW_CAMPAIGN, errors, values)
    return Redirect(f"/atendimento/supervisao?feito=criada&n={listed}#campanha-{campaign_id}")


@post("/atendimento/campanhas/{campaign_id:uuid}/lista", guards=[SUPERVISORS])
async def campaign_list_form(request: Req, campaign_id: FromPath[uuid.UUID]) -> Redirect:
    try:
        listed = await desktop.refresh_list(request.user, campaign_id)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError:
        return Redirect("/atendimento/supervisao?erro=uma+campanha+encerrada+não+recebe"
                        "+devedores")
    return Redirect(f"/atendimento/supervisao?feito=lista&n={listed}#campanha-{campaign_id}")


@post("/atendimento/campanhas/{campaign_id:uuid}/situacao", guards=[SUPERVISORS])
async def campaign_status_form(request: Req, campaign_id: FromPath[uuid.UUID],
                               data: Form) -> Redirect:
    status = data.get("status", "")
    try:
        await desktop.set_campaign_status(request.user, campaign_id, status)
    except NotFound as exc:
        raise NotFoundException(detail=str(exc.detail)) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError:
        return Redirect("/atendimento/supervisao?erro=uma+campanha+encerrada+não+é+retomada")
    return Redirect(f"/atendimento/supervisao?feito={status}")


handlers = [desktop_page, login_form, logout_form, state_form, next_form, disposition_form,
            answer_seen_form, hang_up_form, event_stream, supervisor_page,
            campaign_status_form, campaign_pacing_form, campaign_create_form,
            campaign_list_form, preview_next_form,
            preview_dial_form, preview_skip_form]
