//! The sandbox's memory: tokens, items with tier variations, orders, pushes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// Leaf categories the sandbox accepts; their parents are refused as non-leaf.
pub const PARENT_CATEGORIES: [i64; 2] = [100_001, 100_002];
pub fn is_leaf(category: i64) -> bool {
    (100_100..100_200).contains(&category) || (100_200..100_300).contains(&category)
}

/// `attribute_info.input_type` (`schemas/v2.product.get_attribute_tree.json`).
pub const SINGLE_DROP_DOWN: i64 = 1;
pub const FREE_TEXT: i64 = 3;

/// One attribute of a leaf category: a drop-down (a value must be one of
/// `values`, by id) or free text (a custom value, `value_id` 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    pub id: i64,
    /// The `language=vn` name.
    pub name_vn: &'static str,
    /// The `language=en` name.
    pub name_en: &'static str,
    pub mandatory: bool,
    pub input_type: i64,
    /// `(value_id, name)` of a drop-down's options.
    pub values: &'static [(i64, &'static str)],
}

impl AttributeDef {
    pub fn is_drop_down(&self) -> bool {
        matches!(self.input_type, 1 | 4)
    }
}

const SUB_BRAND: AttributeDef = AttributeDef {
    id: 100_010,
    name_vn: "Thương hiệu phụ",
    name_en: "Sub-brand",
    mandatory: false,
    input_type: FREE_TEXT,
    values: &[],
};
const ORIGIN: AttributeDef = AttributeDef {
    id: 100_037,
    name_vn: "Xuất xứ",
    name_en: "Country of Origin",
    mandatory: true,
    input_type: SINGLE_DROP_DOWN,
    values: &[
        (6_001, "Việt Nam"),
        (6_002, "Trung Quốc"),
        (6_003, "Thái Lan"),
        (6_004, "Hàn Quốc"),
        (6_005, "Nhật Bản"),
    ],
};
const SHELF_LIFE: AttributeDef = AttributeDef {
    id: 100_095,
    name_vn: "Hạn sử dụng",
    name_en: "Shelf Life",
    mandatory: true,
    input_type: FREE_TEXT,
    values: &[],
};

/// The attribute tree of a leaf category: a few attributes, enough to make
/// mappings supply what a category makes mandatory (essential oils: origin;
/// foods: shelf life).
pub fn attributes_of(category: i64) -> Vec<AttributeDef> {
    let mut tree = vec![SUB_BRAND];
    match category {
        100_150 => tree.push(ORIGIN),
        100_210..=100_215 => tree.push(SHELF_LIFE),
        _ => {}
    }
    tree
}

/// A brand of `get_brand_list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandDef {
    pub id: i64,
    pub name: String,
}

/// Categories whose items need a brand from their list (`is_mandatory`):
/// 100152 (cosmetics in the demo's terms; no demo product uses it).
pub fn brand_mandatory(category: i64) -> bool {
    category == 100_152
}

/// The normal brands of a leaf category: a few cooperatives' own, and for
/// foods (100210–100215) 120 more, so the list takes two pages of 100.
pub fn brands_of(category: i64) -> Vec<BrandDef> {
    let mut brands: Vec<BrandDef> = [
        (1_100_001, "HTX Tinh dầu Ba Bể"),
        (1_100_002, "Hương Ngàn"),
        (1_100_003, "Lá Xanh"),
    ]
    .into_iter()
    .map(|(id, name)| BrandDef {
        id,
        name: name.into(),
    })
    .collect();
    if (100_210..=100_215).contains(&category) {
        brands.extend((1..=120).map(|n| BrandDef {
            id: 1_200_000 + n,
            name: format!("Nông sản {n:03}"),
        }));
    }
    brands
}

/// One logistics channel of the shop (`logistics/get_channel_list`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelDef {
    pub id: i64,
    pub name: &'static str,
    pub enabled: bool,
    pub fee_type: &'static str,
    /// `(size_id, name, default_price)` of a SIZE_SELECTION channel.
    pub sizes: &'static [(&'static str, &'static str, f64)],
}

/// The shop's channels: one of each fee type the sandbox models, and one
/// the seller has disabled.
pub const CHANNELS: [ChannelDef; 5] = [
    ChannelDef {
        id: 50_018,
        name: "SPX Express",
        enabled: true,
        fee_type: "FIXED_DEFAULT_PRICE",
        sizes: &[],
    },
    ChannelDef {
        id: 50_021,
        name: "Giao Hàng Nhanh",
        enabled: true,
        fee_type: "SIZE_SELECTION",
        sizes: &[("1", "Nhỏ", 15_000.0), ("2", "Lớn", 30_000.0)],
    },
    ChannelDef {
        id: 50_011,
        name: "Giao Hàng Tiết Kiệm",
        enabled: true,
        fee_type: "CUSTOM_PRICE",
        sizes: &[],
    },
    ChannelDef {
        id: 50_012,
        name: "Ninja Van",
        enabled: true,
        fee_type: "SIZE_INPUT",
        sizes: &[],
    },
    ChannelDef {
        id: 50_010,
        name: "Viettel Post",
        enabled: false,
        fee_type: "FIXED_DEFAULT_PRICE",
        sizes: &[],
    },
];

