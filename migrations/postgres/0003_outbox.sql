-- The outbox: every catalogue or stock change marks work for every enabled
-- channel in the same transaction (DESIGN §5.2).

-- Channels as the configuration declares them, so writes can mark work in SQL.
CREATE TABLE channels (
    id         TEXT PRIMARY KEY,
    enabled    BOOLEAN NOT NULL,
    -- Hash of the channel's rules and mapping: a change marks work for every SKU.
    config_hash TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);

-- One row per (channel, SKU, aspect): a burst of changes raises the desired
-- version of the same row, so it collapses into one push of the newest value.
CREATE TABLE push_tasks (
    channel         TEXT NOT NULL REFERENCES channels (id),
    sku             TEXT NOT NULL REFERENCES variants (sku),
    aspect          TEXT NOT NULL CHECK (aspect IN ('content', 'price', 'stock')),
    desired_version BIGINT NOT NULL,
    done_version    BIGINT NOT NULL DEFAULT 0,
    not_before      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    cause           TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, sku, aspect)
);
CREATE INDEX push_tasks_pending ON push_tasks (channel, not_before)
    WHERE desired_version > done_version;
