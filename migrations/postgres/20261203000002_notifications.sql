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
-- history is not news): the column is added as done for them, and new
-- panels start not done.
ALTER TABLE panels ADD COLUMN announced_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE panels ADD COLUMN announce_done BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE panels ALTER COLUMN announce_done SET DEFAULT FALSE;
-- No index mentions a column every append updates (`updated_at`,
-- `head_seq`): appends stay HOT updates.
CREATE INDEX panels_unannounced ON panels (id) WHERE NOT announce_done;

-- Who hears about a panel's end: its creator, the people seated on it and
-- those who moderated it.
CREATE TABLE panel_followers (
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    panel_id  UUID NOT NULL REFERENCES panels (id),
    user_id   UUID NOT NULL REFERENCES users (id),
    reason    TEXT NOT NULL,
    PRIMARY KEY (panel_id, user_id)
);
CREATE INDEX panel_followers_by_tenant ON panel_followers (tenant_id);

CREATE TABLE notifications (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    user_id    UUID NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    panel_id   UUID,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_by_user ON notifications (tenant_id, user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_by_age ON notifications (created_at);

CREATE TABLE notification_preferences (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    user_id    UUID PRIMARY KEY REFERENCES users (id),
    prefs      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Deferred work: emails and reminders. Claimed with a lease; `attempts`
-- fences a claim (only the holder of the latest claim may finish it).
CREATE TABLE jobs (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    done_at     TIMESTAMPTZ,
    outcome     TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE done_at IS NULL;
CREATE INDEX jobs_done ON jobs (done_at) WHERE done_at IS NOT NULL;

CREATE TABLE webhook_endpoints (
    id                   UUID PRIMARY KEY,
    tenant_id            UUID NOT NULL REFERENCES tenants (id),
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL,
    events               TEXT NOT NULL,
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_until       TIMESTAMPTZ,
    status               TEXT NOT NULL,
    disabled_reason      TEXT,
    failing_since        TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id);

-- One message to one endpoint; its id is the `webhook-id` the receiver
-- sees (the same on every attempt and on a redelivery). `attempts` counts
-- claims and fences them; `retry_from` is its value when the current run
-- of retries began (a redelivery starts a new one).
CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    panel_id         UUID,
    payload          TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    retry_from       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    first_attempt_at TIMESTAMPTZ,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    delivery_id UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, at);

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['panel_followers', 'notifications', 'notification_preferences', 'jobs',
                             'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;

-- The background work crosses tenants; these functions find it (and claim
-- it), and everything else is done in a transaction scoped to its tenant.
-- Leases run on the database's clock (nodes' clocks may differ); what is
-- due is judged by the caller's.
CREATE FUNCTION askpanel_unannounced_panels(p_limit INTEGER)
RETURNS TABLE (tenant_id UUID, id UUID, announced_seq BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT p.tenant_id, p.id, p.announced_seq FROM panels p
    WHERE NOT p.announce_done AND (p.announced_seq < p.head_seq OR p.status IN ('completed', 'failed', 'cancelled'))
    ORDER BY p.id LIMIT p_limit
$$;

CREATE FUNCTION askpanel_claim_jobs(p_now TIMESTAMPTZ, p_lease_s INTEGER, p_limit INTEGER)
RETURNS TABLE (tenant_id UUID, id UUID, attempts INTEGER)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    UPDATE jobs j
    SET lease_until = now() + make_interval(secs => p_lease_s), attempts = j.attempts + 1
    WHERE j.id IN (
        SELECT w.id FROM jobs w
        WHERE w.done_at IS NULL AND w.due_at <= p_now AND (w.lease_until IS NULL OR w.lease_until < now())
        ORDER BY w.due_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING j.tenant_id, j.id, j.attempts
$$;

CREATE FUNCTION askpanel_claim_deliveries(p_now TIMESTAMPTZ, p_lease_s INTEGER, p_limit INTEGER)
RETURNS TABLE (tenant_id UUID, id UUID, attempts INTEGER)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    UPDATE webhook_deliveries d
    SET lease_until = now() + make_interval(secs => p_lease_s), attempts = d.attempts + 1,
        first_attempt_at = COALESCE(d.first_attempt_at, p_now)
    WHERE d.id IN (
        SELECT w.id FROM webhook_deliveries w
        WHERE w.status = 'pending' AND w.next_attempt_at <= p_now AND (w.lease_until IS NULL OR w.lease_until < now())
        ORDER BY w.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING d.tenant_id, d.id, d.attempts
$$;

-- Retention: finished jobs, old notifications and old delivery logs go.
CREATE FUNCTION askpanel_purge_notify(p_jobs_before TIMESTAMPTZ, p_notifications_before TIMESTAMPTZ,
                                      p_deliveries_before TIMESTAMPTZ)
RETURNS BIGINT
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    WITH j AS (DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < p_jobs_before RETURNING 1),
         n AS (DELETE FROM notifications WHERE created_at < p_notifications_before RETURNING 1),
         d AS (DELETE FROM webhook_deliveries WHERE created_at < p_deliveries_before AND status <> 'pending' RETURNING 1)
    SELECT (SELECT COUNT(*) FROM j) + (SELECT COUNT(*) FROM n) + (SELECT COUNT(*) FROM d)
$$;

REVOKE ALL ON FUNCTION askpanel_unannounced_panels(INTEGER), askpanel_claim_jobs(TIMESTAMPTZ, INTEGER, INTEGER),
    askpanel_claim_deliveries(TIMESTAMPTZ, INTEGER, INTEGER),
    askpanel_purge_notify(TIMESTAMPTZ, TIMESTAMPTZ, TIMESTAMPTZ) FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON panel_followers, notifications, notification_preferences, jobs,
    webhook_endpoints, webhook_deliveries, webhook_attempts TO askpanel_app;
GRANT EXECUTE ON FUNCTION askpanel_unannounced_panels(INTEGER), askpanel_claim_jobs(TIMESTAMPTZ, INTEGER, INTEGER),
    askpanel_claim_deliveries(TIMESTAMPTZ, INTEGER, INTEGER),
    askpanel_purge_notify(TIMESTAMPTZ, TIMESTAMPTZ, TIMESTAMPTZ) TO askpanel_app;
