//! Upload links (`/u/ID`): a logged-in user hands out a link through which
//! anyone drops files into one folder of their store, within limits the
//! link and the server set, until it expires, fills or is revoked.
//!
//! A link is a row of `shares` (its ID, revoke token, owner, folder in
//! `path`, expiry, state and tombstone, so listing, revoking, expiry and
//! the creates-per-hour count are the download shares' own) plus a row of
//! `upload_links` with its limits and counts; each file taken in is a row
//! of `uploads` (name, size, BLAKE3, client address, time), for the
//! owner's `share log`. Both go with the share's row when its tombstone
//! does; the files stay in the owner's store.
//!
//! The bytes are the file store's business (the web door streams them
//! into the owner's store: quota, name rules, resume, verified publish);
//! here are the counts: [`Shares::claim_upload`] takes a file's place in
//! the link's limits just before it is published (so two uploads cannot
//! both take the last place), [`Shares::release_upload`] gives it back if
//! the publish failed, and [`Shares::settle_upload`] ends a link that is
//! full as `consumed`.

use rusqlite::{Connection, OptionalExtension, params};

use super::db::{from_sql, to_sql};
use super::{Created, Kind, NewShare, ShareError, ShareInfo, ShareResult, ShareState, Shares, ids};
pub use crate::wire::{UploadRecord, UploadStats};

/// Step 4 of `shares.db`: upload links and the log of what they took in.
pub(super) const MIGRATION: &str = "CREATE TABLE upload_links (
        num       INTEGER PRIMARY KEY,
        max_bytes INTEGER NOT NULL,
        max_files INTEGER NOT NULL,
        bytes     INTEGER NOT NULL DEFAULT 0,
        files     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE uploads (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        num    INTEGER NOT NULL,
        path   TEXT    NOT NULL,
        size   INTEGER NOT NULL,
        blake3 BLOB    NOT NULL,
        addr   TEXT    NOT NULL,
        at     INTEGER NOT NULL
    );
    CREATE INDEX uploads_num ON uploads (num, seq);
    CREATE TRIGGER upload_links_gone AFTER DELETE ON shares BEGIN
        DELETE FROM upload_links WHERE num = OLD.num;
        DELETE FROM uploads WHERE num = OLD.num;
    END;";

/// An upload link to create.
#[derive(Debug, Clone)]
pub struct NewUploadLink {
    /// The owner's account id.
    pub owner: i64,
    /// The folder uploads land in, relative to the owner's root (checked
    /// and created by the caller).
    pub dir: String,
    /// Seconds until it expires; `None`: the server's default.
    pub expires_in: Option<u64>,
    /// Most bytes; `None`: the server's maximum.
    pub max_bytes: Option<u64>,
    /// Most files; `None`: the server's maximum.
    pub max_files: Option<u64>,
}

/// The fingerprint an upload through link `num` of content `blake3` is
/// begun with: a rerun of the same content resumes its partial, and any
/// other content (another uploader's) never resumes or discards it.
pub fn fingerprint(num: i64, blake3: &str) -> String {
    format!("upload-link:{num}:{blake3}")
}

impl Shares {
    /// Creates an upload link into `new.dir`, within the server's limits
    /// (expiry, bytes, files, creates per hour shared with downloads).
    pub fn create_upload(&self, new: NewUploadLink, now: u64) -> ShareResult<Created> {
        let cfg = &self.inner.config;
        let max_bytes = new.max_bytes.unwrap_or(cfg.upload_max_bytes);
        if max_bytes == 0 || max_bytes > cfg.upload_max_bytes {
            return Err(ShareError::Limit(format!(
                "an upload link of {max_bytes} bytes is outside this server's limit of 1 to {} bytes; ask for less (--max-size)",
                cfg.upload_max_bytes
            )));
        }
        let max_files = new.max_files.unwrap_or(cfg.upload_max_files);
        if max_files == 0 || max_files > cfg.upload_max_files {
            return Err(ShareError::Limit(format!(
                "an upload link of {max_files} files is outside this server's limit of 1 to {}; ask for fewer (--max-files)",
                cfg.upload_max_files
            )));
        }
        let share = NewShare {
            owner: new.owner,
            path: new.dir,
            size: 0,
            blake3: [0; 32],
            expires_in: new.expires_in,
            downloads: None,
            // It shares no bytes of the owner's: what it takes in counts
            // within the owner's quota in the file store.
            quota: u64::MAX,
            e2e: None,
        };
        let stats = UploadStats {
            max_bytes,
            max_files,
            bytes: 0,
            files: 0,
        };
        self.create_with(share, Kind::Upload(stats), now)
    }

