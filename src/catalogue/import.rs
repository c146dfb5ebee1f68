//! Importing a catalogue file: all or nothing.
//!
//! Pass 1 reads the file and checks every row and every cross-row rule, keeping
//! only per-product facts in memory. Pass 2 reads it again and writes in one
//! transaction, chunk by chunk; the store then checks the rules the resulting
//! catalogue must keep. Any problem → rollback, and every problem is reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::columns::Field;
use super::file::{RawRow, Stop, read_rows};
use super::hash::{content_hash, price_hash, product_hash};
use super::model::{Product, Status, Variant};
use super::problem::Problem;
use super::row::{Columns, Exported, PRODUCT_FIELDS, ParsedRow, parse};
use crate::inventory::{MovementKind, NewMovement};
use crate::store::{
    Aspect, CHUNK, CatalogueWrite, SheetChange, Store, StoreError, VariantRecord, Violation,
};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub file: String,
    pub dry_run: bool,
    pub rows: u64,
    pub products: Counts,
    pub skus: Counts,
    pub stock_movements: u64,
    pub stock: StockReport,
    pub warnings: Vec<String>,
}

/// How the sheet's stock cells were read. A row carrying the export mark
/// (`exported_stock` and `ledger_mark`) is a change from its exported stock;
/// any other stock cell is a count as of the import.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockReport {
    /// SKUs already in the catalogue whose stock cell is a count.
    pub counted: u64,
    /// Of those, the counts that differ from the ledger and record a movement.
    pub counts_recorded: u64,
    /// Movements the ledger recorded after the file was last saved on the SKUs
    /// whose count records a movement: the count overrides them.
    pub overridden: u64,
    /// When the file was last saved (its modification time), if known.
    pub file_saved_at: Option<DateTime<Utc>>,
    /// SKUs already in the catalogue whose stock cell is a change from an export.
    pub exported: u64,
    /// Of those, the changes recorded (not recorded by an earlier import of a
    /// sheet from the same export).
    pub changes_recorded: u64,
    /// Movements the ledger recorded after the export on those SKUs: kept.
    pub kept: u64,
    /// New SKUs, which start at their stock cell.
    pub started: u64,
}

impl StockReport {
    /// What the import did (or, in a dry run, would do) to stock, in words.
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let [recorded, overridden, kept] = if dry_run {
            ["would be recorded", "would be overridden", "would be kept"]
        } else {
            ["recorded", "were overridden", "were kept"]
        };
        let mut lines = Vec::new();
        if self.counted > 0 {
            let head = format!(
                "{} counted (a sheet without the export mark)",
                plural(self.counted, "SKU", "SKUs")
            );
            lines.push(match self.counts_recorded {
                0 => format!("{head}: none differs from the ledger"),
                n => {
                    let saved = self.file_saved_at.map_or_else(
                        || "(its time is unknown)".to_string(),
                        |t| format!("({})", t.format("%Y-%m-%d %H:%M UTC")),
                    );
                    format!(
                        "{head}: {} from the ledger, {recorded} as a count; {} recorded since the file was saved {saved} on {} {overridden}",
                        plural(n, "differs", "differ"),
                        plural(self.overridden, "movement", "movements"),
                        if n == 1 { "that SKU" } else { "those SKUs" },
                    )
                }
            });
        }
        if self.exported > 0 {
            let head = format!("{} from an export", plural(self.exported, "SKU", "SKUs"));
            let changed = match self.changes_recorded {
                0 => "no stock cell changed".to_string(),
                n => format!(
                    "{} changed in the sheet, {recorded} as the change made (new − exported)",
                    plural(n, "stock cell", "stock cells")
                ),
            };
            lines.push(format!(
                "{head}: {changed}; {} recorded since the export {kept}",
                plural(self.kept, "movement", "movements")
            ));
        }
        if self.started > 0 {
            lines.push(format!(
                "{}, starting at the stock cell",
                plural(self.started, "new SKU", "new SKUs")
            ));
        }
        lines
    }
}

/// `1 SKU`, `2 SKUs`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {} problem(s); nothing was imported", problems.len())]
    Invalid {
        file: String,
        problems: Vec<Problem>,
        warnings: Vec<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("import stopped: {0}")]
    Interrupted(String),
}

