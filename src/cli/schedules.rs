//! `chosync schedules`: every channel's schedules, their last run and next
//! fire time, in `[schedule] timezone`.

use super::{Failure, say};
use crate::clock::{Clock, SystemClock};
use crate::schedule::overview::{ScheduleView, overview};
use crate::settings::Settings;
use crate::store::Store;

const TIME: &str = "%Y-%m-%d %H:%M:%S";

pub(super) async fn run(settings: &Settings, store: &dyn Store, json: bool) -> Result<(), Failure> {
    let zone = settings.schedule.timezone;
    let views = overview(&settings.channels, zone, store, SystemClock.now()).await?;
    if json {
        let shown = serde_json::json!({ "timezone": zone.name(), "schedules": views });
        say!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
        return Ok(());
    }
    if views.is_empty() {
        say!("no channels configured: no schedules");
        return Ok(());
    }
    say!("times in {zone}");
    let names: Vec<String> = views
        .iter()
        .map(|view| {
            if view.enabled {
                view.channel.clone()
            } else {
                format!("{} (disabled)", view.channel)
            }
        })
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    say!(
        "{:width$}  {:9}  {:18}  {:28}  NEXT RUN",
        "CHANNEL",
        "KIND",
        "SCHEDULE",
        "LAST RUN"
    );
    for (view, channel) in views.iter().zip(&names) {
        say!(
            "{channel:width$}  {:9}  {:18}  {:28}  {}",
            view.kind.as_str(),
            view.expression,
            last_run(view),
            next_run(view)
        );
    }
    Ok(())
}

fn last_run(view: &ScheduleView) -> String {
    match &view.last {
        None => "never".into(),
        Some(last) => {
            let outcome = last.outcome.map_or("running", |o| o.as_str());
            format!("{} {outcome}", last.fire_time.format(TIME))
        }
    }
}

fn next_run(view: &ScheduleView) -> String {
    match (&view.problem, view.next.first()) {
        (Some(problem), _) => format!("never: {problem}"),
        (None, Some(next)) => next.format(TIME).to_string(),
        (None, None) => "never".into(),
    }
}
