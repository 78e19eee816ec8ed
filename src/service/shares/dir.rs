//! Directory shares: a link to a folder, as a **snapshot** of its files
//! taken when the share is created.
//!
//! Why a snapshot rather than the live folder: the receiver is shown a
//! list of names, sizes and BLAKE3s that the link then keeps to, so a file
//! the owner adds later is never handed out by an old link, the total size
//! counts against the quota once, and "the whole set" (what a download
//! counts at) is a fixed thing. Each file is verified when served exactly
//! as a file share is: if its size or BLAKE3 no longer match the snapshot
//! (the owner changed or removed it), the whole share ends as revoked.
//!
//! Only regular files are taken (links and special files are never listed
//! by the store); empty folders are not represented. Paths are relative to
//! the shared folder, `/`-separated, sorted by bytes. The share's own
//! BLAKE3 is the hash of its snapshot, [`manifest_hash`].
//!
//! Counting: the files are laid end to end in snapshot order, giving a
//! span of `[0, total)`; a byte of file `i` at offset `o` is byte
//! `offset(i) + o` of that span. A response of one file, or of the tar
//! archive, records the span it sent, and the download counts once when
//! one client address has been sent every byte of the span (coverage.rs),
//! whether that came as one archive, file by file, or mixed and resumed.

use rusqlite::{Connection, params};

use super::db::{from_sql, to_sql};
use super::{Created, NewShare, ShareError, ShareInfo, ShareResult, Shares};
use crate::service::files::{EntryKind, FileResult, FileStore};

/// Most files one directory share may hold: as many as one listing page
/// (`MAX_LIST_ENTRIES`), so the page and `/info` stay a few MB at most.
pub const MAX_DIR_FILES: usize = 10_000;

/// One file of a directory share's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedFile {
    /// Its path below the shared folder (`a/b.txt`).
    pub path: String,
    /// Its size at share time.
    #[serde(rename = "file_size")]
    pub size: u64,
    /// Its BLAKE3 at share time (hex).
    pub blake3: String,
}

