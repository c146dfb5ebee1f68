//! The sandbox's memory: tokens, products and SKUs with their stock model,
//! orders with per-item statuses, migrated images.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Leaf categories the sandbox accepts.
pub fn is_leaf(category: i64) -> bool {
    (10_000_100..10_000_200).contains(&category)
}

/// A category attribute as `/category/attributes/get` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub mandatory: bool,
    /// A variation axis (`saleProp` on SKUs), not a product attribute.
    pub sale_prop: bool,
}

const fn attribute(
    name: &'static str,
    label: &'static str,
    input_type: &'static str,
    mandatory: bool,
    sale_prop: bool,
) -> Attribute {
    Attribute {
        name,
        label,
        input_type,
        mandatory,
        sale_prop,
    }
}

/// What every leaf category has: `color_family` and `size` are standard sale
/// props (`is_sale_prop`), as in the guide `create-a-product.md`.
const COMMON: [Attribute; 6] = [
    attribute("name", "Tên sản phẩm", "text", true, false),
    attribute("description", "Mô tả sản phẩm", "richText", true, false),
    attribute("brand", "Thương hiệu", "singleSelect", true, false),
    attribute(
        "short_description",
        "Điểm nổi bật",
        "richText",
        false,
        false,
    ),
    attribute("color_family", "Nhóm màu", "multiEnumInput", false, true),
    attribute("size", "Kích cỡ", "singleSelect", false, true),
];

/// The category the demo mapping gives essential oils.
const WARRANTY_CATEGORY: i64 = 10_000_150;
const WARRANTY_TYPE: Attribute = attribute(
    "warranty_type",
    "Loại bảo hành",
    "singleSelect",
    true,
    false,
);

/// The demo mapping's food categories: dry goods, tea, honey, nuts, rice.
const FOOD_CATEGORIES: [i64; 5] = [10_000_160, 10_000_161, 10_000_162, 10_000_163, 10_000_164];
const SHELF_LIFE: Attribute = attribute("shelf_life", "Hạn sử dụng", "text", true, false);

/// The attributes of a leaf category: the common ones, plus a mandatory
/// `warranty_type` (10000150) or `shelf_life` (the food categories).
pub fn category_attributes(category: i64) -> Vec<Attribute> {
    let mut all = COMMON.to_vec();
    if category == WARRANTY_CATEGORY {
        all.push(WARRANTY_TYPE);
    }
    if FOOD_CATEGORIES.contains(&category) {
        all.push(SHELF_LIFE);
    }
    all
}

/// The category's standard sale prop called `name`, if it has one.
pub fn standard_sale_prop(category: i64, name: &str) -> Option<Attribute> {
    category_attributes(category)
        .into_iter()
        .find(|a| a.sale_prop && a.name == name)
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub sku_id: i64,
    pub seller_sku: String,
    pub sale_props: BTreeMap<String, String>,
    pub price: i64,
    /// Stock in the warehouse; what buyers can buy is real − withheld − occupied.
    pub real: i64,
    /// Held by unpaid orders.
    pub withheld: i64,
    /// Held by paid orders not yet shipped.
    pub occupied: i64,
    pub status: String,
}

impl Sku {
    pub fn sellable(&self) -> i64 {
        self.real - self.withheld - self.occupied
    }
}

/// A declared sale property (`Product.variation.variationN`, guide
/// `product-operation/custom-sales-attributes.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variation {
    pub name: String,
    pub has_image: bool,
    /// A custom sale prop; otherwise one of the category's standard ones.
    pub customize: bool,
    pub options: Vec<String>,
}

/// A product's status words, as `/products/get` and the create answer write
/// them (`product-api/getproducts.json`, `product-api/createproduct.json`).
pub const PENDING_QC: &str = "Pending QC";
pub const ACTIVE: &str = "Active";
pub const INACTIVE: &str = "InActive";
pub const DELETED: &str = "Deleted";

#[derive(Debug, Clone)]
pub struct Product {
    pub item_id: i64,
    pub category: i64,
    pub name: String,
    pub description: String,
    /// The other attributes given (`brand`, `brand_id`, `warranty_type`, …), as text.
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<String>,
    pub variation: Vec<Variation>,
    pub created: Instant,
    /// `Pending QC` until QC passes, then `Active` (or `InActive`/`Deleted`).
    pub status: String,
    pub created_time: DateTime<Utc>,
    pub updated_time: DateTime<Utc>,
    pub skus: Vec<Sku>,
}

