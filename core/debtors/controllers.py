"""/api/v1/debtors: search, the debtor file, notes, holds, contact points."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES
from core.auth.web import requires
from core.debtors import actions, file, search
from core.debtors.schemas import (
    DebtorFile,
    HoldEndIn,
    HoldIn,
    NoteIn,
    NoteOut,
    OptOutIn,
    QualityIn,
    SearchPage,
)
from core.errors import ValidationFailed

Req = Request[Principal, str, Any]
READERS = tuple(sorted(ALL_ROLES))
ACTORS = tuple(sorted(file.ACTING_ROLES))
PAGE_SIZE_MAX = 100


class DebtorController(Controller):
    path = "/api/v1/debtors"
    tags = ["debtors"]

    @get("/", guards=[requires(*READERS)],
         description="Busca devedores por CPF/CNPJ (inteiro ou parte), nome (parte, sem"
                     " diferenciar maiúsculas e acentos), contrato, telefone ou e-mail, nos"
                     " credores que o usuário atende.")
    async def search_debtors(self, request: Req, q: FromQuery[str] = "",
                             page: FromQuery[int] = 1,
                             page_size: FromQuery[int] = search.PAGE_SIZE) -> SearchPage:
        if not 1 <= page_size <= PAGE_SIZE_MAX:
            raise ValidationFailed({"page_size": f"use de 1 a {PAGE_SIZE_MAX}"})
        return await search.search(request.user, q, page, page_size)

    @get("/{debtor_id:uuid}", guards=[requires(*READERS)],
         description="A ficha do devedor: identificação, títulos com saldo por componente e"
                     " bloqueios, contatos com bloqueios por canal, histórico.")
    async def get_file(self, request: Req, debtor_id: FromPath[uuid.UUID]) -> DebtorFile:
        return await file.debtor_file(request.user, debtor_id)

    @post("/{debtor_id:uuid}/notes", guards=[requires(*ACTORS)], status_code=201,
          description="Acrescenta uma anotação à ficha.")
    async def add_note(self, request: Req, debtor_id: FromPath[uuid.UUID],
                       data: JSONBody[NoteIn]) -> NoteOut:
        return await actions.add_note(request.user, debtor_id, data.body)

    @post("/{debtor_id:uuid}/holds", guards=[requires(*ACTORS)], status_code=201,
          description="Suspende a cobrança de um título (debt_id) ou de todos os títulos do"
                      " devedor: dispute, court_plan, deceased, legal ou creditor, com motivo.")
    async def set_hold(self, request: Req, debtor_id: FromPath[uuid.UUID],
                       data: JSONBody[HoldIn]) -> DebtorFile:
        return await actions.set_hold(request.user, debtor_id, data.kind, data.reason, data.debt_id)

    @post("/{debtor_id:uuid}/holds/{hold_id:uuid}/end", guards=[requires(*ACTORS)],
          status_code=200, description="Encerra um bloqueio, com motivo.")
    async def end_hold(self, request: Req, debtor_id: FromPath[uuid.UUID],
                       hold_id: FromPath[uuid.UUID], data: JSONBody[HoldEndIn]) -> DebtorFile:
        return await actions.end_hold(request.user, debtor_id, hold_id, data.reason)

    @post("/{debtor_id:uuid}/contacts/{contact_id:uuid}/quality", guards=[requires(*ACTORS)],
          status_code=200,
          description="Registra a qualidade de um contato: wrong_party (não é do devedor),"
                      " invalid, good ou unverified.")
    async def set_quality(self, request: Req, debtor_id: FromPath[uuid.UUID],
                          contact_id: FromPath[uuid.UUID],
                          data: JSONBody[QualityIn]) -> DebtorFile:
        return await actions.set_quality(request.user, debtor_id, contact_id, data.quality)

    @post("/{debtor_id:uuid}/contacts/{contact_id:uuid}/opt-outs", guards=[requires(*ACTORS)],
          status_code=201,
          description="Bloqueia um canal de um contato (o devedor pediu para não ser"
                      " contatado por ele); os demais canais continuam.")
    async def opt_out(self, request: Req, debtor_id: FromPath[uuid.UUID],
                      contact_id: FromPath[uuid.UUID], data: JSONBody[OptOutIn]) -> DebtorFile:
        return await actions.opt_out(request.user, debtor_id, contact_id, data.channel, data.source,
                              data.note)

    @delete("/{debtor_id:uuid}/contacts/{contact_id:uuid}/opt-outs/{channel:str}",
            guards=[requires(*ACTORS)], status_code=200,
            description="Revoga o bloqueio de um canal de um contato.")
    async def revoke_opt_out(self, request: Req, debtor_id: FromPath[uuid.UUID],
                             contact_id: FromPath[uuid.UUID],
                             channel: FromPath[str]) -> DebtorFile:
        return await actions.revoke_opt_out(request.user, debtor_id, contact_id, channel)

