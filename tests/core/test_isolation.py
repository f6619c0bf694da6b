"""The wall between tenants: every route, every table, and the database role itself."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.auth.web import PUBLIC_PATHS
from core.db import NO_SCOPE, Scope, app_url
from core.settings import get_settings
from portal.app import create_app


async def tenant_owned_tables(db) -> list[str]:
    async with db.transaction(NO_SCOPE) as session:
        rows = await session.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity"
            " ORDER BY 1"))
        return [r[0] for r in rows]


def app_connection() -> psycopg.Connection:
    url = make_url(app_url(get_settings())).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(False))


async def _fill(factory, client, tenant) -> dict[str, str]:
    """Give a tenant one of everything the API can address by id."""
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    upload = await client.post("/api/v1/portfolios", headers=tenant.admin.headers,
                               json={"file_name": "x.csv", "file_size": 10})
    assert upload.status_code == 201
    return {"tenant_id": str(tenant.id), "user_id": str(viewer.user_id),
            "portfolio_id": upload.json()["id"]}


async def test_every_route_with_an_id_answers_404_across_tenants(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await _fill(factory, client, alfa)
    ids_b = await _fill(factory, client, beta)
    # Page forms are CSRF-protected: carry the token as a browser would, so that the
    # answer is about the resource and not about the missing token.
    await client.get("/")
    headers = {**alfa.admin.headers, "x-csrftoken": client.cookies.get("regua_csrf", "")}
    checked = 0
    for route in create_app().routes:
        params = re.findall(r"{(\w+):(\w+)}", route.path)
        if not params or route.path.startswith(("/static", "/schema")):
            continue
        if any(re.search(p, route.path) for p in PUBLIC_PATHS):
            continue  # public pages prove identity themselves (tests/legal/test_selfservice)
        path = route.path
        for name, kind in params:
            value = ids_b.get(name, "errors" if kind == "str" else str(uuid.uuid4()))
            path = path.replace(f"{{{name}:{kind}}}", value)
        for handler in route.route_handlers:
            admitted = set().union(*(getattr(g, "admitted_roles", set())
                                     for g in handler.guards or []))
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                answer = await client.request(method, path, headers=headers, json={})
                # A route alfa's role may not use answers 403 before looking anything up;
                # every other route must not reveal that beta's resource exists.
                expected = 404 if "creditor_admin" in admitted else 403
                assert answer.status_code == expected, (method, path, answer.status_code)
                checked += 1
    assert checked >= 8


async def test_lists_never_show_another_tenants_rows(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await _fill(factory, client, alfa)
    ids_b = await _fill(factory, client, beta)
    for url in ("/api/v1/tenants", "/api/v1/users", "/api/v1/portfolios", "/api/v1/audit"):
        answer = await client.get(url, headers=alfa.admin.headers)
        assert answer.status_code == 200, url
        body = answer.text
        assert ids_b["tenant_id"] not in body and ids_b["portfolio_id"] not in body, url
        assert ids_b["user_id"] not in body, url


async def test_raw_sql_on_every_tenant_table_sees_only_the_scoped_tenant(db, client, factory,
                                                                         services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await _fill(factory, client, alfa)
    await _fill(factory, client, beta)
    tables = await tenant_owned_tables(db)
    assert {"tenant", "user", "user_tenant", "audit_log", "debt", "debtor", "portfolio",
            "contact_point", "column_layout"} <= set(tables)
    for table in tables:
        column = "id" if table == "tenant" else "tenant_id"
        async with db.transaction(Scope.tenant(alfa.id)) as session:
            foreign = (await session.execute(text(
                f'SELECT count(*) FROM "{table}" WHERE {column} IS DISTINCT FROM :a'
                + (" AND tenant_id IS NOT NULL" if table in ("user", "audit_log") else "")),
                {"a": alfa.id})).scalar_one()
        assert foreign == 0, table
        async with db.transaction(NO_SCOPE) as session:
            unscoped = (await session.execute(text(f'SELECT count(*) FROM "{table}"'))
                        ).scalar_one()
        assert unscoped == 0, f"{table}: a transaction without a scope must see nothing"


async def test_the_application_role_cannot_lift_the_wall(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    with app_connection() as conn:
        for statement in ("ALTER TABLE debt DISABLE ROW LEVEL SECURITY",
                          "ALTER TABLE debt NO FORCE ROW LEVEL SECURITY",
                          "DROP POLICY tenant_isolation ON debt",
                          "UPDATE audit_log SET action = 'x'",
                          "DELETE FROM audit_log",
                          "TRUNCATE audit_log",
                          "SELECT * FROM audit_chain_head",
                          "SET ROLE regua_maint"):
            with pytest.raises(psycopg.errors.Error):
                conn.execute(statement)
            conn.rollback()
        conn.execute("SET row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM tenant")
        conn.rollback()
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", ("{" + str(alfa.id) + "}",))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO column_layout (tenant_id, id, name, mode, mapping)"
                " VALUES (%s, gen_random_uuid(), 'x', 'incremental', '{}')", (beta.id,))
        conn.rollback()
        role = conn.execute("SELECT rolbypassrls, rolsuper FROM pg_roles"
                            " WHERE rolname = current_user").fetchone()
        assert role == (False, False)


def test_every_route_declares_the_roles_it_admits() -> None:
    public = [re.compile(p) for p in PUBLIC_PATHS]
    missing = []
    for route in create_app().routes:
        if any(p.search(route.path) for p in public) or route.path.startswith("/static"):
            continue
        for handler in route.route_handlers:
            if handler.http_methods <= {"OPTIONS", "HEAD"}:  # Litestar's CORS preflight
                continue
            if not any(hasattr(g, "admitted_roles") for g in handler.guards or []):
                missing.append(f"{sorted(handler.http_methods)} {route.path}")
    assert missing == []


async def test_pages_never_show_another_tenants_data(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await _fill(factory, client, alfa)
    ids_b = await _fill(factory, client, beta)
    for url in ("/inicio", "/carteiras", "/usuarios", "/auditoria"):
        answer = await client.get(url, headers=alfa.admin.headers)
        assert answer.status_code == 200, url
        page = answer.text
        assert "Beta" not in page and beta.admin.email not in page, url
        assert ids_b["portfolio_id"] not in page, url
        assert alfa.admin.email in page, url  # the page is about the right user
