//! A spreadsheet channel for marketplaces without an API (Voso today, any
//! other tomorrow): the listings chosync pushes become the seller centre's
//! bulk-upload sheet (CSV or XLSX, columns from the mapping file), written
//! atomically into a folder, and orders exported from the seller centre and
//! dropped into an inbox come back as `Order`s. See the README.

mod atomic;
mod client;
pub mod inbox;
pub mod layout;
pub mod sheet;
pub mod state;
mod table;
mod text;
mod time;

pub use client::{
    IMPORTED, ITEMS_PER_CALL, LISTING_PAGE, REJECTED, Spreadsheet, SpreadsheetConfig,
};
pub use inbox::Problem;
pub use layout::{
    Column, FileFormat, LayoutProblem, NumberFormat, OrderColumns, OrdersLayout, SheetLayout, Value,
};
pub use sheet::{SheetRow, read_sheet};
pub use table::FileError;
