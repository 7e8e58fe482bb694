-- Tenant administration (docs/experts.md).
--
-- Experts: a tenant hides experts (platform or its
-- own) from selection and its lists, and prefers others (selection counts a
-- preferred expert's relevance 1.5 times). One row per expert the tenant
-- has a setting for.
CREATE TABLE tenant_expert_settings (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    expert_id  UUID NOT NULL,
    hidden     BOOLEAN NOT NULL DEFAULT FALSE,
    preferred  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, expert_id)
);

ALTER TABLE tenant_expert_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_expert_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_expert_settings
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Defaults for the tenant's new panels (format, rounds, consensus method,
-- human turn timeout), as JSON: what a create request leaves out.
CREATE TABLE tenant_defaults (
    tenant_id  UUID PRIMARY KEY REFERENCES tenants (id),
    defaults   TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE tenant_defaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_defaults FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_defaults
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_expert_settings, tenant_defaults TO askpanel_app;
