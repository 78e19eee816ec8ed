//! Starting an upload: `begin_upload` checks everything that can be known
//! before the first byte and returns an [`DiskUpload`] positioned at the offset
//! the store holds durably (`write.rs` streams into it, `publish.rs`
//! finishes it).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use md5::Digest;
use rustix::fs::OFlags;

use super::DiskStore;
use super::config::{ENTRY_CHARGE, MAX_PARTIALS_PER_USER, READ_BUF, charge};
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::partial::{self, PART, PartialMeta};
use super::paths::RelPath;
use super::quota::staged_bytes;
use super::store::{Claim, Inner};

/// What a client asks for when it starts (or resumes) a put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// Destination, relative to the user's root.
    pub path: String,
    /// Size of the whole file, in bytes.
    pub size: u64,
    /// Identifies the source version (the CLI sends size and mtime of the
    /// local file); a different one discards an earlier partial, and an
    /// empty one never resumes.
    pub fingerprint: String,
    /// Replace an existing file.
    pub force: bool,
    /// Also compute MD5 (the classic exercise's hash); costs throughput.
    pub md5: bool,
}

/// An upload in progress. Dropping it keeps the partial for a resume (up
/// to the last fsync); [`DiskUpload::pause`] first makes everything received
/// durable. Blocking: use it from `spawn_blocking`.
pub struct DiskUpload {
    pub(crate) inner: Arc<Inner>,
    pub(crate) _claim: Claim,
    pub(crate) user: i64,
    pub(crate) path: RelPath,
    pub(crate) key: String,
    pub(crate) staging: OwnedFd,
    pub(crate) out: crate::fsutil::direct::SeqWriter,
    pub(crate) meta: PartialMeta,
    pub(crate) offset: u64,
    pub(crate) resumed_from: u64,
    pub(crate) force: bool,
    pub(crate) blake3: blake3::Hasher,
    pub(crate) md5: Option<md5::Md5>,
    pub(crate) unsynced: u64,
    /// Set once the partial was discarded; later calls fail.
    pub(crate) dead: bool,
    /// Test hook: act as if the disk filled after this many more bytes.
    #[cfg(test)]
    pub(crate) fail_after: Option<u64>,
}

impl std::fmt::Debug for DiskUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskUpload")
            .field("user", &self.user)
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("size", &self.meta.size)
            .finish()
    }
}

impl DiskStore {
    /// Starts or resumes an upload. Checks the path, the size limit, an
    /// existing destination (conflict unless `force`), the quota, and
    /// whether the same path is already being uploaded (busy). A partial
    /// for the same path, size and fingerprint is resumed: its durable
    /// prefix is re-hashed once and [`DiskUpload::offset`] says where the client
    /// continues; any other partial for that path is discarded.
    pub fn begin_upload(&self, user: i64, req: &UploadRequest) -> FileResult<DiskUpload> {
        let inner = &self.inner;
        let path = check_request(&inner.config, req)?;
        let key = partial::key_of(&path);
        let claim = Claim::take(inner, user, &key, path.as_str())?;
        let root = inner.user_root(user)?;
        let (replaced, dirs) = check_destination(root.as_fd(), &path, req.force)?;

        let staging = inner.user_staging(user)?;
        let io = |doing| move |e| FileError::io(doing, e);
        // From reading the usage to writing the reservation (the meta file),
        // no other upload of this user may check: see `quota.rs`.
        let lock = inner.quota_lock(user);
        let _reserving = lock.lock().unwrap_or_else(|p| p.into_inner());
        let partials = partial::list(staging.as_fd()).map_err(io("listing unfinished uploads"))?;
        let prior = partials
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, m)| m.clone());
        if prior.is_none() && partials.len() >= MAX_PARTIALS_PER_USER {
            return Err(FileError::TooManyPartials {
                count: partials.len(),
            });
        }
        let used = inner
            .published_bytes(user)?
            .saturating_add(staged_bytes(&partials, &key));
        let needed = charge(req.size)
            .saturating_add(dirs.saturating_mul(ENTRY_CHARGE))
            .saturating_sub(replaced.map_or(0, charge));
        if used.saturating_add(needed) > inner.config.quota {
            return Err(FileError::QuotaExceeded {
                used,
                quota: inner.config.quota,
                needed,
            });
        }

        let meta = match prior {
            Some(mut m) if m.matches(&path, req.size, &req.fingerprint) => {
                if m.dirs != dirs {
                    m.dirs = dirs;
                    partial::write_meta(staging.as_fd(), &key, &m)
                        .map_err(io("resuming an upload"))?;
                }
                m
            }
            _ => {
                partial::discard(staging.as_fd(), &key).map_err(io("discarding a partial"))?;
                let mut m = PartialMeta::new(&path, req.size, &req.fingerprint);
                m.dirs = dirs;
                partial::write_meta(staging.as_fd(), &key, &m).map_err(io("starting an upload"))?;
                m
            }
        };
        drop(_reserving);
        let flags = OFlags::RDWR | OFlags::CREATE;
        let file = fsx::open_file_at(staging.as_fd(), &format!("{key}{PART}"), flags)
            .map_err(io("opening a partial"))?;
        let mut up = DiskUpload {
            inner: Arc::clone(inner),
            _claim: claim,
            user,
            path,
            key,
            staging,
            out: crate::fsutil::direct::SeqWriter::new(file, 0).map_err(io("opening a partial"))?,
            meta,
            offset: 0,
            resumed_from: 0,
            force: req.force,
            blake3: blake3::Hasher::new(),
            md5: req.md5.then(md5::Md5::new),
            unsynced: 0,
            dead: false,
            #[cfg(test)]
            fail_after: None,
        };
        up.resume().map_err(io("resuming a partial"))?;
        Ok(up)
    }
}

