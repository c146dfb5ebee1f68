//! An orders file exported from the seller centre, read whole: either every
//! row makes sense and the file gives its `Order`s, or the file is refused
//! with every problem, each naming its row and column.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use chosync_connector::dto::{Order, OrderLine};
use chrono::{DateTime, Utc};

use crate::layout::OrdersLayout;
use crate::table::{TableRow, read_table};
use crate::text::same_words;
use crate::time::{CELL_TIME_FORMAT, read_time};

/// One thing wrong with an orders file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The row as a spreadsheet shows it (the header is row 1); 0 for the file as a whole.
    pub row: usize,
    /// The column's header, where one column is at fault.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, &self.column) {
            (0, _) => write!(f, "file: {}", self.reason),
            (row, Some(column)) => write!(f, "row {row}, column \"{column}\": {}", self.reason),
            (row, None) => write!(f, "row {row}: {}", self.reason),
        }
    }
}

/// The orders of the file at `path`; `modified` is their version when the
/// layout has no update-time column.
pub fn read_orders(
    layout: &OrdersLayout,
    path: &Path,
    modified: DateTime<Utc>,
) -> Result<Vec<Order>, Vec<Problem>> {
    let table = read_table(path, None).map_err(|e| {
        vec![Problem {
            row: 0,
            column: None,
            reason: format!("cannot be read: {}", e.reason),
        }]
    })?;
    parse_orders(layout, &table, modified)
}

/// Where each column the layout names sits in the file.
struct Columns {
    order_id: usize,
    sku: usize,
    quantity: usize,
    status: usize,
    created_at: usize,
    updated_at: Option<usize>,
}