impl ImportError {
    /// Every problem as `FILE:ROW:COLUMN: reason`, one per line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Invalid { file, problems, .. } => problems
                .iter()
                .map(|p| p.located(file).to_string())
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Progress callbacks (rows read), so the CLI can draw a bar.
pub trait Progress: Send + Sync {
    fn pass(&self, name: &'static str, total: Option<u64>);
    fn rows(&self, done: u64);
}

pub struct NoProgress;
impl Progress for NoProgress {
    fn pass(&self, _: &'static str, _: Option<u64>) {}
    fn rows(&self, _: u64) {}
}

/// What pass 1 gathers of a product while reading: its fields as merged so far
/// and the option values of each variant row.
struct ProductDraft {
    first_row: u64,
    /// Per `PRODUCT_FIELDS`: the value and the row that first stated it.
    fields: Vec<Option<(String, u64)>>,
    variants: Vec<(u64, [Option<String>; 2])>,
}

/// What pass 2 needs of a product once the file has been read.
struct ProductEntry {
    first_row: u64,
    product: Product,
    /// Whether pass 2 has written it (after filling in the fields whose column
    /// the file leaves out from what the store holds).
    settled: bool,
    /// Where the product's next new variant goes: after those it already has.
    next_position: i64,
}

/// What pass 1 learned, which pass 2 and the final check need.
struct Validated {
    columns: Arc<Columns>,
    products: HashMap<String, ProductEntry>,
    sku_rows: Arc<HashMap<String, u64>>,
    rows: u64,
}

pub async fn import_file(
    store: &dyn Store,
    path: &Path,
    dry_run: bool,
    progress: Arc<dyn Progress>,
) -> Result<ImportReport, ImportError> {
    let file = path.display().to_string();
    let base_dir = base_dir(path);
    let saved_at = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from);
    let started = std::time::Instant::now();
    let digest_before = digest(path).await?;
    let (validated, warnings) = {
        let (path, base_dir, progress) = (path.to_path_buf(), base_dir.clone(), progress.clone());
        match tokio::task::spawn_blocking(move || validate(&path, &base_dir, progress.as_ref()))
            .await
        {
            Ok(outcome) => outcome,
            // A reader library that panics on a malformed file: the file is damaged.
            Err(join) if join.is_panic() => (
                Err(vec![Problem::file(
                    "this file is damaged and cannot be read; save it again from your spreadsheet",
                )]),
                Vec::new(),
            ),
            Err(join) => return Err(ImportError::Interrupted(join.to_string())),
        }
    };
    let warnings: Vec<String> = warnings
        .iter()
        .map(|w| w.located(&file).to_string())
        .collect();
    let mut validated = match validated {
        Ok(v) => v,
        Err(problems) => {
            return Err(ImportError::Invalid {
                file,
                problems,
                warnings,
            });
        }
    };

    tracing::debug!(
        file,
        ms = started.elapsed().as_millis(),
        "import: file checked"
    );
    let mut writer = store.begin_catalogue_write().await?;
    let applied = apply(
        writer.as_mut(),
        path,
        &base_dir,
        &file,
        &mut validated,
        saved_at,
        progress,
    )
    .await;
    let mut report = match applied {
        Ok(report) => report,
        Err(err) => {
            // The import's own error is the one to report; a failed rollback
            // leaves nothing behind either (the transaction dies with it).
            let _ = writer.rollback().await;
            return Err(with_warnings(err, warnings));
        }
    };
    tracing::debug!(
        file,
        ms = started.elapsed().as_millis(),
        "import: rows written"
    );
    let violations = writer.violations().await?;
    if !violations.is_empty() {
        let _ = writer.rollback().await;
        return Err(ImportError::Invalid {
            file,
            problems: violations
                .iter()
                .map(|v| violation_problem(v, &validated))
                .collect(),
            warnings,
        });
    }
    // Pass 2 read the file again: it must be the file pass 1 checked.
    if digest(path).await? != digest_before {
        let _ = writer.rollback().await;
        return Err(ImportError::Interrupted(format!(
            "{file} changed while it was being imported; nothing was imported"
        )));
    }
    tracing::debug!(
        file,
        ms = started.elapsed().as_millis(),
        "import: catalogue rules and file verified"
    );
    if dry_run {
        writer.rollback().await?;
    } else {
        writer.commit().await?;
    }
    tracing::debug!(file, ms = started.elapsed().as_millis(), "import: done");
    report.file = file;
    report.dry_run = dry_run;
    report.rows = validated.rows;
    report.warnings = warnings;
    Ok(report)
}

fn with_warnings(err: ImportError, new: Vec<String>) -> ImportError {
    match err {
        ImportError::Invalid { file, problems, .. } => ImportError::Invalid {
            file,
            problems,
            warnings: new,
        },
        other => other,
    }
}

async fn digest(path: &Path) -> Result<Vec<u8>, ImportError> {
    let path = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&path)?, &mut hasher)?;
        Ok(hasher.finalize().to_vec())
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))?;
    hashed.map_err(|e| ImportError::Interrupted(format!("cannot read the file: {e}")))
}

