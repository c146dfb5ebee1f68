-- Daemons sharing this database, by heartbeat. A replica whose row has
-- expired is gone: its channels' leases lapse too, and the others take them.
-- started_at orders them (the oldest live one is SQLite's active daemon).
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
