//! `chosync check-config`: every problem of the configuration, then of the
//! catalogue against the mappings and the platforms, when there is a database.

use std::sync::Arc;

use super::{Failure, say};
use crate::channels::check::{missing_attributes, unmapped_categories};
use crate::settings::Settings;
use crate::store::Store;

pub(super) async fn run(settings: &Settings, store: Option<Arc<dyn Store>>) -> Result<(), Failure> {
    let mut problems: Vec<String> = settings
        .problems()
        .iter()
        .chain(&settings.channel_problems())
        .map(ToString::to_string)
        .collect();
    if let Some(store) = store {
        problems.extend(unmapped_categories(settings, store.as_ref()).await?);
        // Asking the platforms needs a configuration that holds up.
        if problems.is_empty() {
            let check = missing_attributes(settings, &store).await?;
            for note in &check.notes {
                eprintln!("note: {note}");
            }
            problems.extend(check.problems);
        }
    }
    if !problems.is_empty() {
        return Err(Failure::invalid(problems));
    }
    say!(
        "configuration is valid ({} channels)",
        settings.channels.len()
    );
    Ok(())
}
