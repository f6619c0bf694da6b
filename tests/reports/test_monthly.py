"""The monthly report: `regua report monthly` writes the PDF, and the scheduled job e-mails
it once to each of the creditor's users through the e-mail channel (the local SMTP
sandbox here), visible on the sandbox page to that creditor only."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core import jobs
from core.access import transaction
from core.channels import sandbox
from core.db import Scope
from core.maintenance import runs
from core.settings import get_settings
from reports.refresh import system
from tests.reports.conftest import Reported
from tests.reports.test_pages import pdf_text


def regua(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", "run", "--no-sync", "regua", *args], capture_output=True,
                          text=True, timeout=180, check=False)


def test_regua_report_monthly_writes_the_pdf(reported: Reported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    month = reported.built.months.a
    out = tmp_path / "relatorio.pdf"
    done = regua("report", "monthly", "--tenant", reported.tenant.slug, "--month",
                 f"{month:%Y-%m}", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Relatório de {month:%Y-%m} gravado em {out}")
    shown = pdf_text(out.read_bytes())
    # Month A: T1, T2, T3 and T5 placed (3,900.00); T1's 600.00 paid; 60.00 commission.
    for expected in (f"Relatório mensal de cobrança: Credor Relatórios, {month:%m/%Y}",
                     "R$ 3.900,00", "R$ 600,00", "R$ 60,00", "R$ 540,00", "Curvas de safra",
                     "Campanha K1"):
        assert expected in shown, expected


@pytest.fixture
def smtp_sandbox(services: None, monkeypatch) -> Iterator[sandbox.Sandbox]:  # type: ignore[no-untyped-def]
    running = sandbox.Sandbox(get_settings(), "http://127.0.0.1:9")
    port = running.start_smtp()
    monkeypatch.setenv("REGUA_SANDBOX_SMTP_PORT", str(port))
    get_settings.cache_clear()
    yield running
    running.stop()
    monkeypatch.delenv("REGUA_SANDBOX_SMTP_PORT")
    get_settings.cache_clear()


async def _deliveries(tenant_id: uuid.UUID) -> list[tuple[str, str, str | None, dt.datetime]]:
    async with transaction(system(tenant_id)) as session:
        return [tuple(r) for r in (await session.execute(text(  # type: ignore[misc]
            "SELECT recipient, status, provider_message_id, sent_at FROM report_delivery"
            " ORDER BY recipient"))).all()]


async def test_the_monthly_job_emails_each_creditor_user_once(  # type: ignore[no-untyped-def]
        client, factory, worker, smtp_sandbox, reported: Reported) -> None:
    tenant_id = reported.tenant.id
    viewer = await factory.user("creditor_viewer", tenant_id=tenant_id)
    gone = await factory.user("creditor_viewer", tenant_id=tenant_id)
    await client.post(f"/api/v1/users/{gone.user_id}/deactivate",
                      headers=reported.tenant.admin.headers)
    other = await factory.tenant("Credor Sem Relatório")
    # The scheduler holds the job once per tenant, at 08:00 in the tenant's zone.
    [run] = [r for r in runs([jobs.PERIODIC["reports.monthly"]],
                             [(tenant_id, "America/Sao_Paulo")])]
    assert run.tenant_id == tenant_id and "hour='8'" in str(run.trigger)

    first_day = reported.built.months.c.isoformat()  # on the 1st: last month's report
    for _ in range(2):  # a second run (a retry, the next day) sends nothing again
        with jobs.scoped(Scope.tenant(tenant_id)):
            jobs.send("reports.monthly", str(tenant_id), first_day)
        for _ in range(120):
            sent = await _deliveries(tenant_id)
            if len(sent) == 2:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)
    sent = await _deliveries(tenant_id)
    assert [(r[0], r[1]) for r in sent] == sorted(
        [(reported.tenant.admin.email, "sent"), (viewer.email, "sent")])
    month = reported.built.months.b
    for recipient, _, message_id, _ in sent:
        got = sandbox.received(get_settings(), "smtp", message_id)
        assert got is not None
        assert got["to"] == [recipient]
        assert got["subject"] == (f"Relatório mensal de cobrança: Credor Relatórios,"
                                  f" {month:%m/%Y}")
        assert got["attachments"][0]["filename"] == f"relatorio-{month:%Y-%m}.pdf"
        assert got["attachments"][0]["size"] > 5000
        assert "Recuperado no mês: R$ 800,00" in got["text"]  # T1's 400 and T4's 400
    assert await _deliveries(other.id) == []
    # A day past the first week: nothing is sent.
    with jobs.scoped(Scope.tenant(other.id)):
        jobs.send("reports.monthly", str(other.id), reported.built.months.c.replace(
            day=8).isoformat())
    await asyncio.sleep(2)
    assert await _deliveries(other.id) == []

    page = await client.get("/sandbox", headers=reported.tenant.admin.headers)
    assert page.status_code == 200 and "Relatórios mensais enviados" in page.text
    assert f"relatorio-{month:%Y-%m}.pdf" in page.text and viewer.email in page.text
    theirs = await client.get("/sandbox", headers=other.admin.headers)
    assert "Relatórios mensais enviados" not in theirs.text
