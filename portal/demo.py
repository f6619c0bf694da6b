"""Demo data for `regua up --demo`: created once, reused on later starts."""

from __future__ import annotations

from sqlalchemy import text

from core import audit
from core.auth.roles import Role
from core.maintenance import operator_scope
from core.runtime import get_db
from tenants import onboarding, users

DEMO_ACTOR = audit.Actor(id=None, email="demo")
ADMIN = ("Administrador da assessoria", "admin@regua.demo", "regua-admin-2026")
AGENT = ("Operador (os dois credores)", "operador@regua.demo", "regua-operador-2026")
TENANTS = [
    # (legal name, trade name, CNPJ, UF, zone, creditor admin e-mail, password)
    ("Banco Exemplo de Crédito S.A.", "Banco Exemplo", "11.222.333/0001-81", "SP",
     "America/Sao_Paulo", "credor@banco-exemplo.demo", "banco-exemplo-2026"),
    ("Varejo Modelo Comércio Ltda.", "Varejo Modelo", "12.ABC.345/01DE-35", "CE",
     "America/Fortaleza", "credor@varejo-modelo.demo", "varejo-modelo-2026"),
]


async def seed() -> list[tuple[str, str, str]]:
    """Create (once) the agency admin, two creditor tenants with users, an agent."""
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            async def exists(email: str) -> bool:
                found = await session.execute(text("SELECT regua_email_taken(:e)"), {"e": email})
                return bool(found.scalar())

            if not await exists(ADMIN[1]):
                await users.add_user(session, DEMO_ACTOR,
                                     users.NewUser(email=ADMIN[1], password=ADMIN[2],
                                                   full_name="Ana Admin"),
                                     role=Role.ADMIN)
            tenant_ids = []
            logins = [ADMIN]
            for legal, trade, cnpj, uf, zone, email, password in TENANTS:
                found = await session.execute(
                    text("SELECT id FROM tenant WHERE cnpj = :c"),
                    {"c": cnpj.replace(".", "").replace("/", "").replace("-", "")},
                )
                tenant_id = found.scalar()
                if tenant_id is None:
                    tenant, _ = await onboarding.create_tenant(
                        session, DEMO_ACTOR,
                        onboarding.NewTenant(legal_name=legal, trade_name=trade, cnpj=cnpj,
                                             state=uf, timezone=zone,
                                             address="Av. Paulista, 1000 - São Paulo/SP"),
                        users.NewUser(email=email, password=password,
                                      full_name=f"Gestor {trade}"),
                    )
                    tenant_id = tenant.id
                tenant_ids.append(tenant_id)
                logins.append((f"administrador do credor {trade}", email, password))
            if not await exists(AGENT[1]):
                await users.add_user(session, DEMO_ACTOR,
                                     users.NewUser(email=AGENT[1], password=AGENT[2],
                                                   full_name="Otávio Operador",
                                                   tenant_ids=tenant_ids),
                                     role=Role.AGENT)
            logins.append(AGENT)
            slugs = [t.slug for t in await onboarding.list_tenants(session)]
    finally:
        await db.dispose()
    for index, slug in enumerate(sorted(slugs)):
        await _demo_portfolio(slug, seed=index + 1)
    return [(label, email, password) for label, email, password in logins]


DEMO_ROWS = 3000


async def _demo_portfolio(slug: str, seed: int) -> None:
    """Import a generated portfolio (with some bad rows) once per demo tenant."""
    import asyncio
    import tempfile
    from pathlib import Path

    from sqlalchemy import func, select

    from core.models import Portfolio
    from portal.operator import import_portfolio
    from tenants.intake.formats.sample import write

    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant = await onboarding.get_tenant_by_slug(session, slug)
            done = (await session.execute(select(func.count()).select_from(Portfolio).where(
                Portfolio.tenant_id == tenant.id))).scalar()
    finally:
        await db.dispose()
    if done:
        return
    with tempfile.TemporaryDirectory(prefix="regua-demo-") as tmp:
        path = Path(tmp) / f"carteira-{slug}.csv"
        await asyncio.to_thread(write, path, DEMO_ROWS, seed, 0.03)
        await import_portfolio(slug, str(path), None, "incremental", None)
