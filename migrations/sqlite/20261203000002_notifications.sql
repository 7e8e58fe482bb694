-- Notifications and webhooks (docs/notifications.md, docs/webhooks.md).
--
-- A background announcer follows each panel's event log (its progress in
-- `announced_seq`, claimed like the search indexer's) and, in the same
-- transaction as its claim, records what the events announce: in-app
-- notifications, jobs (emails, reminders) and webhook deliveries. Two nodes
-- never announce the same events twice; a restart resumes where the claim
-- stands.
--
-- Panels that existed before this migration are not announced (their
-- history is not news): they are marked done, and new panels start
-- not done.
ALTER TABLE panels ADD COLUMN announced_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE panels ADD COLUMN announce_done INTEGER NOT NULL DEFAULT 0;
UPDATE panels SET announce_done = 1;
CREATE INDEX panels_unannounced ON panels (id) WHERE announce_done = 0;

-- Who hears about a panel's end: its creator, the people seated on it and
-- those who moderated it.
CREATE TABLE panel_followers (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    panel_id  BLOB NOT NULL REFERENCES panels (id),
    user_id   BLOB NOT NULL REFERENCES users (id),
    reason    TEXT NOT NULL,
    PRIMARY KEY (panel_id, user_id)
);
CREATE INDEX panel_followers_by_tenant ON panel_followers (tenant_id);

CREATE TABLE notifications (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    panel_id   BLOB,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at    TEXT
);
CREATE INDEX notifications_by_user ON notifications (tenant_id, user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_by_age ON notifications (created_at);

CREATE TABLE notification_preferences (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    user_id    BLOB PRIMARY KEY REFERENCES users (id),
    prefs      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Deferred work: emails and reminders. Claimed with a lease; `attempts`
-- fences a claim (only the holder of the latest claim may finish it).
CREATE TABLE jobs (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT,
    done_at     TEXT,
    outcome     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE done_at IS NULL;
CREATE INDEX jobs_done ON jobs (done_at) WHERE done_at IS NOT NULL;

CREATE TABLE webhook_endpoints (
    id                   BLOB PRIMARY KEY,
    tenant_id            BLOB NOT NULL REFERENCES tenants (id),
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL,
    events               TEXT NOT NULL,
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_until       TEXT,
    status               TEXT NOT NULL,
    disabled_reason      TEXT,
    failing_since        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id);

-- One message to one endpoint; its id is the `webhook-id` the receiver
-- sees (the same on every attempt and on a redelivery). `attempts` counts
-- claims and fences them; `retry_from` is its value when the current run
-- of retries began (a redelivery starts a new one).
CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    panel_id         BLOB,
    payload          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    retry_from       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    first_attempt_at TEXT,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    finished_at      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    delivery_id BLOB NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, at);
