-- A stock change made in an exported sheet keeps the sheet's ledger mark (the
-- newest movement when it was exported): importing the sheet again records
-- only what it has not recorded yet.
ALTER TABLE stock_movements ADD COLUMN sheet_mark BIGINT;
CREATE INDEX stock_movements_by_sheet ON stock_movements (sku, sheet_mark)
    WHERE sheet_mark IS NOT NULL;
