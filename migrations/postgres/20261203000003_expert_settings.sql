-- Tenant administration (experts): a tenant hides experts (platform or its
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

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_expert_settings TO askpanel_app;
