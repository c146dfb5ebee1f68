-- Stock allocation across channels. While a raise of a SKU's stock on a
-- channel is in flight, the channel may show up to this ceiling: the others
-- count it as shown until the push is settled (a push that failed or may have
-- landed keeps it until a later success). NULL: nothing in flight.
ALTER TABLE listing_state ADD COLUMN stock_in_flight INTEGER;

-- The channels listing a SKU, read together when its stock is split.
CREATE INDEX listing_state_by_sku ON listing_state (sku);
