"""Login throttling: counted atomically, slowing the guesser without locking out the owner,
and believing X-Forwarded-For only from a configured proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.settings import get_settings


def owner() -> psycopg.Connection:
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(False), autocommit=True)


@pytest.fixture
def clean_throttle():
    yield
    with owner() as conn:
        conn.execute("DELETE FROM login_throttle")


@pytest.fixture(scope="module")
async def connect(services: None) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """Clients of one app, each seen by it as coming from a given peer address."""
    from portal.app import create_app

    app = create_app()
    opened: list[httpx.AsyncClient] = []

    def from_address(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 41000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        return client

    yield from_address
    for client in opened:
        await client.aclose()


async def token(client: httpx.AsyncClient, email: str, password: str,
                **headers: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", headers=headers,
                             json={"email": email, "password": password})


async def test_concurrent_wrong_passwords_are_counted_one_by_one(connect, factory,
                                                                 clean_throttle):
    tenant = await factory.tenant()
    attacker = connect("198.51.100.7")
    answers = await asyncio.gather(
        *(token(attacker, tenant.admin.email, f"errada-{i}-xyz") for i in range(18)))
    codes = sorted(a.status_code for a in answers)
    limit = get_settings().login_max_failures
    assert codes.count(401) <= limit and codes.count(401) + codes.count(429) == 18, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "aguarde" in refused.json()["detail"] and "tentativas" in refused.json()["detail"]


async def test_delays_grow_and_the_owner_logs_in_from_another_address(connect, factory,
                                                                      clean_throttle):
    tenant = await factory.tenant()
    attacker, owner_client = connect("198.51.100.8"), connect("192.0.2.44")
    limit = get_settings().login_max_failures
    for _ in range(limit):
        assert (await token(attacker, tenant.admin.email, "errada-abc-1")).status_code == 401
    first = await token(attacker, tenant.admin.email, tenant.admin.password)
    assert first.status_code == 429  # even the right password waits, from the attacker's place
    wait = int(first.headers["retry-after"])
    await asyncio.sleep(wait)
    assert (await token(attacker, tenant.admin.email, "errada-abc-2")).status_code == 401
    second = await token(attacker, tenant.admin.email, "errada-abc-3")
    assert second.status_code == 429 and int(second.headers["retry-after"]) > wait
    # Meanwhile the owner, elsewhere, is not locked out.
    mine = await token(owner_client, tenant.admin.email, tenant.admin.password)
    assert mine.status_code == 200, mine.text


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(connect, factory,
                                                                clean_throttle):
    tenant = await factory.tenant()
    client = connect("198.51.100.9")
    limit = get_settings().login_max_failures
    for i in range(limit):
        forged = {"x-forwarded-for": f"203.0.113.{i + 1}"}
        answer = await token(client, tenant.admin.email, "errada-xff-1", **forged)
        assert answer.status_code == 401
    # Claiming yet another address does not buy a fresh count.
    answer = await token(client, tenant.admin.email, "errada-xff-1",
                         **{"x-forwarded-for": "203.0.113.200"})
    assert answer.status_code == 429


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(connect, factory, clean_throttle,
                                                              monkeypatch):
    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.9.0.0/16")
    tenant = await factory.tenant()
    proxy, stranger = connect("10.9.0.2"), connect("198.51.100.10")
    limit = get_settings().login_max_failures
    attacker = {"x-forwarded-for": "203.0.113.50"}
    for _ in range(limit):
        assert (await token(proxy, tenant.admin.email, "errada-p-1", **attacker)).status_code == 401
    assert (await token(proxy, tenant.admin.email, "errada-p-1", **attacker)).status_code == 429
    # A client prepending a forged hop is still known by the address the proxy saw.
    spoofed = {"x-forwarded-for": "192.0.2.99, 203.0.113.50"}
    assert (await token(proxy, tenant.admin.email, "errada-p-1", **spoofed)).status_code == 429
    # The owner behind the same proxy, from their own address, logs in.
    owner_hop = {"x-forwarded-for": "192.0.2.45"}
    mine = await token(proxy, tenant.admin.email, tenant.admin.password, **owner_hop)
    assert mine.status_code == 200, mine.text
    # A peer that is not a proxy cannot claim an address.
    for _ in range(limit):
        await token(stranger, tenant.admin.email, "errada-p-2", **owner_hop)
    assert (await token(proxy, tenant.admin.email, tenant.admin.password,
                        **owner_hop)).status_code == 200


async def test_an_impossible_e_mail_is_refused_at_the_edge_naming_the_field(connect,
                                                                          clean_throttle):
    """No account can have it, so saying so tells nothing (core.edge: 400, not 500)."""
    client = connect("198.51.100.11")
    for email, why in (("a" * 5000 + "@x.test", "use no máximo 254 caracteres"),
                       ("nul\x00@x.test", "o caractere nulo")):
        answer = await token(client, email, "qualquer-coisa-1")
        assert answer.status_code == 400, answer.text
        assert answer.json()["errors"]["email"].startswith(f"e-mail: {why}")


async def test_spraying_from_one_address_slows_it_briefly_and_no_one_else(connect, factory,
                                                                          clean_throttle):
    tenant = await factory.tenant()
    sprayer, office = connect("198.51.100.12"), connect("192.0.2.46")
    per_address = get_settings().login_max_failures * 4
    for i in range(per_address):
        answer = await token(sprayer, f"alvo-{i}@credor.test", "Primavera2026")
        assert answer.status_code == 401
    slowed = await token(sprayer, tenant.admin.email, tenant.admin.password)
    assert slowed.status_code == 429 and 1 <= int(slowed.headers["retry-after"]) <= 60
    assert (await token(office, tenant.admin.email, tenant.admin.password)).status_code == 200
