//! Reading a published file from PostgreSQL: size and hashes from its
//! entry, the content one row at a time, so memory stays one row whatever
//! the file size.

use std::sync::Arc;

use md5::Digest;

use super::super::error::{FileError, FileResult};
use super::super::index::Hashes;
use super::super::paths::RelPath;
use super::{PgInner, PgStore, dberr, int, uint};

/// An open published file. A forced upload or a removal of the path
/// meanwhile deletes the rows it reads: the next read then fails with
/// "the file changed while being read" rather than mixing two versions.
pub struct PgDownload {
    inner: Arc<PgInner>,
    user: i64,
    path: RelPath,
    content: i64,
    size: u64,
    mtime: i64,
    offset: u64,
    hashes: Hashes,
    /// The row read last: its offset and bytes.
    row: Option<(u64, Vec<u8>)>,
}

impl std::fmt::Debug for PgDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDownload")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("offset", &self.offset)
            .finish()
    }
}

impl PgStore {
    /// Opens `path` for reading from `offset`.
    pub fn download(&self, user: i64, path: &str, offset: u64) -> FileResult<PgDownload> {
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let mut conn = self.inner.pool.get()?;
        let row = conn.run("opening a file", |c| {
            c.query_opt(
                "SELECT is_dir, size, mtime, content, blake3, md5 FROM files_entries
                 WHERE user_id = $1 AND path = $2",
                &[&user, &rel.as_str()],
            )
            .map_err(dberr("opening a file"))
        })?;
        let Some(row) = row else {
            return Err(FileError::NotFound {
                path: rel.to_string(),
            });
        };
        if row.get::<_, bool>(0) {
            return Err(FileError::WrongKind {
                path: rel.to_string(),
                wanted: "a file",
                found: "a directory",
            });
        }
        let size = uint(row.get(1));
        if offset > size {
            return Err(FileError::BadOffset {
                expected: size,
                got: offset,
            });
        }
        let b3: Vec<u8> = row.get(4);
        let b3 = <[u8; 32]>::try_from(b3.as_slice()).map_err(|_| {
            FileError::io("opening a file", std::io::Error::other("damaged hash record"))
        })?;
        let md5: Option<Vec<u8>> = row.get(5);
        Ok(PgDownload {
            inner: Arc::clone(&self.inner),
            user,
            path: rel,
            content: row.get::<_, Option<i64>>(3).unwrap_or(0),
            size,
            mtime: row.get(2),
            offset,
            hashes: Hashes {
                blake3: blake3::Hash::from_bytes(b3),
                md5: md5.and_then(|m| <[u8; 16]>::try_from(m.as_slice()).ok()),
            },
            row: None,
        })
    }
}

impl PgDownload {
    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next offset [`PgDownload::read_chunk`] reads from.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes left from the current offset.
    pub fn remaining(&self) -> u64 {
        self.size - self.offset
    }

    /// The path opened.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Publish time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        self.mtime
    }

    /// Hashes recorded at publish.
    pub fn recorded_hashes(&self) -> Option<Hashes> {
        Some(self.hashes)
    }

    /// The file's hashes; an MD5 not recorded at publish is computed from
    /// the rows once and recorded.
    pub fn hashes(&mut self, md5: bool) -> FileResult<Hashes> {
        if !md5 || self.hashes.md5.is_some() {
            return Ok(self.hashes);
        }
        let mut m = md5::Md5::new();
        let mut pos = 0u64;
        while pos < self.size {
            let (off, bytes) = self.fetch(pos)?;
            let skip = usize::try_from(pos - off).unwrap_or(usize::MAX);
            let Some(slice) = bytes.get(skip..) else {
                return Err(changed());
            };
            m.update(slice);
            pos += slice.len() as u64;
        }
        let sum = <[u8; 16]>::from(m.finalize());
        let mut conn = self.inner.pool.get()?;
        conn.run("recording a hash", |c| {
            c.execute(
                "UPDATE files_entries SET md5 = $4
                 WHERE user_id = $1 AND path = $2 AND content = $3",
                &[&self.user, &self.path.as_str(), &self.content, &sum.as_slice()],
            )
            .map_err(dberr("recording a hash"))
        })?;
        self.hashes.md5 = Some(sum);
        Ok(self.hashes)
    }

    /// The row holding byte `pos`: (its offset, its bytes).
    fn fetch(&self, pos: u64) -> FileResult<(u64, Vec<u8>)> {
        let mut conn = self.inner.pool.get()?;
        let row = conn.run("reading a file", |c| {
            c.query_opt(
                "SELECT off, bytes FROM files_chunks WHERE content = $1 AND off <= $2
                 ORDER BY off DESC LIMIT 1",
                &[&self.content, &int(pos)],
            )
            .map_err(dberr("reading a file"))
        })?;
        let Some(row) = row else {
            return Err(changed());
        };
        let (off, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
        let off = uint(off);
        if off + bytes.len() as u64 <= pos {
            return Err(changed());
        }
        Ok((off, bytes))
    }

    /// Reads the next bytes into `buf` (at most its length); 0 means the
    /// end.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> FileResult<usize> {
        let left = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let mut filled = 0;
        while filled < want {
            let pos = self.offset + filled as u64;
            let cached = self
                .row
                .as_ref()
                .is_some_and(|(off, b)| *off <= pos && pos < off + b.len() as u64);
            if !cached {
                self.row = Some(self.fetch(pos)?);
            }
            let Some((off, bytes)) = self.row.as_ref() else {
                return Err(changed());
            };
            let from = usize::try_from(pos - off).unwrap_or(usize::MAX);
            let n = (want - filled).min(bytes.len().saturating_sub(from));
            let (Some(src), Some(dst)) = (bytes.get(from..from + n), buf.get_mut(filled..filled + n))
            else {
                return Err(changed());
            };
            dst.copy_from_slice(src);
            filled += n;
        }
        self.offset += filled as u64;
        crate::ops::metrics::file_bytes_out(filled);
        Ok(filled)
    }
}

fn changed() -> FileError {
    FileError::io(
        "reading a file",
        std::io::Error::other("the file changed while being read; get it again"),
    )
}
