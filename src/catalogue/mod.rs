//! The canonical catalogue: model, validation, hashing, import and export.

pub mod barcode;
pub mod columns;
pub mod export;
pub mod file;
pub mod hash;
pub mod import;
pub mod model;
pub mod number;
pub mod problem;
pub mod row;
pub mod text;
