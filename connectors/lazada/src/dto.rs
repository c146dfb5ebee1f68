//! Lazada's JSON shapes, as far as chosync reads them. Lazada's own samples
//! quote the same field as a number in one answer and as a string in
//! another (`item_id`, `sku_id`, `total_products`, `count`), so ids and
//! counts are read leniently from either.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::orders::parse_time;

#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds.
    pub expires_in: i64,
    /// Seconds; a refresh does not extend it.
    #[serde(default)]
    pub refresh_expires_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Image {
    pub url: String,
}

/// `data` of `/image/upload` and `/image/migrate`
/// (`product-api/uploadimage.json`, `product-api/migrateimage.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageAnswer {
    pub image: Image,
}

/// `/images/migrate` answers `batch_id` at the top level, next to `code`,
/// with no `data` (`product-api/migrateimages.json` and the guide
/// `product-operation/product-management/image-upload.md` agree).
#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    #[serde(deserialize_with = "id_string")]
    pub batch_id: String,
}

/// `data` of `/image/response/get` (`product-api/getresponse.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct BatchImages {
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreatedSku {
    #[serde(deserialize_with = "id_string")]
    pub seller_sku: String,
    #[serde(deserialize_with = "id_string")]
    pub sku_id: String,
}

/// `data` of `/product/create` (`product-api/createproduct.json`: the sample
/// quotes `item_id` and `sku_id` as strings, the field list says Number).
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    #[serde(deserialize_with = "id_string")]
    pub item_id: String,
    #[serde(default)]
    pub sku_list: Vec<CreatedSku>,
    /// `Active`, `InActive` or `Pending QC`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub item_status: String,
}

/// One warehouse's stock of a SKU (guides
/// `product-inventory-management/inventory-calculation-logic.md`,
/// `product-operation/custom-sales-attributes.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseStock {
    #[serde(default, deserialize_with = "lenient_number")]
    pub sellable_quantity: Option<i64>,
    /// Held by unpaid orders.
    #[serde(default, deserialize_with = "lenient_number")]
    pub withhold_quantity: Option<i64>,
    /// Held by paid orders not yet ready to ship.
    #[serde(default, deserialize_with = "lenient_number")]
    pub occupy_quantity: Option<i64>,
}

/// A SKU of `/products/get` or `/product/item/get`.
#[derive(Debug, Clone, Deserialize)]
pub struct Sku {
    #[serde(rename = "SellerSku", deserialize_with = "id_string")]
    pub seller_sku: String,
    #[serde(rename = "SkuId", deserialize_with = "id_string")]
    pub sku_id: String,
    #[serde(default, deserialize_with = "lenient_float")]
    pub price: f64,
    /// What buyers can buy, in every sample (`getproducts.json`,
    /// `getproductitem.json`, the guides' samples).
    #[serde(rename = "Available", default, deserialize_with = "lenient_number")]
    pub available: Option<i64>,
    #[serde(default, deserialize_with = "lenient_number")]
    pub quantity: Option<i64>,
    #[serde(rename = "multiWarehouseInventories", default)]
    pub warehouses: Option<Vec<WarehouseStock>>,
    /// Variation axis → value. Kept raw: `None` when the answer leaves it out.
    #[serde(rename = "saleProp", default)]
    pub sale_prop: Option<Value>,
}

impl Sku {
    /// The variation axes this SKU declares; `None` when the answer does not
    /// say (no `saleProp` object), so nobody guesses.
    pub fn sale_prop_names(&self) -> Option<BTreeSet<String>> {
        let props = self.sale_prop.as_ref()?.as_object()?;
        Some(props.keys().cloned().collect())
    }

    /// What buyers can buy. `Available` first: every sample gives it and it
    /// equals the sellable quantity wherever both appear. Then the sum of
    /// the warehouses' `sellableQuantity` ("stock available for sale").
    /// `quantity` last: the samples show it equal to the sellable stock, but
    /// `overview/lazop-2-0-overview.md` calls it the total (sellable +
    /// withheld + occupied), so it is only trusted when nothing else is said.
    pub fn sellable(&self) -> i64 {
        let warehouses = || {
            let list = self.warehouses.as_ref().filter(|w| !w.is_empty())?;
            list.iter()
                .map(|w| w.sellable_quantity)
                .sum::<Option<i64>>()
        };
        self.available
            .or_else(warehouses)
            .or(self.quantity)
            .unwrap_or(0)
    }

