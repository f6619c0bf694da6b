"""foundation: tenants, users, audit log, row-level security

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:55:20.308224
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP, MAINT, grant_app, tenant_owned

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ROLES = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP}') THEN
        CREATE ROLE {APP} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{MAINT}') THEN
        CREATE ROLE {MAINT} NOLOGIN BYPASSRLS;
    END IF;
END
$$;
"""

SCOPE_FUNCTIONS = """
CREATE FUNCTION regua_tenant_ids() RETURNS uuid[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('app.tenant_ids', true), ''), '{}')::uuid[]
$$;
CREATE FUNCTION regua_agency() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('app.agency', true), '') = 'on'
$$;
"""

# Authentication must read a user before any tenant scope exists. These two functions
# run as the maintenance role (BYPASSRLS) and return only what login needs.
AUTH_FUNCTIONS = f"""
CREATE FUNCTION regua_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, password_hash text, user_active boolean, tenant_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, u.password_hash, u.is_active, coalesce(t.status = 'active', true)
    FROM "user" u LEFT JOIN tenant t ON t.id = u.tenant_id
    WHERE lower(u.email) = lower(p_email)
$$;
CREATE FUNCTION regua_user_scope(p_user_id uuid)
RETURNS TABLE (email text, full_name text, role text, tenant_id uuid, tenant_ids uuid[],
               active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.email, u.full_name, u.role, u.tenant_id,
        CASE
            WHEN u.role = 'admin' THEN (SELECT coalesce(array_agg(id), '{{}}') FROM tenant)
            WHEN u.tenant_id IS NOT NULL THEN ARRAY[u.tenant_id]
            ELSE (SELECT coalesce(array_agg(ut.tenant_id), '{{}}')
                  FROM user_tenant ut JOIN tenant t ON t.id = ut.tenant_id
                  WHERE ut.user_id = u.id AND t.status = 'active')
        END,
        u.is_active AND coalesce(
            (SELECT t.status = 'active' FROM tenant t WHERE t.id = u.tenant_id), true)
    FROM "user" u WHERE u.id = p_user_id
$$;
-- Global uniqueness checks that answer only "taken or not", across the RLS wall.
CREATE FUNCTION regua_slug_taken(p text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$ SELECT EXISTS (SELECT 1 FROM tenant WHERE slug = p) $$;
CREATE FUNCTION regua_cnpj_taken(p text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$ SELECT EXISTS (SELECT 1 FROM tenant WHERE cnpj = p) $$;
CREATE FUNCTION regua_email_taken(p text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM "user" WHERE lower(email) = lower(p)) $$;
ALTER FUNCTION regua_slug_taken(text) OWNER TO {MAINT};
ALTER FUNCTION regua_cnpj_taken(text) OWNER TO {MAINT};
ALTER FUNCTION regua_email_taken(text) OWNER TO {MAINT};
REVOKE ALL ON FUNCTION regua_slug_taken(text), regua_cnpj_taken(text), regua_email_taken(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regua_slug_taken(text), regua_cnpj_taken(text), regua_email_taken(text)
    TO {APP};
ALTER FUNCTION regua_login_lookup(text) OWNER TO {MAINT};
ALTER FUNCTION regua_user_scope(uuid) OWNER TO {MAINT};
REVOKE ALL ON FUNCTION regua_login_lookup(text), regua_user_scope(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regua_login_lookup(text), regua_user_scope(uuid) TO {APP};
"""

# The audit chain: a trigger numbers each entry within its chain (one per tenant, plus
# the agency's), links it to the previous entry's hash and hashes it. The chain head is
# a row the trigger locks, so concurrent writers append in order.
AUDIT_CHAIN = f"""
CREATE TABLE audit_chain_head (
    chain text PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL
);
CREATE FUNCTION regua_audit_hash(a audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        a.prev_hash, a.seq::text, coalesce(a.tenant_id::text, ''), a.id::text,
        coalesce(a.actor_id::text, ''), coalesce(a.actor_email, ''), a.action,
        coalesce(a.entity, ''), coalesce(a.entity_id, ''), coalesce(a.before::text, ''),
        coalesce(a.after::text, ''), coalesce(a.ip, ''),
        to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
    ), 'UTF8')), 'hex')
$$;
CREATE FUNCTION regua_audit_append() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    chain_key text := coalesce(NEW.tenant_id::text, 'agency');
    head audit_chain_head%ROWTYPE;
BEGIN
    INSERT INTO audit_chain_head (chain, seq, hash) VALUES (chain_key, 0, '')
        ON CONFLICT (chain) DO NOTHING;
    SELECT * INTO head FROM audit_chain_head WHERE chain = chain_key FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.prev_hash := head.hash;
    NEW.created_at := date_trunc('microseconds', clock_timestamp());
    NEW.hash := regua_audit_hash(NEW);
    UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE chain = chain_key;
    RETURN NEW;
END
$$;
CREATE FUNCTION regua_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
ALTER FUNCTION regua_audit_append() OWNER TO {MAINT};
GRANT SELECT, INSERT, UPDATE ON audit_chain_head TO {MAINT};
CREATE TRIGGER audit_log_append BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION regua_audit_append();
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION regua_audit_immutable();
"""

