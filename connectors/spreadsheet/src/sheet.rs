//! The bulk-upload sheet: rows rendered from the listings held, one per
//! variant, written as CSV or XLSX atomically, and read back.

use std::path::Path;

use rust_xlsxwriter::Workbook;

use crate::atomic::write_atomically;
use crate::layout::{Column, FileFormat, NumberFormat, SheetLayout, Value};
use crate::state::{HeldListing, HeldVariant};
use crate::table::{FileError, TableRow, read_table};
use crate::text::same_words;

/// One cell as written: XLSX keeps the difference, CSV writes both as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Always a text cell, so a SKU such as "00123" stays itself.
    Text(String),
    Number(i64),
}

/// The sheet's rows under its header: one per variant, by product key,
/// then SKU (the listings come by product key, their variants by SKU).
pub fn render<'a>(
    layout: &SheetLayout,
    listings: impl IntoIterator<Item = &'a HeldListing>,
) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for listing in listings {
        for variant in &listing.variants {
            rows.push(
                layout
                    .columns
                    .iter()
                    .map(|c| cell(layout, c, listing, variant))
                    .collect(),
            );
        }
    }
    rows
}

fn cell(
    layout: &SheetLayout,
    column: &Column,
    listing: &HeldListing,
    variant: &HeldVariant,
) -> Cell {
    let Some(value) = column.value else {
        return Cell::Text(column.text.clone().unwrap_or_default());
    };
    let text = |s: &str| Cell::Text(s.to_owned());
    let nth = |list: &[String], i: usize| Cell::Text(list.get(i).cloned().unwrap_or_default());
    let number = |n: i64| match column.format.unwrap_or_default() {
        NumberFormat::Integer => Cell::Number(n),
        NumberFormat::Dotted => Cell::Text(dotted(n)),
    };
    match value {
        Value::Sku => text(&variant.sku),
        Value::ProductKey => text(&listing.product_key),
        Value::Title => text(&listing.title),
        Value::Description => text(&listing.description),
        Value::Category => text(&listing.category_id),
        Value::Brand => text(listing.brand.as_deref().unwrap_or_default()),
        Value::Price => number(variant.price),
        Value::Stock => number(variant.stock),
        Value::Status => {
            let (listed, unlisted) = layout.status_words();
            text(if listing.listed { listed } else { unlisted })
        }
        Value::Option1Name => nth(&listing.option_names, 0),
        Value::Option1Value => nth(&variant.option_values, 0),
        Value::Option2Name => nth(&listing.option_names, 1),
        Value::Option2Value => nth(&variant.option_values, 1),
        Value::WeightG => Cell::Number(listing.weight_g),
        image => nth(&listing.images, image.image_index().unwrap_or(usize::MAX)),
    }
}

/// `125000` as `125.000`, Vietnamese thousands separators.
pub fn dotted(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(digit);
    }
    out
}

/// Writes the header and `rows` to `path` in the layout's format, atomically.
pub fn write_sheet(layout: &SheetLayout, path: &Path, rows: &[Vec<Cell>]) -> Result<(), FileError> {
    let bytes = match layout.format() {
        Some(FileFormat::Csv) => csv_bytes(layout, rows),
        Some(FileFormat::Xlsx) => xlsx_bytes(layout, rows),
        None => Err("the layout's file is neither .csv nor .xlsx".to_owned()),
    }
    .map_err(|reason| FileError::new(path, reason))?;
    write_atomically(path, &bytes).map_err(|e| FileError::new(path, e))
}

