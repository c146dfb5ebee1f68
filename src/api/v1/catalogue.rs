//! The whole catalogue as a file: upload (CSV or XLSX, all or nothing, the
//! import's problems row by row) and export.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::audited;
use super::products::import_bytes;
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::catalogue::export::export_file;
use crate::catalogue::import::{ImportError, ImportReport};

/// Largest catalogue file accepted (a 50,000-SKU sheet is well under it).
pub const UPLOAD_LIMIT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Check and report what would change, without writing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The catalogue file as a multipart form's `file` part.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// A .csv (UTF-8) or .xlsx file in the catalogue format.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Imports a catalogue file: every row or none. A refused file answers 422
/// with each problem's row, column and reason.
#[utoipa::path(post, path = "/api/v1/catalogue", tag = "catalogue", params(UploadQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportReport),
        (status = 422, body = crate::api::error::ErrorBody, description = "details: [{row, column, reason}]"),
        (status = 413, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<ApiState>,
    Params(query): Params<UploadQuery>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(multipart)? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("catalogue.csv").to_string();
            let bytes = field.bytes().await.map_err(multipart)?;
            file = Some((name, bytes));
        }
    }
    let (name, bytes) = file.ok_or_else(|| {
        ApiError::bad_request("send the catalogue as a multipart form field named `file`")
    })?;
    let report = import_bytes(&state, &upload_name(&name), &bytes, query.dry_run)
        .await
        .map_err(|err| refused(err, &name))?;
    if !query.dry_run {
        super::wake_all(&state);
    }
    let summary = summary(&report, &name);
    Ok(if query.dry_run {
        axum::Json(report).into_response()
    } else {
        audited(axum::Json(report), summary)
    })
}

/// The name an uploaded file is imported under: only the extension of the
/// name the client gave is kept (it tells CSV from XLSX).
pub fn upload_name(given: &str) -> String {
    let extension = std::path::Path::new(given)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    format!("upload.{extension}")
}

fn summary(report: &ImportReport, name: &str) -> String {
    format!(
        "imported {name}: {} rows, products +{} ~{}, SKUs +{} ~{}, {} stock movements",
        report.rows,
        report.products.created,
        report.products.updated,
        report.skus.created,
        report.skus.updated,
        report.stock_movements
    )
}

fn multipart(err: axum::extract::multipart::MultipartError) -> ApiError {
    let status = err.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "too_large"
    } else {
        "bad_request"
    };
    ApiError::new(status, code, err.body_text())
}

fn refused(err: ImportError, name: &str) -> ApiError {
    match err {
        ImportError::Invalid {
            problems, warnings, ..
        } => ApiError::invalid(format!(
            "{name}: {} problem(s); nothing was imported",
            problems.len()
        ))
        .with_details(json!({
            "problems": problems.iter().map(|p| json!({
                "row": p.row, "column": p.column, "reason": p.message,
            })).collect::<Vec<_>>(),
            "warnings": warnings,
        })),
        ImportError::Store(err) => err.into(),
        ImportError::Interrupted(message) => ApiError::internal(&message),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// csv (default) | xlsx
    pub format: Option<String>,
}

/// The catalogue in the import format; importing it back changes nothing.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue", params(ExportQuery),
    responses((status = 200, description = "the catalogue file", content_type = "text/csv")),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<ApiState>,
    Params(query): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let (extension, content_type) = match query.format.as_deref().unwrap_or("csv") {
        "csv" => ("csv", "text/csv; charset=utf-8"),
        "xlsx" => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        other => {
            return Err(ApiError::invalid(format!(
                "format {other:?}: use csv or xlsx"
            )));
        }
    };
    let dir = tempfile::tempdir().map_err(|err| ApiError::internal(&err))?;
    let path = dir.path().join(format!("catalogue.{extension}"));
    export_file(state.store.as_ref(), &path)
        .await
        .map_err(|err| ApiError::internal(&err))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|err| ApiError::internal(&err))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"catalogue.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
