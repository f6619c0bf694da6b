"""An upload is checked as it arrives: empty, unreadable or already imported files are
answered at once, and uploads that never started do not linger as "waiting"."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import text

from core.db import Scope
from tenants.intake import service
from tenants.intake.formats.sample import write as write_sample


async def upload(client, headers, content: bytes, name: str = "carteira.csv") -> dict:
    created = (await client.post("/api/v1/portfolios", headers=headers,
                                 json={"file_name": name, "file_size": len(content)})).json()
    async with httpx.AsyncClient() as s3:  # the browser's PUT, straight to S3
        put = await s3.put(created["upload_url"], content=content,
                           headers=created["upload_headers"])
        assert put.status_code == 200
    return created


async def test_an_empty_file_is_refused_at_once_and_listed_apart(db, client, factory):
    tenant = await factory.tenant()
    created = await upload(client, tenant.admin.headers, b"")
    answer = await client.post(f"/api/v1/portfolios/{created['id']}/received",
                               headers=tenant.admin.headers)
    assert answer.status_code == 422
    assert "vazio" in answer.json()["errors"]["file"]
    status = (await client.get(f"/api/v1/portfolios/{created['id']}",
                               headers=tenant.admin.headers)).json()
    assert status["status"] == "failed" and status["error"].startswith("recusado: ")
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        history = await service.history(session)
    assert [str(p.id) for p in history.never_started] == [status["id"]]
    assert all(str(p.id) != status["id"] for p in history.imports)


async def test_a_file_that_is_no_spreadsheet_is_refused_on_arrival(client, factory):
    tenant = await factory.tenant()
    created = await upload(client, tenant.admin.headers, b"\x00\x01\x02PK\x03" * 200,
                           "foto.png")
    answer = await client.post(f"/api/v1/portfolios/{created['id']}/received",
                               headers=tenant.admin.headers)
    assert answer.status_code == 422 and answer.json()["errors"]["file"]


async def test_a_file_imported_before_is_recognised_before_column_matching(
        client, factory, worker, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "c.csv"
    write_sample(path, 50, seed=3)
    first = await upload(client, tenant.admin.headers, path.read_bytes())
    assert (await client.post(f"/api/v1/portfolios/{first['id']}/received",
                              headers=tenant.admin.headers)).json()["status"] == "uploading"
    preview = (await client.post(f"/api/v1/portfolios/{first['id']}/preview",
                                 headers=tenant.admin.headers)).json()
    await client.post(f"/api/v1/portfolios/{first['id']}/start", headers=tenant.admin.headers,
                      json={"mapping": preview["mapping"]})
    second = await upload(client, tenant.admin.headers, path.read_bytes(), "de-novo.csv")
    answer = (await client.post(f"/api/v1/portfolios/{second['id']}/received",
                                headers=tenant.admin.headers)).json()
    assert answer["status"] == "duplicate" and answer["duplicate_of"] == first["id"]
    # Another tenant's portfolio is not found, received or not.
    other = await factory.tenant()
    denied = await client.post(f"/api/v1/portfolios/{second['id']}/received",
                               headers=other.admin.headers)
    assert denied.status_code == 404


async def test_an_upload_whose_file_never_came_expires_after_a_day(db, client, factory):
    tenant = await factory.tenant()
    created = (await client.post("/api/v1/portfolios", headers=tenant.admin.headers,
                                 json={"file_name": "nunca.csv", "file_size": 10})).json()
    fresh = (await client.post("/api/v1/portfolios", headers=tenant.admin.headers,
                               json={"file_name": "agora.csv", "file_size": 10})).json()
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        await session.execute(text(
            "UPDATE portfolio SET created_at = now() - interval '25 hours' WHERE id = :p"),
            {"p": created["id"]})
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        assert await service.expire_uploads(session, tenant.id,
                                            dt.datetime.now(dt.UTC)) == 1
    old = (await client.get(f"/api/v1/portfolios/{created['id']}",
                            headers=tenant.admin.headers)).json()
    assert old["status"] == "failed" and "envio abandonado" in old["error"]
    new = (await client.get(f"/api/v1/portfolios/{fresh['id']}",
                            headers=tenant.admin.headers)).json()
    assert new["status"] == "uploading"  # less than a day old: still welcome
    page = await client.get("/carteiras", headers=tenant.admin.headers)
    assert "Envio abandonado" in page.text and "Envios que não chegaram" in page.text