/// The orders of a table whose first row is the header, in order of first appearance.
pub fn parse_orders(
    layout: &OrdersLayout,
    table: &[TableRow],
    modified: DateTime<Utc>,
) -> Result<Vec<Order>, Vec<Problem>> {
    let Some(header) = table.first() else {
        return Err(vec![Problem {
            row: 1,
            column: None,
            reason: "the file is empty (no header row)".into(),
        }]);
    };
    let columns = find_columns(layout, header)?;
    let mut problems = Vec::new();
    let mut orders: Vec<Order> = Vec::new();
    let mut at: HashMap<String, (usize, usize)> = HashMap::new();
    for row in table.iter().skip(1).filter(|r| !r.is_blank()) {
        let Some(order) = read_line(layout, &columns, row, modified, &mut problems) else {
            continue;
        };
        match at.get(&order.order_id) {
            None => {
                at.insert(order.order_id.clone(), (orders.len(), row.number));
                orders.push(order);
            }
            Some(&(index, first_row)) => {
                let Some(first) = orders.get_mut(index) else {
                    continue;
                };
                let before = problems.len();
                disagreements(layout, first, &order, first_row, row.number, &mut problems);
                if problems.len() == before {
                    add_lines(first, order.lines);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(orders)
    } else {
        Err(problems)
    }
}

fn find_columns(layout: &OrdersLayout, header: &TableRow) -> Result<Columns, Vec<Problem>> {
    let mut missing = Vec::new();
    let mut find = |name: &str| {
        let found = header.cells.iter().position(|h| same_words(h, name));
        if found.is_none() {
            missing.push(Problem {
                row: header.number,
                column: Some(name.to_owned()),
                reason: "no column with this header".into(),
            });
        }
        found.unwrap_or(0)
    };
    let named = &layout.columns;
    let columns = Columns {
        order_id: find(&named.order_id),
        sku: find(&named.sku),
        quantity: find(&named.quantity),
        status: find(&named.status),
        created_at: find(&named.created_at),
        updated_at: named.updated_at.as_deref().map(&mut find),
    };
    if missing.is_empty() {
        Ok(columns)
    } else {
        Err(missing)
    }
}

/// One row as a one-line order, or `None` with its problems recorded.
fn read_line(
    layout: &OrdersLayout,
    columns: &Columns,
    row: &TableRow,
    modified: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Option<Order> {
    let named = &layout.columns;
    let before = problems.len();
    let mut problem = |header: &str, reason: String| {
        problems.push(Problem {
            row: row.number,
            column: Some(header.to_owned()),
            reason,
        })
    };
    let order_id = row.cell(columns.order_id);
    if order_id.is_empty() {
        problem(&named.order_id, "the order id is empty".into());
    }
    let sku = row.cell(columns.sku);
    if sku.is_empty() {
        problem(&named.sku, "the SKU is empty".into());
    }
    let quantity_text = row.cell(columns.quantity);
    let quantity = quantity_text.parse::<i64>().ok().filter(|q| *q > 0);
    if quantity.is_none() {
        problem(
            &named.quantity,
            format!("\"{quantity_text}\" is not a positive whole number"),
        );
    }
    let status = row.cell(columns.status);
    let state = layout.state_of(status);
    if state.is_none() {
        problem(
            &named.status,
            format!(
                "unknown status \"{status}\" (known: {})",
                layout.known_words()
            ),
        );
    }
    let mut time = |at: usize, header: &str| {
        let text = row.cell(at);
        let read =
            read_time(&layout.time_format, text).or_else(|| read_time(CELL_TIME_FORMAT, text));
        if read.is_none() {
            problem(
                header,
                format!(
                    "cannot read \"{text}\" as a time in format {}",
                    layout.time_format
                ),
            );
        }
        read
    };
    let created_at = time(columns.created_at, &named.created_at);
    let updated_at = match (columns.updated_at, &named.updated_at) {
        (Some(at), Some(header)) => time(at, header),
        _ => Some(modified),
    };
    if problems.len() > before {
        return None;
    }
    let (Some(quantity), Some(state), Some(created_at), Some(updated_at)) =
        (quantity, state, created_at, updated_at)
    else {
        return None;
    };
    Some(Order {
        order_id: order_id.to_owned(),
        platform_status: status.to_owned(),
        state,
        created_at,
        updated_at,
        lines: vec![OrderLine {
            line_id: sku.to_owned(),
            sku: sku.to_owned(),
            quantity,
            cancelled_quantity: 0,
            state,
        }],
    })
}

/// Rows of one order must agree on what is the order's, not the line's.
fn disagreements(
    layout: &OrdersLayout,
    first: &Order,
    this: &Order,
    first_row: usize,
    row: usize,
    problems: &mut Vec<Problem>,
) {
    let named = &layout.columns;
    let mut differs = |header: &str, what: &str, was: String, is: String| {
        problems.push(Problem {
            row,
            column: Some(header.to_owned()),
            reason: format!(
                "order {} has {what} \"{is}\" here but \"{was}\" on row {first_row}",
                first.order_id
            ),
        })
    };
    if !same_words(&first.platform_status, &this.platform_status) {
        differs(
            &named.status,
            "status",
            first.platform_status.clone(),
            this.platform_status.clone(),
        );
    }
    if first.created_at != this.created_at {
        differs(
            &named.created_at,
            "creation time",
            first.created_at.to_rfc3339(),
            this.created_at.to_rfc3339(),
        );
    }
    if let Some(header) = &named.updated_at
        && first.updated_at != this.updated_at
    {
        differs(
            header,
            "update time",
            first.updated_at.to_rfc3339(),
            this.updated_at.to_rfc3339(),
        );
    }
}

/// The same SKU twice in one order is one line of their sum: the line id
/// is the SKU, stable across re-exports.
fn add_lines(order: &mut Order, lines: Vec<OrderLine>) {
    for line in lines {
        match order.lines.iter_mut().find(|l| l.sku == line.sku) {
            Some(held) => held.quantity = held.quantity.saturating_add(line.quantity),
            None => order.lines.push(line),
        }
    }
}
