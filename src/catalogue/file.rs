//! Reading a catalogue file row by row (CSV or the first sheet of an XLSX workbook)
//! without holding it in memory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx, open_workbook};

use super::problem::Problem;

/// One cell as read: its text and, for numeric spreadsheet cells, the number
/// (so `1.5` typed as a number is never mistaken for thousands grouping).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub number: Option<f64>,
    /// Why the cell cannot be read as a value (an Excel error, a date).
    pub invalid: Option<String>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            number: None,
            invalid: None,
        }
    }

    fn invalid(text: String, why: String) -> Self {
        Self {
            text,
            number: None,
            invalid: Some(why),
        }
    }

    pub fn number(n: f64) -> Self {
        let text = if n.fract() == 0.0 && n.abs() < 1e15 {
            format!("{}", n as i64)
        } else {
            format!("{n}")
        };
        Self {
            text,
            number: Some(n),
            invalid: None,
        }
    }

    pub fn is_blank(&self) -> bool {
        self.number.is_none() && self.invalid.is_none() && self.text.trim().is_empty()
    }
}

/// A non-blank row with its spreadsheet row number (1-based, as a user sees it).
#[derive(Debug, Clone)]
pub struct RawRow {
    pub row: u64,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self, Problem> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv" | "txt") => Ok(Self::Csv),
            Some("xlsx" | "xlsm") => Ok(Self::Xlsx),
            Some(other) => Err(Problem::file(format!(
                "unsupported file type \".{other}\"; use a .csv (UTF-8) or .xlsx file"
            ))),
            None => Err(Problem::file(
                "the file name has no extension; use a .csv (UTF-8) or .xlsx file",
            )),
        }
    }
}

/// Why reading stopped early.
pub enum Stop {
    /// The file is unreadable at this point.
    Problem(Problem),
    /// The visitor asked to stop.
    Visitor,
}

/// Calls `visit` for every non-blank row, header first.
pub fn read_rows(path: &Path, mut visit: impl FnMut(RawRow) -> Result<(), ()>) -> Result<(), Stop> {
    let format = Format::of(path).map_err(Stop::Problem)?;
    match format {
        Format::Csv => read_csv(path, &mut visit),
        Format::Xlsx => read_xlsx(path, &mut visit),
    }
}

fn io_problem(err: std::io::Error) -> Stop {
    Stop::Problem(Problem::file(format!("cannot read the file: {err}")))
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// Excel's limit (XFD); a file claiming more is damaged or hostile.
const MAX_COLUMNS: usize = 16_384;
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn read_csv(path: &Path, visit: &mut dyn FnMut(RawRow) -> Result<(), ()>) -> Result<(), Stop> {
    let file = File::open(path).map_err(io_problem)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let head = reader.fill_buf().map_err(io_problem)?;
    if head.is_empty() {
        return Err(Stop::Problem(Problem::file(
            "the file is empty; expected a header row and one row per SKU",
        )));
    }
    if head.starts_with(ZIP_MAGIC) {
        return Err(Stop::Problem(Problem::file(
            "this is a ZIP archive (an XLSX workbook?), not CSV text; save it with the .xlsx extension",
        )));
    }
    if head.iter().take(8192).any(|b| *b == 0) {
        return Err(Stop::Problem(Problem::file(
            "this is not CSV text (it contains binary data); use a .csv (UTF-8) or .xlsx file",
        )));
    }
    let bom = head.starts_with(BOM);
    let delimiter = detect_delimiter(if bom { &head[3..] } else { head });
    if bom {
        reader.consume(BOM.len());
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(LineCounter::new(reader));
    let mut record = csv::ByteRecord::new();
    let mut embedded_newlines = 0_u64;
    loop {
        let start = csv.position().byte();
        match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(err) => {
                let byte = err.position().map_or(start, |p| p.byte());
                return Err(Stop::Problem(Problem::row(
                    csv.get_mut().line_at(byte),
                    format!("cannot read this row as CSV: {}", csv_reason(&err)),
                )));
            }
        }
        // A record's start offset includes blank lines skipped before it, so place
        // the record by its last byte; then discount newlines inside quoted cells,
        // which a spreadsheet shows within one row.
        let end = csv.position().byte().saturating_sub(1).max(start);
        embedded_newlines += record.iter().map(line_breaks).sum::<u64>();
        let row = csv.get_mut().line_at(end).saturating_sub(embedded_newlines);
        let mut cells = Vec::with_capacity(record.len());
        for field in record.iter() {
            match std::str::from_utf8(field) {
                Ok(text) => cells.push(Cell::text(text)),
                Err(_) => {
                    return Err(Stop::Problem(Problem::row(
                        row,
                        "this row is not UTF-8 text; save the file as \"CSV UTF-8\"",
                    )));
                }
            }
        }
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        visit(RawRow { row, cells }).map_err(|()| Stop::Visitor)?;
    }
}

/// Line breaks in `bytes`: LF, CRLF (counted once) or a lone CR (old Mac files).
fn line_breaks(bytes: &[u8]) -> u64 {
    let mut count = 0;
    for (i, b) in bytes.iter().enumerate() {
        let lone_cr = *b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if *b == b'\n' || lone_cr {
            count += 1;
        }
    }
    count
}

/// Line numbers from byte offsets. The csv crate's own line count is off after a
/// blank CRLF line, and users must find rows where their spreadsheet shows them.
/// Only newlines still in the read-ahead window are kept, so memory stays flat.
struct LineCounter<R> {
    inner: R,
    offset: u64,
    pending: std::collections::VecDeque<u64>,
    lines_before: u64,
    /// The previous chunk ended with CR: a LF starting this one completes it.
    after_cr: bool,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            pending: std::collections::VecDeque::new(),
            lines_before: 0,
            after_cr: false,
        }
    }

    /// The 1-based line on which the byte at `offset` stands (offsets only grow).
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|nl| *nl < offset) {
            self.pending.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }
}

