//! What the "platform" holds: the channel's listings with everything the
//! sheet shows, persisted as JSON beside the sheet (`.chosync/<file>.state.json`)
//! so a restart finds the shop as it was. The sheet is rendered from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chosync_connector::dto::{ListingDraft, RemoteListing, RemoteVariant};
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::table::FileError;

/// One listing as the channel holds it; the listing id is its product key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldListing {
    pub product_key: String,
    pub title: String,
    pub description: String,
    pub category_id: String,
    pub brand: Option<String>,
    pub images: Vec<String>,
    pub weight_g: i64,
    pub option_names: Vec<String>,
    pub listed: bool,
    /// Sorted by SKU.
    pub variants: Vec<HeldVariant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldVariant {
    pub sku: String,
    pub option_values: Vec<String>,
    pub price: i64,
    pub stock: i64,
}

impl HeldListing {
    /// The draft's content; variants the listing already holds keep their
    /// price and stock (those change through `set_price`/`set_stock`), new
    /// ones take the draft's, and variants not in the draft are dropped.
    pub fn from_draft(draft: &ListingDraft, before: Option<&HeldListing>) -> Self {
        let mut variants: Vec<HeldVariant> = draft
            .variants
            .iter()
            .map(|v| {
                let held = before.and_then(|b| b.variant(&v.sku));
                HeldVariant {
                    sku: v.sku.clone(),
                    option_values: v.option_values.clone(),
                    price: held.map_or(v.price, |h| h.price),
                    stock: held.map_or(v.stock, |h| h.stock),
                }
            })
            .collect();
        variants.sort_by(|a, b| a.sku.cmp(&b.sku));
        variants.dedup_by(|a, b| a.sku == b.sku);
        Self {
            product_key: draft.product_key.clone(),
            title: draft.title.clone(),
            description: draft.description.clone(),
            category_id: draft.category_id.clone(),
            brand: draft.brand.clone(),
            images: draft.images.clone(),
            weight_g: draft.weight_g,
            option_names: draft.option_names.clone(),
            listed: draft.listed,
            variants,
        }
    }

    pub fn variant(&self, sku: &str) -> Option<&HeldVariant> {
        self.variants.iter().find(|v| v.sku == sku)
    }

    pub fn variant_mut(&mut self, sku: &str) -> Option<&mut HeldVariant> {
        self.variants.iter_mut().find(|v| v.sku == sku)
    }

    /// The listing as chosync sees a platform's: ids are the product key
    /// and the SKU; the status is the sheet's word for it.
    pub fn remote(&self, (listed, unlisted): (&str, &str)) -> RemoteListing {
        RemoteListing {
            listing_id: self.product_key.clone(),
            listing_sku: Some(self.product_key.clone()),
            status: if self.listed { listed } else { unlisted }.to_owned(),
            title: self.title.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| RemoteVariant {
                    sku: v.sku.clone(),
                    variant_id: v.sku.clone(),
                    price: v.price,
                    stock: v.stock,
                    ..RemoteVariant::default()
                })
                .collect(),
        }
    }
}

/// Every listing held, by product key.
pub type Listings = BTreeMap<String, HeldListing>;

/// The file's shape; `version` lets a later crate read an older file.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    listings: Vec<HeldListing>,
}

const VERSION: u32 = 1;

/// Where the state of the sheet `file` in `folder` lives.
pub fn state_path(folder: &Path, file: &str) -> PathBuf {
    folder.join(".chosync").join(format!("{file}.state.json"))
}

/// The listings saved at `path`; none when there is no file yet (a new
/// shop). An unreadable file is an error, never an empty shop: that would
/// make chosync create every listing again.
pub fn load(path: &Path) -> Result<Listings, FileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listings::new()),
        Err(e) => return Err(FileError::new(path, e)),
    };
    let file: StateFile = serde_json::from_slice(&bytes)
        .map_err(|e| FileError::new(path, format!("not a channel state file: {e}")))?;
    if file.version != VERSION {
        return Err(FileError::new(
            path,
            format!("state version {} is not {VERSION}", file.version),
        ));
    }
    Ok(file
        .listings
        .into_iter()
        .map(|l| (l.product_key.clone(), l))
        .collect())
}

/// Saves `listings` at `path` atomically, creating its folder (but not the
/// channel folder above it: a missing one is a mistake or an unmounted share).
pub fn save(path: &Path, listings: &Listings) -> Result<(), FileError> {
    let file = StateFile {
        version: VERSION,
        listings: listings.values().cloned().collect(),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(|e| FileError::new(path, e))?;
    if let Some(folder) = path.parent() {
        match std::fs::create_dir(folder) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(FileError::new(folder, e));
            }
            _ => {}
        }
    }
    write_atomically(path, &bytes).map_err(|e| FileError::new(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_state_file_is_an_empty_shop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = load(&state_path(dir.path(), "s.csv")).expect("load");
        assert!(loaded.is_empty());
    }

    #[test]
    fn an_unreadable_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = state_path(dir.path(), "s.csv");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{ half a file").expect("write");
        let err = load(&path).expect_err("must refuse");
        assert!(err.to_string().contains("s.csv.state.json"), "{err}");
    }

    #[test]
    fn saved_listings_load_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = state_path(dir.path(), "s.csv");
        let listing = HeldListing {
            product_key: "CHE-01".into(),
            title: "Chè Thái Nguyên".into(),
            description: String::new(),
            category_id: "12".into(),
            brand: None,
            images: vec![],
            weight_g: 200,
            option_names: vec![],
            listed: true,
            variants: vec![HeldVariant {
                sku: "CHE-01-200".into(),
                option_values: vec![],
                price: 85_000,
                stock: 4,
            }],
        };
        let listings: Listings = [("CHE-01".to_owned(), listing)].into();
        save(&path, &listings).expect("save");
        assert_eq!(load(&path).expect("load"), listings);
    }
}
