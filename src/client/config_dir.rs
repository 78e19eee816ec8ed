//! The config directory (sessions.json, known_hosts): where it is, and how
//! its files are written (atomically, readable by the owner only).

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::credentials::{CONFIG_DIR_ENV, CredentialsError};

/// The config directory: `$SOCKIT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/sockit`,
/// else `~/.config/sockit`. Sessions and known_hosts live there.
pub fn config_dir() -> Result<PathBuf, CredentialsError> {
    if let Some(d) = std::env::var_os(CONFIG_DIR_ENV) {
        Ok(PathBuf::from(d))
    } else if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Ok(PathBuf::from(d).join("sockit"))
    } else if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Ok(PathBuf::from(h).join(".config").join("sockit"))
    } else {
        Err(CredentialsError::NoConfigDir)
    }
}

/// Replaces `path` with `bytes` atomically (a temporary file, fsynced,
/// renamed over it), readable by the owner only, in a directory made
/// private when missing: what the config dir's secrets and trust records
/// (sessions.json, known_hosts) are written with.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    crate::fsutil::write_atomic(path, bytes, 0o600)
}