/// UTF-8 with a byte order mark: Excel on Windows shows Vietnamese
/// diacritics garbled without it.
fn csv_bytes(layout: &SheetLayout, rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let header = layout.columns.iter().map(|c| c.header.as_str());
    writer.write_record(header).map_err(|e| e.to_string())?;
    for row in rows {
        let cells = row.iter().map(|cell| match cell {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
        });
        writer.write_record(cells).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

fn xlsx_bytes(layout: &SheetLayout, rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .set_name(&layout.sheet_name)
        .map_err(|e| e.to_string())?;
    for (col, column) in layout.columns.iter().enumerate() {
        let col = u16::try_from(col).map_err(|_| "too many columns".to_owned())?;
        sheet
            .write_string(0, col, &column.header)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| "too many rows".to_owned())?;
        for (col, cell) in row.iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| "too many columns".to_owned())?;
            match cell {
                Cell::Text(s) => sheet.write_string(r, col, s),
                // Whole VND and unit counts are far below f64's exact range.
                Cell::Number(n) => sheet.write_number(r, col, *n as f64),
            }
            .map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// A row of a written sheet as read back: what chosync compares with what
/// it pushed. A field is `None` when the layout has no column for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// The row number a spreadsheet shows (the header is row 1).
    pub row: usize,
    pub sku: String,
    pub title: Option<String>,
    pub price: Option<i64>,
    pub stock: Option<i64>,
    /// The status column read through the layout's words.
    pub listed: Option<bool>,
}

/// Reads a sheet written with `layout` (or edited by a person since: headers
/// are found by name, numbers read in either format).
pub fn read_sheet(layout: &SheetLayout, path: &Path) -> Result<Vec<SheetRow>, FileError> {
    let table = read_table(path, Some(&layout.sheet_name))?;
    let mut rows = table.iter();
    let header = rows
        .next()
        .ok_or_else(|| FileError::new(path, "the sheet is empty (no header row)"))?;
    let position = |value: Value| -> Result<Option<usize>, FileError> {
        let Some((_, column)) = layout.column_of(value) else {
            return Ok(None);
        };
        header
            .cells
            .iter()
            .position(|h| same_words(h, &column.header))
            .map(Some)
            .ok_or_else(|| FileError::new(path, format!("no column \"{}\"", column.header)))
    };
    let sku = position(Value::Sku)?
        .ok_or_else(|| FileError::new(path, "the layout has no `sku` column"))?;
    let (title, price, stock, status) = (
        position(Value::Title)?,
        position(Value::Price)?,
        position(Value::Stock)?,
        position(Value::Status)?,
    );
    let (listed, unlisted) = layout.status_words();
    rows.filter(|r| !r.is_blank())
        .map(|r| {
            let number = |at: Option<usize>, what: &str| -> Result<Option<i64>, FileError> {
                at.map(|c| {
                    read_number(r.cell(c)).ok_or_else(|| {
                        row_error(
                            path,
                            r,
                            format!("{what} \"{}\" is not a whole number", r.cell(c)),
                        )
                    })
                })
                .transpose()
            };
            let listed = status
                .map(|c| match r.cell(c) {
                    word if same_words(word, listed) => Ok(true),
                    word if same_words(word, unlisted) => Ok(false),
                    word => Err(row_error(
                        path,
                        r,
                        format!("status \"{word}\" is neither \"{listed}\" nor \"{unlisted}\""),
                    )),
                })
                .transpose()?;
            Ok(SheetRow {
                row: r.number,
                sku: r.cell(sku).to_owned(),
                title: title.map(|c| r.cell(c).to_owned()),
                price: number(price, "price")?,
                stock: number(stock, "stock")?,
                listed,
            })
        })
        .collect()
}

fn row_error(path: &Path, row: &TableRow, reason: String) -> FileError {
    FileError::new(path, format!("row {}: {reason}", row.number))
}

/// `125000`, `125.000` or `-1.000` as a number.
fn read_number(text: &str) -> Option<i64> {
    let text = text.trim();
    let grouped = text.contains('.')
        && text
            .trim_start_matches('-')
            .split('.')
            .enumerate()
            .all(|(i, group)| (i == 0 && (1..=3).contains(&group.len())) || group.len() == 3);
    if grouped {
        text.replace('.', "").parse().ok()
    } else {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_numbers_group_thousands_with_dots() {
        assert_eq!(dotted(0), "0");
        assert_eq!(dotted(999), "999");
        assert_eq!(dotted(125_000), "125.000");
        assert_eq!(dotted(1_250_000), "1.250.000");
        assert_eq!(dotted(-1_000), "-1.000");
    }

    #[test]
    fn numbers_read_back_in_either_format_and_nothing_else() {
        assert_eq!(read_number("125000"), Some(125_000));
        assert_eq!(read_number("125.000"), Some(125_000));
        assert_eq!(read_number("1.250.000"), Some(1_250_000));
        assert_eq!(read_number("-1.000"), Some(-1_000));
        assert_eq!(read_number("12.5"), None);
        assert_eq!(read_number("abc"), None);
    }
}
