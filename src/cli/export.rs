//! `chosync export FILE`: the catalogue as CSV or XLSX.

use std::path::Path;

use super::{Failure, say};
use crate::catalogue::export::export_file;
use crate::store::Store;

pub(super) async fn run(store: &dyn Store, file: &Path) -> Result<(), Failure> {
    let rows = export_file(store, file).await.map_err(|err| Failure {
        code: 1,
        lines: vec![format!("error: {err}")],
    })?;
    say!("exported {rows} SKUs to {}", file.display());
    Ok(())
}
