//! Unfinished uploads in the staging area: `<key>.part` holds the bytes
//! received so far, `<key>.meta` what they belong to and how many of them
//! are durable.
//!
//! The key is derived from the destination path, so one path has at most
//! one partial and a resumed upload finds its own. The meta file is
//! replaced atomically (write `<key>.meta.tmp`, fsync, rename) and only ever
//! after the data it vouches for was fsynced, so `synced` never exceeds
//! what survived a crash.

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;

use rustix::fs::OFlags;
use serde::{Deserialize, Serialize};

use super::config::MAX_PARTIALS_PER_USER;
use super::fsx;
use super::paths::RelPath;

/// Suffix of a partial's data file.
pub(crate) const PART: &str = ".part";
/// Suffix of a partial's metadata file.
pub(crate) const META: &str = ".meta";
/// Suffix of a metadata file being replaced; always stale when found.
pub(crate) const META_TMP: &str = ".meta.tmp";

/// Largest meta file read: they are a few hundred bytes, and a damaged or
/// planted one must not make us read much.
const MAX_META: u64 = 16 * 1024;

/// Format version of the meta file.
const META_VERSION: u32 = 1;

/// What a partial belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartialMeta {
    /// Format version.
    pub v: u32,
    /// Destination path in the user's tree.
    pub path: String,
    /// Declared size of the whole file.
    pub size: u64,
    /// BLAKE3 (hex) of the client's source fingerprint: a changed source
    /// means the partial is discarded. Hashed so any fingerprint length
    /// costs the same few bytes.
    pub fingerprint: String,
    /// Bytes fsynced: what a resumed upload continues from.
    pub synced: u64,
    /// Directories the publish will create (missing at begin): reserved
    /// against the quota with the file. Absent in older meta files.
    #[serde(default)]
    pub dirs: u64,
}

impl PartialMeta {
    /// A new meta for an upload that has nothing yet.
    pub(crate) fn new(path: &RelPath, size: u64, fingerprint: &str) -> PartialMeta {
        PartialMeta {
            v: META_VERSION,
            path: path.as_str().to_owned(),
            size,
            fingerprint: fingerprint_key(fingerprint),
            synced: 0,
            dirs: 0,
        }
    }

    /// What this partial holds of the quota: its file and the directories
    /// its publish creates.
    pub(crate) fn reserved(&self) -> u64 {
        super::config::charge(self.size)
            .saturating_add(self.dirs.saturating_mul(super::config::ENTRY_CHARGE))
    }

    /// True when this partial is for the same destination, size and source.
    /// An empty fingerprint names no source, so it never matches: a client
    /// that sends none always starts over rather than resuming another
    /// file of the same size.
    pub(crate) fn matches(&self, path: &RelPath, size: u64, fingerprint: &str) -> bool {
        !fingerprint.is_empty()
            && self.v == META_VERSION
            && self.path == path.as_str()
            && self.size == size
            && self.fingerprint == fingerprint_key(fingerprint)
    }
}

pub(crate) fn fingerprint_key(fp: &str) -> String {
    blake3::hash(fp.as_bytes()).to_hex().to_string()
}

/// The staging key of a destination path: 128 bits of its BLAKE3, in hex
/// (a fixed-length, always-valid file name whatever the path).
pub(crate) fn key_of(path: &RelPath) -> String {
    let h = blake3::hash(path.as_str().as_bytes());
    hex::encode(&h.as_bytes()[..16])
}

/// Reads `<key>.meta`; `None` when absent or unreadable (a damaged meta
/// means the partial cannot be trusted and starts over).
pub(crate) fn read_meta(dir: BorrowedFd<'_>, key: &str) -> io::Result<Option<PartialMeta>> {
    let file = match fsx::open_file_at(dir, &format!("{key}{META}"), OFlags::RDONLY) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    file.take(MAX_META).read_to_end(&mut buf)?;
    Ok(serde_json::from_slice(&buf).ok())
}

/// Replaces `<key>.meta` atomically and durably.
pub(crate) fn write_meta(dir: BorrowedFd<'_>, key: &str, meta: &PartialMeta) -> io::Result<()> {
    let tmp = format!("{key}{META_TMP}");
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
    let mut f = fsx::open_file_at(dir, &tmp, flags)?;
    f.write_all(&serde_json::to_vec(meta).map_err(io::Error::other)?)?;
    f.sync_all()?;
    fsx::rename_at(dir, &tmp, dir, &format!("{key}{META}"), true)
}

/// Removes a partial's files (whichever exist).
pub(crate) fn discard(dir: BorrowedFd<'_>, key: &str) -> io::Result<()> {
    for suffix in [PART, META, META_TMP] {
        match fsx::unlink_at(dir, format!("{key}{suffix}")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The keys of the partials in a user's staging directory (from their
/// meta files), with their metas.
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(String, Option<PartialMeta>)>> {
    let mut out = Vec::new();
    // Bounded by the partials cap (plus slack for planted names).
    let (names, _) = fsx::read_names(dir, 4 * MAX_PARTIALS_PER_USER)?;
    for name in names {
        let Ok(name) = String::from_utf8(name) else {
            continue;
        };
        if let Some(key) = name.strip_suffix(META) {
            let meta = read_meta(dir, key)?;
            out.push((key.to_owned(), meta));
        }
    }
    Ok(out)
}
