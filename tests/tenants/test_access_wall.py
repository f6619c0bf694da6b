"""Users, tenants and intake layouts are reached through access helpers: a second
tenant's admin, or agency staff who do not work the first tenant, are told "não
encontrado" for the first tenant's user and layouts, through every endpoint that names
them, and nothing of the first tenant changes."""

from __future__ import annotations

MAPPING = {"document": "ID", "name": "Sacado", "contract": "Ref", "due_date": "Venc",
           "amount": "Montante"}


async def test_another_tenants_user_is_not_found_to_read_or_to_open(client, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    viewer = await factory.user("creditor_viewer", tenant_id=alfa.id)
    # A supervisor who works Beta only, and Beta's own admin.
    supervisor = await factory.user("supervisor", tenant_ids=[beta.id])
    own = await factory.user("creditor_viewer", tenant_id=beta.id)
    for outsider in (beta.admin, supervisor):
        read = await client.get(f"/api/v1/users/{viewer.user_id}", headers=outsider.headers)
        assert read.status_code == 404, read.text
        assert read.json()["detail"] == "usuário não encontrado"
    opened = await client.get(f"/usuarios/{viewer.user_id}", headers=beta.admin.headers)
    assert opened.status_code == 404
    assert "não encontrado" in opened.text and viewer.email not in opened.text
    # The same people reach Beta's user, and Alfa's admin its own.
    for insider in (beta.admin, supervisor):
        read = await client.get(f"/api/v1/users/{own.user_id}", headers=insider.headers)
        assert read.status_code == 200 and read.json()["email"] == own.email
    mine = await client.get(f"/usuarios/{viewer.user_id}", headers=alfa.admin.headers)
    assert mine.status_code == 200 and viewer.email in mine.text


async def test_another_tenant_is_not_found_to_its_admin_or_a_supervisor(client, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    supervisor = await factory.user("supervisor", tenant_ids=[beta.id])
    for outsider in (beta.admin, supervisor):
        read = await client.get(f"/api/v1/tenants/{alfa.id}", headers=outsider.headers)
        assert read.status_code == 404
        assert read.json()["detail"] == "credor não encontrado"
    limits = await client.get(f"/api/v1/tenants/{alfa.id}/intake-limits",
                              headers=supervisor.headers)
    assert limits.status_code == 404


async def test_another_tenants_layout_is_not_found_to_list_save_or_use(client, factory,
                                                                      services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    saved = await client.put("/api/v1/layouts", headers=alfa.admin.headers,
                             json={"name": "ERP", "mapping": MAPPING})
    assert saved.status_code == 200, saved.text
    supervisor = await factory.user("supervisor", tenant_ids=[beta.id])
    for outsider in (beta.admin, supervisor):
        listed = await client.get(f"/api/v1/layouts?tenant_id={alfa.id}",
                                  headers=outsider.headers)
        assert listed.status_code == 404
        assert listed.json()["detail"] == "credor não encontrado"
        overwrite = await client.put("/api/v1/layouts", headers=outsider.headers, json={
            "tenant_id": str(alfa.id), "name": "ERP",
            "mapping": {**MAPPING, "name": "Invasor"}})
        assert overwrite.status_code == 404
        upload = await client.post("/api/v1/portfolios", headers=outsider.headers, json={
            "tenant_id": str(alfa.id), "file_name": "x.csv", "file_size": 10,
            "layout": "ERP"})
        assert upload.status_code == 404
    # Beta's admin naming the layout for its own tenant finds none of that name.
    own = await client.post("/api/v1/portfolios", headers=beta.admin.headers,
                            json={"file_name": "x.csv", "file_size": 10, "layout": "ERP"})
    assert own.status_code == 404
    assert own.json()["detail"] == "layout 'ERP' não encontrado"
    # Alfa's layout is as Alfa saved it, and Alfa uses it.
    listed = await client.get("/api/v1/layouts", headers=alfa.admin.headers)
    assert [(x["name"], x["mapping"]["name"]) for x in listed.json()] == [("ERP", "Sacado")]
    used = await client.post("/api/v1/portfolios", headers=alfa.admin.headers,
                             json={"file_name": "x.csv", "file_size": 10, "layout": "ERP"})
    assert used.status_code == 201, used.text