RLS = """
ALTER TABLE tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON tenant FOR SELECT USING (id = ANY ((SELECT regua_tenant_ids())::uuid[]));
CREATE POLICY tenant_update ON tenant FOR UPDATE
    USING (id = ANY ((SELECT regua_tenant_ids())::uuid[])) WITH CHECK (id = ANY ((SELECT regua_tenant_ids())::uuid[]));
CREATE POLICY tenant_create ON tenant FOR INSERT WITH CHECK ((SELECT regua_agency()));

ALTER TABLE "user" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "user" FORCE ROW LEVEL SECURITY;
CREATE POLICY user_isolation ON "user"
    USING (tenant_id = ANY ((SELECT regua_tenant_ids())::uuid[])
           OR (tenant_id IS NULL AND (SELECT regua_agency())))
    WITH CHECK (tenant_id = ANY ((SELECT regua_tenant_ids())::uuid[])
                OR (tenant_id IS NULL AND (SELECT regua_agency())));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON audit_log FOR SELECT
    USING (tenant_id = ANY ((SELECT regua_tenant_ids())::uuid[])
           OR (tenant_id IS NULL AND (SELECT regua_agency())));
CREATE POLICY audit_append ON audit_log FOR INSERT
    WITH CHECK (tenant_id IS NULL OR tenant_id = ANY ((SELECT regua_tenant_ids())::uuid[]));
"""


def upgrade() -> None:
    op.execute(ROLES)
    op.execute("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO regua_app', current_database()); END $$")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP}, {MAINT}")
    op.execute(SCOPE_FUNCTIONS)
    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_email', sa.String(length=254), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=True),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), server_default='', nullable=False),
    sa.Column('hash', sa.String(length=64), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('uq_audit_log_chain_seq', 'audit_log', [sa.literal_column("coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)"), 'seq'], unique=True)
    op.create_table('job_once',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_job_once'))
    )
    op.create_table('login_attempt',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    op.create_index('ix_login_attempt_email_at', 'login_attempt', ['email', 'at'], unique=False)
    op.create_index('ix_login_attempt_ip_at', 'login_attempt', ['ip', 'at'], unique=False)
    op.create_table('tenant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('trade_name', sa.String(length=200), nullable=False),
    sa.Column('cnpj', sa.String(length=14), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]*$'", name=op.f('ck_tenant_slug')),
    sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f('ck_tenant_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant')),
    sa.UniqueConstraint('cnpj', name=op.f('uq_tenant_cnpj')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenant_slug'))
    )
    op.create_table('user',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role IN ('admin','supervisor','agent','legal') AND tenant_id IS NULL) OR (role IN ('creditor_admin','creditor_viewer') AND tenant_id IS NOT NULL)", name=op.f('ck_user_role_tenant')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_user_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user'))
    )
    op.create_index('uq_user_email', 'user', [sa.literal_column('lower(email)')], unique=True)
    op.create_table('api_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('session', 'bearer')", name=op.f('ck_api_token_kind')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_api_token_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_api_token'))
    )
    op.create_index('ix_api_token_user', 'api_token', ['user_id'], unique=False)
    op.create_table('user_tenant',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_user_tenant_tenant_id_tenant')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_tenant_user_id_user')),
    sa.PrimaryKeyConstraint('tenant_id', 'user_id', name=op.f('pk_user_tenant'))
    )
    op.execute(AUDIT_CHAIN)
    op.execute(RLS)
    op.execute(AUTH_FUNCTIONS)
    grant_app("tenant", "SELECT, INSERT, UPDATE")
    grant_app("user")
    grant_app("audit_log", "SELECT, INSERT")
    grant_app("api_token", "SELECT, INSERT, DELETE")
    grant_app("login_attempt", "SELECT, INSERT, DELETE")
    grant_app("job_once", "SELECT, INSERT")
    tenant_owned("user_tenant", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append ON audit_log")
    op.execute("DROP TRIGGER audit_log_immutable ON audit_log")
    for fn in ("regua_audit_append()", "regua_audit_immutable()", "regua_audit_hash(audit_log)",
               "regua_login_lookup(text)", "regua_user_scope(uuid)", "regua_slug_taken(text)",
               "regua_cnpj_taken(text)", "regua_email_taken(text)"):
        op.execute(f"DROP FUNCTION {fn}")
    op.execute("DROP TABLE audit_chain_head")
    op.drop_table('user_tenant')
    op.drop_index('ix_api_token_user', table_name='api_token')
    op.drop_table('api_token')
    op.drop_index('uq_user_email', table_name='user')
    op.drop_table('user')
    op.drop_table('tenant')
    op.drop_index('ix_login_attempt_ip_at', table_name='login_attempt')
    op.drop_index('ix_login_attempt_email_at', table_name='login_attempt')
    op.drop_table('login_attempt')
    op.drop_table('job_once')
    op.drop_table('audit_log')
    op.execute("DROP FUNCTION regua_tenant_ids()")
    op.execute("DROP FUNCTION regua_agency()")
