//! Copying a single node's files (`DATA/files/u/<user id>/...`) into
//! another store, typically the cluster's PostgreSQL (`sockit admin
//! migrate`). Idempotent: a file already there with the same BLAKE3 is
//! skipped, a different one is replaced, and a copy interrupted midway
//! resumes like any upload. User ids are kept as they are, so the
//! accounts must be copied with their ids.
//!
//! Only the target's public operations are used (stat, upload, finish),
//! so the copy passes the same checks as a client's put, quota included.
//! Links and special files are never followed or copied (they are
//! counted as skipped); names that break the path rules likewise.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::FileStore;
use super::config::READ_BUF;
use super::error::{FileError, FileResult};
use super::paths::{MAX_DEPTH, RelPath};
use super::store::{FILES_DIR, USERS_DIR};
use super::tree::EntryKind;
use super::upload::UploadRequest;

/// What [`import_dir`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Users whose tree was read.
    pub users: u64,
    /// Files copied (new or changed).
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Files already in the target with the same content.
    pub unchanged: u64,
    /// Links, special files, bad names and empty directories not copied.
    pub skipped: u64,
}

/// Copies every user's published files under `data_dir/files/u` into `to`
/// (see the module docs). Unfinished uploads are not copied: their clients
/// resume them against the new store from the start. Memory is one
/// buffer of a chunk whatever the file sizes.
pub fn import_dir(data_dir: &Path, to: &FileStore) -> FileResult<Imported> {
    let users = data_dir.join(FILES_DIR).join(USERS_DIR);
    let mut out = Imported::default();
    let list = match std::fs::read_dir(&users) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(FileError::io("reading the files to import", e)),
    };
    for e in list {
        let e = e.map_err(|e| FileError::io("reading the files to import", e))?;
        let user = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok());
        match (user, e.file_type()) {
            (Some(user), Ok(t)) if t.is_dir() => {
                out.users += 1;
                walk(to, user, &e.path(), "", 0, &mut out)?;
            }
            _ => out.skipped += 1,
        }
    }
    Ok(out)
}

fn walk(
    to: &FileStore,
    user: i64,
    dir: &Path,
    rel: &str,
    depth: usize,
    out: &mut Imported,
) -> FileResult<()> {
    let io = |e| FileError::io("reading the files to import", e);
    let mut names: Vec<(String, PathBuf, std::fs::FileType)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let t = e.file_type().map_err(io)?;
        match e.file_name().into_string() {
            Ok(n) => names.push((n, e.path(), t)),
            Err(_) => out.skipped += 1,
        }
    }
    if names.is_empty() && depth > 0 {
        out.skipped += 1; // an empty directory: stores create them at publish
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, full, t) in names {
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if RelPath::parse(&path).is_err() {
            out.skipped += 1;
        } else if t.is_dir() && depth < MAX_DEPTH {
            walk(to, user, &full, &path, depth + 1, out)?;
        } else if t.is_file() {
            copy_file(to, user, &full, &path, out)?;
        } else {
            out.skipped += 1;
        }
    }
    Ok(())
}

/// Hashes the source, and uploads it unless the target holds it already.
fn copy_file(
    to: &FileStore,
    user: i64,
    src: &Path,
    path: &str,
    out: &mut Imported,
) -> FileResult<()> {
    let io = |e| FileError::io("reading a file to import", e);
    let mut buf = vec![0u8; READ_BUF.min(to.config().max_chunk).max(1)];
    let mut f = File::open(src).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let mut b3 = blake3::Hasher::new();
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        let Some(got) = buf.get(..n).filter(|s| !s.is_empty()) else {
            break;
        };
        b3.update(got);
    }
    let hash = b3.finalize();
    match to.stat(user, path) {
        Ok(e) if e.kind == EntryKind::File && e.size == size && e.blake3 == Some(hash) => {
            out.unchanged += 1;
            return Ok(());
        }
        Ok(_) | Err(FileError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let req = UploadRequest {
        path: path.to_owned(),
        size,
        fingerprint: format!("import {}", hash.to_hex()),
        force: true,
        md5: false,
    };
    let mut up = to.begin_upload(user, &req)?;
    let mut pos = up.offset();
    let mut f = File::open(src).map_err(io)?;
    std::io::Seek::seek(&mut f, io::SeekFrom::Start(pos)).map_err(io)?;
    while pos < size {
        let n = f.read(&mut buf).map_err(io)?;
        let Some(got) = buf.get(..n).filter(|s| !s.is_empty()) else {
            return Err(io(io::Error::other("a file shrank while being imported")));
        };
        pos = up.write(pos, got)?;
    }
    up.finish(&hash)?;
    out.files += 1;
    out.bytes += size;
    Ok(())
}