impl Product {
    /// QC passes `qc_delay` after creation.
    pub fn status_at(&self, now: Instant, qc_delay: Duration) -> &str {
        if self.status == PENDING_QC && now.duration_since(self.created) >= qc_delay {
            ACTIVE
        } else {
            &self.status
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderItem {
    pub order_item_id: String,
    pub item_id: i64,
    pub sku_id: i64,
    pub seller_sku: String,
    /// Whole VND, the SKU's price when the order was placed.
    pub price: i64,
    pub status: String,
    /// Set once the buyer returns the item.
    pub reverse_order_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<OrderItem>,
}

struct Refresh {
    expires: DateTime<Utc>,
}

/// An order item that changed: item id, SKU id, the status it had.
type Moved = (i64, i64, String);
/// A push to send: order item id and its new status.
pub type Line = (String, String);

#[derive(Default)]
pub struct State {
    counter: u64,
    requests: u64,
    codes: HashMap<String, DateTime<Utc>>,
    access: HashMap<String, DateTime<Utc>>,
    refresh: HashMap<String, Refresh>,
    pub images: HashSet<String>,
    pub batches: HashMap<String, Vec<String>>,
    pub products: BTreeMap<i64, Product>,
    pub orders: BTreeMap<String, Order>,
}

/// `/orders/get` writes RFC 3339 with the site's offset
/// (`2018-02-09T22:44:30+08:00`, `order-api/getorders.json`); Vietnam is +07:00.
pub fn order_time(time: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(7 * 3600) {
        Some(vietnam) => time
            .with_timezone(&vietnam)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    }
}

/// Products and `/orders/items/get` write epoch milliseconds as a string
/// (`"1611554725000"`: `product-api/getproducts.json`,
/// `order-api/getmultipleorderitems.json`).
pub fn millis_text(time: DateTime<Utc>) -> String {
    time.timestamp_millis().to_string()
}

/// A SKU as `/products/get` shows it. Stock in the documented fields:
/// `quantity` and `Available` carry the sellable stock as every sample
/// shows them, and the one (dropshipping) warehouse of
/// `multiWarehouseInventories` breaks it down (guides
/// `custom-sales-attributes.md`, `inventory-calculation-logic.md`:
/// totalQuantity = sellable + withheld + occupied).
fn sku_json(item_id: i64, sku: &Sku) -> Value {
    json!({
        "Status": sku.status,
        "quantity": sku.sellable(),
        "Available": sku.sellable(),
        "SellerSku": sku.seller_sku,
        "ShopSku": shop_sku(item_id, sku.sku_id),
        "SkuId": sku.sku_id,
        "price": sku.price as f64,
        "special_price": 0.0,
        "saleProp": sku.sale_props,
        "Images": [],
        "multiWarehouseInventories": [{
            "warehouseCode": "dropshipping",
            "quantity": sku.sellable(),
            "sellableQuantity": sku.sellable(),
            "withholdQuantity": sku.withheld,
            "occupyQuantity": sku.occupied,
            "totalQuantity": sku.real,
        }],
        "fblWarehouseInventories": [],
    })
}

pub fn shop_sku(item_id: i64, sku_id: i64) -> String {
    format!("{item_id}_VNAMZ-{sku_id}")
}

/// `variation` as `/product/item/get` answers it (guide
/// `custom-sales-attributes.md`: `Variation1 {name, label, hasImage,
/// customize, options[]}`).
fn variation_json(product: &Product) -> Value {
    let entries = product.variation.iter().enumerate().map(|(n, v)| {
        let label = standard_sale_prop(product.category, &v.name).map_or(v.name.as_str(), |a| a.label);
        (
            format!("Variation{}", n + 1),
            json!({ "name": v.name, "label": label, "hasImage": v.has_image, "customize": v.customize, "options": v.options }),
        )
    });
    Value::Object(entries.collect())
}

impl State {
    pub fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub fn next_request(&mut self) -> u64 {
        self.requests += 1;
        self.requests
    }

    pub fn issue_code(&mut self, app_key: &str, now: DateTime<Utc>) -> String {
        let code = format!(
            "0_{app_key}_{:024x}",
            0x636f_6465_u64 << 20 | self.next_number()
        );
        self.codes
            .insert(code.clone(), now + chrono::Duration::minutes(30));
        code
    }

    pub fn take_code(&mut self, code: &str, now: DateTime<Utc>) -> bool {
        matches!(self.codes.remove(code), Some(expires) if expires > now)
    }

    /// A new pair; a refresh keeps the refresh token's original expiry.
    pub fn issue_tokens(
        &mut self,
        now: DateTime<Utc>,
        access_ttl: chrono::Duration,
        refresh_expires: DateTime<Utc>,
    ) -> (String, String) {
        let access = format!(
            "50000{:040x}",
            0x6163_6365_7373_u64 << 16 | self.next_number()
        );
        let refresh = format!(
            "50001{:040x}",
            0x7265_6672_6573_u64 << 16 | self.next_number()
        );
        self.access.insert(access.clone(), now + access_ttl);
        self.refresh.insert(
            refresh.clone(),
            Refresh {
                expires: refresh_expires,
            },
        );
        (access, refresh)
    }

    /// The refresh token's expiry, if it is still good.
    pub fn refresh_expiry(&self, token: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.refresh
            .get(token)
            .map(|r| r.expires)
            .filter(|e| *e > now)
    }

    /// Every access token issued so far runs out at `now`.
    pub fn expire_access(&mut self, now: DateTime<Utc>) {
        for expires in self.access.values_mut() {
            *expires = (*expires).min(now);
        }
    }

    /// The authorization is withdrawn: no token issued so far works again.
    pub fn revoke(&mut self) {
        self.access.clear();
        self.refresh.clear();
    }

    pub fn access_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.access.get(token).is_some_and(|expires| *expires > now)
    }

    /// The seller sets `seller_sku`'s sellable stock in the seller centre:
    /// what orders hold stays held, so the real stock moves with it.
    pub fn set_sellable(
        &mut self,
        seller_sku: &str,
        sellable: i64,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        if sellable < 0 {
            return Err("sellable stock cannot be negative".into());
        }
        let (product, i) = self
            .find_sku(seller_sku)
            .ok_or_else(|| format!("no product has SKU {seller_sku}"))?;
        let sku = &mut product.skus[i];
        sku.real = sellable + sku.withheld + sku.occupied;
        product.updated_time = now;
        Ok(())
    }

    pub fn find_sku(&mut self, seller_sku: &str) -> Option<(&mut Product, usize)> {
        self.products.values_mut().find_map(|p| {
            let i = p.skus.iter().position(|s| s.seller_sku == seller_sku)?;
            Some((p, i))
        })
    }

    /// A product as `/products/get` and `/product/item/get` answer it
    /// (`product-api/getproducts.json`: `item_id` and `primary_category` as
    /// strings, times in epoch milliseconds as strings).
    pub fn product_json(product: &Product, now: Instant, qc_delay: Duration) -> Value {
        let mut attributes = json!(product.attributes);
        attributes["name"] = json!(product.name);
        attributes["description"] = json!(product.description);
        let mut json = json!({
            "item_id": product.item_id.to_string(),
            "primary_category": product.category.to_string(),
            "status": product.status_at(now, qc_delay),
            "attributes": attributes,
            "images": product.images,
            "created_time": millis_text(product.created_time),
            "updated_time": millis_text(product.updated_time),
            "skus": product.skus.iter().map(|s| sku_json(product.item_id, s)).collect::<Vec<_>>(),
        });
        if !product.variation.is_empty() {
            json["variation"] = variation_json(product);
        }
        json
    }

    pub fn listings_json(&self, now: Instant, qc_delay: Duration) -> Value {
        Value::Array(
            self.products
                .values()
                .map(|p| Self::product_json(p, now, qc_delay))
                .collect(),
        )
    }

    /// A buyer orders: one order item per unit (Lazada has no quantity), all
    /// `unpaid`, each withholding one unit.
    pub fn place_order(
        &mut self,
        seller_sku: &str,
        quantity: i64,
        now: DateTime<Utc>,
        qc_delay: Duration,
    ) -> Result<(String, Vec<(String, String)>), String> {
        // One buyer's basket, not a warehouse: the sandbox caps an order at 1,000 units.
        if !(1..=1_000).contains(&quantity) {
            return Err("quantity must be between 1 and 1000".into());
        }
        let order_number = self.next_number();
        let line_numbers: Vec<u64> = (0..quantity).map(|_| self.next_number()).collect();
        let (product, i) = self
            .find_sku(seller_sku)
            .ok_or_else(|| format!("no SKU {seller_sku}"))?;
        // Buyers only see products that passed QC.
        if product.status_at(Instant::now(), qc_delay) != ACTIVE
            || product.skus[i].status != "active"
        {
            return Err(format!("SKU {seller_sku} is not for sale"));
        }
        let sku = &mut product.skus[i];
        if sku.sellable() < quantity {
            return Err(format!(
                "only {} of {seller_sku} can be bought",
                sku.sellable()
            ));
        }
        sku.withheld += quantity;
        let (item_id, sku_id, price) = (product.item_id, sku.sku_id, sku.price);
        let order_id = format!("26042{order_number:010}");
        let items: Vec<OrderItem> = line_numbers
            .iter()
            .map(|n| OrderItem {
                order_item_id: format!("26043{n:010}"),
                item_id,
                sku_id,
                seller_sku: seller_sku.to_string(),
                price,
                status: "unpaid".into(),
                reverse_order_id: None,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let lines = items
            .iter()
            .map(|i| (i.order_item_id.clone(), i.status.clone()))
            .collect();
        self.orders.insert(
            order_id.clone(),
            Order {
                order_id: order_id.clone(),
                created_at: now,
                updated_at: now,
                items,
            },
        );
        Ok((order_id, lines))
    }

    fn sku_mut(&mut self, item_id: i64, sku_id: i64) -> Option<&mut Sku> {
        self.products
            .get_mut(&item_id)?
            .skus
            .iter_mut()
            .find(|s| s.sku_id == sku_id)
    }

    /// Moves an order's items whose status is one of `from` to `to`;
    /// returns each moved item's SKU and former status, and the pushes to send.
    fn move_items(
        &mut self,
        order_id: &str,
        from: &[&str],
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Moved>, Vec<Line>), String> {
        let order = self
            .orders
            .get_mut(order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        let mut moved = Vec::new();
        let mut lines = Vec::new();
        for item in &mut order.items {
            if from.contains(&item.status.as_str()) {
                moved.push((
                    item.item_id,
                    item.sku_id,
                    std::mem::replace(&mut item.status, to.into()),
                ));
                item.updated_at = now;
                lines.push((item.order_item_id.clone(), to.to_string()));
            }
        }
        if moved.is_empty() {
            return Err(format!(
                "order {order_id} has no item that is {}",
                from.join(" or ")
            ));
        }
        order.updated_at = now;
        Ok((moved, lines))
    }

    /// Items still held for the buyer: withheld while unpaid, occupied once paid.
    const OPEN: [&'static str; 2] = ["unpaid", "pending"];

    /// Releases the unit an item held: withheld while unpaid, occupied once paid.
    fn release(sku: &mut Sku, was: &str) {
        if was == "unpaid" {
            sku.withheld -= 1;
        } else {
            sku.occupied -= 1;
        }
    }

    /// Cancelling before shipping releases the hold; an "out of stock" reason
    /// also sets the SKU's stock to 0, as Lazada does.
    pub fn cancel_order(
        &mut self,
        order_id: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, String> {
        let (moved, lines) = self.move_items(order_id, &Self::OPEN, "canceled", now)?;
        for (item_id, sku_id, was) in moved {
            if let Some(sku) = self.sku_mut(item_id, sku_id) {
                Self::release(sku, &was);
                if reason == Some("out_of_stock") {
                    sku.real = sku.withheld + sku.occupied;
                }
            }
        }
        Ok(lines)
    }

    /// Ready to ship, then shipped: the units leave the warehouse.
    pub fn ship_order(
        &mut self,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, String> {
        let (moved, lines) = self.move_items(order_id, &Self::OPEN, "shipped", now)?;
        for (item_id, sku_id, was) in moved {
            if let Some(sku) = self.sku_mut(item_id, sku_id) {
                Self::release(sku, &was);
                sku.real -= 1;
            }
        }
        Ok(lines)
    }

    /// The buyer pays: unpaid items become `pending`, their units move from
    /// withheld to occupied (guide `inventory-calculation-logic.md`).
    pub fn pay_order(&mut self, order_id: &str, now: DateTime<Utc>) -> Result<Vec<Line>, String> {
        let (moved, lines) = self.move_items(order_id, &["unpaid"], "pending", now)?;
        for (item_id, sku_id, _) in moved {
            if let Some(sku) = self.sku_mut(item_id, sku_id) {
                sku.withheld -= 1;
                sku.occupied += 1;
            }
        }
        Ok(lines)
    }

    /// The carrier delivers: shipped items become `delivered`.
    pub fn deliver_order(
        &mut self,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Line>, String> {
        Ok(self.move_items(order_id, &["shipped"], "delivered", now)?.1)
    }

    /// The buyer returns shipped or delivered items: each gets a reverse
    /// order and the status `returned`. Stock is untouched: the seller
    /// restocks what comes back. Returns (line, reverse order id) per item.
    pub fn return_order(
        &mut self,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, String> {
        let (_, lines) = self.move_items(order_id, &["shipped", "delivered"], "returned", now)?;
        let mut returned = Vec::new();
        for (line, _) in lines {
            let reverse = format!("50197{:010}", self.next_number());
            if let Some(item) = self
                .orders
                .get_mut(order_id)
                .and_then(|o| o.items.iter_mut().find(|i| i.order_item_id == line))
            {
                item.reverse_order_id = Some(reverse.clone());
            }
            returned.push((line, reverse));
        }
        Ok(returned)
    }

    /// When the seller's authorization runs out, if its newest access token
    /// is still valid and expires within `within` (guide
    /// `webhook-api-authorization-token-expiration-alert.md`: 48 hours).
    pub fn expiring_access(
        &self,
        now: DateTime<Utc>,
        within: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        self.access
            .values()
            .max()
            .copied()
            .filter(|e| *e > now && *e <= now + within)
    }
}
