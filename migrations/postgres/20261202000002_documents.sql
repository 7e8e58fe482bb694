-- The document library: uploads, their passages, and full-text search over
-- the passages (tsvector, GIN). A document is searchable once `ready`: its
-- passages and its status are written in one transaction. Tenant tables
-- under row-level security like every other.
CREATE TABLE documents (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    title       TEXT NOT NULL,
    filename    TEXT,
    media_type  TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    status      TEXT NOT NULL,
    progress    DOUBLE PRECISION NOT NULL DEFAULT 0,
    error       TEXT,
    pages       BIGINT,
    passages    BIGINT NOT NULL DEFAULT 0,
    chars       BIGINT NOT NULL DEFAULT 0,
    -- The upload, kept until it is extracted (then NULL).
    content     BYTEA,
    -- An extractor's claim on a document being read, and how many claims it
    -- has had (the claim's token: a stale extractor's writes are refused).
    lease_until TIMESTAMPTZ,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX documents_by_tenant ON documents (tenant_id, id DESC);
CREATE INDEX documents_waiting ON documents (status, created_at) WHERE status IN ('pending', 'extracting');

CREATE TABLE passages (
    tenant_id   UUID NOT NULL,
    document_id UUID NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    n           BIGINT NOT NULL,
    page        BIGINT,
    heading     TEXT,
    start_char  BIGINT NOT NULL,
    end_char    BIGINT NOT NULL,
    text        TEXT NOT NULL,
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(heading, '') || ' ' || text)) STORED,
    PRIMARY KEY (document_id, n)
);
CREATE INDEX passages_by_tenant ON passages (tenant_id, document_id);
CREATE INDEX passages_search ON passages USING GIN (tsv);

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON documents
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
ALTER TABLE passages ENABLE ROW LEVEL SECURITY;
ALTER TABLE passages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON passages
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Extraction work crosses tenants: claim the oldest waiting document (or
-- one whose extractor's lease ran out), skipping rows another node holds.
CREATE FUNCTION askpanel_claim_document(p_lease_s INTEGER)
RETURNS TABLE (tenant_id UUID, id UUID, attempts BIGINT)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    UPDATE documents d
    SET status = 'extracting', lease_until = now() + make_interval(secs => p_lease_s), updated_at = now(),
        attempts = d.attempts + 1
    WHERE d.id = (
        SELECT w.id FROM documents w
        WHERE w.status = 'pending' OR (w.status = 'extracting' AND w.lease_until < now())
        ORDER BY w.created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING d.tenant_id, d.id, d.attempts
$$;

REVOKE ALL ON FUNCTION askpanel_claim_document(INTEGER) FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, passages TO askpanel_app;
GRANT EXECUTE ON FUNCTION askpanel_claim_document(INTEGER) TO askpanel_app;
