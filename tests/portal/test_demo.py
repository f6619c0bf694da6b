"""`regua up --demo`: its own tenants only, and a login for every role."""

from __future__ import annotations

from sqlalchemy import func, select

from core.auth.roles import Role
from core.db import Scope
from core.maintenance import operator_scope
from core.models import Portfolio, User


async def test_the_demo_seeds_its_own_tenants_and_a_user_of_every_role(db, factory, services):
    from portal.demo import seed

    mine = await factory.tenant("Credor do usuário")  # created before the demo runs
    logins = await seed()
    async with db.transaction(Scope.tenant(mine.id)) as session:
        imported = (await session.execute(select(func.count()).select_from(Portfolio).where(
            Portfolio.tenant_id == mine.id))).scalar()
    assert imported == 0
    emails = [email for _, email, _ in logins]
    async with db.transaction(await operator_scope()) as session:
        roles = dict((await session.execute(
            select(User.email, User.role).where(User.email.in_(emails)))).all())
    # (A tenant of an earlier test run may hold a demo CNPJ: the demo then skips that
    # creditor rather than touch it.)
    assert set(roles.values()) >= set(Role) - {Role.CREDITOR_VIEWER}
    assert len(emails) == len(set(emails)) >= 5
    # Running it again (a second start) creates nothing new and prints the same logins.
    assert await seed() == logins