/// Relative image paths are relative to the file's folder.
fn base_dir(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

fn validate(
    path: &Path,
    base_dir: &Path,
    progress: &dyn Progress,
) -> (Result<Validated, Vec<Problem>>, Vec<Problem>) {
    progress.pass("checking", None);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut columns: Option<Columns> = None;
    let mut header_failed = false;
    let mut drafts: HashMap<String, ProductDraft> = HashMap::new();
    let mut sku_rows: HashMap<String, u64> = HashMap::new();
    let mut rows = 0_u64;

    let read = read_rows(path, |raw: RawRow| {
        let Some(cols) = &columns else {
            match Columns::from_header(&raw) {
                Ok((cols, header_warnings)) => {
                    warnings.extend(header_warnings);
                    columns = Some(cols);
                    return Ok(());
                }
                Err(header_problems) => {
                    problems.extend(header_problems);
                    header_failed = true;
                    return Err(());
                }
            }
        };
        rows += 1;
        if rows.is_multiple_of(1024) {
            progress.rows(rows);
        }
        let Some(parsed) = parse(cols, &raw, base_dir, &mut problems) else {
            return Ok(());
        };
        check_row(&parsed, &mut drafts, &mut sku_rows, &mut problems);
        Ok(())
    });
    if let Err(Stop::Problem(problem)) = read {
        problems.push(problem);
    }
    progress.rows(rows);
    let Some(columns) = columns else {
        if !header_failed && problems.is_empty() {
            problems.push(Problem::file(
                "the file has no header row; expected one row of column names, then one row per SKU",
            ));
        }
        return (Err(problems), warnings);
    };
    if rows == 0 && problems.is_empty() {
        problems.push(Problem::file("the file has a header row but no products"));
    }
    let products: HashMap<String, ProductEntry> = drafts
        .into_iter()
        .map(|(product_id, draft)| {
            let product = finish_product(&product_id, &draft, &columns, &mut problems);
            let entry = ProductEntry {
                first_row: draft.first_row,
                product,
                settled: false,
                next_position: 0,
            };
            (product_id, entry)
        })
        .collect();
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.row, p.column.as_ref().map(|c| (c.len(), c.clone()))));
        return (Err(problems), warnings);
    }
    let validated = Validated {
        columns: Arc::new(columns),
        products,
        sku_rows: Arc::new(sku_rows),
        rows,
    };
    (Ok(validated), warnings)
}

/// Rules between rows: unique SKUs and rows of one product that agree.
fn check_row(
    parsed: &ParsedRow,
    products: &mut HashMap<String, ProductDraft>,
    sku_rows: &mut HashMap<String, u64>,
    problems: &mut Vec<Problem>,
) {
    let sku = &parsed.variant.sku;
    if let Some(first) = sku_rows.get(sku) {
        problems.push(Problem::cell(
            parsed.row,
            parsed.sku_column,
            format!("SKU \"{sku}\" is also on row {first}; each SKU may appear once"),
        ));
        return;
    }
    sku_rows.insert(sku.clone(), parsed.row);

    let entry = products
        .entry(parsed.product_id.clone())
        .or_insert_with(|| ProductDraft {
            first_row: parsed.row,
            fields: vec![None; PRODUCT_FIELDS.len()],
            variants: Vec::new(),
        });
    for (i, value) in parsed.product_fields.iter().enumerate() {
        let Some((value, col)) = value else { continue };
        match &entry.fields[i] {
            None => entry.fields[i] = Some((value.clone(), parsed.row)),
            Some((earlier, row)) if earlier != value => problems.push(Problem::cell(
                parsed.row,
                *col,
                format!(
                    "{} \"{value}\" differs from \"{earlier}\" on row {row} of the same product \"{}\"",
                    PRODUCT_FIELDS[i].name(),
                    parsed.product_id
                ),
            )),
            Some(_) => {}
        }
    }
    let values = [
        parsed.option_values[0].as_ref().map(|(v, _)| v.clone()),
        parsed.option_values[1].as_ref().map(|(v, _)| v.clone()),
    ];
    entry.variants.push((parsed.row, values));
}

