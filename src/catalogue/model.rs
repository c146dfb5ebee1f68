//! The canonical catalogue: products and their variants (one SKU each).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Inactive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    /// English or Vietnamese, any case, with or without diacritics.
    pub fn parse(folded: &str) -> Option<Self> {
        match folded {
            "active" | "dangban" | "hoatdong" | "ban" => Some(Self::Active),
            "inactive" | "ngungban" | "ngung" | "an" | "tamngung" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// Product-level fields; every variant of the product shares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: String,
    pub origin: String,
    pub status: Status,
    /// Up to two option axes (e.g. "Dung tích", "Loại"); every variant has a value for each.
    pub option_names: Vec<String>,
}

/// One sellable unit: a SKU with its options, price and shipping facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub sku: String,
    pub product_id: String,
    /// Order within the product, as in the file.
    pub position: i64,
    pub option_values: Vec<String>,
    /// Whole VND, > 0.
    pub price: i64,
    pub weight_g: Option<i64>,
    pub length_mm: Option<i64>,
    pub width_mm: Option<i64>,
    pub height_mm: Option<i64>,
    pub barcode: Option<String>,
    /// http(s) URLs or absolute paths of local files.
    pub images: Vec<String>,
}

pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_ID_CHARS: usize = 100;
pub const MAX_OPTIONS: usize = 2;

/// SKUs and product ids travel to every marketplace: printable ASCII, no spaces.
pub fn is_valid_identifier(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_CHARS && id.bytes().all(|b| b.is_ascii_graphic())
}