#[derive(Debug, Clone)]
pub struct Model {
    pub model_id: i64,
    pub tier_index: Vec<usize>,
    pub sku: String,
    pub price: i64,
    pub stock: i64,
    /// Seller stock a promotion reserves: `update_stock` may not go below it.
    pub reserved: i64,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub item_id: i64,
    pub item_sku: String,
    pub name: String,
    pub description: String,
    pub category_id: i64,
    pub status: String,
    pub images: Vec<String>,
    pub weight: f64,
    /// Price, stock and promotion-reserved stock of an item without models.
    pub price: i64,
    pub stock: i64,
    pub reserved: i64,
    pub created: std::time::Instant,
    pub update_time: i64,
    pub tiers: Vec<(String, Vec<String>)>,
    pub models: Vec<Model>,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub item_id: i64,
    pub model_id: i64,
    pub quantity: i64,
    /// Units cancelled on their own (a partial cancellation).
    pub cancelled: i64,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order_sn: String,
    pub status: String,
    pub create_time: i64,
    pub update_time: i64,
    pub lines: Vec<Line>,
    /// `cancel_by` and `cancel_reason` once cancelled, wholly or in part.
    pub cancel_by: String,
    pub cancel_reason: String,
}

struct Refresh {
    expires: DateTime<Utc>,
    spent: bool,
    /// The access token issued with it; it lives 5 more minutes after a refresh.
    access: String,
}

#[derive(Default)]
pub struct State {
    counter: u64,
    requests: u64,
    codes: HashMap<String, DateTime<Utc>>,
    access: HashMap<String, DateTime<Utc>>,
    refresh: HashMap<String, Refresh>,
    pub images: HashSet<String>,
    pub items: BTreeMap<i64, Item>,
    pub orders: BTreeMap<String, Order>,
    lost: Vec<(i64, Value)>,
}

impl State {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub fn next_request(&mut self) -> u64 {
        self.requests += 1;
        self.requests
    }

    pub fn next_id(&mut self) -> i64 {
        // Shopee ids are large; the sandbox's are deterministic.
        3_000_000_000 + self.next() as i64
    }

    pub fn issue_code(&mut self, now: DateTime<Utc>) -> String {
        let code = format!("{:032x}", 0x636f_6465_0000_0000_u64 + self.next());
        self.codes.insert(code.clone(), now + Duration::minutes(10));
        code
    }

    /// Spends a code; `false` if unknown, used or expired.
    pub fn take_code(&mut self, code: &str, now: DateTime<Utc>) -> bool {
        matches!(self.codes.remove(code), Some(expires) if expires > now)
    }

    pub fn issue_tokens(&mut self, now: DateTime<Utc>, access_ttl: Duration) -> (String, String) {
        let access = format!("{:032x}", 0x6163_6365_7373_0000_u64 + self.next());
        let refresh = format!("{:032x}", 0x7265_6672_6573_6800_u64 + self.next());
        self.access.insert(access.clone(), now + access_ttl);
        self.refresh.insert(
            refresh.clone(),
            Refresh {
                expires: now + Duration::days(30),
                spent: false,
                access: access.clone(),
            },
        );
        (access, refresh)
    }

    /// Spends a refresh token; the access token issued with it lives 5 more minutes.
    pub fn spend_refresh(&mut self, token: &str, now: DateTime<Utc>) -> bool {
        let Some(entry) = self.refresh.get_mut(token) else {
            return false;
        };
        if entry.spent || entry.expires <= now {
            return false;
        }
        entry.spent = true;
        let old = entry.access.clone();
        if let Some(expires) = self.access.get_mut(&old) {
            *expires = (*expires).min(now + Duration::minutes(5));
        }
        true
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

    pub fn item_json(item: &Item) -> Value {
        let models: Vec<Value> = item
            .models
            .iter()
            .map(|m| json!({ "model_id": m.model_id, "sku": m.sku, "price": m.price, "stock": m.stock, "reserved": m.reserved, "tier_index": m.tier_index }))
            .collect();
        json!({
            "item_id": item.item_id,
            "item_sku": item.item_sku,
            "name": item.name,
            "status": item.status,
            "category_id": item.category_id,
            "price": item.price,
            "stock": item.stock,
            "reserved": item.reserved,
            "tiers": item.tiers.iter().map(|(name, options)| json!({ "name": name, "options": options })).collect::<Vec<_>>(),
            "models": models,
        })
    }

    pub fn listings_json(&self) -> Value {
        Value::Array(self.items.values().map(Self::item_json).collect())
    }

    /// What a buyer can buy of `sku` (listed items only).
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        let (item_id, model_id) = self.locate(sku)?;
        let item = self.items.get(&item_id)?;
        if model_id == 0 {
            return Some(item.stock);
        }
        item.models
            .iter()
            .find(|m| m.model_id == model_id)
            .map(|m| m.stock)
    }