/// Builds the merged product and checks its variants' options against it.
fn finish_product(
    product_id: &str,
    draft: &ProductDraft,
    columns: &Columns,
    problems: &mut Vec<Problem>,
) -> Product {
    let first_row = draft.first_row;
    let field = |f: Field| -> Option<String> {
        let i = PRODUCT_FIELDS.iter().position(|p| *p == f)?;
        draft.fields[i].as_ref().map(|(v, _)| v.clone())
    };
    let name = field(Field::Name);
    if name.is_none() {
        problems.push(problem_at(
            first_row,
            columns,
            Field::Name,
            format!("name is empty (no row of product \"{product_id}\" gives one)"),
        ));
    }
    let option_names: Vec<String> = [field(Field::Option1Name), field(Field::Option2Name)]
        .into_iter()
        .flatten()
        .collect();
    if field(Field::Option1Name).is_none() && field(Field::Option2Name).is_some() {
        problems.push(problem_at(
            first_row,
            columns,
            Field::Option2Name,
            format!("product \"{product_id}\" has option2_name but no option1_name"),
        ));
    }
    let mut combos: HashMap<&[Option<String>; 2], u64> = HashMap::new();
    let axes = columns.option_axes();
    for (row, values) in &draft.variants {
        for (axis, value) in values.iter().enumerate() {
            if !axes[axis] {
                continue;
            }
            let (value_field, name_field) = if axis == 0 {
                (Field::Option1Value, Field::Option1Name)
            } else {
                (Field::Option2Value, Field::Option2Name)
            };
            match (option_names.get(axis), value) {
                (Some(name), None) => problems.push(problem_at(
                    *row,
                    columns,
                    value_field,
                    format!(
                        "{} is empty but product \"{product_id}\" has option \"{name}\"",
                        value_field.name()
                    ),
                )),
                (None, Some(value)) => problems.push(problem_at(
                    *row,
                    columns,
                    value_field,
                    format!(
                        "{} \"{value}\" is given but product \"{product_id}\" has no {}",
                        value_field.name(),
                        name_field.name()
                    ),
                )),
                _ => {}
            }
        }
        // With an axis left out, stored values complete the combination: the
        // store checks uniqueness after the write instead.
        if axes != [true, true] {
            continue;
        }
        if let Some(first) = combos.insert(values, *row) {
            combos.insert(values, first);
            let message = if option_names.is_empty() {
                format!(
                    "product \"{product_id}\" has several SKUs (also row {first}) but no option to tell them apart"
                )
            } else {
                let shown: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
                format!(
                    "options \"{}\" repeat row {first} of product \"{product_id}\"; each SKU needs its own",
                    shown.join(" / ")
                )
            };
            problems.push(problem_at(*row, columns, Field::Option1Value, message));
        }
    }
    let status = match field(Field::Status).as_deref() {
        Some("inactive") => Status::Inactive,
        _ => Status::Active,
    };
    Product {
        product_id: product_id.to_string(),
        name: name.unwrap_or_default(),
        description: field(Field::Description).unwrap_or_default(),
        category: field(Field::Category).unwrap_or_default(),
        brand: field(Field::Brand).unwrap_or_default(),
        origin: field(Field::Origin).unwrap_or_default(),
        status,
        option_names,
    }
}

fn problem_at(row: u64, columns: &Columns, field: Field, message: String) -> Problem {
    match columns.column(field) {
        Some(col) => Problem::cell(row, col, message),
        None => Problem::row(row, message),
    }
}

