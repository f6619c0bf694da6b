"""What no field may hold is refused at the edge with 400, naming the field in Portuguese:
the four causes of the server errors fuzzing found (issue 16)."""

from __future__ import annotations


async def test_integers_out_of_their_bounds_are_refused_naming_the_field(client, factory):
    tenant = await factory.tenant()
    admin = await factory.user("admin")
    negative = await client.get("/api/v1/audit?limit=-1", headers=admin.headers)
    assert negative.status_code == 400
    assert negative.json()["errors"] == {"limit": "limite: use um número inteiro de 1 a 1.000"}
    huge = await client.get(f"/api/v1/portfolios?limit={2**70}", headers=tenant.admin.headers)
    assert huge.status_code == 400 and huge.json()["errors"]["limit"].startswith("limite:")
    recall = await client.post("/api/v1/recalls", headers=tenant.admin.headers, json={
        "items": [{"contract": "A-1", "installment": 2147483648}]})
    assert recall.status_code == 400
    assert recall.json()["errors"] == {"items": "parcela: use um número inteiro de 1 a 9.999"}
    page = await client.get("/api/v1/debtors?q=ana&page=0", headers=admin.headers)
    assert page.status_code == 400 and "página" in page.json()["errors"]["page"]


async def test_a_nul_character_is_refused_in_any_string(client, factory):
    tenant = await factory.tenant()
    headers = tenant.admin.headers
    cases = [
        ("POST", "/api/v1/portfolios", {"file_name": "a\x00.csv", "file_size": 1},
         "file_name", "nome do arquivo"),
        ("PUT", "/api/v1/layouts", {"name": "padrão", "mapping": {"document": "C\x00PF"}},
         "mapping", "mapeamento de colunas"),
        ("POST", "/api/v1/recalls", {"items": [{"contract": "A\x00"}]}, "items", "contrato"),
        ("POST", "/api/v1/users", {"email": "x\x00@credor.test", "password": "p",
                                   "role": "creditor_viewer"}, "email", "e-mail"),
    ]
    for method, url, body, field, named in cases:
        answer = await client.request(method, url, headers=headers, json=body)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["errors"][field] == (
            f"{named}: o caractere nulo (\\0) não é aceito"), answer.json()
    login = await client.post("/api/v1/auth/token",
                              json={"email": "a\x00@credor.test", "password": "x"})
    assert login.status_code == 400 and "e-mail" in login.json()["errors"]["email"]
    search = await client.get("/api/v1/debtors", params={"q": "an\x00a"}, headers=headers)
    assert search.status_code == 400 and search.json()["errors"]["q"].startswith("busca:")


async def test_strings_longer_than_their_column_are_refused(client, factory):
    tenant = await factory.tenant()
    headers = tenant.admin.headers
    layout = await client.put("/api/v1/layouts", headers=headers,
                              json={"name": "n" * 101, "mapping": {}})
    assert layout.status_code == 400
    assert layout.json()["errors"] == {"name": "nome: use no máximo 100 caracteres (foram 101)"}
    sheet = await client.post("/api/v1/portfolios", headers=headers,
                              json={"file_name": "c.xlsx", "file_size": 1, "sheet": "s" * 101})
    assert sheet.json()["errors"] == {"sheet": "aba: use no máximo 100 caracteres (foram 101)"}
    user = await client.post("/api/v1/users", headers=headers, json={
        "email": "v@credor.test", "password": "p", "role": "creditor_viewer",
        "full_name": "f" * 201})
    assert user.status_code == 400 and user.json()["errors"]["full_name"].startswith(
        "nome completo: use no máximo 200 caracteres")
    login = await client.post("/api/v1/auth/token",
                              json={"email": "e" * 300 + "@x.com", "password": "x"})
    assert login.status_code == 400 and "254" in login.json()["errors"]["email"]
    # A legitimate layout still saves.
    mapping = {"document": "CPF", "name": "Nome", "contract": "Contrato",
               "due_date": "Vencimento", "amount": "Valor"}
    fine = await client.put("/api/v1/layouts", headers=headers,
                            json={"name": "n" * 100, "mapping": mapping})
    assert fine.status_code == 200, fine.text


async def test_a_page_form_with_a_nul_character_gets_an_error_page(client):
    import re

    login_page = await client.get("/")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', login_page.text).group(1)
    answer = await client.post("/login", data={"email": "a\x00@x.com", "password": "x",
                                               "_csrf_token": csrf})
    assert answer.status_code == 400
    assert "e-mail: o caractere nulo" in answer.text.lower()
