//! The desired listing of a product on a channel: catalogue × rules × mapping,
//! with images hosted by the platform.

use std::collections::HashMap;
use std::path::Path;

use chosync_connector::dto::{ListingDraft, VariantDraft};
use sha2::{Digest, Sha256};

use super::{Channel, RenderError};
use crate::catalogue::model::Status;
use crate::channels::client::ChannelClient;
use crate::store::{CatalogueRow, Store};

pub struct Rendered {
    pub draft: ListingDraft,
    /// Of everything but price and stock, which have their own calls.
    pub content_hash: String,
    pub prices: HashMap<String, i64>,
    /// Wanted, which a partitioned SKU's listing may carry less of.
    pub stocks: HashMap<String, i64>,
}

/// Marketplaces take at most 8 or 9 images; the first 8 are kept.
const MAX_IMAGES: usize = 8;

/// `images` maps a catalogue image to the channel's reference for it; uploads
/// made here are added to it (and saved). `stocks`: per SKU, the stock the
/// listing carries and the stock wanted (see `Pass::listing_stocks`).
pub async fn listing(
    store: &dyn Store,
    channel: &Channel<'_>,
    images: &mut HashMap<String, String>,
    rows: &[CatalogueRow],
    stocks: &HashMap<String, (i64, i64)>,
) -> Result<Rendered, RenderError> {
    let Some(first) = rows.first() else {
        return Err(RenderError::Refused("the product has no SKUs".into()));
    };
    let product = &first.product;
    let category = channel.mapping.category(&product.category).ok_or_else(|| {
        RenderError::Refused(format!(
            "category \"{}\" is not mapped for channel {} (add it to its mapping file)",
            product.category, channel.settings.id
        ))
    })?;
    let mut sources: Vec<&str> = Vec::new();
    for row in rows {
        for image in &row.variant.images {
            if !sources.contains(&image.as_str()) {
                sources.push(image);
            }
        }
    }
    sources.truncate(MAX_IMAGES);
    if sources.is_empty() {
        return Err(RenderError::Refused(
            "the product has no images; marketplaces require one".into(),
        ));
    }
    let mut hosted = Vec::new();
    for source in sources {
        hosted.push(hosted_image(store, channel, images, source).await?);
    }
    let (mut prices, mut wanted_stocks) = (HashMap::new(), HashMap::new());
    let variants: Vec<VariantDraft> = rows
        .iter()
        .map(|row| {
            let sku = row.variant.sku.clone();
            let price = channel.settings.price.apply(&sku, row.variant.price);
            let (stock, wanted) = stocks.get(&sku).copied().unwrap_or_else(|| {
                let stock = channel.settings.stock.apply(row.on_hand - row.reserved);
                (stock, stock)
            });
            prices.insert(sku.clone(), price);
            wanted_stocks.insert(sku.clone(), wanted);
            Ok(VariantDraft {
                option_values: option_values(category, product, &sku, &row.variant.option_values)?,
                sku,
                price,
                stock,
            })
        })
        .collect::<Result<_, RenderError>>()?;
    let cm = |mm: Option<i64>| mm.map(|mm| (mm + 9) / 10);
    let dimensions_cm = rows.iter().find_map(|r| {
        Some([
            cm(r.variant.length_mm)?,
            cm(r.variant.width_mm)?,
            cm(r.variant.height_mm)?,
        ])
    });
    let draft = ListingDraft {
        product_key: product.product_id.clone(),
        title: product.name.clone(),
        description: product.description.clone(),
        category_id: category.id.clone(),
        brand: channel.mapping.brand.clone(),
        attributes: category
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        images: hosted,
        weight_g: rows.iter().find_map(|r| r.variant.weight_g).unwrap_or(100),
        dimensions_cm,
        logistics: channel.mapping.logistics.clone(),
        option_names: product
            .option_names
            .iter()
            .map(|name| category.options.get(name).map_or(name, |o| &o.id).clone())
            .collect(),
        variants,
        listed: product.status == Status::Active,
    };
    let content_hash = content_hash(&draft);
    Ok(Rendered {
        draft,
        content_hash,
        prices,
        stocks: wanted_stocks,
    })
}

