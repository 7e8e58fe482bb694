-- Usage by day and panel type, branding logos, keys' last use
-- (docs/administration.md).
--
-- What each day's events spent, by panel type: recorded by the announcer in
-- the transaction that moves its claim, so each event counts once.
CREATE TABLE usage_daily (
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    day              TEXT NOT NULL,
    panel_type       TEXT NOT NULL,
    panels_created   INTEGER NOT NULL DEFAULT 0,
    panels_completed INTEGER NOT NULL DEFAULT 0,
    turns            INTEGER NOT NULL DEFAULT 0,
    tokens_in        INTEGER NOT NULL DEFAULT 0,
    tokens_out       INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, panel_type)
);

-- A tenant's logo, served by its hash (share links show it unsigned-in).
CREATE TABLE tenant_logos (
    tenant_id    BLOB PRIMARY KEY REFERENCES tenants (id),
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX tenant_logos_by_hash ON tenant_logos (sha256);

ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
