-- People (docs/accounts.md): users per tenant, their sign-in sessions, and
-- the one-time tokens of invitations and password resets. Secrets are kept
-- only as hashes: passwords as argon2id PHC strings, session and one-time
-- tokens as SHA-256 of their random part.
CREATE TABLE users (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants (id),
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    password_hash   TEXT,
    sso_subject     TEXT,
    failed_signins  INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    last_sign_in_at TEXT
);
CREATE UNIQUE INDEX users_by_email ON users (tenant_id, email);
CREATE UNIQUE INDEX users_by_subject ON users (tenant_id, sso_subject);

CREATE TABLE user_sessions (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    token_hash   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    address      TEXT,
    user_agent   TEXT,
    revoked_at   TEXT
);
CREATE INDEX user_sessions_by_user ON user_sessions (tenant_id, user_id);

CREATE TABLE user_tokens (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX user_tokens_by_user ON user_tokens (tenant_id, user_id, kind);
