-- What each channel holds for each SKU, as last acknowledged, and the log of
-- every sync run and platform call.

CREATE TABLE listing_state (
    channel      TEXT NOT NULL REFERENCES channels (id),
    sku          TEXT NOT NULL REFERENCES variants (sku),
    -- The product the listing was made for: a SKU moved elsewhere is not its listing.
    product_id   TEXT,
    listing_id   TEXT,
    variant_id   TEXT,
    -- Hash of the content last acknowledged; price and stock as last set.
    content_hash TEXT,
    price        INTEGER,
    stock        INTEGER,
    -- creating: a create was sent and its outcome is not known yet.
    status       TEXT NOT NULL CHECK (status IN ('pending', 'creating', 'live', 'rejected', 'delisted')),
    quarantined  INTEGER NOT NULL DEFAULT 0 CHECK (quarantined IN (0, 1)),
    last_error   TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- An image is uploaded to a channel once.
CREATE TABLE channel_images (
    channel      TEXT NOT NULL REFERENCES channels (id),
    source       TEXT NOT NULL,
    platform_ref TEXT NOT NULL,
    PRIMARY KEY (channel, source)
);

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    pushed      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    calls       INTEGER NOT NULL DEFAULT 0,
    throttled   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sync_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES sync_runs (id),
    channel       TEXT NOT NULL,
    skus          TEXT NOT NULL,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    http_status   INTEGER,
    platform_code TEXT,
    message       TEXT,
    latency_ms    INTEGER NOT NULL,
    request_id    TEXT,
    cause         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX sync_log_by_channel ON sync_log (channel, created_at);
