//! The local side of a transfer, on blocking threads: the source's
//! fingerprint, a reader that hashes and sends chunks, a writer that
//! hashes and stores them, and directory creation that never follows links.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use md5::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{TransferError, TransferResult};
use crate::fsutil::direct as files;

/// Bytes read from a local file per step when hashing what is already
/// there (a resumed download's prefix): 1 MiB amortises system calls and is
/// all the memory the pass needs, whatever the file size.
const READ_BUF: usize = 1 << 20;

/// Identifies one version of a local file: device, inode, size, and
/// modification and change times in nanoseconds. Any write changes the
/// ctime (which no user can set back), so an edited, replaced or
/// `touch -d`-ed source never resumes onto the old bytes.
pub fn fingerprint(m: &Metadata) -> String {
    format!(
        "v1:{}:{}:{}:{}.{:09}:{}.{:09}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    )
}

/// The hashes of a whole file, as the transfer computed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digests {
    /// BLAKE3.
    pub blake3: blake3::Hash,
    /// MD5, when asked.
    pub md5: Option<[u8; 16]>,
}

/// BLAKE3 and, when asked, MD5 over the same bytes.
struct Hashing {
    b3: blake3::Hasher,
    md5: Option<md5::Md5>,
}

impl Hashing {
    fn new(md5: bool) -> Self {
        Self {
            b3: blake3::Hasher::new(),
            md5: md5.then(md5::Md5::new),
        }
    }

    fn update(&mut self, b: &[u8]) {
        self.b3.update(b);
        if let Some(m) = self.md5.as_mut() {
            m.update(b);
        }
    }

    /// Hashes `file`'s bytes `[0, end)` (the part already on the other
    /// side, or already downloaded), with one buffer of [`READ_BUF`].
    fn prefix(&mut self, file: &File, end: u64) -> io::Result<()> {
        let mut buf = vec![0u8; READ_BUF];
        let mut pos = 0u64;
        while pos < end {
            let want = usize::try_from(end - pos).map_or(buf.len(), |l| l.min(buf.len()));
            let slice = buf.get_mut(..want).unwrap_or_default();
            file.read_exact_at(slice, pos)?;
            self.update(slice);
            pos += want as u64;
        }
        Ok(())
    }

    fn finish(self) -> Digests {
        Digests {
            blake3: self.b3.finalize(),
            md5: self.md5.map(|m| <[u8; 16]>::from(m.finalize())),
        }
    }
}

/// Reads `file` on a blocking thread: hashes `[0, offset)` without
/// sending it (the server holds it), then sends `[offset, size)` in chunks
/// of `chunk` bytes, hashing them too. A file that shrinks meanwhile is an
/// error; the whole-file hash is returned at the end.
pub(crate) fn spawn_reader(
    file: File,
    path: PathBuf,
    (offset, size, chunk): (u64, u64, usize),
    md5: bool,
    tx: mpsc::Sender<Bytes>,
) -> JoinHandle<TransferResult<Digests>> {
    tokio::task::spawn_blocking(move || {
        let err = |e| TransferError::Local {
            path: path.clone(),
            source: e,
        };
        let mut h = Hashing::new(md5);
        h.prefix(&file, offset).map_err(err)?;
        let mut st = files::ReadState::default();
        let mut pos = offset;
        while pos < size {
            let want = usize::try_from(size - pos).map_or(chunk, |l| l.min(chunk));
            let mut buf = vec![0u8; want];
            let n = files::read_at(&file, &mut buf, pos, &mut st).map_err(err)?;
            if n < want {
                return Err(err(io::Error::other("the file shrank while being sent")));
            }
            h.update(&buf);
            pos += want as u64;
            if tx.blocking_send(Bytes::from(buf)).is_err() {
                // The sender gave up (an error it will report).
                break;
            }
        }
        Ok(h.finish())
    })
}

/// Writes received chunks into `file` from `offset` on a blocking thread,
/// after hashing the `[0, offset)` already there; fsyncs at the end and
/// returns the whole file's hash.
pub(crate) fn spawn_writer(
    file: File,
    path: PathBuf,
    offset: u64,
    md5: bool,
    mut rx: mpsc::Receiver<Bytes>,
) -> JoinHandle<TransferResult<Digests>> {
    tokio::task::spawn_blocking(move || {
        let err = |e| TransferError::Local {
            path: path.clone(),
            source: e,
        };
        let mut h = Hashing::new(md5);
        file.set_len(offset).map_err(err)?;
        h.prefix(&file, offset).map_err(err)?;
        let mut out = files::SeqWriter::new(file, offset).map_err(err)?;
        while let Some(chunk) = rx.blocking_recv() {
            let hash = || h.update(&chunk);
            files::hash_alongside(chunk.len(), hash, || out.write(&chunk)).map_err(err)?;
        }
        out.make_durable()
            .and_then(|()| out.file().sync_all())
            .map_err(err)?;
        Ok(h.finish())
    })
}

/// Makes `base/c1/c2/...` a directory, creating what is missing, one
/// component at a time; an existing link or non-directory on the way is
/// refused, so a hostile tree (or a planted link) cannot redirect writes
/// outside `base` (rsync's CVE-2024-12087).
pub(crate) fn ensure_dirs<'a>(
    base: &Path,
    components: impl Iterator<Item = &'a str>,
) -> TransferResult<PathBuf> {
    let mut p = base.to_path_buf();
    for c in components {
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(TransferError::Local {
                    path: p,
                    source: io::Error::other(
                        "exists and is not a directory (links are not followed)",
                    ),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(TransferError::Local { path: p, source: e }),
        }
        match std::fs::create_dir(&p) {
            Ok(()) => {}
            // Made meanwhile: check it again on the next run of the loop
            // body by looking once more.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let m = std::fs::symlink_metadata(&p).map_err(TransferError::local(&p))?;
                if !m.is_dir() {
                    return Err(TransferError::Local {
                        path: p,
                        source: io::Error::other("exists and is not a directory"),
                    });
                }
            }
            Err(e) => return Err(TransferError::Local { path: p, source: e }),
        }
    }
    Ok(p)
}

/// Fsyncs a directory, so a rename into it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(d)?.sync_all()
}