/// Pass 2: the file again, written chunk by chunk in one transaction.
async fn apply(
    writer: &mut dyn CatalogueWrite,
    path: &Path,
    base_dir: &Path,
    file: &str,
    validated: &mut Validated,
    saved_at: Option<DateTime<Utc>>,
    progress: Arc<dyn Progress>,
) -> Result<ImportReport, ImportError> {
    progress.pass("writing", Some(validated.rows));
    let mut stock = StockContext {
        ledger_mark: writer.ledger_mark().await?,
        problems: Vec::new(),
    };
    let (tx, mut rx) = mpsc::channel::<Result<Vec<ParsedRow>, Problem>>(4);
    let reader = {
        let (path, base_dir) = (path.to_path_buf(), base_dir.to_path_buf());
        let (columns, sku_rows) = (validated.columns.clone(), validated.sku_rows.clone());
        tokio::task::spawn_blocking(move || stream_rows(&path, &base_dir, &columns, &sku_rows, tx))
    };
    let mut report = ImportReport {
        file: file.to_string(),
        dry_run: false,
        rows: 0,
        products: Counts::default(),
        skus: Counts::default(),
        stock_movements: 0,
        stock: StockReport {
            file_saved_at: saved_at,
            ..StockReport::default()
        },
        warnings: Vec::new(),
    };
    let source = format!(
        "import:{}",
        path.file_name()
            .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned())
    );
    let mut done = 0_u64;
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.map_err(|problem| ImportError::Invalid {
            file: file.to_string(),
            problems: vec![problem],
            warnings: Vec::new(),
        })?;
        done += chunk.len() as u64;
        settle_products(writer, &chunk, validated, &mut report).await?;
        write_variants(writer, chunk, validated, &mut report, &mut stock, &source).await?;
        progress.rows(done);
    }
    reader
        .await
        .map_err(|e| ImportError::Interrupted(e.to_string()))?;
    if done != validated.rows {
        return Err(ImportError::Interrupted(format!(
            "{file} changed while it was being imported ({} rows checked, {done} read); nothing was imported",
            validated.rows
        )));
    }
    if !stock.problems.is_empty() {
        return Err(ImportError::Invalid {
            file: file.to_string(),
            problems: stock.problems,
            warnings: Vec::new(),
        });
    }
    Ok(report)
}

fn stream_rows(
    path: &Path,
    base_dir: &Path,
    columns: &Columns,
    sku_rows: &HashMap<String, u64>,
    tx: mpsc::Sender<Result<Vec<ParsedRow>, Problem>>,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut header_seen = false;
    let read = read_rows(path, |raw| {
        if !header_seen {
            header_seen = true;
            return Ok(());
        }
        let mut problems = Vec::new();
        let parsed = parse(columns, &raw, base_dir, &mut problems);
        match parsed {
            Some(parsed)
                if problems.is_empty() && sku_rows.get(&parsed.variant.sku) == Some(&raw.row) =>
            {
                chunk.push(parsed)
            }
            _ => {
                let problem = problems.into_iter().next().unwrap_or_else(|| {
                    Problem::row(raw.row, "this row changed since the file was checked")
                });
                let _ = tx.blocking_send(Err(problem));
                return Err(());
            }
        }
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            tx.blocking_send(Ok(full)).map_err(|_| ())?;
        }
        Ok(())
    });
    match read {
        Ok(()) if !chunk.is_empty() => {
            let _ = tx.blocking_send(Ok(chunk));
        }
        Err(Stop::Problem(problem)) => {
            let _ = tx.blocking_send(Err(problem));
        }
        _ => {}
    }
}

/// What caused the work an import marks: the file it came from.
fn report_cause(report: &ImportReport) -> String {
    let name = std::path::Path::new(&report.file)
        .file_name()
        .map_or_else(|| report.file.clone(), |n| n.to_string_lossy().into_owned());
    format!("import:{name}")
}

fn entry<'a>(validated: &'a Validated, id: &str) -> Result<&'a ProductEntry, ImportError> {
    validated
        .products
        .get(id)
        .ok_or_else(|| ImportError::Interrupted(format!("product {id} changed while importing")))
}

