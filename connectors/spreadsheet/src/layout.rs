//! The channel's layout as the mapping file's `[sheet]` and `[orders]`
//! tables carry it: which columns the bulk-upload sheet has, and how the
//! seller centre's order export reads. Plain serde types (chosync reads them
//! with figment); `problems()` says everything wrong at once, for
//! `chosync check-config`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use chosync_connector::dto::OrderState;
use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDate, TimeZone};
use serde::Deserialize;

use crate::text::{folded, same_words};
use crate::time::{VIETNAM, read_time};

/// A problem with the layout: the key it is under and what is wrong.
pub type LayoutProblem = (String, String);

/// The bulk-upload sheet the channel writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetLayout {
    /// A file name in the channel folder; `.csv` or `.xlsx` picks the format.
    pub file: String,
    /// The worksheet's name (XLSX only).
    #[serde(default = "default_sheet_name")]
    pub sheet_name: String,
    /// The status column's word for a listing on sale.
    #[serde(default)]
    pub listed: Option<String>,
    /// The status column's word for a listing off sale.
    #[serde(default)]
    pub unlisted: Option<String>,
    pub columns: Vec<Column>,
}

fn default_sheet_name() -> String {
    "Sheet1".into()
}

/// One column of the sheet: a header and either a value or a fixed text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub header: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub text: Option<String>,
    /// For `price` and `stock` only.
    #[serde(default)]
    pub format: Option<NumberFormat>,
}

/// What a column shows, one row per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Sku,
    ProductKey,
    Title,
    Description,
    /// The platform category id.
    Category,
    Brand,
    Price,
    Stock,
    Status,
    Option1Name,
    Option1Value,
    Option2Name,
    Option2Value,
    Image1,
    Image2,
    Image3,
    Image4,
    Image5,
    Image6,
    Image7,
    Image8,
    Image9,
    WeightG,
}

impl Value {
    /// Whether `format` applies (whole-VND prices and unit counts).
    pub fn is_number(self) -> bool {
        matches!(self, Self::Price | Self::Stock)
    }

    /// The image's place in the draft's list, for `image1`…`image9`.
    pub fn image_index(self) -> Option<usize> {
        use Value::*;
        [
            Image1, Image2, Image3, Image4, Image5, Image6, Image7, Image8, Image9,
        ]
        .iter()
        .position(|v| *v == self)
    }
}

/// How a price or stock is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `125000`, a number cell in XLSX.
    #[default]
    Integer,
    /// `125.000`, Vietnamese thousands dots, a text cell in XLSX (the
    /// seller centre reads the text; a number format would show commas in
    /// an English Excel).
    Dotted,
}

/// The file format, from the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }
}

impl SheetLayout {
    pub fn format(&self) -> Option<FileFormat> {
        FileFormat::of(Path::new(&self.file))
    }

    /// The first column showing `value`, with its position.
    pub fn column_of(&self, value: Value) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.value == Some(value))
    }

    /// The status words, on sale and off sale ("listed"/"unlisted" when
    /// the layout has no status column and so names none).
    pub fn status_words(&self) -> (&str, &str) {
        (
            self.listed.as_deref().unwrap_or("listed"),
            self.unlisted.as_deref().unwrap_or("unlisted"),
        )
    }

    /// Everything wrong with the layout, each under its key.
    pub fn problems(&self) -> Vec<LayoutProblem> {
        let mut found = Vec::new();
        let mut problem = |key: String, message: String| found.push((key, message));
        self.file_problems(&mut problem);
        if self.format() == Some(FileFormat::Xlsx)
            && let Some(why) = sheet_name_problem(&self.sheet_name)
        {
            problem("sheet.sheet_name".into(), why);
        }
        if self.columns.is_empty() {
            problem("sheet.columns".into(), "the sheet has no columns".into());
        } else if self.column_of(Value::Sku).is_none() {
            problem(
                "sheet.columns".into(),
                "no column shows the `sku` (a row per variant needs it)".into(),
            );
        }
        let mut headers = HashSet::new();
        for (i, column) in self.columns.iter().enumerate() {
            let key = format!("sheet.columns[{i}]");
            let header = column.header.trim();
            if header.is_empty() {
                problem(key.clone(), "the header is empty".into());
            } else if !headers.insert(header.to_lowercase()) {
                problem(key.clone(), format!("header \"{header}\" appears twice"));
            }
            match (&column.value, &column.text) {
                (Some(_), Some(_)) => problem(
                    key.clone(),
                    format!("column \"{header}\" has both `value` and `text`; give one"),
                ),
                (None, None) => problem(
                    key.clone(),
                    format!("column \"{header}\" has neither `value` nor `text`"),
                ),
                _ => {}
            }
            if column.format.is_some() && !column.value.is_some_and(Value::is_number) {
                problem(
                    format!("{key}.format"),
                    format!("column \"{header}\": `format` applies to `price` and `stock` only"),
                );
            }
        }
        self.status_problems(&mut problem);
        found
    }

    fn file_problems(&self, problem: &mut impl FnMut(String, String)) {
        let name = Path::new(&self.file);
        let bare = name.file_name().is_some_and(|n| n == name.as_os_str());
        if self.file.trim().is_empty() || !bare || self.file.starts_with('.') {
            problem(
                "sheet.file".into(),
                format!(
                    "\"{}\" is not a plain file name in the channel folder",
                    self.file
                ),
            );
        }
        if self.format().is_none() {
            problem(
                "sheet.file".into(),
                format!("\"{}\" must end in .csv or .xlsx", self.file),
            );
        }
    }

    fn status_problems(&self, problem: &mut impl FnMut(String, String)) {
        if self.column_of(Value::Status).is_none() {
            return;
        }
        for (key, word) in [("listed", &self.listed), ("unlisted", &self.unlisted)] {
            if word.as_deref().is_none_or(|w| w.trim().is_empty()) {
                problem(
                    format!("sheet.{key}"),
                    "a `status` column needs its word here".into(),
                );
            }
        }
        if let (Some(listed), Some(unlisted)) = (&self.listed, &self.unlisted)
            && same_words(listed, unlisted)
        {
            problem(
                "sheet.unlisted".into(),
                "the words for on sale and off sale must differ".into(),
            );
        }
    }
}

