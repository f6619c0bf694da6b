"""/api/v1/agreements and the negotiation pages, with a second tenant and each role."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.legal.helpers import AT


async def _csrf(client) -> dict[str, str]:
    await client.get("/")
    return {"x-csrftoken": client.cookies.get("regua_csrf", "")}


async def test_the_api_simulates_creates_accepts_and_hides_other_tenants(client, book):
    agent = book["agent"].headers
    answer = await client.post("/api/v1/agreements/simulations", headers=agent,
                               json={"debtor_id": str(book["jose"]), "date": AT.isoformat()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert Decimal(body["updated_balance"]) == sum(Decimal(d["total"]) for d in body["debts"])
    assert body["debts"][0]["memoria"][0].startswith("Título CT-1 / 1")
    option = next(o for o in body["options"] if o["approval"] == "agent")
    missing = await client.post("/api/v1/agreements/simulations", headers=agent, json={})
    assert missing.status_code == 422 and "debtor_id" in missing.json()["errors"]

    made = await client.post("/api/v1/agreements", headers=agent, json={
        "debtor_id": str(book["jose"]), "option": option["option"], "date": AT.isoformat()})
    assert made.status_code == 201, made.text
    agreement_id = made.json()["agreement_id"]
    bad = await client.post(f"/api/v1/agreements/{agreement_id}/accept", headers=agent, json={})
    assert bad.status_code == 422 and "call_recording_ref" in bad.json()["errors"]
    ok = await client.post(f"/api/v1/agreements/{agreement_id}/accept", headers=agent,
                           json={"call_recording_ref": "GRAV-API-1"})
    assert ok.status_code == 200 and ok.json()["status"] == "active"

    beta = book["beta"].admin.headers
    for method, url, payload in (
            ("GET", f"/api/v1/agreements/{agreement_id}", None),
            ("POST", f"/api/v1/agreements/{agreement_id}/reinstate", {}),
            ("POST", f"/api/v1/agreements/{agreement_id}/link", {}),
            ("POST", "/api/v1/agreements/simulations", {"debtor_id": str(book["jose"])}),
            ("GET", f"/api/v1/agreements/policies/{book['alfa'].id}", None)):
        answer = await client.request(method, url, headers=beta, json=payload)
        assert answer.status_code == 404, (method, url, answer.status_code)
    listed = await client.get(f"/api/v1/agreements?debtor_id={book['jose_beta']}", headers=beta)
    assert listed.status_code == 200 and listed.json() == []
    viewer = await client.get(f"/api/v1/agreements/{agreement_id}",
                              headers=book["alfa"].admin.headers)
    assert viewer.status_code == 200 and viewer.json()["call_recording_ref"] == "GRAV-API-1"


async def test_the_api_queues_approvals_by_role(client, book):
    saved = await client.put(f"/api/v1/agreements/policies/{book['alfa'].id}",
                             headers=book["supervisor"].headers,
                             json={"agent_discount_pct": "0", "supervisor_discount_pct": "1"})
    assert saved.status_code == 200, saved.text
    refused = await client.put(f"/api/v1/agreements/policies/{book['alfa'].id}",
                               headers=book["agent"].headers, json={})
    assert refused.status_code == 403
    sim = (await client.post("/api/v1/agreements/simulations", headers=book["agent"].headers,
                             json={"debtor_id": str(book["jose"]), "date": AT.isoformat()})).json()
    cash = next(o for o in sim["options"] if o["installments"] == 1)
    assert cash["approval"] == "creditor"
    made = (await client.post("/api/v1/agreements", headers=book["agent"].headers, json={
        "debtor_id": str(book["jose"]), "option": cash["option"], "date": AT.isoformat()})).json()
    assert made["status"] == "pending_approval"
    request_id = made["approval_request_id"]
    assert (await client.get("/api/v1/agreements/approvals",
                             headers=book["supervisor"].headers)).json() == []
    queue = (await client.get("/api/v1/agreements/approvals",
                              headers=book["creditor"].headers)).json()
    assert [q["request_id"] for q in queue] == [request_id]
    no_reason = await client.post(f"/api/v1/agreements/approvals/{request_id}/decision",
                                  headers=book["creditor"].headers, json={"accept": False})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    decided = await client.post(f"/api/v1/agreements/approvals/{request_id}/decision",
                                headers=book["creditor"].headers,
                                json={"accept": False, "reason": "desconto acima do aceitável"})
    assert decided.status_code == 200 and decided.json()["status"] == "cancelled"
    mine = (await client.get("/api/v1/agreements/approvals?decided=true",
                             headers=book["agent"].headers)).json()
    assert mine[0]["status"] == "refused" and mine[0]["reason"] == "desconto acima do aceitável"
    beta = await client.post(f"/api/v1/agreements/approvals/{request_id}/decision",
                             headers=book["beta"].admin.headers, json={"accept": True})
    assert beta.status_code == 404


async def test_the_pages_show_options_memoria_and_the_debtors_link(client, book):
    agent = book["agent"].headers
    file_page = await client.get(f"/devedores/{book['jose']}", headers=agent)
    assert f'href="/devedores/{book["jose"]}/negociacao"' in file_page.text
    screen = await client.get(f"/devedores/{book['jose']}/negociacao?data={AT.isoformat()}",
                              headers=agent)
    assert screen.status_code == 200
    assert "Memória de cálculo" in screen.text and "Primeira por maior recuperação" in screen.text
    other = await client.get(f"/devedores/{book['jose_beta']}/negociacao", headers=agent)
    assert other.status_code == 404
    headers = {**agent, **await _csrf(client)}
    made = await client.post(f"/devedores/{book['jose']}/acordos", headers=headers,
                             data={"option": "99", "data": AT.isoformat()})
    assert made.status_code == 422 and "escolha uma das opções" in made.text
    sim = (await client.post("/api/v1/agreements/simulations", headers=agent, json={
        "debtor_id": str(book["jose"]), "date": AT.isoformat()})).json()
    mine = next(o for o in sim["options"] if o["approval"] == "agent")
    api = (await client.post("/api/v1/agreements", headers=agent, json={
        "debtor_id": str(book["jose"]), "option": mine["option"], "date": AT.isoformat()})).json()
    assert api["status"] == "proposed"
    page = await client.get(f"/acordos/{api['agreement_id']}", headers=agent)
    assert "TERMO DE ACORDO EXTRAJUDICIAL" in page.text
    link = (await client.post(f"/api/v1/agreements/{api['agreement_id']}/link",
                              headers=agent)).json()["url"]
    client.cookies.clear()
    public = await client.get(link)
    assert public.status_code == 200 and "Li e aceito" in public.text
    token = link.split("t=", 1)[1]
    accepted = await client.post("/acordo", data={"t": token}, headers=await _csrf(client))
    assert accepted.status_code == 200 and "Acordo aceito" in accepted.text
    again = await client.get(link)
    assert again.status_code == 404
    forged = await client.get(f"/acordo?t={uuid.uuid4().hex}.x.y.z")
    assert forged.status_code == 404