/// Writes the products this chunk mentions for the first time, keeping stored
/// values for the fields whose column the file leaves out.
async fn settle_products(
    writer: &mut dyn CatalogueWrite,
    chunk: &[ParsedRow],
    validated: &mut Validated,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut ids: Vec<String> = Vec::new();
    for row in chunk {
        if !entry(validated, &row.product_id)?.settled && !ids.contains(&row.product_id) {
            ids.push(row.product_id.clone());
        }
    }
    let stored = writer.stored_products(&ids).await?;
    let columns = validated.columns.clone();
    let mut writes = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    for id in ids {
        let Some(entry) = validated.products.get_mut(&id) else {
            continue;
        };
        entry.settled = true;
        entry.next_position = stored.get(&id).map_or(0, |s| s.next_position);
        let product = &mut entry.product;
        let Some(old) = stored.get(&id).map(|s| &s.product) else {
            report.products.created += 1;
            writes.push((product.clone(), product_hash(product)));
            continue;
        };
        let keep = |field: Field| !columns.has(field);
        if keep(Field::Description) {
            product.description.clone_from(&old.description);
        }
        if keep(Field::Category) {
            product.category.clone_from(&old.category);
        }
        if keep(Field::Brand) {
            product.brand.clone_from(&old.brand);
        }
        if keep(Field::Origin) {
            product.origin.clone_from(&old.origin);
        }
        if keep(Field::Status) {
            product.status = old.status;
        }
        let names = &product.option_names;
        let from_file = [names.first().cloned(), names.get(1).cloned()];
        product.option_names = merge_axes(from_file, &old.option_names, columns.option_axes());
        if product == old {
            report.products.unchanged += 1;
        } else {
            report.products.updated += 1;
            writes.push((product.clone(), product_hash(product)));
            changed.push(id.clone());
        }
    }
    writer.put_products(&writes).await?;
    // Every SKU of a changed product, listed in this file or not, shows it.
    writer
        .mark_products(&changed, &report_cause(report))
        .await?;
    Ok(())
}

/// What the stock cells of every chunk share.
struct StockContext {
    /// The ledger's newest movement when the import began: a sheet exported
    /// later than that came from another database.
    ledger_mark: i64,
    /// Stock cells that cannot be applied; the import fails with all of them.
    problems: Vec<Problem>,
}

/// What a row's stock cell does to the ledger.
enum StockMove {
    None,
    /// A count (or a new SKU's start): delta = counted − on hand.
    Count(NewMovement),
    /// A change made in an exported sheet: delta = new − exported, less what
    /// an earlier import of a sheet from the same export recorded.
    Change(SheetChange),
}

/// Reads one row's stock cell against the SKU's level (`None`: a new SKU).
fn stock_move(
    row: &ParsedRow,
    on_hand: Option<i64>,
    recorded: &HashMap<(String, i64), i64>,
    stock: &mut StockContext,
    report: &mut StockReport,
    source: &str,
    columns: &Columns,
) -> StockMove {
    let sku = &row.variant.sku;
    let Some(new) = row.stock else {
        return StockMove::None;
    };
    let count = |delta: i64| {
        StockMove::Count(NewMovement {
            sku: sku.clone(),
            delta,
            kind: MovementKind::Count,
            reason: format!("stock count {new} from catalogue import"),
            source: source.to_string(),
            external_ref: None,
        })
    };
    let (on_hand, exported) = match (on_hand, row.exported) {
        (None, _) => {
            report.started += 1;
            return if new == 0 {
                StockMove::None
            } else {
                count(new)
            };
        }
        (Some(on_hand), None) => {
            report.counted += 1;
            if new == on_hand {
                return StockMove::None;
            }
            report.counts_recorded += 1;
            return count(new - on_hand);
        }
        (Some(on_hand), Some(exported)) => (on_hand, exported),
    };
    report.exported += 1;
    let Exported { stock: was, mark } = exported;
    if mark > stock.ledger_mark {
        stock.problems.push(problem_at(
            row.row,
            columns,
            Field::LedgerMark,
            format!(
                "ledger_mark {mark} is ahead of this database's ledger (newest movement {}): the sheet was exported from another database; clear exported_stock and ledger_mark to count this row's stock instead",
                stock.ledger_mark
            ),
        ));
        return StockMove::None;
    }
    if new == was {
        // Untouched in this sheet: nothing to record, even if another copy
        // of the same export already recorded a change (undoing that change
        // would put sold units back).
        return StockMove::None;
    }
    let before = recorded.get(&(sku.clone(), mark)).copied().unwrap_or(0);
    let Some(delta) = (new - was).checked_sub(before) else {
        stock.problems.push(problem_at(
            row.row,
            columns,
            Field::Stock,
            format!("stock \"{new}\" is too large"),
        ));
        return StockMove::None;
    };
    if delta == 0 {
        return StockMove::None;
    }
    if on_hand.checked_add(delta).is_none_or(|level| level < 0) {
        stock.problems.push(problem_at(
            row.row,
            columns,
            Field::Stock,
            format!(
                "stock {new} (exported as {was}) would take SKU \"{sku}\" from {on_hand} on hand to {}; stock cannot go below zero (the ledger moved since the export): set the cell to {} or more, or count the SKU in a sheet without the export mark",
                on_hand.saturating_add(delta),
                was.saturating_add(before).saturating_sub(on_hand),
            ),
        ));
        return StockMove::None;
    }
    report.changes_recorded += 1;
    let reason = if before == 0 {
        format!("stock changed from {was} to {new} in a sheet exported at ledger mark {mark}")
    } else {
        format!(
            "stock changed from {was} to {new} in a sheet exported at ledger mark {mark} ({before:+} recorded by an earlier import of it)"
        )
    };
    StockMove::Change(SheetChange {
        movement: NewMovement {
            sku: sku.clone(),
            delta,
            kind: MovementKind::Change,
            reason,
            source: source.to_string(),
            external_ref: None,
        },
        mark,
    })
}