    /// The listed item and model (0: none) that carry `sku`.
    fn locate(&self, sku: &str) -> Option<(i64, i64)> {
        // Buyers only see listed items.
        self.items
            .values()
            .filter(|i| i.status == "NORMAL")
            .find_map(|item| {
                if item.models.is_empty() {
                    (item.item_sku == sku).then_some((item.item_id, 0))
                } else {
                    item.models
                        .iter()
                        .find(|m| m.sku == sku)
                        .map(|m| (item.item_id, m.model_id))
                }
            })
    }

    /// The item and model (0: none) that carry `sku`, whatever their status
    /// short of deleted: what the seller centre lists.
    fn in_seller_centre(&self, sku: &str) -> Option<(i64, i64)> {
        self.items
            .values()
            .filter(|i| i.status != "SELLER_DELETE")
            .find_map(|item| {
                if item.models.is_empty() {
                    (item.item_sku == sku).then_some((item.item_id, 0))
                } else {
                    item.models
                        .iter()
                        .find(|m| m.sku == sku)
                        .map(|m| (item.item_id, m.model_id))
                }
            })
    }

    /// The seller sets `sku`'s seller stock in the seller centre; Shopee
    /// holds it to the promotion's reservation as `update_stock` does.
    pub fn set_seller_stock(&mut self, sku: &str, stock: i64, now: i64) -> Result<(), String> {
        let (item_id, model_id) = self
            .in_seller_centre(sku)
            .ok_or_else(|| format!("no listing has SKU {sku}"))?;
        let reserved = self.reserved_of(item_id, model_id);
        if !(reserved..=999_999).contains(&stock) {
            return Err(format!("stock must be {reserved} to 999999"));
        }
        if let Some(target) = self.stock_of(item_id, model_id) {
            *target = stock;
        }
        if let Some(item) = self.items.get_mut(&item_id) {
            item.update_time = now;
        }
        Ok(())
    }

    /// A promotion reserves `reserved` units of `sku`'s seller stock (0 ends
    /// it); it cannot reserve more than there is.
    pub fn reserve_for_promotion(&mut self, sku: &str, reserved: i64) -> Result<(), String> {
        let (item_id, model_id) = self
            .in_seller_centre(sku)
            .ok_or_else(|| format!("no listing has SKU {sku}"))?;
        let stock = self.stock_of(item_id, model_id).map_or(0, |s| *s);
        if !(0..=stock).contains(&reserved) {
            return Err(format!("a promotion can reserve 0 to {stock} units"));
        }
        let item = self
            .items
            .get_mut(&item_id)
            .ok_or_else(|| format!("no item {item_id}"))?;
        if model_id == 0 {
            item.reserved = reserved;
        } else if let Some(model) = item.models.iter_mut().find(|m| m.model_id == model_id) {
            model.reserved = reserved;
        }
        Ok(())
    }

    fn reserved_of(&self, item_id: i64, model_id: i64) -> i64 {
        let Some(item) = self.items.get(&item_id) else {
            return 0;
        };
        if model_id == 0 {
            return item.reserved;
        }
        item.models
            .iter()
            .find(|m| m.model_id == model_id)
            .map_or(0, |m| m.reserved)
    }

    /// The seller stock of one item or model, to change in place.
    fn stock_of(&mut self, item_id: i64, model_id: i64) -> Option<&mut i64> {
        let item = self.items.get_mut(&item_id)?;
        if model_id == 0 {
            return Some(&mut item.stock);
        }
        item.models
            .iter_mut()
            .find(|m| m.model_id == model_id)
            .map(|m| &mut m.stock)
    }

    /// A buyer orders: seller stock falls at once (a paid or COD order,
    /// READY_TO_SHIP).
    pub fn place_order(
        &mut self,
        sku: &str,
        quantity: i64,
        now: i64,
    ) -> Result<(String, String), String> {
        self.place_order_of(&[(sku, quantity)], now)
    }

