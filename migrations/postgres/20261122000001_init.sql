-- askpanel schema for PostgreSQL. Run as the owner (`askpanel migrate`); the
-- server connects as `askpanel_app`, which owns nothing, is no superuser and
-- has no BYPASSRLS, so row-level security binds it. Every tenant table has
-- ENABLE and FORCE ROW LEVEL SECURITY; a unit of work sets its tenant with
-- set_config('app.tenant_id', ..., true) inside its transaction.

DO $$
BEGIN
    CREATE ROLE askpanel_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- Platform level: settings and the tenant registry (the platform admin manages it).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    status     TEXT NOT NULL,
    limits     JSONB NOT NULL,
    branding   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Tenant level.
CREATE TABLE api_keys (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

CREATE TABLE experts (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX experts_by_tenant ON experts (tenant_id, id);

CREATE TABLE panels (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    created_by   TEXT NOT NULL,
    query        TEXT NOT NULL,
    panel_type   TEXT NOT NULL,
    status       TEXT NOT NULL,
    head_seq     BIGINT NOT NULL,
    -- The lease epoch of the node allowed to write (fencing token).
    owner_epoch  BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX panels_by_tenant ON panels (tenant_id, id DESC);
CREATE INDEX panels_by_tenant_status ON panels (tenant_id, status, id DESC);
CREATE INDEX panels_unfinished ON panels (status) WHERE status NOT IN ('completed', 'failed', 'cancelled');

-- The exact JSON written is kept (TEXT, not JSONB, which would reorder keys) and served as is.
CREATE TABLE panel_events (
    panel_id  UUID NOT NULL REFERENCES panels (id),
    seq       BIGINT NOT NULL,
    tenant_id UUID NOT NULL,
    kind      TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (panel_id, seq)
);

CREATE TABLE usage (
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    month            TEXT NOT NULL,
    panels_created   BIGINT NOT NULL DEFAULT 0,
    panels_completed BIGINT NOT NULL DEFAULT 0,
    turns            BIGINT NOT NULL DEFAULT 0,
    tokens_in        BIGINT NOT NULL DEFAULT 0,
    tokens_out       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);

CREATE TABLE idempotency_keys (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    key        TEXT NOT NULL,
    panel_id   UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'experts', 'panels', 'panel_events', 'usage', 'idempotency_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;

-- The few reads that cross tenants, as narrow functions run with the
-- owner's rights: authentication finds a key by its hash; recovery and
-- takeover list unfinished panels; metrics count panels by status.
CREATE FUNCTION askpanel_find_key(p_hash TEXT)
RETURNS TABLE (id UUID, tenant_id UUID, role TEXT, name TEXT, prefix TEXT, created_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT k.id, k.tenant_id, k.role, k.name, k.prefix, k.created_at, k.revoked_at FROM api_keys k WHERE k.key_hash = p_hash
$$;

CREATE FUNCTION askpanel_unfinished_panels()
RETURNS TABLE (tenant_id UUID, id UUID)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT p.tenant_id, p.id FROM panels p WHERE p.status NOT IN ('completed', 'failed', 'cancelled') ORDER BY p.id
$$;

CREATE FUNCTION askpanel_panel_counts()
RETURNS TABLE (status TEXT, n BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT p.status, COUNT(*) FROM panels p GROUP BY p.status
$$;

REVOKE ALL ON FUNCTION askpanel_find_key(TEXT), askpanel_unfinished_panels(), askpanel_panel_counts() FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO askpanel_app;
GRANT SELECT, INSERT, UPDATE ON settings, tenants TO askpanel_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys, experts, panels, panel_events, usage, idempotency_keys TO askpanel_app;
GRANT EXECUTE ON FUNCTION askpanel_find_key(TEXT), askpanel_unfinished_panels(), askpanel_panel_counts() TO askpanel_app;
