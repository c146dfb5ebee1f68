-- Stock a platform keeps a listing from going below (Shopee's stock reserved
-- for a promotion), as `chosync reconcile` last read it: stock pushes send at
-- least this much until a later reconcile finds the reservation gone.
ALTER TABLE listing_state ADD COLUMN stock_lock INTEGER;
