-- askpanel schema for SQLite. Ids are 16-byte UUID blobs (v7 for panels, so
-- byte order is creation order); timestamps are RFC 3339 text; JSON is text.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id         BLOB PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    status     TEXT NOT NULL,
    limits     TEXT NOT NULL,
    branding   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

CREATE TABLE experts (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX experts_by_tenant ON experts (tenant_id, id);

CREATE TABLE panels (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    created_by   TEXT NOT NULL,
    query        TEXT NOT NULL,
    panel_type   TEXT NOT NULL,
    status       TEXT NOT NULL,
    head_seq     INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX panels_by_tenant ON panels (tenant_id, id);
CREATE INDEX panels_by_tenant_status ON panels (tenant_id, status, id);
CREATE INDEX panels_unfinished ON panels (status) WHERE status NOT IN ('completed', 'failed', 'cancelled');

CREATE TABLE panel_events (
    panel_id  BLOB NOT NULL REFERENCES panels (id),
    seq       INTEGER NOT NULL,
    tenant_id BLOB NOT NULL,
    kind      TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (panel_id, seq)
) WITHOUT ROWID;

CREATE TABLE usage (
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    month            TEXT NOT NULL,
    panels_created   INTEGER NOT NULL DEFAULT 0,
    panels_completed INTEGER NOT NULL DEFAULT 0,
    turns            INTEGER NOT NULL DEFAULT 0,
    tokens_in        INTEGER NOT NULL DEFAULT 0,
    tokens_out       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);

CREATE TABLE idempotency_keys (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    key        TEXT NOT NULL,
    panel_id   BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
