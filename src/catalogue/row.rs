//! One catalogue row parsed and checked on its own; cross-row rules live in `import`.

use std::path::{Component, Path, PathBuf};

use super::barcode;
use super::columns::Field;
use super::file::{Cell, RawRow};
use super::model::{MAX_ID_CHARS, MAX_NAME_CHARS, Status, Variant, is_valid_identifier};
use super::number::{self, NumberError};
use super::problem::Problem;
use super::text::{char_len, clean, fold};

/// Excel's limit for one cell; longer text could not be exported to XLSX.
const MAX_CELL_CHARS: usize = 32_767;

/// Which column holds which field: looked up for every cell of every row, so
/// an array by field rather than a hashed map.
#[derive(Debug, Clone, Default)]
struct FieldColumns([Option<usize>; Field::ALL.len()]);

impl FieldColumns {
    fn get(&self, field: &Field) -> Option<&usize> {
        self.0[*field as usize].as_ref()
    }

    fn contains_key(&self, field: &Field) -> bool {
        self.get(field).is_some()
    }

    /// Sets the field's column, returning the one it had.
    fn insert(&mut self, field: Field, column: usize) -> Option<usize> {
        self.0[field as usize].replace(column)
    }

    fn values(&self) -> impl Iterator<Item = &usize> {
        self.0.iter().flatten()
    }
}

/// Which column holds which field.
#[derive(Debug, Clone)]
pub struct Columns {
    index: FieldColumns,
    /// Per column: whether its header cell has a title.
    titled: Vec<bool>,
}

impl Columns {
    /// Reads the header row; unknown columns are returned as warnings.
    pub fn from_header(header: &RawRow) -> Result<(Self, Vec<Problem>), Vec<Problem>> {
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let mut index = FieldColumns::default();
        for (i, cell) in header.cells.iter().enumerate() {
            let title = clean(&cell.text);
            if title.is_empty() {
                continue;
            }
            match Field::from_header(&title) {
                Some(field) => {
                    if let Some(first) = index.insert(field, i) {
                        index.insert(field, first);
                        problems.push(Problem::cell(
                            header.row,
                            i,
                            format!(
                                "column \"{title}\" repeats \"{}\" (column {})",
                                field.name(),
                                super::columns::letter(first)
                            ),
                        ));
                    }
                }
                None => warnings.push(Problem::cell(
                    header.row,
                    i,
                    format!("unknown column \"{title}\" is ignored"),
                )),
            }
        }
        // Options come as name/value pairs, and a second axis needs a first.
        let pairs = [
            (Field::Option1Name, Field::Option1Value),
            (Field::Option2Name, Field::Option2Value),
            (Field::ExportedStock, Field::LedgerMark),
        ];
        for (name, value) in pairs {
            let (has_name, has_value) = (index.contains_key(&name), index.contains_key(&value));
            if has_name != has_value {
                let (missing, present) = if has_name {
                    (value, name)
                } else {
                    (name, value)
                };
                problems.push(Problem::row(
                    header.row,
                    format!(
                        "missing column {} to go with \"{}\"",
                        missing.describe(),
                        present.name()
                    ),
                ));
            }
        }
        if index.contains_key(&Field::Option2Name) && !index.contains_key(&Field::Option1Name) {
            problems.push(Problem::row(
                header.row,
                "option2 columns need option1 columns too",
            ));
        }
        for field in Field::REQUIRED {
            if !index.contains_key(&field) {
                problems.push(Problem::row(
                    header.row,
                    format!("missing required column {}", field.describe()),
                ));
            }
        }
        if problems.is_empty() {
            let titled = header
                .cells
                .iter()
                .map(|c| !clean(&c.text).is_empty())
                .collect();
            Ok((Self { index, titled }, warnings))
        } else {
            Err(problems)
        }
    }

    pub fn has(&self, field: Field) -> bool {
        self.index.contains_key(&field)
    }

    /// Which option axes the file states (name and value columns come in pairs);
    /// an axis it leaves out keeps the stored names and values.
    pub fn option_axes(&self) -> [bool; 2] {
        [self.has(Field::Option1Name), self.has(Field::Option2Name)]
    }

    pub fn column(&self, field: Field) -> Option<usize> {
        self.index.get(&field).copied()
    }
}

/// Product-level fields as one row states them (`None`: left blank, inherit).
pub const PRODUCT_FIELDS: [Field; 8] = [
    Field::Name,
    Field::Description,
    Field::Category,
    Field::Brand,
    Field::Origin,
    Field::Status,
    Field::Option1Name,
    Field::Option2Name,
];

#[derive(Debug, Clone)]
pub struct ParsedRow {
    pub row: u64,
    pub product_id: String,
    pub sku_column: usize,
    /// Same order as `PRODUCT_FIELDS`, with the column each came from.
    pub product_fields: Vec<Option<(String, usize)>>,
    /// Option values with the column each came from.
    pub option_values: [Option<(String, usize)>; 2],
    /// Position and option values are filled in by the import.
    pub variant: Variant,
    pub stock: Option<i64>,
    /// Where an exported sheet's row says the ledger stood (both hidden
    /// cells filled); `None` makes the stock cell a count.
    pub exported: Option<Exported>,
}

