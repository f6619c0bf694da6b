"""The legal queue over HTTP: who reads and who edits, another tenant's cases and
documents (404, and invisible to raw SQL), the pages, and the law-firm webhook with its
signature and signed link, received and followed by a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import io
import json
import threading
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select, text

from core.auth.principal import Principal
from core.db import Scope
from core.jobs import send
from core.runtime import get_storage
from legal.cases import export, service, tasks
from legal.cases.models import CaseDocument, CaseExport
from tests.core.test_channels import web_url  # noqa: F401 - the app over real HTTP
from tests.jobs import drain
from tests.legal.test_cases import book, escalate, smtp_settings, the_case  # noqa: F401


async def _csrf(client) -> dict[str, str]:
    await client.get("/")
    return {"x-csrftoken": client.cookies.get("regua_csrf", "")}


@pytest.fixture
async def people(book, factory):  # noqa: F811
    """The case of José and someone of every role."""
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    alfa = book["alfa"].id
    return {**book, "case": case,
            "admin": await factory.user("admin"),
            "supervisor": await factory.user("supervisor", tenant_ids=[alfa]),
            "viewer": await factory.user("creditor_viewer", tenant_id=alfa)}


async def test_legal_and_admins_edit_creditors_read_their_own_and_agents_are_refused(
        client, people):
    case_id = str(people["case"].id)
    base = f"/api/v1/cases/{case_id}"
    legal, admin = people["legal"].headers, people["admin"].headers
    creditor, viewer = people["alfa"].admin.headers, people["viewer"].headers
    supervisor, agent = people["supervisor"].headers, people["agent"].headers

    listed = await client.get(f"/api/v1/cases?tenant_id={people['alfa'].id}", headers=legal)
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["cases"]] == [case_id]
    filtered = await client.get(f"/api/v1/cases?tenant_id={people['alfa'].id}&state=filed",
                                headers=legal)
    assert filtered.json()["cases"] == []
    for headers in (legal, admin, supervisor, creditor, viewer):
        assert (await client.get(base, headers=headers)).status_code == 200
    mine = (await client.get("/api/v1/cases", headers=creditor)).json()["cases"]
    assert [c["id"] for c in mine] == [case_id]  # its own tenant's cases only

    moved = await client.post(f"{base}/state", headers=legal, json={"state": "in_analysis"})
    assert moved.status_code == 200 and moved.json()["state"] == "in_analysis"
    bad = await client.post(f"{base}/state", headers=admin, json={
        "state": "filed", "court_number": "0058967-76.2016.8.19.0000", "filed_on": "2026-01-05"})
    assert bad.status_code == 422 and "dígito verificador" in bad.json()["errors"]["court_number"]
    filed = await client.post(f"{base}/state", headers=admin, json={
        "state": "filed", "court_number": "0058967-77.2016.8.19.0000", "filed_on": "2026-01-05",
        "court_name": "1ª Vara Cível"})
    assert filed.status_code == 200 and filed.json()["court_number"] == "0058967-77.2016.8.19.0000"
    skipped = await client.post(f"{base}/state", headers=legal, json={"state": "received"})
    assert skipped.status_code == 409
    for headers in (supervisor, creditor, viewer, agent):
        for url, body in ((f"{base}/state", {"state": "hearing"}),
                          (f"{base}/notes", {"body": "x"}),
                          (f"{base}/deadlines", {"what": "x", "due_on": "2027-01-01"}),
                          (f"{base}/dossier", {}), (f"{base}/export", {})):
            answer = await client.post(url, headers=headers, json=body)
            assert answer.status_code == 403, (url, answer.status_code)
    for url in ("/api/v1/cases", base, f"{base}/dossier.pdf"):
        assert (await client.get(url, headers=agent)).status_code == 403, url
    # The dossier is the agency's; the creditor uploads and reads its documents.
    assert (await client.get(f"{base}/dossier.pdf", headers=creditor)).status_code == 403
    pdf = await client.get(f"{base}/dossier.pdf", headers=supervisor)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    files = {"file": ("Fatura 01-2024.pdf", b"%PDF-1.7 fatura", "application/pdf")}
    refused = await client.post(f"{base}/documents", headers=viewer, files=files,
                                data={"kind": "invoice"})
    assert refused.status_code == 403
    sent = await client.post(f"{base}/documents", headers=creditor, files=files,
                             data={"kind": "invoice", "description": "fatura de janeiro"})
    assert sent.status_code == 201, sent.text
    doc = sent.json()["id"]
    got = await client.get(f"{base}/documents/{doc}", headers=viewer)
    assert got.status_code == 200 and got.content == b"%PDF-1.7 fatura"
    assert (await client.post(f"{base}/notes", headers=legal,
                              json={"body": "estratégia interna"})).status_code == 201
    assert (await client.post(f"{base}/deadlines", headers=legal, json={
        "what": "Réplica", "due_on": "2027-01-10"})).status_code == 201
    view = (await client.get(base, headers=viewer)).json()
    assert [d["what"] for d in view["deadlines"]] == ["Réplica"]
    assert [d["origin"] for d in view["documents"]] == ["creditor"]
    assert view["dossiers"] == [] and view["exports"] == [] and view["may_edit"] is False
    # Agency staff stay unnamed to a creditor, and the legal team's notes its own.
    assert all("@regua.test" not in e["by"] for e in view["events"])
    assert view["notes"] == [] and "@regua.test" not in json.dumps(view)


async def test_another_tenants_cases_and_documents_are_not_found(client, people, db, factory):
    case_id = people["case"].id
    async with db.transaction(Scope.tenant(people["alfa"].id)) as session:
        doc = (await session.execute(select(CaseDocument.id))).scalars().first()
    beta = people["beta"].admin.headers
    base = f"/api/v1/cases/{case_id}"
    for method, url in (("GET", base), ("GET", f"{base}/documents/{doc}"),
                        ("POST", f"{base}/documents")):
        answer = await client.request(method, url, headers=beta)
        assert answer.status_code == 404, (method, url, answer.status_code)
    upload = await client.post(f"{base}/documents", headers=beta,
                               files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
                               data={"kind": "contract"})
    assert upload.status_code == 404
    listed = await client.get("/api/v1/cases", headers=beta)
    assert listed.status_code == 200 and str(case_id) not in listed.text
    # A legal user who does not work Alfa sees nothing of it either.
    other_legal = await factory.user("legal", tenant_ids=[people["beta"].id])
    assert (await client.get(base, headers=other_legal.headers)).status_code == 404
    for table in ("legal_case", "case_document", "case_escalation", "case_event"):
        async with db.transaction(Scope.tenant(people["beta"].id)) as session:
            seen = (await session.execute(text(f"SELECT count(*) FROM {table}"
                                               " WHERE tenant_id = :a"),
                                          {"a": people["alfa"].id})).scalar_one()
        assert seen == 0, table
    page = await client.get(f"/juridico/casos/{case_id}", headers=beta)
    assert page.status_code == 404


class _LawFirm(BaseHTTPRequestHandler):
    """A law firm's endpoint: keeps what it got, and fetches the ZIP the link points to."""

    received: list[dict[str, object]] = []
    answer = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        record: dict[str, object] = {"headers": dict(self.headers), "body": body}
        if self.answer == 200:
            link = json.loads(body)["dossier"]["zip_url"]
            with urllib.request.urlopen(link, timeout=10) as fetched:  # noqa: S310
                record["zip"] = fetched.read()
        self.received.append(record)
        self.send_response(self.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def law_firm():
    _LawFirm.received = []
    _LawFirm.answer = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LawFirm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/regua"
    server.shutdown()
    server.server_close()


async def test_the_webhook_is_signed_and_its_link_serves_the_zip_until_it_expires(
        people, law_firm, web_url, db, worker, monkeypatch):  # noqa: F811
    url = law_firm
    legal = people["legal"].headers
    case = people["case"]
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        unset = await http.post(f"/api/v1/cases/{case.id}/export", headers=legal)
        assert unset.status_code == 409 and "webhook" in unset.json()["errors"]
        saved = await http.post(f"/api/v1/cases/webhooks/{people['alfa'].id}", headers=legal,
                                json={"url": url})
        assert saved.status_code == 200
        secret = saved.json()["secret"]
        assert len(secret) == 64
        refused = await http.post(f"/api/v1/cases/webhooks/{people['alfa'].id}",
                                  headers=people["alfa"].admin.headers, json={"url": url})
        assert refused.status_code == 403
        sent = await http.post(f"/api/v1/cases/{case.id}/export", headers=legal)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sending"  # a job delivers it
    await drain(worker)

    [got] = _LawFirm.received
    headers = {k.lower(): v for k, v in got["headers"].items()}  # type: ignore[union-attr]
    body = got["body"]
    assert isinstance(body, bytes)
    expected = hmac.new(secret.encode(), headers["x-regua-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-regua-signature"] == f"sha256={expected}"
    assert abs(int(headers["x-regua-timestamp"]) - dt.datetime.now(dt.UTC).timestamp()) < 60
    payload = json.loads(body)
    assert payload["event"] == "case.exported" and payload["case"]["code"] == case.code
    assert payload["case"]["debtor"]["document"] == "529.982.247-25"
    assert payload["dossier"]["zip_url"].startswith(web_url + "/exportacoes/")
    zipped = got["zip"]
    assert isinstance(zipped, bytes)
    assert zipped == get_storage().get(case.dossier_zip_key or "")
    assert hashlib.sha256(zipped).hexdigest() == payload["dossier"]["sha256"]
    assert f"dossie-{case.code}-v001.pdf" in zipfile.ZipFile(io.BytesIO(zipped)).namelist()

    system = Principal.system(Scope.tenant(people["alfa"].id))
    async with db.transaction(system.scope) as session:
        row = (await session.execute(select(CaseExport).where(CaseExport.kind == "webhook"))
               ).scalar_one()
    assert row.status == "sent" and row.fetch_count == 1 and row.url == url
    assert row.attempts == 1 and row.http_status == 200 and row.delivered_at is not None
    assert headers["idempotency-key"] == str(row.id) == payload["export_id"]
    link = payload["dossier"]["zip_url"]
    token = link.rsplit("/", 1)[1]
    tenant_hex, export_hex, expires, mac = token.split(".")
    forged = f"{tenant_hex}.{export_hex}.{int(expires) + 3600}.{mac}"
    expired = export.link_token(people["alfa"].id, row.id,
                                dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        assert (await http.get(f"/exportacoes/{token}")).status_code == 200
        assert (await http.get(f"/exportacoes/{forged}")).status_code == 404
        assert (await http.get(f"/exportacoes/{expired}")).status_code == 404
        # A firm that keeps answering 500: tried again, then given up, with the reason.
        _LawFirm.answer = 500
        monkeypatch.setattr(export, "RETRY_DELAYS", (dt.timedelta(0),))
        monkeypatch.setattr(export, "MAX_ATTEMPTS", 2)
        failed = await http.post(f"/api/v1/cases/{case.id}/export", headers=legal)
    await drain(worker)
    async with db.transaction(system.scope) as session:
        gave_up = (await session.execute(select(CaseExport).where(
            CaseExport.id == failed.json()["export_id"]))).scalar_one()
    assert (gave_up.status, gave_up.attempts) == ("failed", 2)
    assert gave_up.error == "o escritório respondeu HTTP 500"
    assert len(_LawFirm.received) == 3 and gave_up.next_attempt_at is None


class _FlakyFirm(BaseHTTPRequestHandler):
    """A firm that is down for the first delivery (503) and takes the second, which it
    holds until the test has looked at the case page in between."""

    received: list[dict[str, object]] = []
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                              "body": body})
        if len(self.received) > 1:
            self.release.wait(30)
        self.send_response(503 if len(self.received) == 1 else 202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


async def test_a_failing_firm_gets_the_export_again_under_the_same_key(
        people, client, db, worker, monkeypatch):
    _FlakyFirm.received, _FlakyFirm.release = [], threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyFirm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(export, "RETRY_DELAYS", (dt.timedelta(0),))
    case = people["case"]
    legal = people["legal"].headers
    try:
        saved = await client.post(f"/api/v1/cases/webhooks/{people['alfa'].id}",
                                  headers=legal,
                                  json={"url": f"http://127.0.0.1:{server.server_address[1]}"})
        assert saved.status_code == 200
        secret = saved.json()["secret"]
        sent = await client.post(f"/api/v1/cases/{case.id}/export", headers=legal)
        assert sent.status_code == 200 and sent.json()["status"] == "sending"
        # The first attempt failed and was recorded; the second is at the firm: the page
        # says the delivery is failing, why, and that it will be tried again.
        for _ in range(600):
            if len(_FlakyFirm.received) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(_FlakyFirm.received) == 2
        page = await client.get(f"/juridico/casos/{case.id}", headers=legal)
        assert "falhando" in page.text and "o escritório respondeu HTTP 503" in page.text
        assert "próxima tentativa" in page.text
        _FlakyFirm.release.set()
        await drain(worker)
        page = await client.get(f"/juridico/casos/{case.id}", headers=legal)
    finally:
        _FlakyFirm.release.set()
        server.shutdown()
        server.server_close()
    first, second = _FlakyFirm.received
    assert first["body"] == second["body"]
    for got in (first, second):
        headers = got["headers"]
        assert isinstance(headers, dict) and isinstance(got["body"], bytes)
        assert headers["idempotency-key"] == sent.json()["export_id"]
        expected = hmac.new(secret.encode(),
                            headers["x-regua-timestamp"].encode() + b"." + got["body"],
                            hashlib.sha256).hexdigest()
        assert headers["x-regua-signature"] == f"sha256={expected}"
    assert [g["headers"]["x-regua-attempt"] for g in (first, second)] == ["1", "2"]  # type: ignore[index]
    async with db.transaction(Scope.tenant(people["alfa"].id)) as session:
        rows = (await session.execute(select(CaseExport).where(
            CaseExport.case_id == case.id, CaseExport.kind == "webhook"))).scalars().all()
        notes = (await session.execute(text(
            "SELECT to_value FROM case_event WHERE case_id = :c AND kind = 'export'"),
            {"c": case.id})).scalars().all()
    [row] = rows
    assert (row.status, row.attempts, row.http_status, row.error) == ("sent", 2, 202, None)
    assert row.delivered_at is not None and row.next_attempt_at is None
    assert sorted(n for n in notes if n.startswith("webhook entregue")) == [
        "webhook entregue (tentativa 2)"]
    assert "entregue" in page.text and "na 2ª tentativa" in page.text
    assert "falhando" not in page.text

    # The job again (a repeated or swept message) finds it delivered: nothing is sent.
    assert await export.deliver(people["alfa"].id, row.id) is None
    assert len(_FlakyFirm.received) == 2


async def test_the_legal_team_lands_on_its_queue_with_deadline_alerts(client, people):
    case = people["case"]
    await service.add_deadline(people["p_legal"], case.id, "Contestação",
                               dt.date.today() - dt.timedelta(days=1))
    client.cookies.clear()
    csrf = await _csrf(client)
    login = await client.post("/login", headers=csrf, data={
        "email": people["legal"].email, "password": people["legal"].password,
        "_csrf_token": csrf["x-csrftoken"]}, follow_redirects=False)
    assert login.status_code in (301, 302, 303) and login.headers["location"] == "/juridico"
    queue = await client.get(f"/juridico?credor={people['alfa'].id}")
    assert queue.status_code == 200
    assert case.code in queue.text and "1 prazo vencido" in queue.text
    assert 'class="deadline overdue"' in queue.text and "Contestação" in queue.text
    page = await client.get(f"/juridico/casos/{case.id}")
    assert "Mudar a situação" in page.text and "Baixar dossiê (PDF)" in page.text
    client.cookies.clear()
    viewer = await client.get(f"/juridico/casos/{case.id}", headers=people["viewer"].headers)
    assert viewer.status_code == 200 and "recebido" in viewer.text
    assert "Mudar a situação" not in viewer.text and "Baixar dossiê" not in viewer.text
    assert (await client.get("/juridico", headers=people["agent"].headers)).status_code == 403
    debtor = await client.get(f"/devedores/{people['jose']}", headers=people["legal"].headers)
    assert f'href="/devedores/{people["jose"]}/juridico"' in debtor.text
    agent_file = await client.get(f"/devedores/{people['jose']}", headers=people["agent"].headers)
    assert "Enviar ao jurídico" not in agent_file.text


async def test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep(
        people, law_firm, web_url, db, worker):  # noqa: F811
    legal = people["legal"].headers
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        saved = await http.post(f"/api/v1/cases/webhooks/{people['alfa'].id}", headers=legal,
                                json={"url": law_firm})
        assert saved.status_code == 200
        sent = await http.post(f"/api/v1/cases/{people['case'].id}/export", headers=legal)
    await drain(worker)
    export_id = sent.json()["export_id"]
    # As a failed attempt leaves it when its retry message dies with the process (the
    # in-process broker): waiting, its next attempt long past.
    scope = Scope.tenant(people["alfa"].id)
    async with db.transaction(scope) as session:
        await session.execute(text(
            "UPDATE case_export SET status = 'sending', delivered_at = NULL,"
            " next_attempt_at = now() - interval '10 minutes' WHERE id = :e"), {"e": export_id})
    assert (people["alfa"].id, uuid.UUID(export_id)) in await tasks._overdue_exports()
    send("cases.resend_exports")  # the scheduler's sweep
    await drain(worker)
    async with db.transaction(scope) as session:
        row = (await session.execute(select(CaseExport).where(
            CaseExport.id == export_id))).scalar_one()
    assert (row.status, row.attempts) == ("sent", 2) and row.delivered_at is not None
    keys = [{k.lower(): v for k, v in r["headers"].items()}["idempotency-key"]  # type: ignore[union-attr]
            for r in _LawFirm.received]
    assert keys == [export_id, export_id]
