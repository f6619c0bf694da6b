"""Tenant API: what each role may do, and the wall between tenants."""

from __future__ import annotations


async def test_creditor_sees_only_its_own_tenant(client, two_tenants) -> None:
    alfa, beta = two_tenants
    listed = await client.get("/api/v1/tenants", headers=alfa.admin.headers)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [str(alfa.id)]
    other = await client.get(f"/api/v1/tenants/{beta.id}", headers=alfa.admin.headers)
    assert other.status_code == 404


async def test_creditor_may_not_create_tenants(client, two_tenants) -> None:
    alfa, _ = two_tenants
    answer = await client.post("/api/v1/tenants", headers=alfa.admin.headers,
                               json={"legal_name": "X", "cnpj": "11222333000181", "state": "SP"})
    assert answer.status_code == 403
