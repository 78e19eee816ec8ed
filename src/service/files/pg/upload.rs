//! Starting, streaming and stopping an upload on PostgreSQL (publishing
//! is in `publish.rs`). Check and reservation are one transaction under the
//! user's lock; every row of content is inserted together with the new
//! durable offset, so what a resume finds is exactly what was committed.

use md5::Digest;

use super::super::config::{ENTRY_CHARGE, MAX_ACTIVE_PER_USER, MAX_PARTIALS_PER_USER, charge};
use super::super::error::{FileError, FileResult};
use super::super::partial::fingerprint_key;
use super::super::paths::RelPath;
use super::super::upload::UploadRequest;
use super::{LEASE, PgInner, PgStore, dberr, int, lock_user, uint};
use std::sync::Arc;

/// An upload in progress on PostgreSQL. Dropping it without
/// [`PgUpload::pause`] keeps every committed row; its claim lapses after
/// [`LEASE`]. Blocking.
pub struct PgUpload {
    pub(crate) inner: Arc<PgInner>,
    pub(crate) user: i64,
    pub(crate) path: RelPath,
    pub(crate) content: i64,
    /// This connection's claim on the upload row.
    pub(crate) token: String,
    pub(crate) size: u64,
    pub(crate) dirs: u64,
    pub(crate) force: bool,
    /// Bytes received.
    pub(crate) offset: u64,
    /// Bytes committed (the rows so far).
    pub(crate) held: u64,
    pub(crate) resumed_from: u64,
    /// Received, not yet committed: less than [`MIN_ROW`] between two writes.
    pub(crate) pending: Vec<u8>,
    pub(crate) blake3: blake3::Hasher,
    pub(crate) md5: Option<md5::Md5>,
    pub(crate) dead: bool,
}

impl std::fmt::Debug for PgUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgUpload")
            .field("user", &self.user)
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("size", &self.size)
            .finish()
    }
}

/// The upload row found at begin.
struct Prior {
    content: i64,
    size: u64,
    fingerprint: String,
    held: u64,
    running: bool,
}

