//! "Converged": every SKU a channel should list shows, on the platform, the
//! price and stock the channel's rules make of the catalogue — all of them,
//! not a sample and an empty queue.

use std::collections::HashMap;

use chosync::catalogue::model::Status;
use chosync::channels::ChannelSettings;

use super::TestDb;

/// Checks every SKU of every active product not held back (quarantined) on
/// `settings`' channel against `shown` (SKU → price and stock on the
/// platform), that every such listing is live, and that no work is left.
pub async fn assert_converged(
    db: &TestDb,
    settings: &ChannelSettings,
    shown: &HashMap<String, (i64, i64)>,
) {
    let states = db
        .store
        .listing_states(&settings.id)
        .await
        .expect("listing states");
    let mut rows = Vec::new();
    db.store
        .for_each_catalogue_row(&mut |row| {
            rows.push(row);
            Ok(())
        })
        .await
        .expect("catalogue");
    let mut checked = 0;
    for row in &rows {
        let sku = &row.variant.sku;
        let held_back = states.get(sku).is_some_and(|s| s.quarantined);
        if row.product.status != Status::Active || held_back {
            continue;
        }
        let wanted = (
            settings.price.apply(sku, row.variant.price),
            settings.stock.apply(row.on_hand - row.reserved),
        );
        assert_eq!(shown.get(sku), Some(&wanted), "{sku}: shown vs wanted");
        let state = &states[sku];
        assert!(
            state.status == "live" && state.last_error.is_none(),
            "{state:?}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no SKU checked");
    let pending = db.store.pending_tasks(&settings.id).await.expect("tasks");
    assert!(pending.is_empty(), "{pending:?}");
}
