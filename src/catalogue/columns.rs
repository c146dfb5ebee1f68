//! The catalogue file's columns and the header names accepted for each.

use super::text::fold;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    ProductId,
    Name,
    Description,
    Category,
    Brand,
    Sku,
    Option1Name,
    Option1Value,
    Option2Name,
    Option2Value,
    Price,
    Stock,
    WeightG,
    LengthCm,
    WidthCm,
    HeightCm,
    Barcode,
    Images,
    Origin,
    Status,
    /// Hidden in an export: the SKU's stock on hand when it was exported.
    ExportedStock,
    /// Hidden in an export: the newest ledger movement when it was exported.
    LedgerMark,
}

impl Field {
    /// In file order, as `export` writes them.
    pub const ALL: [Field; 22] = [
        Self::ProductId,
        Self::Name,
        Self::Description,
        Self::Category,
        Self::Brand,
        Self::Sku,
        Self::Option1Name,
        Self::Option1Value,
        Self::Option2Name,
        Self::Option2Value,
        Self::Price,
        Self::Stock,
        Self::WeightG,
        Self::LengthCm,
        Self::WidthCm,
        Self::HeightCm,
        Self::Barcode,
        Self::Images,
        Self::Origin,
        Self::Status,
        Self::ExportedStock,
        Self::LedgerMark,
    ];

    /// Where an exported sheet says the ledger stood: stock changes, not counts.
    pub const EXPORT_MARK: [Field; 2] = [Self::ExportedStock, Self::LedgerMark];

    /// Without these a row cannot be placed in the catalogue.
    pub const REQUIRED: [Field; 4] = [Self::ProductId, Self::Name, Self::Sku, Self::Price];

    pub fn name(self) -> &'static str {
        match self {
            Self::ProductId => "product_id",
            Self::Name => "name",
            Self::Description => "description",
            Self::Category => "category",
            Self::Brand => "brand",
            Self::Sku => "sku",
            Self::Option1Name => "option1_name",
            Self::Option1Value => "option1_value",
            Self::Option2Name => "option2_name",
            Self::Option2Value => "option2_value",
            Self::Price => "price",
            Self::Stock => "stock",
            Self::WeightG => "weight_g",
            Self::LengthCm => "length_cm",
            Self::WidthCm => "width_cm",
            Self::HeightCm => "height_cm",
            Self::Barcode => "barcode",
            Self::Images => "images",
            Self::Origin => "origin",
            Self::Status => "status",
            Self::ExportedStock => "exported_stock",
            Self::LedgerMark => "ledger_mark",
        }
    }

    /// Headers a Vietnamese seller centre export or a hand-made sheet may use.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::ProductId => &["Mã sản phẩm", "ID sản phẩm", "Product ID", "Mã SP"],
            Self::Name => &["Tên sản phẩm", "Tên", "Product name", "Title"],
            Self::Description => &["Mô tả", "Mô tả sản phẩm"],
            Self::Category => &["Danh mục", "Ngành hàng", "Loại sản phẩm"],
            Self::Brand => &["Thương hiệu", "Nhãn hiệu"],
            Self::Sku => &["Mã SKU", "SKU phân loại", "Seller SKU"],
            Self::Option1Name => &["Tên phân loại 1", "Tên tùy chọn 1", "Nhóm phân loại 1"],
            Self::Option1Value => &["Giá trị phân loại 1", "Phân loại 1", "Giá trị tùy chọn 1"],
            Self::Option2Name => &["Tên phân loại 2", "Tên tùy chọn 2", "Nhóm phân loại 2"],
            Self::Option2Value => &["Giá trị phân loại 2", "Phân loại 2", "Giá trị tùy chọn 2"],
            Self::Price => &["Giá", "Giá bán", "Đơn giá", "Giá (VND)", "Giá (đ)"],
            Self::Stock => &["Tồn kho", "Số lượng", "Số lượng tồn", "Kho hàng"],
            Self::WeightG => &["Khối lượng (g)", "Cân nặng (g)", "Khối lượng", "Weight (g)"],
            Self::LengthCm => &["Chiều dài (cm)", "Dài (cm)", "Length (cm)"],
            Self::WidthCm => &["Chiều rộng (cm)", "Rộng (cm)", "Width (cm)"],
            Self::HeightCm => &["Chiều cao (cm)", "Cao (cm)", "Height (cm)"],
            Self::Barcode => &["Mã vạch", "EAN", "GTIN", "UPC"],
            Self::Images => &["Hình ảnh", "Ảnh", "Ảnh sản phẩm"],
            Self::Origin => &["Xuất xứ", "Nơi sản xuất", "Nguồn gốc"],
            Self::Status => &["Trạng thái"],
            Self::ExportedStock => &["Tồn kho khi xuất"],
            Self::LedgerMark => &["Mốc sổ kho"],
        }
    }

    /// The field a header names, ignoring case, diacritics, spaces and punctuation.
    pub fn from_header(header: &str) -> Option<Field> {
        let key = fold(header);
        if key.is_empty() {
            return None;
        }
        Self::ALL.into_iter().find(|field| {
            fold(field.name()) == key || field.aliases().iter().any(|alias| fold(alias) == key)
        })
    }

    /// For "missing column" messages: the canonical name and its Vietnamese alias.
    pub fn describe(self) -> String {
        format!("\"{}\" (or \"{}\")", self.name(), self.aliases()[0])
    }
}

/// Spreadsheet column letters: 0 → A, 25 → Z, 26 → AA.
pub fn letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_headers_match_without_diacritics_or_case() {
        assert_eq!(Field::from_header("Mã SKU"), Some(Field::Sku));
        assert_eq!(Field::from_header("ma sku"), Some(Field::Sku));
        assert_eq!(Field::from_header("TÊN SẢN PHẨM"), Some(Field::Name));
        assert_eq!(Field::from_header("Khoi luong (g)"), Some(Field::WeightG));
        assert_eq!(Field::from_header("Giá"), Some(Field::Price));
        assert_eq!(Field::from_header("weight_g"), Some(Field::WeightG));
        assert_eq!(Field::from_header("Ghi chú"), None);
    }

    #[test]
    fn no_two_fields_share_a_header() {
        let mut seen = std::collections::HashMap::new();
        for field in Field::ALL {
            for header in std::iter::once(field.name()).chain(field.aliases().iter().copied()) {
                if let Some(other) = seen.insert(fold(header), field) {
                    assert_eq!(other, field, "{header} names both {other:?} and {field:?}");
                }
            }
        }
    }

    #[test]
    fn column_letters_are_spreadsheet_letters() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
    }
}