/// Writes the chunk's variants that changed and records their stock movements.
async fn write_variants(
    writer: &mut dyn CatalogueWrite,
    chunk: Vec<ParsedRow>,
    validated: &mut Validated,
    report: &mut ImportReport,
    stock: &mut StockContext,
    source: &str,
) -> Result<(), ImportError> {
    let columns = validated.columns.clone();
    let skus: Vec<String> = chunk.iter().map(|r| r.variant.sku.clone()).collect();
    let states = writer.variant_states(&skus).await?;
    let from_export: Vec<String> = chunk
        .iter()
        .filter(|r| r.stock.is_some() && r.exported.is_some())
        .filter(|r| states.contains_key(&r.variant.sku))
        .map(|r| r.variant.sku.clone())
        .collect();
    let recorded = if from_export.is_empty() {
        HashMap::new()
    } else {
        writer.sheet_changes(&from_export).await?
    };
    let mut writes = Vec::new();
    let mut movements = Vec::new();
    let mut changes = Vec::new();
    // Since when the ledger moved on the SKUs whose stock the sheet moves.
    let mut counted_skus = Vec::new();
    let mut exported_marks = Vec::new();
    let mut work: Vec<(String, Aspect)> = Vec::new();
    // Products a SKU left or joined: their listings change shape on every channel.
    let mut reshaped: Vec<String> = Vec::new();
    for row in chunk {
        let old = states.get(&row.variant.sku);
        let moved = stock_move(
            &row,
            old.map(|s| s.on_hand),
            &recorded,
            stock,
            &mut report.stock,
            source,
            &columns,
        );
        if let (Some(_), Some(_), Some(exported)) = (old, row.stock, row.exported) {
            exported_marks.push((row.variant.sku.clone(), exported.mark));
        }
        if let Some(old) = old.filter(|s| s.variant.product_id != row.variant.product_id) {
            reshaped.push(old.variant.product_id.clone());
            reshaped.push(row.variant.product_id.clone());
        }
        let mut variant = row.variant;
        let [first, second] = row.option_values;
        let stored_values = old.map_or(&[][..], |s| &s.variant.option_values[..]);
        variant.option_values = merge_axes(
            [first.map(|(v, _)| v), second.map(|(v, _)| v)],
            stored_values,
            columns.option_axes(),
        );
        // A variant keeps its place; a new or moved one goes after the product's others.
        variant.position = match old {
            Some(s) if s.variant.product_id == variant.product_id => s.variant.position,
            _ => {
                let entry = validated.products.get_mut(&row.product_id).ok_or_else(|| {
                    ImportError::Interrupted(format!(
                        "product {} changed while importing",
                        row.product_id
                    ))
                })?;
                entry.next_position += 1;
                entry.next_position - 1
            }
        };
        if let Some(old) = old {
            keep_absent_fields(&mut variant, &old.variant, &columns);
        }
        let record = VariantRecord {
            content_hash: content_hash(&variant),
            price_hash: price_hash(&variant),
            variant,
        };
        let content_changed = old.is_none_or(|s| {
            s.content_hash != record.content_hash
                || s.variant.product_id != record.variant.product_id
        });
        let price_changed = old.is_none_or(|s| s.price_hash != record.price_hash);
        let changed = content_changed || price_changed;
        if content_changed {
            work.push((record.variant.sku.clone(), Aspect::Content));
        }
        if price_changed {
            work.push((record.variant.sku.clone(), Aspect::Price));
        }
        let stock_moves = !matches!(moved, StockMove::None);
        if old.is_none() || stock_moves {
            work.push((record.variant.sku.clone(), Aspect::Stock));
        }
        match (old, changed || stock_moves) {
            (None, _) => report.skus.created += 1,
            (Some(_), true) => report.skus.updated += 1,
            (Some(_), false) => report.skus.unchanged += 1,
        }
        match moved {
            StockMove::None => {}
            StockMove::Count(movement) => {
                if old.is_some() {
                    counted_skus.push(movement.sku.clone());
                }
                movements.push(movement);
            }
            StockMove::Change(change) => changes.push(change),
        }
        if changed {
            writes.push(record);
        }
    }
    // What the ledger recorded since the file was saved (or exported), read
    // before this chunk's own movements join it.
    if let Some(saved_at) = report.stock.file_saved_at
        && !counted_skus.is_empty()
    {
        let since = writer.movements_since(&counted_skus, saved_at).await?;
        report.stock.overridden += since.values().map(|n| *n as u64).sum::<u64>();
    }
    if !exported_marks.is_empty() {
        let after = writer.movements_after_mark(&exported_marks).await?;
        report.stock.kept += after.values().map(|n| *n as u64).sum::<u64>();
    }
    writer.put_variants(&writes).await?;
    writer.record_counts(&movements).await?;
    writer.record_sheet_changes(&changes).await?;
    // The outbox: the work these changes cause commits with them.
    writer.mark(&work, source).await?;
    reshaped.sort();
    reshaped.dedup();
    writer.mark_products(&reshaped, source).await?;
    report.stock_movements += (movements.len() + changes.len()) as u64;
    Ok(())
}