    /// The full link of an upload link's `id`, when the server has a web door.
    pub fn upload_link(&self, id: &str) -> Option<String> {
        self.link_under("u", id)
    }

    /// The available upload link behind `id` (its `upload` filled in):
    /// `NotFound` for an ID never issued or a download share's, `Ended`
    /// for a tombstone (or a link past its expiry the sweeper has not
    /// reached yet), `OwnerLocked` while its owner's account is locked.
    pub fn open_upload(&self, id: &str, now: u64) -> ShareResult<ShareInfo> {
        if !ids::well_formed(id) {
            return Err(ShareError::NotFound);
        }
        let mut st = self.store();
        let mut share = st
            .by_id(&ids::id_hash(id))?
            .ok_or(ShareError::NotFound)?
            .seen_at(now);
        st.fill(&mut share)?;
        drop(st);
        match (share.state, share.upload) {
            (_, None) => Err(ShareError::NotFound),
            (ShareState::Available, Some(_)) => self.owner_open(share),
            (s, Some(_)) => Err(ShareError::Ended(s)),
        }
    }

    /// Refuses a file of `size` bytes the link has no room for, before a
    /// byte of it is taken.
    pub fn check_room(&self, share: &ShareInfo, size: u64) -> ShareResult<()> {
        let Some(u) = share.upload else {
            return Err(ShareError::NotFound);
        };
        room(&u, size)
    }

    /// Takes the place of one file of `rec.size` bytes in link `num`'s
    /// limits and logs it; returns the log row to release if the publish
    /// fails. Refused when the link ended (or expired by `now`), its
    /// owner is locked, or it has no room left. On a cluster the link's
    /// row is locked for the claim, so two nodes never both take its last
    /// place.
    pub fn claim_upload(&self, num: i64, rec: &UploadRecord, now: u64) -> ShareResult<i64> {
        let mut b3 = [0u8; 32];
        hex::decode_to_slice(&rec.blake3, &mut b3).map_err(|e| ShareError::Internal {
            doing: "logging an upload",
            source: Box::new(e),
        })?;
        let owner = self.store().by_num(num)?.map(|s| s.owner);
        if let Some(owner) = owner {
            self.check_owner(owner)?;
        }
        self.store().claim_upload(num, rec, &b3, |share| {
            let share = share.clone().seen_at(now);
            let Some(u) = share.upload else {
                return Err(ShareError::NotFound);
            };
            if share.state != ShareState::Available {
                return Err(ShareError::Ended(share.state));
            }
            room(&u, rec.size)
        })
    }

    /// Gives back the place [`Shares::claim_upload`] took (`seq`), when
    /// the file was not published after all.
    pub fn release_upload(&self, num: i64, seq: i64) -> ShareResult<()> {
        self.store().release_upload(num, seq)
    }

    /// Ends link `num` as `consumed` once it has no room for another file.
    pub fn settle_upload(&self, num: i64, now: u64) -> ShareResult<()> {
        let mut st = self.store();
        let u = st.upload_stats(num)?;
        if u.is_some_and(|u| u.files_left() == 0 || u.bytes_left() == 0) {
            st.end(num, ShareState::Consumed, now)?;
        }
        Ok(())
    }

