//! Reading a published file: size and hashes first (from the index, or
//! computed once if missing), then the content from any offset in chunks
//! the caller sizes, so memory stays bounded whatever the file size.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use md5::Digest;
use rustix::fs::OFlags;

use super::DiskStore;
use super::config::READ_BUF;
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind, Meta};
use super::index::Hashes;
use super::paths::RelPath;
use super::store::Inner;

/// An open published file. It keeps reading the version that was opened
/// even if a forced upload replaces the path meanwhile. Blocking.
pub struct DiskDownload {
    inner: Arc<Inner>,
    user: i64,
    path: RelPath,
    file: File,
    meta: Meta,
    offset: u64,
    hashes: Option<Hashes>,
    /// The aligned buffer of reads past the page cache (see `direct`).
    read: crate::fsutil::direct::ReadState,
}

impl std::fmt::Debug for DiskDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskDownload")
            .field("path", &self.path)
            .field("size", &self.meta.size)
            .field("offset", &self.offset)
            .finish()
    }
}

impl DiskStore {
    /// Opens `path` for reading from `offset` (a client resuming a get
    /// asks for the bytes it lacks). The file is opened without following
    /// links anywhere on its path. Cheap: hashes are not computed here.
    pub fn download(&self, user: i64, path: &str, offset: u64) -> FileResult<DiskDownload> {
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let root = self.inner.user_root(user)?;
        let parent = fsx::walk_parent(root.as_fd(), &rel, false)?;
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for
        // a writer forever, pinning a blocking thread; with it the open
        // returns at once and the fstat below refuses anything that is not
        // a regular file before a byte is read (devices included). On a
        // regular file the flag changes nothing.
        let flags = OFlags::RDONLY | OFlags::NONBLOCK;
        let file = match fsx::open_file_at(parent.as_fd(), rel.file_name(), flags) {
            Ok(f) => f,
            Err(e) => return Err(open_error(parent.as_fd(), &rel, e)),
        };
        let meta = fsx::stat_fd(file.as_fd()).map_err(|e| FileError::io("opening a file", e))?;
        if meta.kind != Kind::File {
            return Err(FileError::WrongKind {
                path: rel.to_string(),
                wanted: "a file",
                found: meta.kind.describe(),
            });
        }
        if offset > meta.size {
            return Err(FileError::BadOffset {
                expected: meta.size,
                got: offset,
            });
        }
        let hashes = self.inner.index().lookup(user, rel.as_str(), &meta)?;
        Ok(DiskDownload {
            inner: Arc::clone(&self.inner),
            user,
            path: rel,
            file,
            meta,
            offset,
            hashes,
            read: Default::default(),
        })
    }
}

fn open_error(parent: std::os::fd::BorrowedFd<'_>, rel: &RelPath, e: io::Error) -> FileError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => fsx::not_found(rel),
        Some(libc::ELOOP) | Some(libc::EMLINK) => {
            FileError::bad_path(rel.as_str(), super::PathError::Symlink)
        }
        _ => match fsx::stat_at(parent, rel.file_name()) {
            Ok(Some(m)) if m.kind != Kind::File => FileError::WrongKind {
                path: rel.to_string(),
                wanted: "a file",
                found: m.kind.describe(),
            },
            _ => FileError::io("opening a file", e),
        },
    }
}

impl DiskDownload {
    /// The file's size.
    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// The next offset [`DiskDownload::read_chunk`] reads from.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes left from the current offset.
    pub fn remaining(&self) -> u64 {
        self.meta.size - self.offset
    }

    /// The path opened.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        self.meta.mtime_ns.div_euclid(1_000_000_000)
    }

    /// Hashes recorded at publish, if the index has them for this exact
    /// file.
    pub fn recorded_hashes(&self) -> Option<Hashes> {
        self.hashes
    }

    /// The file's hashes, computing and recording them when the index has
    /// none (a file placed by an operator, a crash before the record) or
    /// lacks the MD5 asked for. That costs one full read of the file, once.
    pub fn hashes(&mut self, md5: bool) -> FileResult<Hashes> {
        if let Some(h) = self.hashes {
            if !md5 || h.md5.is_some() {
                return Ok(h);
            }
        }
        let h = self
            .hash_whole(md5)
            .map_err(|e| FileError::io("hashing a file", e))?;
        self.inner
            .index()
            .record(self.user, self.path.as_str(), &self.meta, &h)?;
        self.hashes = Some(h);
        Ok(h)
    }

    fn hash_whole(&self, want_md5: bool) -> io::Result<Hashes> {
        let mut b3 = blake3::Hasher::new();
        let mut m5 = want_md5.then(md5::Md5::new);
        let mut buf = vec![0u8; READ_BUF];
        let mut pos = 0u64;
        while pos < self.meta.size {
            let n = self.file.read_at(&mut buf, pos)?;
            if n == 0 {
                return Err(io::Error::other("file shrank while being hashed"));
            }
            let Some(slice) = buf.get(..n) else { break };
            b3.update(slice);
            if let Some(m) = m5.as_mut() {
                m.update(slice);
            }
            pos += n as u64;
        }
        Ok(Hashes {
            blake3: b3.finalize(),
            md5: m5.map(|m| <[u8; 16]>::from(m.finalize())),
        })
    }

    /// Reads the next bytes into `buf` (at most its length, never past the
    /// size seen at open); 0 means the end. Size `buf` to the chunk that
    /// goes into one frame.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> FileResult<usize> {
        let left = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let Some(slice) = buf.get_mut(..want) else {
            return Ok(0);
        };
        let mut filled = 0;
        while filled < want {
            let Some(rest) = slice.get_mut(filled..) else {
                break;
            };
            let at = self.offset + filled as u64;
            match crate::fsutil::direct::read_at(&self.file, rest, at, &mut self.read) {
                Ok(0) => {
                    return Err(FileError::io(
                        "reading a file",
                        io::Error::other("file shrank while being read"),
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FileError::io("reading a file", e)),
            }
        }
        self.offset += filled as u64;
        crate::ops::metrics::file_bytes_out(filled);
        Ok(filled)
    }
}

impl Read for DiskDownload {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_chunk(buf).map_err(io::Error::other)
    }
}