    /// Units orders hold outside the sellable stock (`sellable = real −
    /// withhold − occupy`, shallow-stock guide): withheld and occupied over
    /// the warehouses, 0 where the answer does not break stock down.
    pub fn held(&self) -> i64 {
        self.warehouses
            .iter()
            .flatten()
            .map(|w| {
                w.withhold_quantity
                    .unwrap_or(0)
                    .saturating_add(w.occupy_quantity.unwrap_or(0))
            })
            .fold(0, i64::saturating_add)
    }
}

/// A product of `/products/get` or `/product/item/get`
/// (`product-api/getproducts.json`, `product-api/getproductitem.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    #[serde(deserialize_with = "id_string")]
    pub item_id: String,
    /// `Active`, `InActive`, `Pending QC`, `Suspended`, `Deleted`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: String,
    #[serde(default)]
    pub attributes: Value,
    #[serde(default)]
    pub skus: Vec<Sku>,
    /// Epoch milliseconds as a string, e.g. `"1611554725000"`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub updated_time: String,
}

impl Product {
    pub fn updated(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.updated_time)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Products {
    #[serde(default, deserialize_with = "lenient_number")]
    pub total_products: Option<i64>,
    #[serde(default)]
    pub products: Vec<Product>,
}

/// An order of `/orders/get` (`order-api/getorders.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummary {
    pub order_id: Value,
    #[serde(default)]
    pub statuses: Vec<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Orders {
    #[serde(default, deserialize_with = "lenient_number")]
    pub count: Option<i64>,
    #[serde(default)]
    pub orders: Vec<OrderSummary>,
}

/// An item of `/orders/items/get` (`order-api/getmultipleorderitems.json`:
/// `created_at`/`updated_at` are epoch-millisecond strings there, while
/// `/order/items/get` writes `2014-10-15 19:12:15 +0800`; both are read).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderItem {
    pub order_item_id: Value,
    #[serde(deserialize_with = "lenient_text")]
    pub sku: String,
    #[serde(deserialize_with = "lenient_text")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub created_at: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItems {
    pub order_id: Value,
    #[serde(default)]
    pub order_items: Vec<OrderItem>,
}

/// A push (`push-mechanismwebhook-application/lazada-push-mechanism.md`).
/// The samples write `seller_id` as "null" and ids as numbers or strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    pub message_type: i64,
    #[serde(default)]
    pub seller_id: Value,
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub timestamp: Value,
    #[serde(default)]
    pub site: Value,
}

/// One attribute of `/category/attributes/get`. Flags arrive as 0/1
/// numbers, sometimes as strings; a field left out (or null) reads as empty
/// or "no", so one odd attribute does not spoil the whole list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryAttribute {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub label: String,
    #[serde(default, deserialize_with = "flag")]
    pub is_mandatory: bool,
    #[serde(default, deserialize_with = "flag")]
    pub is_sale_prop: bool,
    /// `normal` (product level) or `sku`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub attribute_type: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub input_type: String,
}

/// `1`, `"1"`, `true`, `"true"` → yes; anything else → no.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(yes) => yes,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => {
            let s = s.trim();
            s == "1" || s.eq_ignore_ascii_case("true")
        }
        _ => false,
    })
}

/// A string, a number as text, or empty for anything else.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// An id that must be there, as a string or a number.
fn id_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected an id, found {other}"
        ))),
    }
}

/// A whole number as a number or a string (`"10"`); `None` otherwise.
fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(number(&Value::deserialize(deserializer)?).map(|n| n.round() as i64))
}

