//! Bulk file I/O past the page cache (O_DIRECT) where the filesystem
//! allows it: uploads and downloads stream through one reused, aligned
//! buffer instead of through fresh page-cache pages. The file store and
//! the client's transfers (`client::transfer::local`) both stream this way.
//!
//! Why: a transfer is fsynced as it goes (every 64 MiB and at the end), so
//! the page cache cannot absorb it anyway; it only adds a copy, pushes
//! other files out of the cache, and (measured on a 2-vCPU VM whose host
//! backs guest pages lazily) costs more than the disk: buffered writes
//! and cold buffered reads ran at 0.25 GB/s, O_DIRECT at 0.47–0.94 GB/s.
//! Databases stream this way for the same reasons.
//!
//! Everything falls back to plain buffered I/O, silently and for good,
//! when O_DIRECT is refused (tmpfs, some network filesystems) or a direct
//! call fails with `EINVAL` (a device with larger blocks than [`ALIGN`]).
//!
//! `write.rs` holds the sequential writer ([`SeqWriter`]), `read.rs` the
//! reads ([`read_at`]); this file the buffer and the switch they share.

mod read;
mod write;

pub use read::{ReadState, read_at};
pub use write::SeqWriter;

use std::fs::File;
use std::io;

use rustix::fs::OFlags;

/// Alignment of O_DIRECT offsets, lengths and buffers: the page size,
/// which covers the 512- and 4096-byte logical blocks of disks in use.
pub const ALIGN: usize = 4096;

/// Size of the aligned buffer of each writer and reader: 2 MiB of I/O
/// per system call is past the point where larger calls stop paying, and
/// per open transfer it stays well inside the 64 MiB budget per side.
pub const DIRECT_BUF: usize = 2 << 20;

/// Chunks from this size on are hashed on a second thread while they are
/// written: the write mostly waits for the disk, so the hash comes free,
/// while below this size a thread costs more than the hash.
pub const HASH_ALONGSIDE_FROM: usize = 1 << 20;

/// Runs `hash` and `write` over the same chunk of `len` bytes: at once on
/// two threads for large chunks (see [`HASH_ALONGSIDE_FROM`]), one after
/// the other for small ones. Both always run to the end, so on a write
/// error the hash has seen bytes that were not written: callers then
/// treat their hasher as spoiled.
pub fn hash_alongside<H, W>(len: usize, hash: H, write: W) -> io::Result<()>
where
    H: FnOnce() + Send,
    W: FnOnce() -> io::Result<()>,
{
    if len < HASH_ALONGSIDE_FROM {
        hash();
        return write();
    }
    std::thread::scope(|s| {
        let hashing = s.spawn(hash);
        let written = write();
        match hashing.join() {
            Ok(()) => written,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A heap buffer whose usable part starts on an [`ALIGN`] boundary.
struct Aligned {
    raw: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new(cap: usize) -> Option<Aligned> {
        let raw = vec![0u8; cap + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        (start < ALIGN).then_some(Aligned { raw, start })
    }

    fn get(&self, len: usize) -> &[u8] {
        self.raw
            .get(self.start..self.start + len)
            .unwrap_or_default()
    }

    fn get_mut(&mut self, len: usize) -> &mut [u8] {
        let start = self.start;
        self.raw.get_mut(start..start + len).unwrap_or_default()
    }
}

/// Turns O_DIRECT on or off for `file`.
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    Ok(rustix::fs::fcntl_setfl(file, flags)?)
}

fn is_einval(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

/// Starts writing `len` bytes at `offset` of `file` back to disk without
/// waiting for it, so the disk works while the next chunk crosses the
/// network, and the fsync that makes a transfer durable finds little left
/// to flush (instead of stalling the stream for the whole backlog). Linux
/// only; elsewhere, and on any error, it does nothing: it is a hint, and
/// durability still comes from the fsync.
// rustix does not wrap sync_file_range(2), so it is called through libc:
// `unsafe` FFI with integer arguments only.
#[allow(unsafe_code)]
pub fn start_writeback(file: &std::fs::File, offset: u64, len: usize) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: sync_file_range reads only its integer arguments; the
        // descriptor is borrowed from `file`, so it stays open for the call.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

#[cfg(test)]
mod tests {
    use super::read::read_direct;
    use super::*;

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn open(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap()
    }

    /// Writes in odd pieces, makes the data durable mid-way (a partial
    /// block), resumes with a new writer at that offset, and reads it all
    /// back through both read paths.
    #[test]
    fn odd_sizes_syncs_and_resumes_keep_every_byte() {
        // /tmp may be tmpfs (no O_DIRECT): the data directory of the tests is
        // on the disk the server would use.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("f");
        let data = pattern(3 * DIRECT_BUF + 12_345, 7);
        let (a, rest) = data.split_at(DIRECT_BUF + 1_000);
        let mut w = SeqWriter::new(open(&path), 0).unwrap();
        for piece in a.chunks(333_333) {
            w.write(piece).unwrap();
        }
        w.make_durable().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), a.len() as u64);
        w.write(&rest[..5]).unwrap();
        w.make_durable().unwrap();
        drop(w);
        let mut w = SeqWriter::new(open(&path), a.len() as u64 + 5).unwrap();
        w.write(&rest[5..]).unwrap();
        w.make_durable().unwrap();
        assert_eq!(w.offset(), data.len() as u64);
        drop(w);
        assert_eq!(std::fs::read(&path).unwrap(), data);

        let f = open(&path);
        let mut st = ReadState::default();
        for (off, len) in [(0, 4096), (1, DIRECT_BUF + 7), (data.len() - 10, 100)] {
            let mut out = vec![0u8; len];
            let n = read_at(&f, &mut out, off as u64, &mut st).unwrap();
            let end = (off + len).min(data.len());
            assert_eq!(&out[..n], &data[off..end]);
        }
        let mut out = vec![0u8; 1000];
        let n = read_direct(&f, &mut out, 4095, &mut st.scratch).unwrap();
        if let Some(n) = n {
            assert_eq!(&out[..n], &data[4095..4095 + n]);
        }
    }
}