/// Refuses a destination that is a directory, a link on the way, or an
/// existing file without `force`; returns what is being replaced (its
/// size; 0 for a special file) and how many directories the publish will
/// create.
fn check_destination(
    root: std::os::fd::BorrowedFd<'_>,
    path: &RelPath,
    force: bool,
) -> FileResult<(Option<u64>, u64)> {
    let missing = fsx::missing_parents(root, path)?;
    if missing > 0 {
        // Missing directories are created at publish.
        return Ok((None, missing));
    }
    let parent = fsx::walk_parent(root, path, false)?;
    let existing = fsx::stat_at(parent.as_fd(), path.file_name())
        .map_err(|e| FileError::io("checking the destination", e))?;
    let replaced = match existing {
        None => None,
        Some(m) if m.kind == Kind::Dir => {
            return Err(FileError::WrongKind {
                path: path.to_string(),
                wanted: "a file",
                found: "a directory",
            });
        }
        Some(_) if !force => {
            return Err(FileError::Exists {
                path: path.to_string(),
            });
        }
        Some(m) if m.kind == Kind::File => Some(m.size),
        Some(_) => Some(0),
    };
    Ok((replaced, 0))
}

impl DiskUpload {
    /// Where the client continues: bytes held so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes found durable when this upload began (0 when new).
    pub fn resumed_from(&self) -> u64 {
        self.resumed_from
    }

    /// The declared size.
    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// The BLAKE3 of everything written so far, as the store hashed it.
    pub fn content_blake3(&self) -> blake3::Hash {
        self.blake3.finalize()
    }

    /// The destination path.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Cuts the partial back to its durable prefix, re-hashes that prefix
    /// (the hasher state cannot be saved) and positions at its end.
    fn resume(&mut self) -> std::io::Result<()> {
        let on_disk = self.out.file().metadata()?.len();
        let held = self.meta.synced.min(on_disk).min(self.meta.size);
        self.out.file().set_len(held)?;
        let mut buf = vec![0u8; READ_BUF.min(usize::try_from(held).unwrap_or(READ_BUF))];
        let mut pos = 0u64;
        while pos < held {
            let want = buf
                .len()
                .min(usize::try_from(held - pos).unwrap_or(buf.len()));
            let slice = buf.get_mut(..want).unwrap_or_default();
            self.out.read_exact_at(slice, pos)?;
            self.blake3.update(slice);
            if let Some(m) = self.md5.as_mut() {
                m.update(&*slice);
            }
            pos += want as u64;
        }
        self.out.position(held)?;
        self.offset = held;
        self.resumed_from = held;
        Ok(())
    }
}

/// The checks every store makes before an upload begins: a valid path and
/// a size within the largest file allowed. Returns the parsed path.
pub(super) fn check_request(
    config: &super::FilesConfig,
    req: &UploadRequest,
) -> FileResult<RelPath> {
    let path = RelPath::parse(&req.path).map_err(|e| FileError::bad_path(&req.path, e))?;
    if req.size > config.max_file {
        return Err(FileError::TooLarge {
            what: "the file",
            size: req.size,
            max: config.max_file,
        });
    }
    Ok(path)
}