/// A column the file leaves out leaves the stored value as it is.
fn keep_absent_fields(variant: &mut Variant, old: &Variant, columns: &Columns) {
    let keep = |field: Field| !columns.has(field);
    if keep(Field::WeightG) {
        variant.weight_g = old.weight_g;
    }
    if keep(Field::LengthCm) {
        variant.length_mm = old.length_mm;
    }
    if keep(Field::WidthCm) {
        variant.width_mm = old.width_mm;
    }
    if keep(Field::HeightCm) {
        variant.height_mm = old.height_mm;
    }
    if keep(Field::Barcode) {
        variant.barcode.clone_from(&old.barcode);
    }
    if keep(Field::Images) {
        variant.images.clone_from(&old.images);
    }
}

/// Option names or values per axis: from the file where it has the axis,
/// else as stored.
fn merge_axes(from_file: [Option<String>; 2], stored: &[String], axes: [bool; 2]) -> Vec<String> {
    let [first, second] = from_file;
    let pick = |axis: usize, file: Option<String>| {
        if axes[axis] {
            file
        } else {
            stored.get(axis).cloned()
        }
    };
    [pick(0, first), pick(1, second)]
        .into_iter()
        .flatten()
        .collect()
}

fn violation_problem(violation: &Violation, validated: &Validated) -> Problem {
    let sku_row = |sku: &str| validated.sku_rows.get(sku).copied();
    let at = |row: Option<u64>, field: Field, message: String| match row {
        Some(row) => problem_at(row, &validated.columns, field, message),
        None => Problem::file(message),
    };
    match violation {
        Violation::ProductWithoutVariants { product_id } => at(
            None,
            Field::ProductId,
            format!(
                "product \"{product_id}\" would have no SKUs left: this file moves all of them to other products"
            ),
        ),
        Violation::OptionsMismatch { sku, product_id } if sku_row(sku).is_some() => at(
            sku_row(sku),
            Field::Sku,
            format!(
                "SKU \"{sku}\" has no values for some options of product \"{product_id}\"; add the option columns to the file"
            ),
        ),
        Violation::OptionsMismatch { sku, product_id } => {
            let entry = validated.products.get(product_id);
            at(
                entry.map(|e| e.first_row),
                Field::Option1Name,
                format!(
                    "the options of product \"{product_id}\" no longer fit SKU \"{sku}\", which is already in the catalogue but not in this file; list it here with matching option values"
                ),
            )
        }
        Violation::DuplicateOptions { product_id, skus } => at(
            skus.iter().find_map(|s| sku_row(s)),
            Field::Option1Value,
            format!(
                "SKUs {} of product \"{product_id}\" would have the same option values",
                skus.join(", ")
            ),
        ),
    }
}
