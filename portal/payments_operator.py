"""What the `regua` command does for slips and payments (service calls, no rules)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from core.access import transaction
from core.auth.principal import Principal
from core.errors import NotFound
from core.maintenance import operator_scope
from core.runtime import get_db
from legal import cnab, payments, slips
from legal.access import access_agreement
from portal.jobs import load_tasks


async def agreement_slips(agreement_id: str) -> list[dict[str, Any]]:
    try:
        wanted = uuid.UUID(agreement_id)
    except ValueError:
        raise NotFound(f"acordo {agreement_id!r} não encontrado") from None
    load_tasks()  # the slips' messages are sent by name
    db = get_db()
    try:
        principal = Principal.system(await operator_scope())
        async with transaction(principal) as session:
            checked = await access_agreement(session, principal, wanted)
            views = await slips.issue_and_send(session, principal, checked)
        return [v.as_json() for v in views]
    finally:
        await db.dispose()


async def import_return(path: str, data: bytes) -> dict[str, Any]:
    db = get_db()
    try:
        try:
            parsed, report = await payments.import_return(data, Path(path).name)
        except cnab.CnabError as exc:
            return {"file": Path(path).name, "error": str(exc)}
        return payments.return_json(parsed, report, Path(path).name)
    finally:
        await db.dispose()