/// A variant's option values as the channel takes them: the platform's
/// option ids where the mapping gives the option (Sendo), else as they are.
fn option_values(
    category: &crate::channels::mapping::CategoryMap,
    product: &crate::catalogue::model::Product,
    sku: &str,
    values: &[String],
) -> Result<Vec<String>, RenderError> {
    product
        .option_names
        .iter()
        .zip(values)
        .map(|(name, value)| match category.options.get(name) {
            None => Ok(value.clone()),
            Some(option) => option.values.get(value).cloned().ok_or_else(|| {
                RenderError::Refused(format!(
                    "SKU {sku}: option \"{name}\" value \"{value}\" has no id in the channel's mapping (categories.\"{}\".options.\"{name}\".values)",
                    product.category
                ))
            }),
        })
        .collect()
}

/// The draft without price and stock, hashed.
fn content_hash(draft: &ListingDraft) -> String {
    let mut content = draft.clone();
    for variant in &mut content.variants {
        variant.price = 0;
        variant.stock = 0;
    }
    hex::encode(Sha256::digest(format!("{content:?}").as_bytes()))
}

/// The platform's reference for an image: uploaded (or migrated) once per channel.
async fn hosted_image(
    store: &dyn Store,
    channel: &Channel<'_>,
    known: &mut HashMap<String, String>,
    source: &str,
) -> Result<String, RenderError> {
    let id = &channel.settings.id;
    if let Some(hosted) = known.get(source) {
        return Ok(hosted.clone());
    }
    let by_url = matches!(
        channel.client,
        ChannelClient::Sendo(_) | ChannelClient::Voso(_)
    );
    let hosted = if by_url {
        // These platforms take image URLs only, and fetch them themselves.
        published_url(channel.settings, source)?
    } else if let ChannelClient::Spreadsheet(_) = channel.client {
        // A bulk sheet names images as the seller centre takes them: URLs
        // where the cooperative publishes them, else as the catalogue says.
        match &channel.settings.image_base_url {
            Some(_) => published_url(channel.settings, source)?,
            None => source.to_string(),
        }
    } else if source.contains("://") {
        match channel.client {
            ChannelClient::Lazada(lazada) => lazada
                .lazada_images(&[source.to_string()])
                .await
                .map_err(failure)?
                .into_iter()
                .next()
                .ok_or_else(|| RenderError::Refused(format!("image {source} was not migrated")))?,
            _ => {
                return Err(RenderError::Refused(format!(
                    "Shopee takes uploaded image files; {source} is a URL (give the file instead)"
                )));
            }
        }
    } else {
        let bytes = std::fs::read(source)
            .map_err(|e| RenderError::Refused(format!("image {source} cannot be read: {e}")))?;
        let name = Path::new(source).file_name().map_or_else(
            || "image.jpg".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        channel
            .client
            .connector()
            .upload_image(&name, bytes)
            .await
            .map_err(failure)?
    };
    store
        .save_channel_image(id, source, &hosted)
        .await
        .map_err(RenderError::Store)?;
    known.insert(source.to_string(), hosted.clone());
    Ok(hosted)
}

/// An image as a public URL: a URL as it is, a file under the channel's
/// `image_base_url` (where the cooperative publishes its image files).
fn published_url(
    settings: &crate::channels::ChannelSettings,
    source: &str,
) -> Result<String, RenderError> {
    if source.contains("://") {
        return Ok(source.to_string());
    }
    let Some(base) = &settings.image_base_url else {
        return Err(RenderError::Refused(format!(
            "image {source} is a file and this platform takes image URLs only: publish the images and set channels.{}.image_base_url",
            settings.id
        )));
    };
    let name = Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| RenderError::Refused(format!("image {source} names no file")))?;
    Ok(format!("{}/{name}", base.trim_end_matches('/')))
}

fn failure(err: chosync_connector::ConnectorError) -> RenderError {
    match err {
        chosync_connector::ConnectorError::Rejected { .. } => RenderError::Refused(err.to_string()),
        other => RenderError::Failed(other),
    }
}