    /// An order of several lines; the same SKU may come twice (as Shopee
    /// lists a model once per deal it was bought under).
    pub fn place_order_of(
        &mut self,
        lines: &[(&str, i64)],
        now: i64,
    ) -> Result<(String, String), String> {
        let mut placed = Vec::new();
        for (sku, quantity) in lines {
            if *quantity <= 0 {
                return Err("quantity must be positive".into());
            }
            let (item_id, model_id) = self
                .locate(sku)
                .ok_or_else(|| format!("no listing has SKU {sku}"))?;
            let wanted: i64 = placed
                .iter()
                .filter(|l: &&Line| (l.item_id, l.model_id) == (item_id, model_id))
                .map(|l| l.quantity)
                .sum::<i64>()
                + quantity;
            let stock = self
                .stock_of(item_id, model_id)
                .ok_or_else(|| format!("no listing has SKU {sku}"))?;
            if *stock < wanted {
                return Err(format!("only {} of {sku} left", *stock));
            }
            placed.push(Line {
                item_id,
                model_id,
                quantity: *quantity,
                cancelled: 0,
            });
        }
        for line in &placed {
            if let Some(stock) = self.stock_of(line.item_id, line.model_id) {
                *stock -= line.quantity;
            }
        }
        let n = self.next();
        let order_sn = format!("2611{n:06}SBX");
        let status = "READY_TO_SHIP".to_string();
        self.orders.insert(
            order_sn.clone(),
            Order {
                order_sn: order_sn.clone(),
                status: status.clone(),
                create_time: now,
                update_time: now,
                lines: placed,
                cancel_by: String::new(),
                cancel_reason: String::new(),
            },
        );
        Ok((order_sn, status))
    }

    /// The order `order_sn` if it is READY_TO_SHIP; else why not, ending
    /// "only READY_TO_SHIP {what}".
    fn ready_to_ship(&mut self, order_sn: &str, what: &str) -> Result<&mut Order, String> {
        let order = self
            .orders
            .get_mut(order_sn)
            .ok_or_else(|| format!("no order {order_sn}"))?;
        if order.status != "READY_TO_SHIP" {
            return Err(format!(
                "order {order_sn} is {}; only READY_TO_SHIP {what}",
                order.status
            ));
        }
        Ok(order)
    }

    /// The seller cancels `quantity` units of one line of an order not yet
    /// shipped (Shopee's partial cancellation of out-of-stock units); the
    /// units return to seller stock, the rest of the order goes on.
    pub fn cancel_units(
        &mut self,
        order_sn: &str,
        line: usize,
        quantity: i64,
        now: i64,
    ) -> Result<(), String> {
        let order = self.ready_to_ship(order_sn, "orders are cancelled in part")?;
        let target = order
            .lines
            .get_mut(line)
            .ok_or_else(|| format!("order {order_sn} has no line {line}"))?;
        if quantity <= 0 || target.cancelled + quantity >= target.quantity {
            return Err(format!(
                "cancel 1 to {} units of that line, or the whole order",
                target.quantity - target.cancelled - 1
            ));
        }
        target.cancelled += quantity;
        let (item_id, model_id) = (target.item_id, target.model_id);
        order.update_time = now;
        order.cancel_by = "seller".into();
        order.cancel_reason = "OUT_OF_STOCK".into();
        if let Some(stock) = self.stock_of(item_id, model_id) {
            *stock += quantity;
        }
        Ok(())
    }

    /// Cancelled before shipping, the units return to seller stock.
    pub fn cancel_order(
        &mut self,
        order_sn: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), String> {
        let order = self
            .orders
            .get_mut(order_sn)
            .ok_or_else(|| format!("no order {order_sn}"))?;
        if !matches!(order.status.as_str(), "UNPAID" | "READY_TO_SHIP") {
            return Err(format!(
                "order {order_sn} is {}; it can no longer be cancelled",
                order.status
            ));
        }
        order.status = "CANCELLED".into();
        order.update_time = now;
        order.cancel_by = "buyer".into();
        order.cancel_reason = reason.unwrap_or("BUYER_REQUEST").into();
        let lines = order.lines.clone();
        for line in lines {
            if let Some(stock) = self.stock_of(line.item_id, line.model_id) {
                *stock += line.quantity - line.cancelled;
            }
        }
        Ok(())
    }

    pub fn ship_order(&mut self, order_sn: &str, now: i64) -> Result<(), String> {
        let order = self.ready_to_ship(order_sn, "ships")?;
        order.status = "SHIPPED".into();
        order.update_time = now;
        Ok(())
    }

    pub fn lose_push(&mut self, push: Value) {
        let id = self.next() as i64;
        self.lost.push((id, push));
    }

    /// The earliest 100 unconsumed lost pushes.
    pub fn lost_pushes(&self) -> (Vec<Value>, bool, Option<i64>) {
        let page: Vec<&(i64, Value)> = self.lost.iter().take(100).collect();
        let last = page.last().map(|(id, _)| *id);
        (
            page.iter().map(|(_, v)| v.clone()).collect(),
            self.lost.len() > 100,
            last,
        )
    }

    pub fn confirm_pushes(&mut self, last_id: i64) {
        self.lost.retain(|(id, _)| *id > last_id);
    }
}
