//! Reading a published file from PostgreSQL: size and hashes from its
//! entry, the content as slices of its rows (`substring` on bytes stored
//! uncompressed reads only those bytes), so memory is the read asked for
//! whatever the file or row size.

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
            FileError::io(
                "opening a file",
                std::io::Error::other("damaged hash record"),
            )
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
            let bytes = self.fetch(pos, super::super::config::READ_BUF)?;
            m.update(&bytes);
            pos += bytes.len() as u64;
        }
        let sum = <[u8; 16]>::from(m.finalize());
        let mut conn = self.inner.pool.get()?;
        conn.run("recording a hash", |c| {
            c.execute(
                "UPDATE files_entries SET md5 = $4
                 WHERE user_id = $1 AND path = $2 AND content = $3",
                &[
                    &self.user,
                    &self.path.as_str(),
                    &self.content,
                    &sum.as_slice(),
                ],
            )
            .map_err(dberr("recording a hash"))
        })?;
        self.hashes.md5 = Some(sum);
        Ok(self.hashes)
    }

    /// Up to `len` bytes from `pos`, from the row holding `pos` (never
    /// empty: a missing row means the file changed).
    fn fetch(&self, pos: u64, len: usize) -> FileResult<Vec<u8>> {
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        let mut conn = self.inner.pool.get()?;
        let row = conn.run("reading a file", |c| {
            c.query_opt(
                "SELECT substring(bytes FROM ($2 - off + 1)::INT FOR $3) FROM files_chunks
                 WHERE content = $1 AND off <= $2 ORDER BY off DESC LIMIT 1",
                &[&self.content, &int(pos), &len],
            )
            .map_err(dberr("reading a file"))
        })?;
        match row.map(|r| r.get::<_, Vec<u8>>(0)) {
            Some(b) if !b.is_empty() => Ok(b),
            _ => Err(changed()),
        }
    }

    /// Reads the next bytes into `buf` (at most its length); 0 means the
    /// end.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> FileResult<usize> {
        let left = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let mut filled = 0;
        while filled < want {
            let bytes = self.fetch(self.offset + filled as u64, want - filled)?;
            let Some(dst) = buf.get_mut(filled..filled + bytes.len()) else {
                return Err(changed());
            };
            dst.copy_from_slice(&bytes);
            filled += bytes.len();
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
