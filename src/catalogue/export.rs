//! Writing the catalogue back out in the import format (CSV or XLSX by extension),
//! so that importing an export changes nothing.
//!
//! An export carries where the ledger stood: `exported_stock` (each SKU's stock
//! on hand) and `ledger_mark` (the newest movement), hidden in XLSX. Importing
//! it reads each stock cell as a change from `exported_stock`, so what sold
//! between the export and the import stays sold.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Workbook, XlsxError};

use super::columns::Field;
use super::file::Format;
use super::number::mm_as_centimetres;
use crate::store::{CatalogueRow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{file}: {message}")]
    Target { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Exports every variant; returns the number of rows written.
pub async fn export_file(store: &dyn Store, path: &Path) -> Result<u64, ExportError> {
    let file = path.display().to_string();
    let fail = |message: String| ExportError::Target {
        file: file.clone(),
        message,
    };
    let format = Format::of(path).map_err(|p| fail(p.message))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dir = std::fs::canonicalize(&dir).map_err(|e| fail(format!("folder: {e}")))?;
    // Written beside the target and renamed over it, so a failed export leaves no half file.
    let temp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| fail(e.to_string()))?;
    let mut sink = match format {
        Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(
            temp.reopen().map_err(|e| fail(e.to_string()))?,
        ))),
        Format::Xlsx => {
            let mut book = Workbook::new();
            let sheet = book
                .add_worksheet_with_constant_memory()
                .map_err(|e| fail(e.to_string()))?;
            // The export mark is for chosync, not for editing: hidden, before
            // the first row is streamed out.
            for (col, field) in Field::ALL.iter().enumerate() {
                if Field::EXPORT_MARK.contains(field) {
                    sheet
                        .set_column_hidden(col as u16)
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            Sink::Xlsx(Box::new(book), 0)
        }
    };
    sink.row(
        Field::ALL
            .iter()
            .map(|f| Cell::Text(f.name().to_string()))
            .collect(),
    )
    .map_err(&fail)?;
    let written = store
        .for_each_catalogue_row(&mut |row| sink.row(cells(&row, &dir)))
        .await
        .map_err(|err| match err {
            StoreError::Aborted(message) => fail(message),
            other => ExportError::Store(other),
        })?;
    sink.finish(temp.path()).map_err(&fail)?;
    temp.persist(path).map_err(|e| fail(e.to_string()))?;
    Ok(written)
}

enum Cell {
    Text(String),
    Number(i64),
}

fn cells(row: &CatalogueRow, dir: &Path) -> Vec<Cell> {
    let (p, v) = (&row.product, &row.variant);
    let text = |s: &str| Cell::Text(s.to_string());
    let opt = |n: Option<i64>| n.map_or(Cell::Text(String::new()), Cell::Number);
    let cm = |n: Option<i64>| Cell::Text(n.map(mm_as_centimetres).unwrap_or_default());
    let nth = |list: &[String], i: usize| text(list.get(i).map_or("", String::as_str));
    Field::ALL
        .iter()
        .map(|field| match field {
            Field::ProductId => text(&p.product_id),
            Field::Name => text(&p.name),
            Field::Description => text(&p.description),
            Field::Category => text(&p.category),
            Field::Brand => text(&p.brand),
            Field::Sku => text(&v.sku),
            Field::Option1Name => nth(&p.option_names, 0),
            Field::Option1Value => nth(&v.option_values, 0),
            Field::Option2Name => nth(&p.option_names, 1),
            Field::Option2Value => nth(&v.option_values, 1),
            Field::Price => Cell::Number(v.price),
            Field::Stock => Cell::Number(row.on_hand),
            Field::WeightG => opt(v.weight_g),
            Field::LengthCm => cm(v.length_mm),
            Field::WidthCm => cm(v.width_mm),
            Field::HeightCm => cm(v.height_mm),
            Field::Barcode => text(v.barcode.as_deref().unwrap_or("")),
            Field::Images => Cell::Text(
                v.images
                    .iter()
                    .map(|image| relative_to(image, dir))
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            Field::Origin => text(&p.origin),
            Field::Status => text(p.status.as_str()),
            Field::ExportedStock => Cell::Number(row.on_hand),
            Field::LedgerMark => Cell::Number(row.ledger_mark),
        })
        .collect()
}

/// Local images under the export's folder are written relative to it, as a
/// cooperative keeps its photos beside the sheet.
fn relative_to(image: &str, dir: &Path) -> String {
    if image.contains("://") {
        return image.to_string();
    }
    Path::new(image).strip_prefix(dir).map_or_else(
        |_| image.to_string(),
        |rel| rel.to_string_lossy().into_owned(),
    )
}

enum Sink {
    Csv(Box<csv::Writer<std::fs::File>>),
    Xlsx(Box<Workbook>, u32),
}

impl Sink {
    fn row(&mut self, cells: Vec<Cell>) -> Result<(), String> {
        match self {
            Sink::Csv(w) => {
                let fields = cells.into_iter().map(|c| match c {
                    Cell::Text(s) => s,
                    Cell::Number(n) => n.to_string(),
                });
                w.write_record(fields).map_err(|e| e.to_string())
            }
            Sink::Xlsx(book, row) => {
                let sheet = book.worksheet_from_index(0).map_err(|e| e.to_string())?;
                for (col, cell) in cells.into_iter().enumerate() {
                    let col = col as u16;
                    let written = match cell {
                        Cell::Text(s) if s.is_empty() => continue,
                        Cell::Text(s) => sheet.write_string(*row, col, s).map(|_| ()),
                        Cell::Number(n) => sheet.write_number(*row, col, n as f64).map(|_| ()),
                    };
                    written.map_err(|e: XlsxError| e.to_string())?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn finish(self, path: &Path) -> Result<(), String> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(|e| e.to_string()),
            Sink::Xlsx(mut book, _) => book.save(path).map_err(|e| e.to_string()),
        }
    }
}
