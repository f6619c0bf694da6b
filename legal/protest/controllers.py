"""/api/v1/protest: the CRA files sent and read (list, download) and an escalation's
protest. Reading only: the legal team, supervisors and admins; a creditor's staff see
their own tenant's (another tenant's file is 404)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery

from core.auth.principal import Principal
from core.auth.web import requires
from legal.protest import service

Req = Request[Principal, str, Any]
READERS = tuple(sorted(service.READERS))


class ProtestController(Controller):
    path = "/api/v1/protest"
    tags = ["protest"]

    @get("/files", guards=[requires(*READERS)],
         description="Os arquivos trocados com a CRA (remessa, desistência, autorização de"
                     " cancelamento, confirmação, retorno), do mais recente ao mais antigo;"
                     " de um credor (tenant_id) ou que citam um escalonamento.")
    async def list_files(self, request: Req, tenant_id: FromQuery[uuid.UUID | None] = None,
                         escalation_id: FromQuery[uuid.UUID | None] = None,
                         ) -> list[service.FileView]:
        return await service.list_files(request.user, tenant_id, escalation_id)

    @get("/files/{file_id:uuid}/download", guards=[requires(*READERS)],
         description="O arquivo como foi enviado ou recebido (texto ASCII, registros de 600"
                      " ou 127 posições).")
    async def download(self, request: Req, file_id: FromPath[uuid.UUID]) -> Response[bytes]:
        view, body = await service.read_file(request.user, file_id)
        return Response(body, media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{view.name}"'})

    @get("/escalations/{escalation_id:uuid}", guards=[requires(*READERS)],
         description="O protesto de um escalonamento: nosso número, cartório, protocolo,"
                     " custas, cancelamento, e cada linha de arquivo que o cita.")
    async def escalation(self, request: Req,
                         escalation_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        return await service.escalation_protest(request.user, escalation_id)
