//! Products and their variants. Every write goes through the catalogue
//! import — the same validation, ledger and outbox — as a one-product sheet.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Page, audited, page_size};
use crate::api::ApiState;
use crate::api::error::{ApiError, Body, Params};
use crate::catalogue::columns::letter;
use crate::catalogue::import::{ImportError, ImportReport, NoProgress, import_file};
use crate::catalogue::number::mm_as_centimetres;
use crate::store::{CatalogueRow, ProductFilter};

/// A product with its variants (SKUs), stock included.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub product_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub brand: String,
    pub origin: String,
    /// active | inactive
    pub status: String,
    pub option_names: Vec<String>,
    pub variants: Vec<VariantView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VariantView {
    pub sku: String,
    pub option_values: Vec<String>,
    /// Whole VND.
    pub price: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub weight_g: Option<i64>,
    pub length_mm: Option<i64>,
    pub width_mm: Option<i64>,
    pub height_mm: Option<i64>,
    pub barcode: Option<String>,
    pub images: Vec<String>,
}

/// A product as written: every field of the catalogue file.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Required when creating; taken from the path when updating.
    #[serde(default)]
    pub product_id: Option<String>,
    pub name: String,
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub origin: String,
    /// active (default) | inactive
    #[serde(default)]
    pub status: Option<String>,
    /// Up to two option axes (e.g. "Dung tích").
    #[serde(default)]
    pub option_names: Vec<String>,
    /// Variants not listed in an update are kept as they are.
    pub variants: Vec<VariantInput>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    pub sku: String,
    #[serde(default)]
    pub option_values: Vec<String>,
    /// Whole VND, > 0.
    pub price: i64,
    /// A new SKU starts with this stock; for a SKU already in the catalogue
    /// it is a count (the ledger records the difference). Leave it out to
    /// keep the stock as it is (use the stock adjustment for corrections).
    #[serde(default)]
    pub stock: Option<i64>,
    #[serde(default)]
    pub weight_g: Option<i64>,
    #[serde(default)]
    pub length_mm: Option<i64>,
    #[serde(default)]
    pub width_mm: Option<i64>,
    #[serde(default)]
    pub height_mm: Option<i64>,
    #[serde(default)]
    pub barcode: Option<String>,
    /// http(s) URLs.
    #[serde(default)]
    pub images: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Part of a name, product id or SKU.
    pub q: Option<String>,
    pub category: Option<String>,
    /// active | inactive
    pub status: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Products per page (1–1000, default 100).
    pub limit: Option<i64>,
}

/// The products, by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalogue", params(ProductQuery),
    responses((status = 200, body = Page<ProductView>), (status = 401, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    Params(query): Params<ProductQuery>,
) -> Result<Json<Page<ProductView>>, ApiError> {
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "active" | "inactive")
    {
        return Err(ApiError::invalid("status is active or inactive"));
    }
    let limit = page_size(query.limit);
    let rows = state
        .store
        .catalogue_page(&ProductFilter {
            after: query.cursor,
            category: query.category,
            status: query.status,
            text: query.q.filter(|q| !q.trim().is_empty()),
            product_id: None,
            limit,
        })
        .await?;
    let items = group(rows);
    Ok(Json(Page::new(items, limit, |p| p.product_id.clone())))
}

/// One product with its variants.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductView), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    Ok(Json(
        find(&state, &id).await?.ok_or_else(|| no_product(&id))?,
    ))
}

/// Adds a product (and its variants) to the catalogue.
#[utoipa::path(post, path = "/api/v1/products", tag = "catalogue", request_body = ProductInput,
    responses((status = 201, body = ProductView), (status = 409, body = crate::api::error::ErrorBody),
        (status = 422, body = crate::api::error::ErrorBody, description = "what is wrong, per variant and field")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    Body(input): Body<ProductInput>,
) -> Result<Response, ApiError> {
    let id = input
        .product_id
        .clone()
        .ok_or_else(|| ApiError::invalid("product_id is required"))?;
    if find(&state, &id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("product {id} exists already; update it with PUT /api/v1/products/{id}"),
        ));
    }
    let report = write(&state, &id, &input).await?;
    super::wake_all(&state);
    let product = find(&state, &id).await?.ok_or_else(|| no_product(&id))?;
    Ok(audited(
        (StatusCode::CREATED, Json(product)),
        format!("created product {id} ({} SKUs)", report.skus.created),
    ))
}