impl<R: std::io::Read> std::io::Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            // A line ends at LF, or at a CR not followed by LF; CRLF ends it at CR.
            match b {
                b'\r' => self.pending.push_back(self.offset + i as u64),
                b'\n' if !(self.after_cr || (i > 0 && buf[i - 1] == b'\r')) => {
                    self.pending.push_back(self.offset + i as u64)
                }
                _ => {}
            }
            self.after_cr = false;
        }
        self.after_cr = n > 0 && buf[n - 1] == b'\r';
        self.offset += n as u64;
        Ok(n)
    }
}

fn csv_reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => err.to_string(),
    }
}

/// Comma or semicolon (Excel in many locales writes `;`), whichever the header uses
/// more often outside quotes.
fn detect_delimiter(head: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

fn read_xlsx(path: &Path, visit: &mut dyn FnMut(RawRow) -> Result<(), ()>) -> Result<(), Stop> {
    let mut workbook: Xlsx<_> = open_workbook(path).map_err(|err| {
        Stop::Problem(Problem::file(format!(
            "this is not a readable XLSX workbook ({err})"
        )))
    })?;
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        return Err(Stop::Problem(Problem::file("the workbook has no sheets")));
    };
    let unreadable = |err: calamine::XlsxError| {
        Stop::Problem(Problem::file(format!(
            "cannot read sheet \"{sheet}\": {err}"
        )))
    };
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(unreadable)?;
    let mut current: Option<RawRow> = None;
    let mut seen_any = false;
    let mut emit = |row: RawRow| -> Result<(), Stop> {
        if row.cells.iter().all(Cell::is_blank) {
            return Ok(());
        }
        seen_any = true;
        visit(row).map_err(|()| Stop::Visitor)
    };
    while let Some(cell) = reader.next_cell().map_err(|err| {
        Stop::Problem(Problem::file(format!(
            "cannot read sheet \"{sheet}\": {err}"
        )))
    })? {
        let (row, column) = cell.get_position();
        let row = u64::from(row) + 1;
        if let Some(done) = current.take_if(|r| r.row != row) {
            emit(done)?;
        }
        let target = current.get_or_insert_with(|| RawRow {
            row,
            cells: Vec::new(),
        });
        let column = column as usize;
        if column >= MAX_COLUMNS {
            return Err(Stop::Problem(Problem::row(
                row,
                format!("a cell lies beyond Excel's last column ({MAX_COLUMNS} columns)"),
            )));
        }
        if target.cells.len() <= column {
            target.cells.resize(column + 1, Cell::default());
        }
        target.cells[column] = convert(cell.get_value());
    }
    if let Some(done) = current.take() {
        emit(done)?;
    }
    if !seen_any {
        return Err(Stop::Problem(Problem::file(format!(
            "the first sheet \"{sheet}\" is empty; expected a header row and one row per SKU"
        ))));
    }
    Ok(())
}

fn convert(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Int(i) => Cell::number(*i as f64),
        DataRef::Float(f) => Cell::number(*f),
        DataRef::String(s) => Cell::text(s.as_str()),
        DataRef::SharedString(s) => Cell::text(*s),
        DataRef::Bool(b) => Cell::text(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(d) => Cell::invalid(
            d.as_f64().to_string(),
            "holds a date; catalogue cells are text or numbers".into(),
        ),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::invalid(
            s.clone(),
            "holds a date or duration; catalogue cells are text or numbers".into(),
        ),
        DataRef::Error(e) => Cell::invalid(e.to_string(), format!("holds the Excel error {e}")),
        DataRef::Empty => Cell::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_win_only_when_the_header_uses_them() {
        assert_eq!(detect_delimiter(b"sku;name;price\n1,2;3"), b';');
        assert_eq!(detect_delimiter(b"sku,name,price\n"), b',');
        assert_eq!(detect_delimiter(b"\"a;b\",c,d\n"), b',');
    }
}
