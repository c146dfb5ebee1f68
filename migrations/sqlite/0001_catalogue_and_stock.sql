-- Catalogue, images and the stock ledger.

CREATE TABLE products (
    product_id   TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    category     TEXT NOT NULL,
    brand        TEXT NOT NULL,
    origin       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    option1_name TEXT,
    option2_name TEXT CHECK (option2_name IS NULL OR option1_name IS NOT NULL),
    content_hash TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE variants (
    sku           TEXT PRIMARY KEY,
    product_id    TEXT NOT NULL REFERENCES products (product_id),
    position      INTEGER NOT NULL,
    option1_value TEXT,
    option2_value TEXT,
    price         INTEGER NOT NULL CHECK (price > 0),
    weight_g      INTEGER CHECK (weight_g >= 0),
    length_mm     INTEGER CHECK (length_mm >= 0),
    width_mm      INTEGER CHECK (width_mm >= 0),
    height_mm     INTEGER CHECK (height_mm >= 0),
    barcode       TEXT,
    content_hash  TEXT NOT NULL,
    price_hash    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX variants_by_product ON variants (product_id, position, sku);

CREATE TABLE variant_images (
    sku      TEXT NOT NULL REFERENCES variants (sku) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (sku, position)
);

CREATE TABLE stock_levels (
    sku        TEXT PRIMARY KEY REFERENCES variants (sku),
    on_hand    INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at TEXT NOT NULL
);

-- Append-only: a level changes only together with a row here.
CREATE TABLE stock_movements (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sku          TEXT NOT NULL REFERENCES variants (sku),
    delta        INTEGER NOT NULL CHECK (delta <> 0),
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    source       TEXT NOT NULL,
    external_ref TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX stock_movements_by_sku ON stock_movements (sku, id);
CREATE UNIQUE INDEX stock_movements_once ON stock_movements (source, external_ref)
    WHERE external_ref IS NOT NULL;

CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements
BEGIN
    SELECT RAISE(ABORT, 'stock_movements is append-only');
END;
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
BEGIN
    SELECT RAISE(ABORT, 'stock_movements is append-only');
END;