    /// The owner's upload link named by `which` (its number or its link
    /// or ID) and the files it took in, oldest first. Another user's link
    /// is "no such share", as one never issued.
    pub fn upload_log(
        &self,
        owner: i64,
        which: &str,
        now: u64,
    ) -> ShareResult<(ShareInfo, Vec<UploadRecord>)> {
        let mut st = self.store();
        let which = which.trim();
        let which = which.rsplit('/').next().unwrap_or(which);
        let found = if let Ok(num) = which.parse::<i64>() {
            st.by_num(num)?
        } else if ids::well_formed(which) {
            st.by_id(&ids::id_hash(which))?
        } else {
            None
        };
        let mut share = found
            .filter(|s| s.owner == owner)
            .ok_or(ShareError::NotFound)?
            .seen_at(now);
        st.fill(&mut share)?;
        if share.upload.is_none() {
            return Err(ShareError::Limit(format!(
                "share {} is a download share; `sockit share log` lists what an upload link took in",
                share.num
            )));
        }
        let log = st.upload_records(share.num)?;
        Ok((share, log))
    }
}

/// Refuses a file the link's limits have no room for.
fn room(u: &UploadStats, size: u64) -> ShareResult<()> {
    if u.files_left() == 0 {
        return Err(ShareError::Limit(format!(
            "this upload link took its {} files; ask its owner for a new one",
            u.max_files
        )));
    }
    if size > u.bytes_left() {
        return Err(ShareError::Limit(format!(
            "{size} bytes do not fit: this upload link takes {} more bytes; send a smaller file or ask its owner for a new link",
            u.bytes_left()
        )));
    }
    Ok(())
}

/// Records link `num`'s limits (in its create's transaction).
pub(super) fn insert_link(c: &Connection, num: i64, u: &UploadStats) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT INTO upload_links (num, max_bytes, max_files) VALUES (?1, ?2, ?3)")?
        .execute(params![num, to_sql(u.max_bytes), to_sql(u.max_files)])?;
    Ok(())
}

/// Link `num`'s limits and counts; `None` for a download share.
pub(super) fn stats(c: &Connection, num: i64) -> rusqlite::Result<Option<UploadStats>> {
    c.prepare_cached("SELECT max_bytes, max_files, bytes, files FROM upload_links WHERE num = ?1")?
        .query_row(params![num], |r| {
            Ok(UploadStats {
                max_bytes: from_sql(r.get(0)?),
                max_files: from_sql(r.get(1)?),
                bytes: from_sql(r.get(2)?),
                files: from_sql(r.get(3)?),
            })
        })
        .optional()
}

/// Counts one file in link `num` and logs it (in the claim's
/// transaction); its log row's `seq`.
pub(super) fn take(
    c: &Connection,
    num: i64,
    rec: &UploadRecord,
    b3: &[u8; 32],
) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "UPDATE upload_links SET bytes = bytes + ?2, files = files + 1 WHERE num = ?1",
    )?
    .execute(params![num, to_sql(rec.size)])?;
    c.prepare_cached(
        "INSERT INTO uploads (num, path, size, blake3, addr, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        num,
        rec.path,
        to_sql(rec.size),
        b3.as_slice(),
        rec.addr,
        to_sql(rec.at)
    ])?;
    Ok(c.last_insert_rowid())
}

/// Deletes log row `seq` of link `num` and gives its place back.
pub(super) fn release(c: &Connection, num: i64, seq: i64) -> rusqlite::Result<()> {
    let size: Option<i64> = c
        .prepare_cached("DELETE FROM uploads WHERE seq = ?1 AND num = ?2 RETURNING size")?
        .query_row(params![seq, num], |r| r.get(0))
        .optional()?;
    if let Some(size) = size {
        c.prepare_cached(
            "UPDATE upload_links SET bytes = MAX(bytes - ?2, 0), files = MAX(files - 1, 0) WHERE num = ?1",
        )?
        .execute(params![num, size])?;
    }
    Ok(())
}

/// What link `num` took in, oldest first.
pub(super) fn records(c: &Connection, num: i64) -> rusqlite::Result<Vec<UploadRecord>> {
    c.prepare_cached(
        "SELECT path, size, blake3, addr, at FROM uploads WHERE num = ?1 ORDER BY seq",
    )?
    .query_map(params![num], |r| {
        Ok(UploadRecord {
            path: r.get(0)?,
            size: from_sql(r.get(1)?),
            blake3: hex::encode(r.get::<_, Vec<u8>>(2)?),
            addr: r.get(3)?,
            at: from_sql(r.get(4)?),
        })
    })?
    .collect()
}
