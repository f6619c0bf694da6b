"""/api/v1/cases: the legal queue, a case, its moves, deadlines, notes, documents,
dossier and exports; and the public link an outside law firm fetches the ZIP from."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from core.auth.principal import Principal
from core.auth.web import requires
from core.settings import get_settings
from legal.cases import documents, export, service
from legal.cases.documents import Download

Req = Request[Principal, str, Any]
READERS = tuple(sorted(service.READING_ROLES))
EDITORS = tuple(sorted(service.EDITING_ROLES))
UPLOADERS = tuple(sorted(service.UPLOADING_ROLES))
DOSSIER = tuple(sorted(service.DOSSIER_ROLES))
HANDING_OFF = tuple(sorted(service.HANDING_OFF_ROLES))
UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 256 * 1024  # the file and the form around it


def streamed(found: Download, inline: bool = False) -> Stream:
    disposition = "inline" if inline else "attachment"
    return Stream(found.chunks, media_type=found.content_type, headers={
        "Content-Disposition": f'{disposition}; filename="{found.file_name}"',
        "Content-Length": str(found.size)})


def public_base(request: Request[Any, Any, Any]) -> str:
    """Where an outside firm reaches Régua: REGUA_PUBLIC_URL, else the request's host."""
    return get_settings().public_url or str(request.base_url).rstrip("/")


class HandoffIn(msgspec.Struct, kw_only=True):
    debtor_id: uuid.UUID
    debt_ids: list[uuid.UUID]
    reason: str | None = None


class MoveIn(msgspec.Struct, kw_only=True):
    state: str
    note: str | None = None
    court_number: str | None = None
    court_name: str | None = None
    filed_on: dt.date | None = None


class CourtIn(msgspec.Struct, kw_only=True):
    court_number: str | None = None
    court_name: str | None = None
    filed_on: dt.date | None = None


class LawyerIn(msgspec.Struct, kw_only=True):
    lawyer_id: uuid.UUID | None = None


class DeadlineIn(msgspec.Struct, kw_only=True):
    what: str
    due_on: dt.date


class NoteIn(msgspec.Struct, kw_only=True):
    body: str


class WebhookIn(msgspec.Struct, kw_only=True):
    url: str
    active: bool = True
    new_secret: bool = False


async def read_upload(request: Request[Any, Any, Any]
                      ) -> tuple[str, bytes, str | None, str | None]:
    """A multipart upload's file (name and bytes), kind and description."""
    form = await request.form()
    upload = form.get("file")
    name, data = "", b""
    if isinstance(upload, UploadFile):
        name, data = upload.filename or "", await upload.read()
    kind, description = form.get("kind"), form.get("description")
    return (name, data, kind if isinstance(kind, str) else None,
            description if isinstance(description, str) else None)


