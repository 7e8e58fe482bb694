-- Tenant administration (experts): a tenant hides experts (platform or its
-- own) from selection and its lists, and prefers others (selection counts a
-- preferred expert's relevance 1.5 times). One row per expert the tenant
-- has a setting for.
CREATE TABLE tenant_expert_settings (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    expert_id  BLOB NOT NULL,
    hidden     INTEGER NOT NULL DEFAULT 0,
    preferred  INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, expert_id)
);
