//! Small file helpers shared across layers; imports nothing else from the
//! crate, so any layer may use it.

pub mod direct;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `bytes` atomically: written to a temporary name in
/// the same directory (one per process, so two commands saving at once never
/// share it), fsynced, given exactly `mode` (the umask may have narrowed it;
/// an older, looser file is tightened too), then renamed over `path`. No
/// reader ever sees half a file; on failure the temporary is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Mode of every directory sockit creates for its own state: its user's
/// only (the data directory holds password hashes and private files).
pub const PRIVATE_DIR: u32 = 0o700;

/// Mode of every file sockit creates for its own state.
pub const PRIVATE_FILE: u32 = 0o600;

/// Creates `path` and any missing parents with [`PRIVATE_DIR`] from the
/// start (the umask can only narrow it); existing directories are left as
/// they are.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(path)
}

/// Creates `path` empty with [`PRIVATE_FILE`] if it does not exist, so a
/// program that then opens it (SQLite, which gives its `-wal` and `-shm`
/// files the database file's mode) never makes it readable by others.
pub fn touch_private(path: &Path) -> io::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The one-line warning for an existing directory that other users can
/// enter or read, with the command that fixes it; `None` when it is private.
pub fn loose_dir_warning(path: &Path) -> Option<String> {
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "data directory {} is open to other users (mode {mode:o}); run: chmod 700 {}",
            path.display(),
            path.display()
        )
    })
}
