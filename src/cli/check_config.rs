//! `chosync check-config`: every problem of the configuration, then of the
//! catalogue against the mappings and the platforms, when there is a database.

use std::sync::Arc;

use super::{Failure, say};
use crate::channels::check::{missing_attributes, unmapped_categories};
use crate::clock::{Clock, SystemClock};
use crate::schedule::overview::upcoming;
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
    print_fire_times(settings);
    Ok(())
}

/// The next three fire times of every schedule, so an operator sees what
/// an expression means in the configured zone.
fn print_fire_times(settings: &Settings) {
    let zone = settings.schedule.timezone;
    let views = upcoming(&settings.channels, zone, SystemClock.now(), 3);
    if views.is_empty() {
        return;
    }
    say!("next fire times ({zone}):");
    let width = views.iter().map(|v| v.channel.len()).max().unwrap_or(0);
    for view in &views {
        let times: Vec<String> = view
            .next
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .collect();
        let times = if times.is_empty() {
            "never".to_string()
        } else {
            times.join(", ")
        };
        say!(
            "  {:width$}  {:9}  {:18}  {times}",
            view.channel,
            view.kind.as_str(),
            view.expression
        );
    }
}
