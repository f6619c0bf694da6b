"""The debtor self-service page over HTTP: identity by document and one-time code, the
same answer for strangers, the throttle, and the wall between creditors."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator

import pytest

from core.channels import sandbox
from core.settings import get_settings
from tests.legal.helpers import place_open_debt

CPF = "39053344705"


@pytest.fixture
def mailbox(services) -> Iterator[sandbox.Sandbox]:  # type: ignore[no-untyped-def]
    """The local SMTP sandbox as the process's mail server for the test."""
    running = sandbox.Sandbox(get_settings(), "http://127.0.0.1:9")
    running.start_smtp()
    os.environ["REGUA_SANDBOX_SMTP_PORT"] = str(running.smtp_port)
    get_settings.cache_clear()
    yield running
    del os.environ["REGUA_SANDBOX_SMTP_PORT"]
    get_settings.cache_clear()
    running.stop()


def code_sent_to(address: str) -> str | None:
    folder = sandbox.store_dir(get_settings()) / sandbox.SMTP_PROVIDER
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        record = json.loads(path.read_text())
        if address in record.get("to", []):
            found = re.search(r"é (\d{6})", record.get("text") or "")
            return found.group(1) if found else None
    return None


def csrf(text: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


async def submit_document(client, slug: str, document: str):  # type: ignore[no-untyped-def]
    first = await client.get(f"/pagar/{slug}")
    assert first.status_code == 200
    return await client.post(f"/pagar/{slug}", data={"documento": document,
                                                      "_csrf_token": csrf(first.text)})


def _visible(text: str) -> str:
    """The page without its per-request secrets (CSRF token, challenge)."""
    return re.sub(r'value="[^"]*"', 'value=""', text)


async def test_identity_then_debts_and_nothing_for_strangers(client, factory, database_url,
                                                             mailbox) -> None:
    tenant, other = await factory.tenant("Loja Autoatendimento"), await factory.tenant()
    email = f"ana-{uuid.uuid4().hex[:6]}@exemplo.com.br"
    await place_open_debt(database_url, tenant.id, document=CPF, email=email)
    known = await submit_document(client, tenant.slug, "390.533.447-05")
    unknown = await submit_document(client, tenant.slug, "529.982.247-25")
    assert known.status_code == unknown.status_code == 200
    assert _visible(known.text) == _visible(unknown.text)
    assert "Se o documento estiver cadastrado" in known.text
    code = code_sent_to(email)
    assert code is not None
    challenge = re.search(r'name="desafio" value="([^"]+)"', known.text).group(1)
    wrong = await client.post(f"/pagar/{tenant.slug}/codigo", data={
        "desafio": challenge, "codigo": "000000" if code != "000000" else "111111",
        "_csrf_token": csrf(known.text)})
    assert wrong.status_code == 422 and "código inválido ou expirado" in wrong.text
    right = await client.post(f"/pagar/{tenant.slug}/codigo", data={
        "desafio": challenge, "codigo": code, "_csrf_token": csrf(known.text)},
        follow_redirects=False)
    assert right.status_code in (301, 302, 303)
    debts = await client.get(f"/pagar/{tenant.slug}/debitos")
    assert debts.status_code == 200
    assert "Olá, Ana" in debts.text and "Débitos em aberto" in debts.text
    assert "Aceitar esta opção" in debts.text
    # The cookie is this creditor's page's only: another creditor's page asks again.
    elsewhere = await client.get(f"/pagar/{other.slug}/debitos", follow_redirects=False)
    assert elsewhere.status_code in (301, 302, 303)
    assert elsewhere.headers["location"] == f"/pagar/{other.slug}"
    assert (await client.get("/pagar/nao-existe")).status_code == 404
    client.cookies.clear()


async def test_guessing_documents_is_throttled(client, factory, services) -> None:
    tenant = await factory.tenant()
    answers = [(await submit_document(client, tenant.slug, "52998224725")).status_code
               for _ in range(get_settings().login_max_failures + 1)]
    assert answers[0] == 200 and answers[-1] == 429
    client.cookies.clear()


async def test_the_debtors_own_agreement_is_on_the_timeline_as_the_debtors(factory,
                                                                         database_url) -> None:
    from core.debtors.file import debtor_file
    from legal import selfservice
    from portal.jobs import load_tasks
    from tests.legal.helpers import creditor

    load_tasks()  # the slips' messages are sent by name
    tenant = await factory.tenant()
    debtor_id = await place_open_debt(database_url, tenant.id, document=CPF,
                                      email=f"ana-{uuid.uuid4().hex[:6]}@exemplo.com.br")
    option = (await selfservice.overview(tenant.id, debtor_id)).options[0].option
    await selfservice.accept(tenant.id, debtor_id, option, "203.0.113.9", "Teste/1.0")
    timeline = (await debtor_file(creditor(tenant.id), debtor_id)).timeline
    steps = [(e.title, e.by) for e in reversed(timeline) if e.kind == "agreement"]
    assert steps == [("Proposta de acordo", "o devedor, no autoatendimento"),
                     ("Aceite do acordo", "o devedor, pelo link de aceite")]
    accepted = next(e for e in timeline if e.title == "Aceite do acordo")
    assert accepted.detail == "pelo devedor, no link de aceite (IP 203.0.113.9)"