/// Takes the snapshot of `user`'s folder `dir`: every regular file below
/// it, hashed (a file the index has no hash for is read once). Stops after
/// [`MAX_DIR_FILES`] + 1 files; [`Shares::create_dir`] refuses that many.
pub fn snapshot(store: &FileStore, user: i64, dir: &str) -> FileResult<Vec<SharedFile>> {
    let mut out = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(sub) = todo.pop() {
        let mut after: Option<String> = None;
        loop {
            let at = join(dir, &sub);
            let page = store.list_page(user, &at, after.as_deref())?;
            for e in page.entries {
                let rel = join(&sub, &e.name);
                match e.kind {
                    EntryKind::Dir => todo.push(rel),
                    EntryKind::File => {
                        let (size, hash) = match e.blake3 {
                            Some(h) => (e.size, h),
                            None => {
                                let mut d = store.download(user, &join(dir, &rel), 0)?;
                                (d.size(), d.hashes(false)?.blake3)
                            }
                        };
                        out.push(SharedFile {
                            path: rel,
                            size,
                            blake3: hash.to_hex().to_string(),
                        });
                        if out.len() > MAX_DIR_FILES {
                            return Ok(out);
                        }
                    }
                }
            }
            match page.next.filter(|_| page.truncated) {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    out.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// `a` + `/` + `b`, either possibly empty.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

/// The BLAKE3 that names a snapshot: of one line `BLAKE3 SIZE PATH\n` per
/// file in order. A client that fetched every file can recompute it.
pub fn manifest_hash(files: &[SharedFile]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for f in files {
        h.update(format!("{} {} {}\n", f.blake3, f.size, f.path).as_bytes());
    }
    *h.finalize().as_bytes()
}

/// Where each file starts in the span the download is counted over.
pub fn offsets(files: &[SharedFile]) -> Vec<u64> {
    let mut at = 0u64;
    files
        .iter()
        .map(|f| {
            let o = at;
            at = at.saturating_add(f.size);
            o
        })
        .collect()
}

/// Records a snapshot for share `num` (inside the create's transaction).
pub(super) fn insert(c: &Connection, num: i64, files: &[SharedFile]) -> rusqlite::Result<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO share_files (num, idx, path, size, blake3) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, f) in files.iter().enumerate() {
        let b3 = hex::decode(&f.blake3).unwrap_or_default();
        st.execute(params![num, to_sql(i as u64), f.path, to_sql(f.size), b3])?;
    }
    c.prepare_cached("UPDATE shares SET files = ?2 WHERE num = ?1")?
        .execute(params![num, to_sql(files.len() as u64)])?;
    Ok(())
}

pub(super) fn load(c: &Connection, num: i64) -> rusqlite::Result<Vec<SharedFile>> {
    c.prepare_cached("SELECT path, size, blake3 FROM share_files WHERE num = ?1 ORDER BY idx")?
        .query_map(params![num], |r| {
            Ok(SharedFile {
                path: r.get(0)?,
                size: from_sql(r.get(1)?),
                blake3: hex::encode(r.get::<_, Vec<u8>>(2)?),
            })
        })?
        .collect()
}

impl Shares {
    /// Creates a share of the folder `new.path` from its `files`
    /// ([`snapshot`]); `new.size` and `new.blake3` are ignored (the total
    /// and the snapshot's hash are used).
    pub fn create_dir(
        &self,
        mut new: NewShare,
        files: Vec<SharedFile>,
        now: u64,
    ) -> ShareResult<Created> {
        if files.is_empty() {
            return Err(ShareError::Limit(format!(
                "{}: the folder holds no files; put files in it first",
                new.path
            )));
        }
        if files.len() > MAX_DIR_FILES {
            return Err(ShareError::Limit(format!(
                "{}: a shared folder may hold at most {MAX_DIR_FILES} files; share a smaller folder",
                new.path
            )));
        }
        new.size = files.iter().fold(0u64, |a, f| a.saturating_add(f.size));
        new.blake3 = manifest_hash(&files);
        self.create_with(new, super::Kind::Dir(&files), now)
    }

    /// The snapshot of a directory share (empty for a file share or one
    /// that ended, or ran out by `now`: its rows go when it ends).
    pub fn dir_files(&self, share: &ShareInfo, now: u64) -> ShareResult<Vec<SharedFile>> {
        if share.files.is_none() || share.expires <= now {
            return Ok(Vec::new());
        }
        self.store().files(share.num)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::service::shares::{ShareState, SharesConfig};

    const T0: u64 = 1_700_000_000;

    fn files(sizes: &[u64]) -> Vec<SharedFile> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| SharedFile {
                path: format!("d/{i}.bin"),
                size,
                blake3: hex::encode([i as u8; 32]),
            })
            .collect()
    }

    fn new() -> NewShare {
        NewShare {
            owner: 1,
            path: "photos".into(),
            size: 0,
            blake3: [0; 32],
            expires_in: None,
            downloads: Some(2),
            quota: 1 << 30,
            e2e: None,
        }
    }

    #[test]
    fn a_folder_share_keeps_its_snapshot_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let s = Shares::open(dir.path(), SharesConfig::default()).unwrap();
        let f = files(&[10, 0, 30]);
        let c = s.create_dir(new(), f.clone(), T0).unwrap();
        assert_eq!(c.info.files, Some(3));
        assert_eq!(c.info.size, 40);
        assert_eq!(c.info.blake3, hex::encode(manifest_hash(&f)));
        let share = s.open_link(&c.id, T0).unwrap();
        assert_eq!(s.dir_files(&share, T0).unwrap(), f);
        assert_eq!(offsets(&f), vec![0, 10, 10]);
        s.revoke(Some(1), &c.id, T0).unwrap();
        assert!(
            s.dir_files(&share, T0).unwrap().is_empty(),
            "rows go at once"
        );
        let err = s.create_dir(new(), Vec::new(), T0).unwrap_err();
        assert!(err.to_string().contains("no files"), "{err}");
        let many = files(&vec![1; MAX_DIR_FILES + 1]);
        assert!(matches!(
            s.create_dir(new(), many, T0),
            Err(ShareError::Limit(_))
        ));
    }

    #[test]
    fn the_whole_set_counts_once_however_it_was_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let s = Shares::open(dir.path(), SharesConfig::default()).unwrap();
        let f = files(&[10, 20, 30]);
        let at = offsets(&f);
        let c = s.create_dir(new(), f, T0).unwrap();
        let share = s.open_link(&c.id, T0).unwrap();
        // File by file, out of order, the middle one resumed.
        assert!(!s.served(&share, "a", at[2], at[2] + 30, T0).unwrap());
        assert!(!s.served(&share, "a", at[0], at[0] + 10, T0).unwrap());
        assert!(!s.served(&share, "a", at[1], at[1] + 5, T0).unwrap());
        assert!(s.served(&share, "a", at[1] + 5, at[1] + 20, T0).unwrap());
        assert_eq!(s.open_link(&c.id, T0).unwrap().downloads, 1);
        // The whole archive at once: the second and last download.
        assert!(s.served(&share, "b", 0, 60, T0).unwrap());
        assert!(matches!(
            s.open_link(&c.id, T0),
            Err(ShareError::Ended(ShareState::Consumed))
        ));
    }
}
