-- Each delivery of an open alert to a webhook target (`[[alerts.deliver]]`):
-- claimed by one process (the unique key: of N replicas reading the same
-- last delivery exactly one inserts the next), then finished with how it
-- ended. An alert goes to a target at most once per `[alerts]` interval.
-- `target` is the target's name, never its URL. Times are UTC, whole seconds.
CREATE TABLE alert_deliveries (
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    target      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IN ('delivered', 'failed')),
    http_status INTEGER,
    PRIMARY KEY (alert_id, target, seq)
);
-- Each round reads the recent deliveries; rows past the sync log's
-- retention are forgotten.
CREATE INDEX alert_deliveries_by_time ON alert_deliveries (claimed_at);
