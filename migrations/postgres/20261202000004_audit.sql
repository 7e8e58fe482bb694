-- The audit trail: who did what to what, when and from where. Append-only:
-- the application role may insert and read, never update or delete; entries
-- older than the tenant's retention are purged only through
-- askpanel_purge_audit, which runs with the owner's rights.
CREATE TABLE audit_events (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    at          TIMESTAMPTZ NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    address     TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_by_tenant_action ON audit_events (tenant_id, action, id DESC);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

CREATE FUNCTION askpanel_purge_audit(p_tenant UUID, p_before TIMESTAMPTZ)
RETURNS BIGINT
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    WITH gone AS (DELETE FROM audit_events WHERE tenant_id = p_tenant AND at < p_before RETURNING 1)
    SELECT COUNT(*) FROM gone
$$;

REVOKE ALL ON FUNCTION askpanel_purge_audit(UUID, TIMESTAMPTZ) FROM PUBLIC;
GRANT SELECT, INSERT ON audit_events TO askpanel_app;
GRANT EXECUTE ON FUNCTION askpanel_purge_audit(UUID, TIMESTAMPTZ) TO askpanel_app;
