"""/api/v1/agreements: simulate, create, accept, approve, break and reinstate agreements,
and each tenant's negotiation policy."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES, Role
from core.auth.web import requires
from core.errors import ValidationFailed
from legal import agreements, policy, simulator

Req = Request[Principal, str, Any]
READERS = tuple(sorted(ALL_ROLES))
NEGOTIATORS = tuple(sorted(agreements.NEGOTIATING_ROLES))
DECIDERS = (Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN, Role.AGENT, Role.LEGAL)
POLICY_EDITORS = tuple(sorted(policy.EDITING_ROLES))


class SimulationIn(msgspec.Struct, kw_only=True):
    debtor_id: uuid.UUID | None = None
    debt_ids: list[uuid.UUID] | None = None  # none: every open debt of the debtor
    date: dt.date | None = None  # the balances' date; none: today in the tenant's zone


class AgreementIn(SimulationIn, kw_only=True):
    option: int = 0  # the simulated option's number


class AcceptIn(msgspec.Struct, kw_only=True):
    call_recording_ref: str = ""


class DecisionIn(msgspec.Struct, kw_only=True):
    accept: bool | None = None
    reason: str = ""


def _debtor(data: SimulationIn) -> uuid.UUID:
    if data.debtor_id is None:
        raise ValidationFailed({"debtor_id": "campo obrigatório"})
    return data.debtor_id


class AgreementController(Controller):
    path = "/api/v1/agreements"
    tags = ["agreements"]

    @post("/simulations", guards=[requires(*READERS)], status_code=200,
          description="As opções que a política do credor permite para os títulos escolhidos,"
                      " com saldo atualizado, memória de cálculo, parcelas em dias úteis,"
                      " nível de aprovação e a razão da ordem.")
    async def simulate(self, request: Req, data: JSONBody[SimulationIn]) -> dict[str, Any]:
        found = await simulator.simulate(request.user, _debtor(data), data.debt_ids, data.date)
        return found.as_json()

    @post("/", guards=[requires(*NEGOTIATORS)], status_code=201,
          description="Cria um acordo na opção simulada `option` (a simulação é refeita)."
                      " Além do limite de quem cria, vai para a fila de aprovação.")
    async def create(self, request: Req, data: JSONBody[AgreementIn]) -> dict[str, Any]:
        made = await agreements.create(request.user, _debtor(data), data.option, data.debt_ids,
                                       data.date)
        return {"agreement_id": made.agreement_id, "status": made.status,
                "approval": made.approval_level,
                "approval_request_id": made.approval_request_id}

    @get("/", guards=[requires(*READERS)], description="Os acordos de um devedor.")
    async def list_for_debtor(self, request: Req,
                              debtor_id: FromQuery[uuid.UUID]) -> list[agreements.AgreementView]:
        return await agreements.for_debtor(request.user, debtor_id)

    @get("/{agreement_id:uuid}", guards=[requires(*READERS)],
         description="Um acordo: termos, parcelas, aprovações, aceite, memória de cálculo.")
    async def read(self, request: Req,
                   agreement_id: FromPath[uuid.UUID]) -> agreements.AgreementView:
        return await agreements.get(request.user, agreement_id)

    @post("/{agreement_id:uuid}/accept", guards=[requires(*NEGOTIATORS)], status_code=200,
          description="Aceite pelo operador, com a referência da gravação da ligação.")
    async def accept(self, request: Req, agreement_id: FromPath[uuid.UUID],
                     data: JSONBody[AcceptIn]) -> agreements.AgreementView:
        await agreements.accept_by_agent(request.user, agreement_id, data.call_recording_ref)
        return await agreements.get(request.user, agreement_id)

    @post("/{agreement_id:uuid}/link", guards=[requires(*NEGOTIATORS)], status_code=201,
          description="Gera o link de aceite do devedor (uso único, válido por 7 dias).")
    async def link(self, request: Req, agreement_id: FromPath[uuid.UUID]) -> dict[str, str]:
        return {"url": await agreements.issue_link(request.user, agreement_id)}

    @post("/{agreement_id:uuid}/reinstate", guards=[requires(*NEGOTIATORS)], status_code=200,
          description="Restabelece um acordo quebrado (uma vez, se a política permitir).")
    async def reinstate(self, request: Req,
                        agreement_id: FromPath[uuid.UUID]) -> agreements.AgreementView:
        await agreements.reinstate(request.user, agreement_id)
        return await agreements.get(request.user, agreement_id)

    @get("/approvals", guards=[requires(*DECIDERS)],
         description="A fila de aprovação do perfil: supervisor ou credor; o operador vê os"
                     " pedidos que fez e as respostas.")
    async def approvals(self, request: Req,
                        decided: FromQuery[bool] = False) -> list[agreements.QueueItem]:
        return await agreements.queue(request.user, include_decided=decided)

    @post("/approvals/{request_id:uuid}/decision", guards=[requires(*DECIDERS)],
          status_code=200, description="Aprova (accept: true) ou recusa, com motivo.")
    async def decide(self, request: Req, request_id: FromPath[uuid.UUID],
                     data: JSONBody[DecisionIn]) -> agreements.AgreementView:
        agreement_id = await agreements.decide(request.user, request_id, data.accept,
                                               data.reason)
        return await agreements.get(request.user, agreement_id)

    @get("/policies/{tenant_id:uuid}", guards=[requires(*READERS)],
         description="A política de negociação do credor (a padrão até ser salva).")
    async def read_policy(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        return await policy.read_policy(request.user, tenant_id)

    @put("/policies/{tenant_id:uuid}", guards=[requires(*POLICY_EDITORS)],
         description="Altera a política de negociação; campos omitidos voltam ao padrão.")
    async def save_policy(self, request: Req, tenant_id: FromPath[uuid.UUID],
                          data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await policy.save_policy(request.user, tenant_id, data)
