"""Pages of the legal queue: the queue (the legal team's home), a case with its moves,
deadlines, notes, documents, dossier and exports, the handoff from the debtor file, and
a creditor's law-firm webhook.

Each handler parses its form, calls one service of `legal.cases`, and renders or
redirects; who may do what lives there.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Stream, Template

from core.auth.principal import Principal
from core.auth.web import requires
from core.errors import DomainError, NotFound
from legal.cases import documents, export, service
from legal.cases.controllers import UPLOAD_BODY_LIMIT, public_base, read_upload, streamed
from legal.cases.models import CASE_STATE_LABELS
from portal.pages import page

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
MultiForm = Annotated[dict[str, str | list[str]],
                      Body(media_type=RequestEncodingType.URL_ENCODED)]
READERS = requires(*service.READING_ROLES)
EDITORS = requires(*service.EDITING_ROLES)
UPLOADERS = requires(*service.UPLOADING_ROLES)
DOSSIER = requires(*service.DOSSIER_ROLES)
HANDING_OFF = requires(*service.HANDING_OFF_ROLES)
DONE = {"situacao": "Situação do caso atualizada.", "processo": "Dados do processo salvos.",
        "advogado": "Advogado responsável atualizado.", "prazo": "Prazo registrado.",
        "cumprido": "Prazo marcado como cumprido.", "anotacao": "Anotação registrada.",
        "documento": "Documento enviado.", "dossie": "Nova versão do dossiê gerada.",
        "enviado": "Caso enviado ao escritório.", "webhook": "Webhook do escritório salvo.",
        "aberto": "Caso aberto no jurídico, com o dossiê gerado."}


def _errors(exc: DomainError) -> dict[str, str]:
    return exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise NotFoundException(detail="não encontrado") from None


@get("/juridico", guards=[READERS])
async def queue_page(request: Req) -> Template:
    params = request.query_params
    state = params.get("situacao") or None
    lawyer = params.get("advogado") or None
    tenant = _uuid(params.get("credor"))
    late = params.get("vencidos") == "1"
    q = params.get("q") or None
    found = await service.queue(request.user, state=state, lawyer=lawyer, tenant=tenant,
                                late=late, q=q)
    return page(request, "cases.html", found=found, states=list(CASE_STATE_LABELS.items()),
                state=state, lawyer=lawyer, tenant=str(tenant or ""), late=late, q=q or "",
                agency=request.user.role.is_agency)


async def _case_page(request: Req, case_id: uuid.UUID, status_code: int = 200,
                     errors: dict[str, str] | None = None, form: str | None = None,
                     sent: export.Sent | None = None) -> Template:
    found = await service.view(request.user, case_id)
    return page(request, "case.html", status_code=status_code, c=found,
                errors=errors or {}, form=form,
                done=DONE.get(request.query_params.get("feito", "")), sent=sent,
                kinds=documents.KIND_CHOICES, accepted=documents.ACCEPTED_NAMES,
                max_mb=documents.MAX_BYTES // 1024 // 1024)


@get("/juridico/casos/{case_id:uuid}", guards=[READERS])
async def case_page(request: Req, case_id: FromPath[uuid.UUID]) -> Template:
    return await _case_page(request, case_id)


async def _act(request: Req, case_id: uuid.UUID, form: str, done: str,
               action: Callable[[], Awaitable[object]]) -> Template | Redirect:
    try:
        await action()
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(request, case_id, exc.status_code, _errors(exc), form)
    return Redirect(f"/juridico/casos/{case_id}?feito={done}#{form}")


@post("/juridico/casos/{case_id:uuid}/situacao", guards=[EDITORS])
async def move_form(request: Req, case_id: FromPath[uuid.UUID],
                    data: Form) -> Template | Redirect:
    court = service.CourtData(data.get("court_number"), data.get("court_name"),
                              data.get("filed_on")) \
        if any(data.get(k) for k in ("court_number", "court_name", "filed_on")) else None
    return await _act(request, case_id, "situacao", "situacao", lambda: service.move(
        request.user, case_id, data.get("state"), data.get("note"), court))


@post("/juridico/casos/{case_id:uuid}/processo", guards=[EDITORS])
async def court_form(request: Req, case_id: FromPath[uuid.UUID],
                     data: Form) -> Template | Redirect:
    return await _act(request, case_id, "processo", "processo", lambda: service.set_court(
        request.user, case_id, service.CourtData(data.get("court_number"),
                                                 data.get("court_name", ""),
                                                 data.get("filed_on"))))


@post("/juridico/casos/{case_id:uuid}/advogado", guards=[EDITORS])
async def lawyer_form(request: Req, case_id: FromPath[uuid.UUID],
                      data: Form) -> Template | Redirect:
    lawyer = _uuid(data.get("lawyer_id"))
    return await _act(request, case_id, "advogado", "advogado",
                      lambda: service.assign(request.user, case_id, lawyer))


@post("/juridico/casos/{case_id:uuid}/prazos", guards=[EDITORS])
async def deadline_form(request: Req, case_id: FromPath[uuid.UUID],
                        data: Form) -> Template | Redirect:
    return await _act(request, case_id, "prazos", "prazo", lambda: service.add_deadline(
        request.user, case_id, data.get("what"), data.get("due_on")))


@post("/juridico/casos/{case_id:uuid}/prazos/{deadline_id:uuid}/cumprido", guards=[EDITORS])
async def deadline_done_form(request: Req, case_id: FromPath[uuid.UUID],
                             deadline_id: FromPath[uuid.UUID]) -> Template | Redirect:
    return await _act(request, case_id, "prazos", "cumprido", lambda: service.complete_deadline(
        request.user, case_id, deadline_id))


@post("/juridico/casos/{case_id:uuid}/anotacoes", guards=[EDITORS])
async def note_form(request: Req, case_id: FromPath[uuid.UUID],
                    data: Form) -> Template | Redirect:
    return await _act(request, case_id, "anotacoes", "anotacao",
                      lambda: service.add_note(request.user, case_id, data.get("body")))


@post("/juridico/casos/{case_id:uuid}/documentos", guards=[UPLOADERS],
      request_max_body_size=UPLOAD_BODY_LIMIT)
async def upload_form(request: Req, case_id: FromPath[uuid.UUID]) -> Template | Redirect:
    name, data, kind, description = await read_upload(request)
    return await _act(request, case_id, "documentos", "documento", lambda: documents.upload(
        request.user, case_id, name, data, kind, description))


@post("/juridico/casos/{case_id:uuid}/dossie", guards=[EDITORS])
async def regenerate_form(request: Req, case_id: FromPath[uuid.UUID]) -> Template | Redirect:
    return await _act(request, case_id, "dossie", "dossie",
                      lambda: service.regenerate(request.user, case_id))


@post("/juridico/casos/{case_id:uuid}/exportar", guards=[EDITORS])
async def export_form(request: Req, case_id: FromPath[uuid.UUID]) -> Template:
    try:
        sent = await export.send_webhook(request.user, case_id, public_base(request))
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(request, case_id, exc.status_code, _errors(exc), "exportar")
    return await _case_page(request, case_id, sent=sent, form="exportar")


@get("/juridico/casos/{case_id:uuid}/documentos/{document_id:uuid}", guards=[READERS])
async def document_download(request: Req, case_id: FromPath[uuid.UUID],
                            document_id: FromPath[uuid.UUID]) -> Stream:
    return streamed(await documents.download(request.user, case_id, document_id))


@get("/juridico/casos/{case_id:uuid}/dossie.pdf", guards=[DOSSIER])
async def dossier_pdf(request: Req, case_id: FromPath[uuid.UUID]) -> Stream:
    return streamed(await documents.current_dossier(request.user, case_id))


@get("/juridico/casos/{case_id:uuid}/dossie.zip", guards=[DOSSIER])
async def dossier_zip(request: Req, case_id: FromPath[uuid.UUID]) -> Stream:
    return streamed(await export.download_zip(request.user, case_id))


@get("/devedores/{debtor_id:uuid}/juridico", guards=[HANDING_OFF])
async def handoff_page(request: Req, debtor_id: FromPath[uuid.UUID]) -> Template:
    return page(request, "case_handoff.html", s=await service.handoff_screen(request.user,
                                                                               debtor_id),
                errors={}, reason="")


@post("/devedores/{debtor_id:uuid}/juridico", guards=[HANDING_OFF])
async def handoff_form(request: Req, debtor_id: FromPath[uuid.UUID],
                       data: MultiForm) -> Template | Redirect:
    raw = data.get("titulos") or []
    chosen = [u for u in (_uuid(v) for v in ([raw] if isinstance(raw, str) else raw)) if u]
    reason = str(data.get("reason") or "")
    try:
        case_id = await service.hand_off(request.user, debtor_id, chosen, reason)
    except NotFound:
        raise
    except DomainError as exc:
        return page(request, "case_handoff.html", status_code=exc.status_code,
                    s=await service.handoff_screen(request.user, debtor_id),
                    errors=_errors(exc), reason=reason)
    return Redirect(f"/juridico/casos/{case_id}?feito=aberto")


@get("/juridico/credores/{tenant_id:uuid}/webhook", guards=[EDITORS])
async def webhook_page(request: Req, tenant_id: FromPath[uuid.UUID]) -> Template:
    found = await export.get_webhook(request.user, tenant_id)
    return page(request, "case_webhook.html", tenant_id=tenant_id, hook=found, errors={},
                form={"url": found.url if found else "", "active": found.active if found
                      else True}, done=DONE.get(request.query_params.get("feito", "")))


@post("/juridico/credores/{tenant_id:uuid}/webhook", guards=[EDITORS])
async def webhook_form(request: Req, tenant_id: FromPath[uuid.UUID],
                       data: Form) -> Template | Redirect:
    try:
        await export.save_webhook(request.user, tenant_id, data.get("url"),
                                  data.get("active") == "on", data.get("new_secret") == "on")
    except NotFound:
        raise
    except DomainError as exc:
        return page(request, "case_webhook.html", status_code=exc.status_code,
                    tenant_id=tenant_id, hook=await export.get_webhook(request.user, tenant_id),
                    errors=_errors(exc), form=data, done=None)
    return Redirect(f"/juridico/credores/{tenant_id}/webhook?feito=webhook")


handlers = [queue_page, case_page, move_form, court_form, lawyer_form, deadline_form,
            deadline_done_form, note_form, upload_form, regenerate_form, export_form,
            document_download, dossier_pdf, dossier_zip, handoff_page, handoff_form,
            webhook_page, webhook_form]