impl PgStore {
    /// Starts or resumes an upload, as [`DiskStore::begin_upload`]
    /// (same checks, same errors), from whichever node began it.
    ///
    /// [`DiskStore::begin_upload`]: super::super::DiskStore::begin_upload
    pub fn begin_upload(&self, user: i64, req: &UploadRequest) -> FileResult<PgUpload> {
        let inner = &self.inner;
        let path = super::super::upload::check_request(&inner.config, req)?;
        let token = new_token()?;
        let fp = fingerprint_key(&req.fingerprint);
        let quota = inner.config.quota;
        let mut conn = inner.pool.get()?;
        let (content, held, dirs) = conn.run("starting an upload", |c| {
            let err = dberr("starting an upload");
            let mut tx = c.transaction().map_err(&err)?;
            lock_user(&mut tx, user).map_err(&err)?;
            let (replaced, missing) =
                super::publish::check_destination(&mut tx, user, &path, req.force)?;
            let dirs = missing.len() as u64;
            let prior = tx
                .query_opt(
                    "SELECT content, size, fingerprint, held,
                            coalesce(lease_until > now(), false)
                     FROM files_uploads WHERE user_id = $1 AND path = $2",
                    &[&user, &path.as_str()],
                )
                .map_err(&err)?
                .map(|r| Prior {
                    content: r.get(0),
                    size: uint(r.get(1)),
                    fingerprint: r.get(2),
                    held: uint(r.get(3)),
                    running: r.get(4),
                });
            if prior.as_ref().is_some_and(|p| p.running) {
                return Err(FileError::Busy {
                    path: super::super::escape_name(path.as_str()).into_owned(),
                    why: "another upload of this path is running",
                });
            }
            let row = tx
                .query_one(
                    "SELECT count(*),
                            count(*) FILTER (WHERE lease_until > now()),
                            coalesce(sum(greatest(size, $2) + dirs * $2)
                                     FILTER (WHERE path <> $3), 0)::BIGINT
                     FROM files_uploads WHERE user_id = $1",
                    &[&user, &int(ENTRY_CHARGE), &path.as_str()],
                )
                .map_err(&err)?;
            let (partials, running, staged): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            if prior.is_none() && uint(partials) >= MAX_PARTIALS_PER_USER as u64 {
                return Err(FileError::TooManyPartials {
                    count: usize::try_from(partials).unwrap_or(usize::MAX),
                });
            }
            if uint(running) >= MAX_ACTIVE_PER_USER as u64 {
                return Err(FileError::Busy {
                    path: super::super::escape_name(path.as_str()).into_owned(),
                    why: "too many uploads running for this user",
                });
            }
            let used = super::tree::published_bytes(&mut tx, user)?.saturating_add(uint(staged));
            let needed = charge(req.size)
                .saturating_add(dirs.saturating_mul(ENTRY_CHARGE))
                .saturating_sub(replaced.map_or(0, |r| charge(r.size)));
            if used.saturating_add(needed) > quota {
                return Err(FileError::QuotaExceeded {
                    used,
                    quota,
                    needed,
                });
            }
            let lease = LEASE.as_secs_f64();
            let resumable = prior.as_ref().filter(|p| {
                !req.fingerprint.is_empty() && p.size == req.size && p.fingerprint == fp
            });
            let (content, held) = if let Some(p) = resumable {
                tx.execute(
                    "UPDATE files_uploads SET lease = $3, dirs = $4,
                         lease_until = now() + make_interval(secs => $5), updated = now()
                     WHERE user_id = $1 AND path = $2",
                    &[&user, &path.as_str(), &token, &int(dirs), &lease],
                )
                .map_err(&err)?;
                (p.content, p.held.min(req.size))
            } else {
                if let Some(p) = &prior {
                    tx.execute("DELETE FROM files_chunks WHERE content = $1", &[&p.content])
                        .map_err(&err)?;
                }
                let content: i64 = tx
                    .query_one("SELECT nextval('files_content_ids')", &[])
                    .map_err(&err)?
                    .get(0);
                tx.execute(
                    "INSERT INTO files_uploads
                         (user_id, path, content, size, fingerprint, dirs, lease, lease_until)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
                     ON CONFLICT (user_id, path) DO UPDATE SET
                         content = EXCLUDED.content, size = EXCLUDED.size,
                         fingerprint = EXCLUDED.fingerprint, held = 0, dirs = EXCLUDED.dirs,
                         lease = EXCLUDED.lease, lease_until = EXCLUDED.lease_until,
                         updated = now()",
                    &[
                        &user,
                        &path.as_str(),
                        &content,
                        &int(req.size),
                        &fp,
                        &int(dirs),
                        &token,
                        &lease,
                    ],
                )
                .map_err(&err)?;
                (content, 0)
            };
            tx.commit().map_err(&err)?;
            Ok((content, held, dirs))
        })?;
        drop(conn);
        let mut up = PgUpload {
            inner: Arc::clone(inner),
            user,
            path,
            content,
            token,
            size: req.size,
            dirs,
            force: req.force,
            offset: 0,
            held: 0,
            resumed_from: 0,
            pending: Vec::new(),
            blake3: blake3::Hasher::new(),
            md5: req.md5.then(md5::Md5::new),
            dead: false,
        };
        up.rehash(held)?;
        Ok(up)
    }
}

/// 128 random bits in hex: names this connection's claim on an upload.
fn new_token() -> FileResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| FileError::io("drawing a token", std::io::Error::other(e)))?;
    Ok(hex::encode(b))
}

impl PgUpload {
    /// Where the client continues: bytes received so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes found committed when this upload began (0 when new).
    pub fn resumed_from(&self) -> u64 {
        self.resumed_from
    }

    /// The declared size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The BLAKE3 of everything written so far, as the store hashed it.
    pub fn content_blake3(&self) -> blake3::Hash {
        self.blake3.finalize()
    }

    /// The destination path.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Bytes this upload holds of the quota.
    pub fn reserved(&self) -> u64 {
        charge(self.size).saturating_add(self.dirs.saturating_mul(ENTRY_CHARGE))
    }

    /// Hashes the committed rows (the hasher state cannot be saved), one
    /// row in memory at a time, and positions after them. Rows past
    /// `held` cannot exist (each is committed with it); a gap ends the
    /// prefix there.
    fn rehash(&mut self, held: u64) -> FileResult<()> {
        let mut conn = self.inner.pool.get()?;
        let mut pos = 0u64;
        while pos < held {
            let row = conn.run("resuming an upload", |c| {
                c.query_opt(
                    "SELECT bytes FROM files_chunks WHERE content = $1 AND off = $2",
                    &[&self.content, &int(pos)],
                )
                .map_err(dberr("resuming an upload"))
            })?;
            let Some(row) = row else { break };
            let bytes: &[u8] = row.get(0);
            let take = bytes
                .len()
                .min(usize::try_from(held - pos).unwrap_or(usize::MAX));
            let Some(slice) = bytes.get(..take) else {
                break;
            };
            self.blake3.update(slice);
            if let Some(m) = self.md5.as_mut() {
                m.update(slice);
            }
            pos += take as u64;
        }
        self.offset = pos;
        self.held = pos;
        self.resumed_from = pos;
        Ok(())
    }
}
