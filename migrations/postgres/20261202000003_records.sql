-- The decision record: panel search, lineage (follow-ups and re-runs) and
-- read-only share links.
--
-- Search: a background indexer follows each panel's event log (its progress
-- in `indexed_seq`) and writes one row per searchable text (the question,
-- each turn, the recommendation) with its tsvector into `panel_texts`.
--
-- Which panels the indexer has work on: running ones whose log grew (found
-- through `panels_unfinished`), and ended ones it has not yet followed to
-- their last event (`index_done`). No index mentions `head_seq`, which every
-- append updates: appends stay HOT updates.
ALTER TABLE panels ADD COLUMN indexed_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE panels ADD COLUMN index_done BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE panels ADD COLUMN parent_id UUID;
ALTER TABLE panels ADD COLUMN relation TEXT;
CREATE INDEX panels_ended_unindexed ON panels (id)
    WHERE NOT index_done AND status IN ('completed', 'failed', 'cancelled');
CREATE INDEX panels_by_parent ON panels (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX panels_by_tenant_created ON panels (tenant_id, created_at);

CREATE TABLE panel_texts (
    tenant_id UUID NOT NULL,
    panel_id  UUID NOT NULL REFERENCES panels (id),
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    tsv       tsvector NOT NULL,
    PRIMARY KEY (panel_id, seq, kind)
);
CREATE INDEX panel_texts_search ON panel_texts USING GIN (tsv);
CREATE INDEX panel_texts_by_tenant ON panel_texts (tenant_id);

CREATE TABLE panel_experts (
    tenant_id UUID NOT NULL,
    panel_id  UUID NOT NULL REFERENCES panels (id),
    expert_id UUID NOT NULL,
    PRIMARY KEY (panel_id, expert_id)
);
CREATE INDEX panel_experts_by_expert ON panel_experts (tenant_id, expert_id);

CREATE TABLE panel_shares (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    panel_id   UUID NOT NULL REFERENCES panels (id),
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX panel_shares_by_panel ON panel_shares (tenant_id, panel_id, created_at);

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['panel_texts', 'panel_experts', 'panel_shares'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;

-- Cross-tenant reads, as narrow owner-rights functions: a share link is
-- found by its token's hash before any tenant is known; the indexer lists
-- the panels whose log it has not followed to the end.
CREATE FUNCTION askpanel_find_share(p_hash TEXT)
RETURNS TABLE (id UUID, tenant_id UUID, panel_id UUID, label TEXT, created_by TEXT, created_at TIMESTAMPTZ,
               expires_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT s.id, s.tenant_id, s.panel_id, s.label, s.created_by, s.created_at, s.expires_at, s.revoked_at
    FROM panel_shares s WHERE s.token_hash = p_hash
$$;

CREATE FUNCTION askpanel_unindexed_panels(p_limit INTEGER)
RETURNS TABLE (tenant_id UUID, id UUID, indexed_seq BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    (SELECT p.tenant_id, p.id, p.indexed_seq FROM panels p
     WHERE p.status NOT IN ('completed', 'failed', 'cancelled') AND p.indexed_seq < p.head_seq
     ORDER BY p.updated_at LIMIT p_limit)
    UNION ALL
    (SELECT p.tenant_id, p.id, p.indexed_seq FROM panels p
     WHERE NOT p.index_done AND p.status IN ('completed', 'failed', 'cancelled') LIMIT p_limit)
$$;

REVOKE ALL ON FUNCTION askpanel_find_share(TEXT), askpanel_unindexed_panels(INTEGER) FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON panel_texts, panel_experts, panel_shares TO askpanel_app;
GRANT EXECUTE ON FUNCTION askpanel_find_share(TEXT), askpanel_unindexed_panels(INTEGER) TO askpanel_app;
