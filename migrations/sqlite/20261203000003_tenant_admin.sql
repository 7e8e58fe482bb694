-- Tenant administration (docs/experts.md).
--
-- Experts: a tenant hides experts (platform or its
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

-- Defaults for the tenant's new panels (format, rounds, consensus method,
-- human turn timeout), as JSON: what a create request leaves out.
CREATE TABLE tenant_defaults (
    tenant_id  BLOB PRIMARY KEY REFERENCES tenants (id),
    defaults   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