/// Excel refuses worksheet names longer than 31 characters or holding any of `[]:*?/\`.
fn sheet_name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("the worksheet name is empty".into());
    }
    if name.chars().count() > 31 {
        return Some(format!("\"{name}\" is longer than Excel's 31 characters"));
    }
    if name.contains(['[', ']', ':', '*', '?', '/', '\\']) {
        return Some(format!(
            "\"{name}\" holds a character Excel refuses ([]:*?/\\)"
        ));
    }
    None
}

/// How the seller centre's order export reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersLayout {
    /// A chrono format; times without an offset are Vietnam's (UTC+07:00).
    pub time_format: String,
    pub columns: OrderColumns,
    /// The seller centre's status words → chosync's order state names.
    pub statuses: BTreeMap<String, String>,
}

/// The headers of the export's columns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderColumns {
    pub order_id: String,
    pub sku: String,
    pub quantity: String,
    pub status: String,
    pub created_at: String,
    /// Without it, a file's modification time is its orders' version.
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl OrderColumns {
    /// (key, header) of every column the layout names.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        let mut named = vec![
            ("order_id", self.order_id.as_str()),
            ("sku", self.sku.as_str()),
            ("quantity", self.quantity.as_str()),
            ("status", self.status.as_str()),
            ("created_at", self.created_at.as_str()),
        ];
        if let Some(updated_at) = &self.updated_at {
            named.push(("updated_at", updated_at.as_str()));
        }
        named
    }
}

impl OrdersLayout {
    /// The state a status word of the export means, if the layout knows it.
    pub fn state_of(&self, word: &str) -> Option<OrderState> {
        self.statuses
            .iter()
            .find(|(w, _)| same_words(w, word))
            .and_then(|(_, state)| OrderState::parse(state.trim()))
    }

    /// The status words the layout knows, for a refusal's message.
    pub fn known_words(&self) -> String {
        let words: Vec<&str> = self.statuses.keys().map(String::as_str).collect();
        words.join(", ")
    }

    /// Everything wrong with the layout, each under its key.
    pub fn problems(&self) -> Vec<LayoutProblem> {
        let mut found = Vec::new();
        for (key, header) in self.columns.named() {
            if header.trim().is_empty() {
                found.push((
                    format!("orders.columns.{key}"),
                    "the header is empty".into(),
                ));
            }
        }
        if self.statuses.is_empty() {
            found.push((
                "orders.statuses".into(),
                "no status words: every order would be refused".into(),
            ));
        }
        let mut words = HashSet::new();
        for (word, state) in &self.statuses {
            if !words.insert(folded(word)) {
                found.push((
                    format!("orders.statuses.\"{word}\""),
                    "the same word as another, but for case or spaces".into(),
                ));
            }
            if OrderState::parse(state.trim()).is_none() {
                let states: Vec<&str> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
                found.push((
                    format!("orders.statuses.\"{word}\""),
                    format!(
                        "\"{state}\" is not a chosync order state ({})",
                        states.join(", ")
                    ),
                ));
            }
        }
        if let Some(why) = time_format_problem(&self.time_format) {
            found.push(("orders.time_format".into(), why));
        }
        found
    }
}

/// Whether `format` both writes and reads back a time: a sample written with
/// it must read back as itself (or as its day, for a format of dates only).
fn time_format_problem(format: &str) -> Option<String> {
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Some(format!("\"{format}\" is not a valid chrono time format"));
    }
    let sample = NaiveDate::from_ymd_opt(2026, 3, 14)?.and_hms_opt(9, 26, 0)?;
    let sample = VIETNAM.from_local_datetime(&sample).single()?;
    let mut written = String::new();
    if write!(written, "{}", sample.format(format)).is_err() {
        return Some(format!("\"{format}\" cannot write a time"));
    }
    let day = VIETNAM
        .from_local_datetime(&sample.date_naive().and_hms_opt(0, 0, 0)?)
        .single()?;
    match read_time(format, &written) {
        Some(read) if read == sample || read == day => None,
        _ => Some(format!(
            "\"{format}\" does not read back what it writes (e.g. \"{written}\"): it needs the year, month, day and, for times, hour and minute"
        )),
    }
}