/// Replaces a product's fields and the variants given (others are kept).
#[utoipa::path(put, path = "/api/v1/products/{id}", tag = "catalogue", request_body = ProductInput,
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductView), (status = 404, body = crate::api::error::ErrorBody),
        (status = 422, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(input): Body<ProductInput>,
) -> Result<Response, ApiError> {
    if input.product_id.as_ref().is_some_and(|given| *given != id) {
        return Err(ApiError::invalid(
            "product_id in the body differs from the path; a product's id does not change",
        ));
    }
    if find(&state, &id).await?.is_none() {
        return Err(no_product(&id));
    }
    let report = write(&state, &id, &input).await?;
    super::wake_all(&state);
    let product = find(&state, &id).await?.ok_or_else(|| no_product(&id))?;
    Ok(audited(
        Json(product),
        format!(
            "updated product {id} ({} SKUs changed, {} added)",
            report.skus.updated, report.skus.created
        ),
    ))
}

/// Stops selling a product: its status becomes inactive (it stays in the
/// catalogue, and the channels delist it).
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductView), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn deactivate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let product = find(&state, &id).await?.ok_or_else(|| no_product(&id))?;
    let inactive = ProductInput {
        product_id: None,
        status: Some("inactive".into()),
        variants: product
            .variants
            .into_iter()
            .map(|v| VariantInput {
                sku: v.sku,
                option_values: v.option_values,
                price: v.price,
                stock: None,
                weight_g: v.weight_g,
                length_mm: v.length_mm,
                width_mm: v.width_mm,
                height_mm: v.height_mm,
                barcode: v.barcode,
                images: v.images,
            })
            .collect(),
        name: product.name,
        description: product.description,
        category: product.category,
        brand: product.brand,
        origin: product.origin,
        option_names: product.option_names,
    };
    let bytes = sheet(&id, &inactive).map_err(|err| ApiError::internal(&err))?;
    import_bytes(&state, "product.csv", &bytes, false)
        .await
        .map_err(|err| problems(err, &[]))?;
    super::wake_all(&state);
    let product = find(&state, &id).await?.ok_or_else(|| no_product(&id))?;
    Ok(audited(Json(product), format!("deactivated product {id}")))
}

fn no_product(id: &str) -> ApiError {
    ApiError::not_found(format!("no product \"{id}\""))
}

async fn find(state: &ApiState, id: &str) -> Result<Option<ProductView>, ApiError> {
    let rows = state
        .store
        .catalogue_page(&ProductFilter {
            product_id: Some(id.to_string()),
            limit: 1,
            ..ProductFilter::default()
        })
        .await?;
    Ok(group(rows).pop())
}

/// Rows (one per variant, by product) as products.
fn group(rows: Vec<CatalogueRow>) -> Vec<ProductView> {
    let mut products: Vec<ProductView> = Vec::new();
    for row in rows {
        let variant = VariantView {
            sku: row.variant.sku,
            option_values: row.variant.option_values,
            price: row.variant.price,
            on_hand: row.on_hand,
            reserved: row.reserved,
            weight_g: row.variant.weight_g,
            length_mm: row.variant.length_mm,
            width_mm: row.variant.width_mm,
            height_mm: row.variant.height_mm,
            barcode: row.variant.barcode,
            images: row.variant.images,
        };
        match products.last_mut() {
            Some(last) if last.product_id == row.product.product_id => last.variants.push(variant),
            _ => products.push(ProductView {
                product_id: row.product.product_id,
                name: row.product.name,
                description: row.product.description,
                category: row.product.category,
                brand: row.product.brand,
                origin: row.product.origin,
                status: row.product.status.as_str().to_string(),
                option_names: row.product.option_names,
                variants: vec![variant],
            }),
        }
    }
    products
}

/// The sheet's columns, in order: a problem's column letter names the field.
const COLUMNS: [&str; 20] = [
    "product_id",
    "name",
    "description",
    "category",
    "brand",
    "origin",
    "status",
    "option1_name",
    "option2_name",
    "sku",
    "option1_value",
    "option2_value",
    "price",
    "stock",
    "weight_g",
    "length_cm",
    "width_cm",
    "height_cm",
    "barcode",
    "images",
];

