"""Row-level security and grants, shared by migrations.

Every tenant-owned table gets RLS enabled and forced, one policy reading the
transaction's tenant set, and grants for the application role (which owns nothing).
"""

from __future__ import annotations

from alembic import op

APP = "regua_app"
MAINT = "regua_maint"
IN_SCOPE = "tenant_id = ANY ((SELECT regua_tenant_ids())::uuid[])"


def grant_app(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f'GRANT {privileges} ON "{table}" TO {APP}')
    op.execute(f'GRANT SELECT ON "{table}" TO {MAINT}')


def tenant_owned(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Enable and force RLS on `table`, scoped by its `tenant_id`, and grant the app role."""
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{table}" USING ({IN_SCOPE}) WITH CHECK ({IN_SCOPE})'
    )
    grant_app(table, privileges)
