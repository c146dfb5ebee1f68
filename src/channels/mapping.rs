//! A channel's mapping file (`config/mappings/<channel>.toml`): canonical
//! category → the platform's category id and attributes, brand, logistics.
//!
//! ```toml
//! brand = "94125"            # the platform's brand reference (Lazada: brand_id)
//! logistics = ["50018"]      # logistics channel ids to enable (Shopee)
//! [categories."Sức khỏe > Tinh dầu"]
//! id = "100150"
//! attributes = { "100037" = "Việt Nam" }
//! [categories."Sức khỏe > Tinh dầu".options."Dung tích"]
//! id = "1290"                # platforms that take options as ids (Sendo's checkout
//! values = { "10 ml" = "9001", "50 ml" = "9002" }   # attributes): name and values
//! [skus]                     # an order line's SKU on the platform → the catalogue's
//! "TD-QUE-10" = "TDQ-10ML"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub logistics: Vec<String>,
    #[serde(default)]
    pub categories: BTreeMap<String, CategoryMap>,
    /// Platform SKU → catalogue SKU, for order lines sold under another SKU.
    #[serde(default)]
    pub skus: BTreeMap<String, String>,
    /// Spreadsheet channels: the bulk sheet's file, columns and formats.
    #[serde(default)]
    pub sheet: Option<chosync_spreadsheet::SheetLayout>,
    /// Spreadsheet channels: how the seller centre's order exports read.
    #[serde(default)]
    pub orders: Option<chosync_spreadsheet::OrdersLayout>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMap {
    /// The platform's leaf category id.
    pub id: String,
    /// Platform attribute id → value.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Catalogue option name → the platform's variation attribute and its
    /// options, where the platform takes ids (Sendo); names not given here
    /// are sent as they are.
    #[serde(default)]
    pub options: BTreeMap<String, OptionMap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionMap {
    pub id: String,
    /// Catalogue option value → the platform's option id.
    pub values: BTreeMap<String, String>,
}

impl Mapping {
    /// Reads a mapping file; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn category(&self, canonical: &str) -> Option<&CategoryMap> {
        self.categories.get(canonical)
    }

    /// What is wrong with a spreadsheet channel's layouts, by key: the
    /// `[sheet]` table is required, `[orders]` checked when given.
    pub fn sheet_problems(&self) -> Vec<(String, String)> {
        let mut out = match &self.sheet {
            None => vec![(
                "sheet".to_string(),
                "is required for a spreadsheet channel (the bulk sheet's file and columns)"
                    .to_string(),
            )],
            Some(sheet) => sheet.problems(),
        };
        if let Some(orders) = &self.orders {
            out.extend(orders.problems());
        }
        out
    }
}

/// A mapping from its TOML text.
pub fn parse(text: &str) -> Result<Mapping, String> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_file_reads_categories_with_vietnamese_names() {
        let mapping = parse(
            "brand = \"94125\"\nlogistics = [\"50018\"]\n[categories.\"Sức khỏe > Tinh dầu\"]\nid = \"100150\"\nattributes = { \"100037\" = \"Việt Nam\" }\n",
        )
        .expect("parses");
        let oils = mapping.category("Sức khỏe > Tinh dầu").expect("mapped");
        assert_eq!(oils.id, "100150");
        assert_eq!(oils.attributes["100037"], "Việt Nam");
        assert!(parse("[categories.x]\nidd = \"1\"\n").is_err());
        let sendo = parse(
            "[categories.\"Thực phẩm > Trà\"]\nid = \"2001\"\n[categories.\"Thực phẩm > Trà\".options.\"Khối lượng\"]\nid = \"1291\"\nvalues = { \"100 g\" = \"9101\" }\n",
        )
        .expect("parses");
        let tea = sendo.category("Thực phẩm > Trà").expect("mapped");
        assert_eq!(tea.options["Khối lượng"].values["100 g"], "9101");
    }
}
