//! Whole-file writes that a reader (the seller centre's upload, chosync after
//! a crash) sees either entirely old or entirely new: a temp file in the
//! same folder, flushed and synced, renamed over the target.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The temp files' prefix, so an operator who sees one knows whose it is.
pub const TEMP_PREFIX: &str = ".chosync-";

pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(".tmp");
    // A temp file is private (0600); the sheet is for the people who upload it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut temp = builder.tempfile_in(folder)?;
    if let Ok(existing) = std::fs::metadata(path) {
        temp.as_file().set_permissions(existing.permissions())?;
    }
    temp.write_all(bytes)?;
    temp.flush()?;
    temp.as_file().sync_all()?;
    // On failure the temp file is dropped, which deletes it.
    temp.persist(path).map_err(|e| e.error)?;
    sync_folder(folder);
    Ok(())
}

/// Makes the rename itself durable where the platform allows opening a
/// folder; a failure here leaves the new file in place, so it is not an error.
fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.csv");
        write_atomically(&path, b"old").expect("first write");
        write_atomically(&path, b"new").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["a.csv"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_readable_by_others_and_a_replaced_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.csv");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        write_atomically(&path, b"one").expect("write");
        assert_eq!(mode(&path) & 0o044, 0o044, "{:o}", mode(&path));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, b"two").expect("write");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_write_into_a_missing_folder_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("a.csv");
        assert!(write_atomically(&path, b"x").is_err());
        assert!(!dir.path().join("missing").exists());
    }
}
