"""`regua cadence load | export | run` as an operator uses them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.core.test_cadence import DAY, YAML, debtor
from tests.portal.test_cli import regua


async def test_load_export_and_run_answer_as_documented(factory, tmp_path: Path) -> None:
    tenant = await factory.tenant()
    await debtor(tenant.id, [DAY - dt.timedelta(days=5)] * 2)
    await debtor(tenant.id, [DAY], phone=False)
    source = tmp_path / "regua.yaml"
    source.write_text(YAML, encoding="utf-8")
    loaded = regua("cadence", "load", "--tenant", tenant.slug, str(source), "--activate",
                   "--json")
    assert loaded.returncode == 0, loaded.stderr
    body = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert body["version"] == 1 and body["cadence_id"] and body["active"] is True

    exported = regua("cadence", "export", "--tenant", tenant.slug)
    assert exported.returncode == 0, exported.stderr
    again = tmp_path / "again.yaml"
    again.write_text(exported.stdout, encoding="utf-8")
    second = regua("cadence", "load", "--tenant", tenant.slug, str(again), "--json")
    assert json.loads(second.stdout.strip().splitlines()[-1])["version"] == 2

    dry = regua("cadence", "run", "--tenant", tenant.slug, "--date", DAY.isoformat(),
                "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout.strip().splitlines()[-1])
    assert set(shown) >= {"date", "actions", "debtors", "by_step", "blocked_reasons"}
    assert shown["date"] == DAY.isoformat() and shown["debtors"] == 2
    assert {"day": 0, "channel": "sms", "planned": 0, "blocked": 1} in shown["by_step"]
    assert shown["blocked_reasons"] == {"no_contact_point": 1}
    assert all(set(row) == {"day", "channel", "planned", "blocked"} for row in shown["by_step"])
    ran = regua("cadence", "run", "--tenant", tenant.slug, "--date", DAY.isoformat(), "--json")
    first = json.loads(ran.stdout.strip().splitlines()[-1])
    rerun = json.loads(regua("cadence", "run", "--tenant", tenant.slug, "--date",
                             DAY.isoformat(), "--json").stdout.strip().splitlines()[-1])
    assert first["actions"] == shown["actions"] == rerun["actions"] and rerun["added"] == 0


async def test_a_broken_file_is_refused_naming_the_step_and_field(factory,
                                                                  tmp_path: Path) -> None:
    tenant = await factory.tenant()
    source = tmp_path / "ruim.yaml"
    source.write_text("name: X\nsteps:\n  - day: 5\n    channels: [fax]\n", encoding="utf-8")
    result = regua("cadence", "load", "--tenant", tenant.slug, str(source), "--json")
    assert result.returncode == 1
    assert "passo 1 (dia 5), campo channels: canal desconhecido 'fax'" in result.stderr
