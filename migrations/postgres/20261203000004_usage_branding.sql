-- Usage by day and panel type, branding logos, keys' last use
-- (docs/administration.md).
--
-- What each day's events spent, by panel type: recorded by the announcer in
-- the transaction that moves its claim, so each event counts once.
CREATE TABLE usage_daily (
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    day              TEXT NOT NULL,
    panel_type       TEXT NOT NULL,
    panels_created   BIGINT NOT NULL DEFAULT 0,
    panels_completed BIGINT NOT NULL DEFAULT 0,
    turns            BIGINT NOT NULL DEFAULT 0,
    tokens_in        BIGINT NOT NULL DEFAULT 0,
    tokens_out       BIGINT NOT NULL DEFAULT 0,
    duration_ms      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, panel_type)
);

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_daily
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- A tenant's logo, served by its hash (share links show it unsigned-in).
CREATE TABLE tenant_logos (
    tenant_id    UUID PRIMARY KEY REFERENCES tenants (id),
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX tenant_logos_by_hash ON tenant_logos (sha256);

ALTER TABLE tenant_logos ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_logos FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_logos
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- A logo by its hash, whoever asks (the hash is the capability): only the
-- type and bytes of the one image, nothing of the tenant.
CREATE FUNCTION askpanel_logo_by_hash(hash TEXT) RETURNS TABLE (content_type TEXT, bytes BYTEA)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT content_type, bytes FROM tenant_logos WHERE sha256 = hash LIMIT 1
$$;
REVOKE ALL ON FUNCTION askpanel_logo_by_hash(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION askpanel_logo_by_hash(TEXT) TO askpanel_app;

ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;

GRANT SELECT, INSERT, UPDATE, DELETE ON usage_daily, tenant_logos TO askpanel_app;
