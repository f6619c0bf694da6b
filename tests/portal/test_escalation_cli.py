"""`regua escalation run` as an operator uses it: the sandboxes answer for the command."""

from __future__ import annotations

import datetime as dt
import json

from core.access import transaction
from legal.escalation import rules
from legal.escalation.models import EscalationRule
from tests.legal.escalation_helpers import place, system
from tests.portal.test_cli import regua


async def test_escalation_run_prints_its_counts(factory, database_url) -> None:
    tenant = await factory.tenant()
    async with transaction(system(tenant.id)) as session:
        session.add(EscalationRule(tenant_id=tenant.id, **rules.validate({
            "name": "Negativar", "priority": 1, "path": "bureau", "min_days_overdue": 30})))
    await place(database_url, tenant.id, state="MG")
    today = dt.date.today()
    first = regua("escalation", "run", "--tenant", tenant.slug, "--date", today.isoformat(),
                  "--json")
    assert first.returncode == 0, first.stderr
    shown = json.loads(first.stdout.strip().splitlines()[-1])
    assert shown["date"] == today.isoformat()
    assert shown["opened"] == {"bureau": 1, "protest": 0, "judicial": 0}
    assert (shown["notices"], shown["listed"], shown["removals_overdue"]) == (1, 0, 0)
    later = (today + dt.timedelta(days=11)).isoformat()
    listed = regua("escalation", "run", "--tenant", tenant.slug, "--date", later, "--json")
    assert json.loads(listed.stdout.strip().splitlines()[-1])["listed"] == 1
    words = regua("escalation", "run", "--tenant", tenant.slug, "--date", later)
    assert "negativados 0" in words.stdout and "escalados 0" in words.stdout
    wrong = regua("escalation", "run", "--tenant", tenant.slug, "--date", "31/12/2026")
    assert wrong.returncode != 0 and "data inválida" in wrong.stderr
