//! Reading a CSV or XLSX file as rows of cell text, each with the row number
//! a spreadsheet shows (the header is row 1), for the written sheet's reader
//! and the inbox alike.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use chrono::{Duration, NaiveDate};

use crate::layout::FileFormat;
use crate::time::CELL_TIME_FORMAT;

/// A file that could not be read or written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub reason: String,
}

impl FileError {
    pub fn new(path: &Path, reason: impl ToString) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// One row of a table: its number as a spreadsheet shows it, and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub number: usize,
    pub cells: Vec<String>,
}

impl TableRow {
    pub fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", |c| c.trim())
    }

    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.trim().is_empty())
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Every row of the file; `sheet` names an XLSX worksheet (`None`: the first).
pub fn read_table(path: &Path, sheet: Option<&str>) -> Result<Vec<TableRow>, FileError> {
    match FileFormat::of(path) {
        Some(FileFormat::Csv) => read_csv(path),
        Some(FileFormat::Xlsx) => read_xlsx(path, sheet),
        None => Err(FileError::new(path, "neither .csv nor .xlsx")),
    }
}

fn read_csv(path: &Path) -> Result<Vec<TableRow>, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::new(path, e))?;
    let bytes = bytes.strip_prefix(BOM).unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    // A spreadsheet counts records and blank lines, not the line breaks inside quoted cells.
    let mut number = 0;
    for record in reader.records() {
        let record = record.map_err(|e| FileError::new(path, e))?;
        let start = record.position().map_or(0, |p| p.byte() as usize);
        number += 1 + blank_lines(bytes, start);
        rows.push(TableRow {
            number,
            cells: record.iter().map(str::to_owned).collect(),
        });
    }
    Ok(rows)
}

/// The blank lines the reader skipped before the record at `start`: its
/// position is where it started reading, before them (and, after a CRLF
/// record end, at the LF the CR already ended).
fn blank_lines(bytes: &[u8], start: usize) -> usize {
    let from = bytes.get(start..).unwrap_or_default();
    let after_cr = start > 0 && bytes.get(start - 1) == Some(&b'\r');
    let from = match from.split_first() {
        Some((b'\n', rest)) if after_cr => rest,
        _ => from,
    };
    from.iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count()
}

fn read_xlsx(path: &Path, sheet: Option<&str>) -> Result<Vec<TableRow>, FileError> {
    let mut book = open_workbook_auto(path).map_err(|e| FileError::new(path, e))?;
    let name = match sheet {
        Some(name) => name.to_owned(),
        None => book
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| FileError::new(path, "the workbook has no worksheet"))?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| FileError::new(path, format!("worksheet \"{name}\": {e}")))?;
    // The range starts at the first used cell; a spreadsheet counts from A1.
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let lead = vec![String::new(); first_column as usize];
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| TableRow {
            number: first_row as usize + i + 1,
            cells: lead
                .iter()
                .cloned()
                .chain(cells.iter().map(cell_text))
                .collect(),
        })
        .collect())
}

/// A cell as the text a person would read in it.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(at) => excel_time_text(at.as_f64()),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// An Excel serial date (days since 1899-12-30, the day's fraction as the
/// time) as wall-clock text in `CELL_TIME_FORMAT`, to the second.
fn excel_time_text(serial: f64) -> String {
    let seconds = (serial * 86_400.0).round() as i64;
    NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|epoch| epoch.checked_add_signed(Duration::seconds(seconds)))
        .map_or_else(
            || serial.to_string(),
            |at| at.format(CELL_TIME_FORMAT).to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excel_serial_date_reads_as_its_wall_clock_time() {
        // 2025-10-13 12:00:00 is Excel's 45943.5.
        assert_eq!(excel_time_text(45943.5), "2025-10-13T12:00:00");
    }

    #[test]
    fn csv_rows_keep_the_numbers_a_spreadsheet_shows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "\u{feff}a,b\n1,2\n\n\"3\n3\"\r\n4\n").expect("write");
        let rows = read_table(&path, None).expect("read");
        let numbered: Vec<(usize, Vec<String>)> =
            rows.into_iter().map(|r| (r.number, r.cells)).collect();
        assert_eq!(
            numbered,
            [
                (1, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["1".to_owned(), "2".to_owned()]),
                (4, vec!["3\n3".to_owned()]),
                (5, vec!["4".to_owned()]),
            ]
        );
    }
}