class CaseController(Controller):
    path = "/api/v1/cases"
    tags = ["cases"]

    @get("/", guards=[requires(*READERS)],
         description="A fila do jurídico: casos com situação, advogado e próximo prazo.")
    async def list_cases(self, request: Req,
                         case_state: Annotated[str | None, QueryParameter(name="state")] = None,
                         lawyer: FromQuery[str | None] = None,
                         tenant_id: FromQuery[uuid.UUID | None] = None,
                         late: FromQuery[bool] = False,
                         q: FromQuery[str | None] = None) -> dict[str, Any]:
        found = await service.queue(request.user, state=case_state, lawyer=lawyer,
                                    tenant=tenant_id,
                                    late=late, q=q)
        return {"cases": [asdict(r) for r in found.rows], "overdue": found.overdue,
                "near": found.near}

    @post("/handoff", guards=[requires(*HANDING_OFF)], status_code=201,
          description="Envia títulos em aberto de um devedor à cobrança judicial: abre o caso"
                      " e gera o dossiê.")
    async def hand_off(self, request: Req, data: JSONBody[HandoffIn]) -> dict[str, Any]:
        case_id = await service.hand_off(request.user, data.debtor_id, data.debt_ids,
                                         data.reason)
        return asdict(await service.view(request.user, case_id))

    @get("/{case_id:uuid}", guards=[requires(*READERS)], description="Um caso.")
    async def read(self, request: Req, case_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        return asdict(await service.view(request.user, case_id))

    @post("/{case_id:uuid}/state", guards=[requires(*EDITORS)], status_code=200,
          description="Muda a situação do caso (as passagens permitidas); ajuizar exige o"
                      " número CNJ e a data de ajuizamento.")
    async def move(self, request: Req, case_id: FromPath[uuid.UUID],
                   data: JSONBody[MoveIn]) -> dict[str, Any]:
        court = service.CourtData(data.court_number, data.court_name, data.filed_on) \
            if (data.court_number or data.court_name or data.filed_on) else None
        await service.move(request.user, case_id, data.state, data.note, court)
        return asdict(await service.view(request.user, case_id))

    @post("/{case_id:uuid}/court", guards=[requires(*EDITORS)], status_code=200,
          description="Número do processo (CNJ, com dígito verificador), vara, data.")
    async def court(self, request: Req, case_id: FromPath[uuid.UUID],
                    data: JSONBody[CourtIn]) -> dict[str, Any]:
        await service.set_court(request.user, case_id, service.CourtData(
            data.court_number, data.court_name, data.filed_on))
        return asdict(await service.view(request.user, case_id))

    @post("/{case_id:uuid}/lawyer", guards=[requires(*EDITORS)], status_code=200,
          description="O advogado responsável (alguém do jurídico que trabalhe o credor).")
    async def lawyer(self, request: Req, case_id: FromPath[uuid.UUID],
                     data: JSONBody[LawyerIn]) -> dict[str, Any]:
        await service.assign(request.user, case_id, data.lawyer_id)
        return asdict(await service.view(request.user, case_id))

    @post("/{case_id:uuid}/deadlines", guards=[requires(*EDITORS)], status_code=201)
    async def add_deadline(self, request: Req, case_id: FromPath[uuid.UUID],
                           data: JSONBody[DeadlineIn]) -> dict[str, str]:
        made = await service.add_deadline(request.user, case_id, data.what, data.due_on)
        return {"id": str(made)}

    @post("/{case_id:uuid}/deadlines/{deadline_id:uuid}/done", guards=[requires(*EDITORS)],
          status_code=200)
    async def done(self, request: Req, case_id: FromPath[uuid.UUID],
                   deadline_id: FromPath[uuid.UUID]) -> dict[str, str]:
        await service.complete_deadline(request.user, case_id, deadline_id)
        return {"id": str(deadline_id)}

    @post("/{case_id:uuid}/notes", guards=[requires(*EDITORS)], status_code=201)
    async def add_note(self, request: Req, case_id: FromPath[uuid.UUID],
                       data: JSONBody[NoteIn]) -> dict[str, str]:
        await service.add_note(request.user, case_id, data.body)
        return {"status": "ok"}

    @post("/{case_id:uuid}/documents", guards=[requires(*UPLOADERS)], status_code=201,
          request_max_body_size=UPLOAD_BODY_LIMIT,
          description="Envia um documento (multipart: file, kind, description). PDF, PNG,"
                      " JPG, DOCX, XLSX, ODT ou XML, até 10 MB.")
    async def upload(self, request: Req, case_id: FromPath[uuid.UUID]) -> dict[str, str]:
        # The form is read here rather than declared, so that a case the caller may not
        # see answers 404 whatever the body (and not 400 for a missing file).
        name, data, kind, description = await read_upload(request)
        made = await documents.upload(request.user, case_id, name, data, kind, description)
        return {"id": str(made)}

    @get("/{case_id:uuid}/documents/{document_id:uuid}", guards=[requires(*READERS)])
    async def document(self, request: Req, case_id: FromPath[uuid.UUID],
                       document_id: FromPath[uuid.UUID]) -> Stream:
        return streamed(await documents.download(request.user, case_id, document_id))

    @get("/{case_id:uuid}/dossier.pdf", guards=[requires(*DOSSIER)])
    async def dossier_pdf(self, request: Req, case_id: FromPath[uuid.UUID]) -> Stream:
        return streamed(await documents.current_dossier(request.user, case_id))

    @get("/{case_id:uuid}/dossier.zip", guards=[requires(*DOSSIER)],
         description="O ZIP com os originais; fica registrado como exportação.")
    async def dossier_zip(self, request: Req, case_id: FromPath[uuid.UUID]) -> Stream:
        return streamed(await export.download_zip(request.user, case_id))

    @post("/{case_id:uuid}/dossier", guards=[requires(*EDITORS)], status_code=201,
          description="Gera uma nova versão do dossiê; as anteriores ficam guardadas.")
    async def regenerate(self, request: Req, case_id: FromPath[uuid.UUID]) -> dict[str, int]:
        return {"version": await service.regenerate(request.user, case_id)}

    @post("/{case_id:uuid}/export", guards=[requires(*EDITORS)], status_code=200,
          description="Envia o caso ao escritório pelo webhook do credor, com link assinado"
                      " para o ZIP (válido por 72 horas).")
    async def send(self, request: Req, case_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        sent = await export.send_webhook(request.user, case_id, public_base(request))
        return asdict(sent)

    @get("/webhooks/{tenant_id:uuid}", guards=[requires(*EDITORS)])
    async def read_webhook(self, request: Req,
                           tenant_id: FromPath[uuid.UUID]) -> dict[str, Any] | None:
        found = await export.get_webhook(request.user, tenant_id)
        return asdict(found) if found else None

    @post("/webhooks/{tenant_id:uuid}", guards=[requires(*EDITORS)], status_code=200,
          description="O webhook do escritório do credor: URL; o segredo é gerado aqui.")
    async def save_webhook(self, request: Req, tenant_id: FromPath[uuid.UUID],
                           data: JSONBody[WebhookIn]) -> dict[str, Any]:
        return asdict(await export.save_webhook(request.user, tenant_id, data.url, data.active,
                                                data.new_secret))


@get("/exportacoes/{token:str}", exclude_from_auth=True, include_in_schema=False)
async def fetch_export(token: FromPath[str]) -> Stream:
    """The signed, expiring link an outside firm got by webhook (the token is the
    credential; the platform logs each fetch on the export)."""
    return streamed(await export.fetch(token))


handlers = [fetch_export]
