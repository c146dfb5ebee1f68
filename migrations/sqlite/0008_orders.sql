-- Orders from every channel, the stock effects they had (each unit at most
-- once), the alerts operators must see, the order poll's cursor and the
-- inbox of webhook hints.

CREATE TABLE orders (
    channel             TEXT NOT NULL REFERENCES channels (id),
    order_id            TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('unpaid', 'paid', 'ready_to_ship',
                            'shipped', 'completed', 'cancelled', 'returned')),
    -- The platform's own word, kept for operators.
    platform_status     TEXT NOT NULL,
    placed_at           TEXT NOT NULL,
    -- The platform's update time of the version recorded: an older one
    -- read later (a lagging replica of the platform) changes nothing.
    platform_updated_at TEXT NOT NULL,
    -- How chosync first learned of it: push or poll.
    seen_by             TEXT NOT NULL,
    first_seen_at       TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL,
    PRIMARY KEY (channel, order_id)
);
CREATE INDEX orders_by_seen ON orders (last_seen_at);

CREATE TABLE order_lines (
    channel            TEXT NOT NULL,
    order_id           TEXT NOT NULL,
    line_id            TEXT NOT NULL,
    -- The SKU as the platform gave it, and the catalogue SKU it stands for.
    platform_sku       TEXT NOT NULL,
    sku                TEXT NOT NULL,
    quantity           INTEGER NOT NULL CHECK (quantity >= 0),
    cancelled_quantity INTEGER NOT NULL CHECK (cancelled_quantity >= 0),
    state              TEXT NOT NULL,
    -- The catalogue did not know the SKU: no effect yet, one once it does.
    waiting            INTEGER NOT NULL CHECK (waiting IN (0, 1)),
    PRIMARY KEY (channel, order_id, line_id),
    FOREIGN KEY (channel, order_id) REFERENCES orders (channel, order_id)
);
CREATE INDEX order_lines_by_sku ON order_lines (sku);
CREATE INDEX order_lines_waiting ON order_lines (channel) WHERE waiting;

-- One row per (line, effect): the units it has moved. A row only grows, to
-- what the line's state calls for, so a replay, a duplicate push or an
-- overlapping poll moves nothing.
CREATE TABLE order_effects (
    channel    TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    line_id    TEXT NOT NULL,
    effect     TEXT NOT NULL CHECK (effect IN ('reserve', 'release', 'commit', 'return', 'restock')),
    sku        TEXT NOT NULL REFERENCES variants (sku),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, order_id, line_id, effect),
    FOREIGN KEY (channel, order_id, line_id) REFERENCES order_lines (channel, order_id, line_id)
);
CREATE INDEX order_effects_by_sku ON order_effects (sku, updated_at);

-- The same alert again updates its row (count, last seen) and reopens it.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    -- The SKU or order it is about ('' when neither).
    subject         TEXT NOT NULL,
    message         TEXT NOT NULL,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    count           INTEGER NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    UNIQUE (kind, channel, subject)
);

-- Orders updated up to here have been read by the poll.
CREATE TABLE order_cursors (
    channel    TEXT PRIMARY KEY REFERENCES channels (id),
    polled_to  TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Webhook hints, kept before the push is answered: a crash before the
-- order is fetched loses nothing.
CREATE TABLE order_hints (
    channel     TEXT NOT NULL REFERENCES channels (id),
    order_id    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, order_id)
);

-- An order on a channel changes that platform's own stock: the channel's
-- stock is set again even when the wanted number equals the one last set,
-- for a push that crossed the order may have overwritten the platform's
-- decrement (pending while recheck_version > done_version).
ALTER TABLE push_tasks ADD COLUMN recheck_version INTEGER NOT NULL DEFAULT 0;
