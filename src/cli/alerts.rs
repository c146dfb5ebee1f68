//! `chosync alerts`: what an operator must look at, and acknowledging it.

use super::{Failure, say};
use crate::store::Store;

pub(super) async fn list(store: &dyn Store, all: bool, json: bool) -> Result<(), Failure> {
    let alerts = store.alerts(all).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&alerts).unwrap_or_default()
        );
        return Ok(());
    }
    if alerts.is_empty() {
        say!("no open alerts");
        return Ok(());
    }
    for alert in &alerts {
        let scope = [alert.channel.as_str(), alert.subject.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let acknowledged = match (&alert.acknowledged_at, &alert.acknowledged_by) {
            (Some(at), by) => format!(
                " — acknowledged {} by {}",
                at.format("%Y-%m-%d %H:%M"),
                by.as_deref().unwrap_or("?")
            ),
            _ => String::new(),
        };
        say!(
            "#{} {} {} ×{} (first {}, last {}){acknowledged}",
            alert.id,
            alert.kind,
            scope,
            alert.count,
            alert.first_seen_at.format("%Y-%m-%d %H:%M:%S"),
            alert.last_seen_at.format("%Y-%m-%d %H:%M:%S")
        );
        say!("    {}", alert.message);
    }
    Ok(())
}

pub(super) async fn acknowledge(store: &dyn Store, id: i64) -> Result<(), Failure> {
    match store.acknowledge_alert(id, "cli").await? {
        Some(true) => say!("alert #{id} acknowledged"),
        Some(false) => say!("alert #{id} was already acknowledged"),
        None => {
            return Err(Failure::invalid(vec![format!(
                "error: no alert #{id}; `chosync alerts --all` lists them"
            )]));
        }
    }
    Ok(())
}