/// A row's stock as exported, and the ledger's newest movement at that export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub stock: i64,
    pub mark: i64,
}

/// Parses one data row, adding every problem it has to `problems`. A row with
/// problems is returned too (with blanks where values were wrong), for checks
/// across rows; it must never be written.
pub fn parse(
    columns: &Columns,
    raw: &RawRow,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ParsedRow> {
    let row = raw.row;
    let empty = Cell::default();
    let cell = |field: Field| -> Option<(&Cell, usize)> {
        columns
            .index
            .get(&field)
            .map(|&i| (raw.cells.get(i).unwrap_or(&empty), i))
    };
    let text = |field: Field| -> Option<(String, usize)> {
        cell(field)
            .map(|(c, i)| (clean(&c.text), i))
            .filter(|(t, _)| !t.is_empty())
    };

    for (i, c) in raw.cells.iter().enumerate() {
        if c.is_blank() {
            continue;
        }
        let length = char_len(&c.text);
        if length > MAX_CELL_CHARS {
            problems.push(Problem::cell(
                row,
                i,
                format!("cell has {length} characters; a spreadsheet cell holds at most {MAX_CELL_CHARS}"),
            ));
        }
        if !columns.titled.get(i).copied().unwrap_or(false) {
            problems.push(Problem::cell(
                row,
                i,
                format!("value \"{}\" is in a column with no header", clean(&c.text)),
            ));
        } else if let Some(why) = &c.invalid
            && columns.index.values().any(|col| *col == i)
        {
            problems.push(Problem::cell(row, i, format!("cell \"{}\" {why}", c.text)));
        }
    }

    let mut identifier = |field: Field| -> String {
        match text(field) {
            None => {
                let col = columns.index.get(&field).copied().unwrap_or(0);
                problems.push(Problem::cell(
                    row,
                    col,
                    format!("{} is empty", field.name()),
                ));
                String::new()
            }
            Some((id, col)) => {
                if !is_valid_identifier(&id) {
                    problems.push(Problem::cell(
                        row,
                        col,
                        format!(
                            "{} \"{id}\" must be 1–{MAX_ID_CHARS} printable ASCII characters without spaces",
                            field.name()
                        ),
                    ));
                }
                id
            }
        }
    };
    let product_id = identifier(Field::ProductId);
    let sku = identifier(Field::Sku);

    let mut product_fields = Vec::with_capacity(PRODUCT_FIELDS.len());
    for field in PRODUCT_FIELDS {
        let value = text(field).and_then(|(value, col)| match field {
            Field::Name if char_len(&value) > MAX_NAME_CHARS => {
                problems.push(Problem::cell(
                    row,
                    col,
                    format!(
                        "name has {} characters; at most {MAX_NAME_CHARS} are allowed",
                        char_len(&value)
                    ),
                ));
                Some((value, col))
            }
            Field::Status => match Status::parse(&fold(&value)) {
                Some(status) => Some((status.as_str().to_string(), col)),
                None => {
                    problems.push(Problem::cell(
                        row,
                        col,
                        format!(
                            "status \"{value}\" must be active or inactive (đang bán / ngừng bán)"
                        ),
                    ));
                    None
                }
            },
            _ => Some((value, col)),
        });
        product_fields.push(value);
    }

    let price = match cell(Field::Price) {
        Some((c, col)) if c.is_blank() => {
            problems.push(Problem::cell(row, col, "price is empty"));
            0
        }
        Some((c, col)) => match number::vnd(c) {
            Ok(p) if p > 0 => p,
            Ok(_) => {
                problems.push(Problem::cell(
                    row,
                    col,
                    format!("price \"{}\" must be greater than 0", c.text.trim()),
                ));
                0
            }
            Err(err) => {
                problems.push(number_problem(
                    row,
                    col,
                    "price",
                    c,
                    &err,
                    "a whole number of VND",
                ));
                0
            }
        },
        None => 0,
    };

    let mut whole = |field: Field| -> Option<i64> {
        let (c, col) = cell(field).filter(|(c, _)| !c.is_blank())?;
        match number::whole(c) {
            Ok(n) if n >= 0 => Some(n),
            Ok(_) => {
                problems.push(Problem::cell(
                    row,
                    col,
                    format!("{} \"{}\" must be 0 or more", field.name(), c.text.trim()),
                ));
                None
            }
            Err(err) => {
                problems.push(number_problem(
                    row,
                    col,
                    field.name(),
                    c,
                    &err,
                    "a whole number",
                ));
                None
            }
        }
    };
    let stock = whole(Field::Stock);
    let weight_g = whole(Field::WeightG);
    let exported_stock = whole(Field::ExportedStock);
    let ledger_mark = whole(Field::LedgerMark);
    let exported = match (exported_stock, ledger_mark) {
        (Some(stock), Some(mark)) => Some(Exported { stock, mark }),
        _ => {
            // One hidden cell filled and the other blank: the row cannot say
            // whether its stock is a change or a count.
            let blank = |f: Field| cell(f).map(|(c, col)| (c.is_blank(), col));
            let half = match (blank(Field::ExportedStock), blank(Field::LedgerMark)) {
                (Some((true, col)), Some((false, _))) => {
                    Some((Field::ExportedStock, col, Field::LedgerMark))
                }
                (Some((false, _)), Some((true, col))) => {
                    Some((Field::LedgerMark, col, Field::ExportedStock))
                }
                _ => None,
            };
            if let Some((missing, col, present)) = half {
                problems.push(Problem::cell(
                    row,
                    col,
                    format!(
                        "{} is empty but {} is filled; both come from chosync export: keep both as exported (the stock cell is then a change), or clear both (it is then a count)",
                        missing.name(),
                        present.name()
                    ),
                ));
            }
            None
        }
    };

    let mut centimetres = |field: Field| -> Option<i64> {
        let (c, col) = cell(field).filter(|(c, _)| !c.is_blank())?;
        match number::centimetres_as_mm(c) {
            Ok(mm) => Some(mm),
            Err(_) => {
                problems.push(Problem::cell(
                    row,
                    col,
                    format!(
                        "{} \"{}\" must be centimetres ≥ 0 with at most one decimal",
                        field.name(),
                        c.text.trim()
                    ),
                ));
                None
            }
        }
    };
    let length_mm = centimetres(Field::LengthCm);
    let width_mm = centimetres(Field::WidthCm);
    let height_mm = centimetres(Field::HeightCm);

    let barcode = cell(Field::Barcode)
        .filter(|(c, _)| !c.is_blank())
        .and_then(|(c, col)| {
            let code = barcode_text(c);
            match barcode::validate(&code) {
                Ok(()) => Some(code),
                Err(err) => {
                    problems.push(Problem::cell(row, col, format!("barcode \"{code}\" {err}")));
                    None
                }
            }
        });

    let images = match cell(Field::Images) {
        Some((c, col)) => images(&c.text, base_dir, row, col, problems),
        None => Vec::new(),
    };

    let option_values = [text(Field::Option1Value), text(Field::Option2Value)];

    // A row whose other cells are wrong still takes part in the cross-row checks,
    // so one pass reports everything; only a row without identity cannot.
    if product_id.is_empty() || sku.is_empty() {
        return None;
    }
    Some(ParsedRow {
        row,
        product_id: product_id.clone(),
        sku_column: columns.column(Field::Sku).unwrap_or(0),
        product_fields,
        option_values,
        variant: Variant {
            sku,
            product_id,
            position: 0,
            option_values: Vec::new(),
            price,
            weight_g,
            length_mm,
            width_mm,
            height_mm,
            barcode,
            images,
        },
        stock,
        exported,
    })
}

fn number_problem(
    row: u64,
    col: usize,
    what: &str,
    cell: &Cell,
    err: &NumberError,
    expected: &str,
) -> Problem {
    let shown = cell.text.trim();
    let message = match err {
        NumberError::Fractional => {
            format!("{what} \"{shown}\" has a fractional part; it must be {expected}")
        }
        NumberError::NotANumber => {
            format!("{what} \"{shown}\" is not a number; it must be {expected}")
        }
        NumberError::TooLarge => format!("{what} \"{shown}\" is too large"),
    };
    Problem::cell(row, col, message)
}

/// Spreadsheets drop leading zeros from numeric barcodes: put them back.
fn barcode_text(cell: &Cell) -> String {
    let code = clean(&cell.text);
    if cell.number.is_some() && code.chars().all(|c| c.is_ascii_digit()) {
        let width = [8, 12, 13].into_iter().find(|w| *w >= code.len());
        if let Some(width) = width {
            return format!("{code:0>width$}");
        }
    }
    code
}

/// `|`-separated http(s) URLs or paths relative to the catalogue file.
fn images(
    raw: &str,
    base_dir: &Path,
    row: u64,
    col: usize,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    let mut out = Vec::new();
    for item in raw.split('|').map(clean).filter(|s| !s.is_empty()) {
        if let Some((scheme, _)) = item.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            match url::Url::parse(&item) {
                Ok(url) if (scheme == "http" || scheme == "https") && url.host().is_some() => {
                    out.push(item)
                }
                Ok(_) if scheme != "http" && scheme != "https" => problems.push(Problem::cell(
                    row,
                    col,
                    format!("image \"{item}\" must be an http(s) URL or a file path"),
                )),
                _ => problems.push(Problem::cell(
                    row,
                    col,
                    format!("image \"{item}\" is not a valid URL"),
                )),
            }
            continue;
        }
        let path = normalise(&base_dir.join(&item));
        if path.to_string_lossy().contains('|') {
            problems.push(Problem::cell(
                row,
                col,
                format!(
                    "image \"{item}\" lies under {}, whose name contains \"|\", the image separator; move the images",
                    path.display()
                ),
            ));
        } else if path.is_file() {
            out.push(path.to_string_lossy().into_owned());
        } else {
            problems.push(Problem::cell(
                row,
                col,
                format!(
                    "image file \"{item}\" not found (looked for {})",
                    path.display()
                ),
            ));
        }
    }
    out
}

/// Resolves `.` and `..` without touching the file system, so hashes stay stable.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
