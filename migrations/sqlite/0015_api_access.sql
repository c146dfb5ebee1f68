-- Bearer tokens of the operator API and the dashboard: only a SHA-256 of
-- each token is kept (the token itself is shown once, when made). A revoked
-- token stays listed with when it was revoked.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Every write through the API or the dashboard: who (the token's name and
-- id), what (method, path, the answer's status, a short summary), when.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    token_id   INTEGER,
    actor      TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     INTEGER NOT NULL,
    summary    TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
