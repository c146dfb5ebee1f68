//! What `check-config` asks of the catalogue and the platforms: categories a
//! mapping leaves out, and mandatory attributes a mapping does not give.

use std::sync::Arc;

use chosync_connector::events::LogOnly;

use super::{ChannelError, prepare};
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// Categories the catalogue uses that an enabled channel's mapping leaves out:
/// their products cannot be listed there.
pub async fn unmapped_categories(
    settings: &Settings,
    store: &dyn Store,
) -> Result<Vec<String>, StoreError> {
    let used = store.categories().await?;
    let mut out = Vec::new();
    for channel in settings.channels.iter().filter(|c| c.enabled) {
        let Ok(mapping) = channel.load_mapping(&settings.config_dir) else {
            continue;
        };
        for (category, products) in &used {
            if mapping.category(category).is_none() {
                out.push(format!(
                    "channels.{}.mapping: category \"{category}\" ({products} products) is not mapped",
                    channel.id
                ));
            }
        }
    }
    Ok(out)
}

/// What the platforms say of their mandatory attributes.
#[derive(Debug, Default)]
pub struct AttributeCheck {
    /// Mandatory attributes a mapping leaves out (or that cannot be read).
    pub problems: Vec<String>,
    /// Channels not checked, and why.
    pub notes: Vec<String>,
}

/// Asks each enabled, authorized channel which attributes its platform
/// requires for every mapped category that active products use, and names
/// those the channel's mapping does not give.
pub async fn missing_attributes(
    settings: &Settings,
    store: &Arc<dyn Store>,
) -> Result<AttributeCheck, ChannelError> {
    let mut check = AttributeCheck::default();
    let used = store.categories().await?;
    let mut authorized = Vec::new();
    for channel in settings.channels.iter().filter(|c| c.enabled) {
        match store.sealed_credentials(&channel.id).await? {
            _ if !channel.platform.has_tokens() => authorized.push(channel.id.as_str()),
            Some(_) => authorized.push(channel.id.as_str()),
            None => check.notes.push(format!(
                "channels.{}: not authorized yet, so its platform's mandatory attributes were not checked",
                channel.id
            )),
        }
    }
    if used.is_empty() || authorized.is_empty() {
        return Ok(check);
    }
    for channel in prepare::prepare(settings, store, None, || Arc::new(LogOnly))? {
        let id = &channel.settings.id;
        if !authorized.contains(&id.as_str()) {
            continue;
        }
        let connector = channel.client.connector();
        match connector
            .logistics_problems(&channel.mapping.logistics)
            .await
        {
            Ok(problems) => check.problems.extend(
                problems
                    .into_iter()
                    .map(|problem| format!("channels.{id}.mapping: {problem}")),
            ),
            Err(err) => check.problems.push(format!(
                "channels.{id}.mapping: the shop's logistics channels could not be read: {err}"
            )),
        }
        for (category, _) in &used {
            let Some(mapped) = channel.mapping.category(category) else {
                continue; // reported as unmapped
            };
            let required = connector.required_attributes(&mapped.id);
            match required.await {
                Ok(required) => {
                    for attribute in required {
                        let given = mapped
                            .attributes
                            .get(&attribute.id)
                            .is_some_and(|v| !v.trim().is_empty());
                        if !given {
                            check.problems.push(format!(
                                "channels.{id}.mapping: category \"{category}\" (platform category {}) needs attribute \"{}\" ({}); add it to the category's attributes",
                                mapped.id, attribute.id, attribute.name
                            ));
                        }
                    }
                }
                Err(err) => check.problems.push(format!(
                    "channels.{id}.mapping: the attributes of platform category {} (for \"{category}\") could not be read: {err}",
                    mapped.id
                )),
            }
            // A mapped value the platform only takes from its list must be
            // one of its options.
            if let Ok(described) = connector.category_attributes(&mapped.id).await {
                for (attribute, value) in &mapped.attributes {
                    let Some(spec) = described.iter().find(|s| &s.id == attribute) else {
                        continue;
                    };
                    if !spec.allows(value) {
                        check.problems.push(format!(
                            "channels.{id}.mapping: category \"{category}\" attribute \"{attribute}\" ({}): {}",
                            spec.name,
                            spec.not_an_option(value)
                        ));
                    }
                }
            }
        }
    }
    Ok(check)
}
