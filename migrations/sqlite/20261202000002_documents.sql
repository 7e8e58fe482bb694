-- The document library: uploads, their passages, and full-text search over
-- the passages (FTS5, BM25). A document is searchable once `ready`: its
-- passages and its status are written in one transaction.
CREATE TABLE documents (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    title       TEXT NOT NULL,
    filename    TEXT,
    media_type  TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    progress    REAL NOT NULL DEFAULT 0,
    error       TEXT,
    pages       INTEGER,
    passages    INTEGER NOT NULL DEFAULT 0,
    chars       INTEGER NOT NULL DEFAULT 0,
    -- The upload, kept until it is extracted (then NULL).
    content     BLOB,
    -- An extractor's claim on a document being read, and how many claims it
    -- has had (the claim's token: a stale extractor's writes are refused).
    lease_until TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX documents_by_tenant ON documents (tenant_id, id DESC);
CREATE INDEX documents_waiting ON documents (status, created_at) WHERE status IN ('pending', 'extracting');

CREATE TABLE passages (
    id          INTEGER PRIMARY KEY,
    tenant_id   BLOB NOT NULL,
    document_id BLOB NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    page        INTEGER,
    heading     TEXT,
    start_char  INTEGER NOT NULL,
    end_char    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    UNIQUE (document_id, n)
);
CREATE INDEX passages_by_tenant ON passages (tenant_id, document_id);

-- Contentless: the text lives in `passages`. `tenant` and `doc` hold one
-- token each (`t<tenant hex>`, `d<document hex>`), so a search matches only
-- the tenant's (and the panel's) passages inside the index itself: it never
-- ranks another tenant's matches, and never probes the index row by row.
CREATE VIRTUAL TABLE passages_fts USING fts5(
    text, heading, tenant, doc, content = '', tokenize = 'porter unicode61'
);
CREATE TRIGGER passages_fts_insert AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts (rowid, text, heading, tenant, doc)
    VALUES (new.id, new.text, coalesce(new.heading, ''), 't' || hex(new.tenant_id), 'd' || hex(new.document_id));
END;
CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, text, heading, tenant, doc)
    VALUES ('delete', old.id, old.text, coalesce(old.heading, ''), 't' || hex(old.tenant_id), 'd' || hex(old.document_id));
END;
