-- A pass pushes a channel only while it holds the channel's lease: two
-- processes never push one shop at once (its rate limit stays exact), and a
-- pass that died is replaced once its lease runs out. Every record of a pass
-- is fenced by the lease, so a pass that lost it cannot overwrite newer state.
CREATE TABLE channel_leases (
    channel    TEXT PRIMARY KEY REFERENCES channels (id),
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