/// Writes `input` as product `id` through the import.
async fn write(state: &ApiState, id: &str, input: &ProductInput) -> Result<ImportReport, ApiError> {
    if input.variants.is_empty() {
        return Err(ApiError::invalid("a product needs at least one variant"));
    }
    if input.option_names.len() > 2 {
        return Err(ApiError::invalid("a product has at most two option names"));
    }
    for (index, variant) in input.variants.iter().enumerate() {
        if let Some(image) = variant
            .images
            .iter()
            .find(|i| !(i.starts_with("https://") || i.starts_with("http://")) || i.contains('|'))
        {
            return Err(ApiError::invalid(format!(
                "variants[{index}].images: {image:?} is not an http(s) URL"
            ))
            .with_details(
                json!([{ "variant": index, "sku": variant.sku, "field": "images",
                "reason": "images are given as http(s) URLs" }]),
            ));
        }
    }
    let skus: Vec<&str> = input.variants.iter().map(|v| v.sku.as_str()).collect();
    let bytes = sheet(id, input).map_err(|err| ApiError::internal(&err))?;
    import_bytes(state, "product.csv", &bytes, false)
        .await
        .map_err(|err| problems(err, &skus))
}

fn sheet(id: &str, input: &ProductInput) -> Result<Vec<u8>, csv::Error> {
    let mut sheet = csv::Writer::from_writer(Vec::new());
    sheet.write_record(COLUMNS)?;
    let name = |i: usize| input.option_names.get(i).cloned().unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let cm = |n: Option<i64>| n.map(mm_as_centimetres).unwrap_or_default();
    for v in &input.variants {
        let value = |i: usize| v.option_values.get(i).cloned().unwrap_or_default();
        sheet.write_record([
            id.to_string(),
            input.name.clone(),
            input.description.clone(),
            input.category.clone(),
            input.brand.clone(),
            input.origin.clone(),
            input.status.clone().unwrap_or_else(|| "active".into()),
            name(0),
            name(1),
            v.sku.clone(),
            value(0),
            value(1),
            v.price.to_string(),
            number(v.stock),
            number(v.weight_g),
            cm(v.length_mm),
            cm(v.width_mm),
            cm(v.height_mm),
            v.barcode.clone().unwrap_or_default(),
            v.images.join("|"),
        ])?;
    }
    sheet
        .into_inner()
        .map_err(|err| csv::Error::from(err.into_error()))
}

/// Imports a sheet held in memory (written to a private temporary file).
pub(crate) async fn import_bytes(
    state: &ApiState,
    name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    let dir = tempfile::tempdir().map_err(|err| ImportError::Interrupted(err.to_string()))?;
    let path = dir.path().join(name);
    tokio::fs::write(&path, bytes)
        .await
        .map_err(|err| ImportError::Interrupted(err.to_string()))?;
    import_file(
        state.store.as_ref(),
        &path,
        dry_run,
        std::sync::Arc::new(NoProgress),
    )
    .await
}

/// An import's problems as the product's fields: `variant` is the index in
/// `variants` (the sheet's row 2 is the first), `field` the JSON field.
fn problems(err: ImportError, skus: &[&str]) -> ApiError {
    match err {
        ImportError::Invalid { problems, .. } => {
            let details: Vec<_> = problems
                .iter()
                .map(|p| {
                    let variant = p.row.and_then(|r| r.checked_sub(2));
                    let field = p.column.as_ref().and_then(|letter_of| {
                        (0..COLUMNS.len())
                            .find(|i| letter(*i) == *letter_of)
                            .map(|i| json_field(COLUMNS[i]))
                    });
                    json!({
                        "variant": variant,
                        "sku": variant.and_then(|v| skus.get(v as usize)),
                        "field": field,
                        "reason": p.message,
                    })
                })
                .collect();
            ApiError::invalid(format!(
                "{} problem(s); nothing was written",
                problems.len()
            ))
            .with_details(json!(details))
        }
        ImportError::Store(err) => err.into(),
        ImportError::Interrupted(message) => ApiError::internal(&message),
    }
}

/// The JSON field a sheet column stands for.
fn json_field(column: &str) -> String {
    match column {
        "option1_name" => "option_names[0]".into(),
        "option2_name" => "option_names[1]".into(),
        "option1_value" => "option_values[0]".into(),
        "option2_value" => "option_values[1]".into(),
        "length_cm" => "length_mm".into(),
        "width_cm" => "width_mm".into(),
        "height_cm" => "height_mm".into(),
        other => other.to_string(),
    }
}
