//! Content hashes per aspect, over a canonical serialisation, so identical data
//! hashes identically whatever file, order or encoding it came from.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::model::{Product, Variant};

fn digest<T: Serialize>(value: &T) -> String {
    // serde_json writes struct fields in declaration order: a stable, canonical form.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Hash of the product-level fields.
pub fn product_hash(product: &Product) -> String {
    digest(product)
}

#[derive(Serialize)]
struct VariantContent<'a> {
    product_id: &'a str,
    option_values: &'a [String],
    weight_g: Option<i64>,
    length_mm: Option<i64>,
    width_mm: Option<i64>,
    height_mm: Option<i64>,
    barcode: &'a Option<String>,
    images: &'a [String],
}

/// The variant's own content other than price and stock. Product-level fields
/// have their own hash, so a product change does not rewrite every variant row;
/// a listing's content is the pair of both.
pub fn content_hash(variant: &Variant) -> String {
    digest(&VariantContent {
        product_id: &variant.product_id,
        option_values: &variant.option_values,
        weight_g: variant.weight_g,
        length_mm: variant.length_mm,
        width_mm: variant.width_mm,
        height_mm: variant.height_mm,
        barcode: &variant.barcode,
        images: &variant.images,
    })
}

pub fn price_hash(variant: &Variant) -> String {
    digest(&("price", variant.price))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::model::Status;

    fn product() -> Product {
        Product {
            product_id: "P1".into(),
            name: "Tinh dầu quế".into(),
            description: String::new(),
            category: "Tinh dầu".into(),
            brand: String::new(),
            origin: "Bắc Kạn".into(),
            status: Status::Active,
            option_names: vec!["Dung tích".into()],
        }
    }

    fn variant() -> Variant {
        Variant {
            sku: "QUE-10".into(),
            product_id: "P1".into(),
            position: 0,
            option_values: vec!["10 ml".into()],
            price: 85_000,
            weight_g: Some(40),
            length_mm: None,
            width_mm: None,
            height_mm: None,
            barcode: None,
            images: vec![],
        }
    }

    #[test]
    fn aspects_change_independently() {
        let (p, v) = (product(), variant());
        let mut cheaper = v.clone();
        cheaper.price = 80_000;
        assert_eq!(content_hash(&v), content_hash(&cheaper));
        assert_ne!(price_hash(&v), price_hash(&cheaper));

        let mut renamed = p.clone();
        renamed.name = "Tinh dầu quế Bắc Kạn".into();
        assert_ne!(product_hash(&p), product_hash(&renamed));
        let mut bigger = v.clone();
        bigger.option_values = vec!["50 ml".into()];
        assert_ne!(content_hash(&v), content_hash(&bigger));
        assert_eq!(content_hash(&v), content_hash(&variant()));
    }
}
