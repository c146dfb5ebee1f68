//! New SKUs for an item that already has tiers: where each goes in the tiers
//! (`update_tier_variation` appends options a tier lacks) and the models
//! `add_model` creates, planned and checked before any write.

use chosync_connector::ConnectorError;
use chosync_connector::dto::{ListingDraft, RemoteListing, VariantDraft};
use serde_json::{Value, json};

use crate::dto;

/// Shopee's caps (VN), as `check_variations` applies them to a draft.
const MAX_MODELS: usize = 50;
const MAX_OPTIONS: usize = 20;
const MAX_SPREAD: i64 = 5;

/// A model `add_model` is to create.
#[derive(Debug)]
pub(crate) struct NewModel<'a> {
    pub variant: &'a VariantDraft,
    /// One option index per tier.
    pub tier_index: Vec<usize>,
}

/// The item's tiers with the draft's new options appended, and its new models.
#[derive(Debug)]
pub(crate) struct Extension<'a> {
    pub tiers: Vec<dto::Tier>,
    /// Whether a tier got an option (then `update_tier_variation` goes first).
    pub grown: bool,
    pub new: Vec<NewModel<'a>>,
}

impl<'a> Extension<'a> {
    /// Plans the draft's SKUs the item, as just `read`, lacks (none when an
    /// earlier attempt added them all). `missing` (from the caller's older
    /// view) only names them in refusals.
    pub fn plan(
        draft: &'a ListingDraft,
        existing: &RemoteListing,
        missing: &[&str],
        read: &dto::ModelList,
    ) -> Result<Self, ConnectorError> {
        let tiers = read.tiers();
        let mut plan = Extension {
            tiers: Vec::new(),
            grown: false,
            new: Vec::new(),
        };
        let absent: Vec<&VariantDraft> = draft
            .variants_not_held(|sku| read.model.iter().any(|m| m.model_sku == sku))
            .collect();
        if absent.is_empty() {
            return Ok(plan);
        }
        check_axes(draft, existing, missing, &tiers)?;
        plan.tiers = tiers.into_iter().map(without_blank_images).collect();
        for variant in absent {
            let tier_index = plan.place(variant);
            plan.new.push(NewModel {
                variant,
                tier_index,
            });
        }
        plan.check(existing, &read.model)?;
        Ok(plan)
    }

    /// The variant's option index on each tier, appending options it lacks.
    fn place(&mut self, variant: &VariantDraft) -> Vec<usize> {
        self.tiers
            .iter_mut()
            .zip(&variant.option_values)
            .map(|(tier, value)| {
                let options = &mut tier.variation_option_list;
                match options
                    .iter()
                    .position(|o| &o.variation_option_name == value)
                {
                    Some(index) => index,
                    None => {
                        options.push(dto::TierOption {
                            variation_option_id: 0,
                            variation_option_name: value.clone(),
                            image_id: None,
                        });
                        self.grown = true;
                        options.len() - 1
                    }
                }
            })
            .collect()
    }

    /// Shopee's limits on the item as it would be after the additions.
    fn check(&self, existing: &RemoteListing, models: &[dto::Model]) -> Result<(), ConnectorError> {
        let limit = |message: String| limit_error("chosync_variation_limit", message);
        if let Some(tier) = self
            .tiers
            .iter()
            .find(|t| t.variation_option_list.len() > MAX_OPTIONS)
        {
            return Err(limit(format!(
                "\"{}\" would have {} options; Shopee allows at most {MAX_OPTIONS}",
                tier.variation_name,
                tier.variation_option_list.len()
            )));
        }
        let total = models.len() + self.new.len();
        if total > MAX_MODELS {
            return Err(limit(format!(
                "listing {} has {} models; {} more would make {total}, and Shopee allows at most {MAX_MODELS}",
                existing.listing_id,
                models.len(),
                self.new.len()
            )));
        }
        self.check_places(models)?;
        self.check_spread(models)
    }

