"""/api/v1/escalations, /api/v1/escalation-rules and /api/v1/escalation-policy: the
escalations with their history, hold and release, a person's "escalar", each tenant's
rules and policy."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core.auth.principal import Principal
from core.auth.web import requires
from core.errors import ValidationFailed
from legal.escalation import policy, rules, service

Req = Request[Principal, str, Any]
VIEWERS = tuple(sorted(service.VIEW_ROLES))
ACTORS = tuple(sorted(service.ACT_ROLES))
RULE_READERS = tuple(sorted(rules.READING_ROLES))
RULE_EDITORS = tuple(sorted(rules.EDITING_ROLES))
POLICY_EDITORS = tuple(sorted(policy.EDITING_ROLES))


class ReasonIn(msgspec.Struct, kw_only=True):
    reason: str = ""


class EscalateIn(msgspec.Struct, kw_only=True):
    debt_id: uuid.UUID
    path: str
    note: str | None = None


def _detail(found: service.Detail) -> dict[str, Any]:
    return {**found.row.as_json(), "debtor_document": found.debtor_document,
            "events": [vars(e) for e in found.events], "remessas": found.remessas}


class EscalationController(Controller):
    path = "/api/v1/escalations"
    tags = ["escalations"]

    @get("/", guards=[requires(*VIEWERS)],
         description="Escalonamentos (negativação, protesto, cobrança judicial), filtrados por"
                     " credor, caminho, situação, retidos e baixas em atraso.")
    async def list(self, request: Req, tenant_id: FromQuery[uuid.UUID | None] = None,
                   path: FromQuery[str | None] = None,
                   escalation_state: Annotated[str | None, QueryParameter(query="state")] = None,
                   held: FromQuery[bool | None] = None,
                   overdue: FromQuery[bool] = False) -> dict[str, Any]:
        found = await service.listing(request.user, service.Filters(
            tenant_id=tenant_id, path=path, state=escalation_state, held=held,
            overdue=overdue))
        return {"items": [r.as_json() for r in found.rows], "by_state": found.by_state,
                "removals_overdue": found.overdue, "held": found.held}

    @get("/{escalation_id:uuid}", guards=[requires(*VIEWERS)],
         description="Um escalonamento com o histórico: cada mudança, quem ou qual regra a fez.")
    async def get(self, request: Req, escalation_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        return _detail(await service.detail(request.user, escalation_id))

    @post("/", guards=[requires(*ACTORS)], status_code=201,
          description="Escala um título manualmente (as condições de parada valem).")
    async def escalate(self, request: Req, data: JSONBody[EscalateIn]) -> dict[str, Any]:
        made = await service.escalate(request.user, data.debt_id, data.path, data.note)
        return {"escalation_id": made}

    @post("/{escalation_id:uuid}/hold", guards=[requires(*ACTORS)], status_code=200,
          description="Retém o escalonamento: ele não avança até ser liberado.")
    async def hold(self, request: Req, escalation_id: FromPath[uuid.UUID],
                   data: JSONBody[ReasonIn]) -> dict[str, Any]:
        await service.hold(request.user, escalation_id, data.reason)
        return _detail(await service.detail(request.user, escalation_id))

    @post("/{escalation_id:uuid}/release", guards=[requires(*ACTORS)], status_code=200,
          description="Libera um escalonamento retido.")
    async def release(self, request: Req, escalation_id: FromPath[uuid.UUID],
                      data: JSONBody[ReasonIn]) -> dict[str, Any]:
        await service.release(request.user, escalation_id, data.reason)
        return _detail(await service.detail(request.user, escalation_id))


class RuleController(Controller):
    path = "/api/v1/escalation-rules"
    tags = ["escalations"]

    @get("/", guards=[requires(*RULE_READERS)], description="As regras de um credor.")
    async def list(self, request: Req, tenant_id: FromQuery[uuid.UUID]) -> list[dict[str, Any]]:
        return [rules.as_dict(r) for r in await rules.list_rules(request.user, tenant_id)]

    @get("/{rule_id:uuid}", guards=[requires(*RULE_READERS)], description="Uma regra.")
    async def get(self, request: Req, rule_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        return rules.as_dict(await rules.get_rule(request.user, rule_id))

    @post("/", guards=[requires(*RULE_EDITORS)], status_code=201,
          description="Cria uma regra: `tenant_id`, `name`, `priority`, `path`,"
                      " `min_days_overdue`, e opcionais `min_amount`, `max_amount`,"
                      " `min_score`, `max_score`, `active`.")
    async def create(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        try:
            tenant_id = uuid.UUID(str(data.get("tenant_id")))
        except ValueError:
            raise ValidationFailed({"tenant_id": "credor: identificador inválido"}) from None
        return rules.as_dict(await rules.create_rule(request.user, tenant_id, data))

    @put("/{rule_id:uuid}", guards=[requires(*RULE_EDITORS)], description="Altera uma regra.")
    async def update(self, request: Req, rule_id: FromPath[uuid.UUID],
                     data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return rules.as_dict(await rules.update_rule(request.user, rule_id, data))

    @delete("/{rule_id:uuid}", guards=[requires(*RULE_EDITORS)], status_code=204,
            description="Apaga uma regra; os escalonamentos guardam o nome dela.")
    async def remove(self, request: Req, rule_id: FromPath[uuid.UUID]) -> None:
        await rules.delete_rule(request.user, rule_id)


class PolicyController(Controller):
    path = "/api/v1/escalation-policy"
    tags = ["escalations"]

    @get("/", guards=[requires(*RULE_READERS)],
         description="A política de escalonamento do credor (prazos da notificação e da baixa).")
    async def read(self, request: Req, tenant_id: FromQuery[uuid.UUID]) -> dict[str, Any]:
        return await policy.read_policy(request.user, tenant_id)

    @put("/", guards=[requires(*POLICY_EDITORS)], description="Salva a política do credor.")
    async def save(self, request: Req, tenant_id: FromQuery[uuid.UUID],
                   data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await policy.save_policy(request.user, tenant_id, data)