/// A number as a number or a string (`"35.00"`); 0 otherwise.
fn lenient_float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(number(&Value::deserialize(deserializer)?).unwrap_or(0.0))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// Lazada ids arrive as numbers or strings.
pub fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product of `product-api/getproducts.json`, trimmed: ids and the
    /// total as strings, times in epoch milliseconds, stock as `quantity`
    /// and `Available`.
    const GET_PRODUCTS: &str = r#"{
      "total_products": "10",
      "products": [{
        "created_time": "1611554725000",
        "updated_time": "1611554725000",
        "images": "[ \"https://my-live.slatic.net/p/540bc796d1eadf316018038d8840f20a.jpg\" ]",
        "skus": [{ "Status": "active", "quantity": 0, "SellerSku": "39817:01:01",
                   "ShopSku": "BU565ELAX8AGSGAMZ-1104491", "special_price": 9, "price": 32,
                   "package_weight": "0.04", "Available": 0, "SkuId": 314525867 }],
        "item_id": "180226526",
        "primary_category": "10000211",
        "attributes": { "name": "asd", "preorder_days": 25, "brand": "Asante" },
        "status": "Active,InActive,Pending QC,Suspended,Deleted"
      }]
    }"#;

    #[test]
    fn the_documented_get_products_sample_decodes() {
        let page: Products = serde_json::from_str(GET_PRODUCTS).expect("sample decodes");
        assert_eq!(page.total_products, Some(10));
        let product = &page.products[0];
        assert_eq!(product.item_id, "180226526");
        assert_eq!(
            product.updated().map(|t| t.timestamp_millis()),
            Some(1_611_554_725_000)
        );
        assert_eq!(product.skus[0].sku_id, "314525867");
        assert_eq!(product.skus[0].price, 32.0);
        assert_eq!(product.skus[0].sellable(), 0);
    }

    #[test]
    fn sellable_stock_is_read_from_available_then_the_warehouses_then_quantity() {
        let sku = |extra: Value| -> Sku {
            let mut sku = serde_json::json!({ "SellerSku": "A", "SkuId": 1 });
            if let (Some(sku), Some(extra)) = (sku.as_object_mut(), extra.as_object()) {
                sku.extend(extra.clone());
            }
            serde_json::from_value(sku).expect("sku")
        };
        // custom-sales-attributes.md, with 2 units held by an order.
        let guide = sku(serde_json::json!({
            "quantity": 7, "Available": 5,
            "multiWarehouseInventories": [{ "occupyQuantity": 2, "quantity": 5, "totalQuantity": 7,
              "withholdQuantity": 0, "warehouseCode": "dropshipping", "sellableQuantity": 5 }]
        }));
        assert_eq!(guide.sellable(), 5);
        assert_eq!(guide.held(), 2, "withheld 0 and occupied 2");
        let warehouses = sku(serde_json::json!({
            "quantity": 9,
            "multiWarehouseInventories": [{ "sellableQuantity": "3" }, { "sellableQuantity": 4 }]
        }));
        assert_eq!(warehouses.sellable(), 7);
        assert_eq!(sku(serde_json::json!({ "quantity": "6" })).sellable(), 6);
        assert_eq!(sku(serde_json::json!({})).sellable(), 0);
    }

    #[test]
    fn a_create_answer_reads_ids_as_strings_or_numbers() {
        // product-api/createproduct.json
        let sample = r#"{ "item_id": "2374791958", "sku_list": [{ "shop_sku": "2374791958_SGAMZ-13896560193",
            "seller_sku": "test2022 03", "sku_id": "13896560193" }], "item_status": "Active" }"#;
        let created: Created = serde_json::from_str(sample).expect("sample");
        assert_eq!(
            (
                created.item_id.as_str(),
                created.sku_list[0].sku_id.as_str()
            ),
            ("2374791958", "13896560193")
        );
        let numbers = r#"{ "item_id": 1, "sku_list": [{ "seller_sku": "A", "sku_id": 2 }] }"#;
        let created: Created = serde_json::from_str(numbers).expect("numbers");
        assert_eq!(
            (
                created.item_id.as_str(),
                created.sku_list[0].sku_id.as_str()
            ),
            ("1", "2")
        );
        assert!(serde_json::from_str::<Created>(r#"{ "item_id": null }"#).is_err());
    }
}