    /// A combination of options names one model only.
    fn check_places(&self, models: &[dto::Model]) -> Result<(), ConnectorError> {
        for (i, new) in self.new.iter().enumerate() {
            let taken_by = models
                .iter()
                .find(|m| m.tier_index == new.tier_index)
                .map(|m| m.model_sku.as_str())
                .or_else(|| {
                    self.new[..i]
                        .iter()
                        .find(|n| n.tier_index == new.tier_index)
                        .map(|n| n.variant.sku.as_str())
                });
            if let Some(other) = taken_by {
                return Err(limit_error(
                    "chosync_variant_options",
                    format!(
                        "SKU {} has the same options ({}) as SKU {other}; each variant needs its own",
                        new.variant.sku,
                        new.variant.option_values.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Shopee checks the 5× spread against the models as they are now, not
    /// as the draft will price them later.
    fn check_spread(&self, models: &[dto::Model]) -> Result<(), ConnectorError> {
        let prices = models
            .iter()
            .map(dto::Model::price)
            .chain(self.new.iter().map(|n| n.variant.price))
            .filter(|p| *p > 0);
        let (Some(min), Some(max)) = (prices.clone().min(), prices.max()) else {
            return Ok(());
        };
        if max <= min.saturating_mul(MAX_SPREAD) {
            return Ok(());
        }
        Err(ConnectorError::Rejected {
            code: "chosync_variation_limit".into(),
            field: Some("price".into()),
            message: format!(
                "with the new variants the item's models would range from {min} to {max} VND; Shopee allows the dearest at most {MAX_SPREAD} times the cheapest"
            ),
        })
    }

    /// `update_tier_variation`: every tier (existing options in their order,
    /// new ones after) and every existing model at its unchanged place.
    pub fn tiers_body(&self, item_id: i64, models: &[dto::Model]) -> Value {
        let model_list: Vec<Value> = models
            .iter()
            .map(|m| json!({ "model_id": m.model_id, "tier_index": m.tier_index }))
            .collect();
        json!({
            "item_id": item_id,
            "standardise_tier_variation": self.tiers,
            "model_list": model_list,
        })
    }
}

/// `add_model`: the draft's price and stock go with each new model.
pub(crate) fn add_model_body(item_id: i64, models: &[&NewModel<'_>]) -> Value {
    let model_list: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "tier_index": m.tier_index,
                "original_price": m.variant.price,
                "model_sku": m.variant.sku,
                "seller_stock": [{ "stock": m.variant.stock }],
            })
        })
        .collect();
    json!({ "item_id": item_id, "model_list": model_list })
}

/// Shopee lets a live item change its options but not its number of tiers;
/// renaming tiers is left out as well.
fn check_axes(
    draft: &ListingDraft,
    existing: &RemoteListing,
    missing: &[&str],
    tiers: &[dto::Tier],
) -> Result<(), ConnectorError> {
    if tiers.is_empty() {
        return Err(must_recreate(
            existing,
            missing,
            "it has no variations (its one SKU is the item's own)",
        ));
    }
    if draft.option_names.len() != tiers.len() {
        return Err(must_recreate(
            existing,
            missing,
            &format!(
                "the draft has {} option axes and the item {} tiers, a number Shopee does not let a live item change",
                draft.option_names.len(),
                tiers.len()
            ),
        ));
    }
    let names: Vec<&str> = tiers.iter().map(|t| t.variation_name.as_str()).collect();
    if draft.option_names.iter().zip(&names).any(|(a, b)| a != b) {
        return Err(ConnectorError::Rejected {
            code: "chosync_new_variants".into(),
            field: Some("variants".into()),
            message: format!(
                "listing {} cannot take {}: the draft's option axes ({}) are not the item's tiers ({}); renaming tiers is not supported, so keep the tier names or re-create the listing",
                existing.listing_id,
                missing.join(", "),
                draft.option_names.join(", "),
                names.join(", ")
            ),
        });
    }
    Ok(())
}

/// The refusal for new SKUs a live item cannot take.
pub(crate) fn must_recreate(
    existing: &RemoteListing,
    missing: &[&str],
    why: &str,
) -> ConnectorError {
    ConnectorError::Rejected {
        code: "chosync_new_variants".into(),
        field: Some("variants".into()),
        message: format!(
            "listing {} cannot take {} as new variants: {why}; the listing must be re-created",
            existing.listing_id,
            missing.join(", ")
        ),
    }
}

fn limit_error(code: &str, message: String) -> ConnectorError {
    ConnectorError::Rejected {
        code: code.into(),
        field: Some("variants".into()),
        message,
    }
}

/// Some answers carry `image_id: ""` for an option without an image; sent
/// back, that would name an image that does not exist.
fn without_blank_images(mut tier: dto::Tier) -> dto::Tier {
    for option in &mut tier.variation_option_list {
        option.image_id = option.image_id.take().filter(|id| !id.is_empty());
    }
    tier
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: i64, sku: &str, tier_index: Vec<usize>, price: f64) -> dto::Model {
        dto::Model {
            model_id: id,
            model_sku: sku.into(),
            tier_index,
            price_info: vec![dto::PriceInfo {
                original_price: price,
            }],
            stock_info_v2: dto::StockInfo::default(),
        }
    }

    fn tier(name: &str, options: &[&str]) -> dto::Tier {
        dto::Tier {
            variation_id: 0,
            variation_name: name.into(),
            variation_group_id: None,
            variation_option_list: options
                .iter()
                .map(|o| dto::TierOption {
                    variation_option_id: 0,
                    variation_option_name: (*o).into(),
                    image_id: Some(String::new()),
                })
                .collect(),
        }
    }

    fn draft(variants: &[(&str, &str, &str, i64)]) -> ListingDraft {
        ListingDraft {
            product_key: "P".into(),
            title: "t".into(),
            description: "d".into(),
            category_id: "100150".into(),
            brand: None,
            attributes: vec![],
            images: vec![],
            weight_g: 1,
            dimensions_cm: None,
            logistics: vec![],
            option_names: vec!["Size".into(), "Pack".into()],
            variants: variants
                .iter()
                .map(|(sku, size, pack, price)| VariantDraft {
                    sku: (*sku).into(),
                    option_values: vec![(*size).into(), (*pack).into()],
                    price: *price,
                    stock: 3,
                })
                .collect(),
            listed: true,
        }
    }

    fn existing() -> RemoteListing {
        RemoteListing {
            listing_id: "42".into(),
            listing_sku: Some("P".into()),
            status: "NORMAL".into(),
            title: "t".into(),
            variants: vec![],
        }
    }

    fn read() -> dto::ModelList {
        dto::ModelList {
            tier_variation: vec![],
            standardise_tier_variation: vec![tier("Size", &["S", "M"]), tier("Pack", &["1"])],
            model: vec![
                model(1, "A", vec![0, 0], 100_000.0),
                model(2, "B", vec![1, 0], 120_000.0),
            ],
        }
    }

    #[test]
    fn a_new_option_is_appended_and_old_places_are_kept() {
        let d = draft(&[
            ("A", "S", "1", 100_000),
            ("B", "M", "1", 120_000),
            ("C", "L", "1", 150_000),
        ]);
        let plan = Extension::plan(&d, &existing(), &["C"], &read()).expect("plan");
        assert!(plan.grown);
        assert_eq!(plan.new.len(), 1);
        assert_eq!(plan.new[0].tier_index, vec![2, 0]);
        let body = plan.tiers_body(42, &read().model);
        let sizes: Vec<&str> = body["standardise_tier_variation"][0]["variation_option_list"]
            .as_array()
            .expect("options")
            .iter()
            .filter_map(|o| o["variation_option_name"].as_str())
            .collect();
        assert_eq!(sizes, ["S", "M", "L"]);
        assert_eq!(
            body["model_list"][1],
            json!({ "model_id": 2, "tier_index": [1, 0] })
        );
        assert!(
            body["standardise_tier_variation"][0]["variation_option_list"][0]
                .get("image_id")
                .is_none(),
            "a blank image id is not sent back"
        );
    }

    #[test]
    fn skus_an_earlier_attempt_added_are_not_planned_again() {
        let mut d = draft(&[("A", "S", "1", 100_000), ("B", "M", "1", 120_000)]);
        // Even under other axis names: nothing is to be added.
        d.option_names = vec!["Kích cỡ".into(), "Gói".into()];
        let plan = Extension::plan(&d, &existing(), &["B"], &read()).expect("plan");
        assert!(!plan.grown && plan.new.is_empty());
    }

    #[test]
    fn clashes_spreads_and_other_axes_are_refused() {
        let clash = draft(&[("A", "S", "1", 100_000), ("Z", "S", "1", 100_000)]);
        let err = Extension::plan(&clash, &existing(), &["Z"], &read()).expect_err("clash");
        assert!(
            matches!(err, ConnectorError::Rejected { ref code, .. } if code == "chosync_variant_options"),
            "{err}"
        );
        let dear = draft(&[("C", "L", "1", 600_000)]);
        let err = Extension::plan(&dear, &existing(), &["C"], &read()).expect_err("5x");
        assert!(
            matches!(err, ConnectorError::Rejected { ref field, .. } if field.as_deref() == Some("price")),
            "{err}"
        );
        let mut one_axis = draft(&[("C", "L", "1", 100_000)]);
        one_axis.option_names.pop();
        let err = Extension::plan(&one_axis, &existing(), &["C"], &read()).expect_err("axes");
        assert!(
            matches!(err, ConnectorError::Rejected { ref message, .. } if message.contains("re-created")),
            "{err}"
        );
    }
}
