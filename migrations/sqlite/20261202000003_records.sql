-- The decision record: panel search, lineage (follow-ups and re-runs) and
-- read-only share links.
--
-- Search: a background indexer follows each panel's event log (its progress
-- in `indexed_seq`) and writes one row per searchable text (the question,
-- each turn, the recommendation) into `panel_texts`, whose words go into a
-- contentless FTS5 index with the tenant's token (`t<tenant hex>`), so a
-- search matches only the tenant's rows inside the index itself.
--
-- Which panels the indexer has work on: running ones whose log grew (found
-- through `panels_unfinished`), and ended ones it has not yet followed to
-- their last event (`index_done`). No index mentions `head_seq`, which every
-- append updates.
ALTER TABLE panels ADD COLUMN indexed_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE panels ADD COLUMN index_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE panels ADD COLUMN parent_id BLOB;
ALTER TABLE panels ADD COLUMN relation TEXT;
CREATE INDEX panels_ended_unindexed ON panels (id)
    WHERE index_done = 0 AND status IN ('completed', 'failed', 'cancelled');
CREATE INDEX panels_by_parent ON panels (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX panels_by_tenant_created ON panels (tenant_id, created_at);

CREATE TABLE panel_texts (
    id        INTEGER PRIMARY KEY,
    tenant_id BLOB NOT NULL,
    panel_id  BLOB NOT NULL REFERENCES panels (id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL
);
CREATE INDEX panel_texts_by_panel ON panel_texts (panel_id, seq);
CREATE VIRTUAL TABLE panel_texts_fts USING fts5(text, tenant, content = '', tokenize = 'porter unicode61');

-- The catalog experts seated on each panel (the `expert` filter).
CREATE TABLE panel_experts (
    tenant_id BLOB NOT NULL,
    panel_id  BLOB NOT NULL REFERENCES panels (id),
    expert_id BLOB NOT NULL,
    PRIMARY KEY (panel_id, expert_id)
) WITHOUT ROWID;
CREATE INDEX panel_experts_by_expert ON panel_experts (tenant_id, expert_id);

-- Share links: the token is shown once; only its SHA-256 is kept.
CREATE TABLE panel_shares (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    panel_id   BLOB NOT NULL REFERENCES panels (id),
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX panel_shares_by_panel ON panel_shares (tenant_id, panel_id, created_at);
