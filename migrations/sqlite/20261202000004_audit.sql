-- The audit trail: who did what to what, when and from where. Append-only:
-- the application inserts and reads; entries older than the tenant's
-- retention are purged by the server's retention task, and by nothing else.
CREATE TABLE audit_events (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    at          TEXT NOT NULL,
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
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
