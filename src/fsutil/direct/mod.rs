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

use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::FileExt;

use rustix::fs::OFlags;
use rustix::io::ReadWriteFlags;

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

/// Writes a file front to back from a given offset, through O_DIRECT in
/// whole aligned blocks when it can. The last partial block is kept in
/// the buffer and written (buffered) only by [`SeqWriter::make_durable`],
/// so the direct stream stays aligned across resumes and syncs.
pub struct SeqWriter {
    file: File,
    /// Some while writing direct: the buffer holds `[base, base + len)`.
    buf: Option<Aligned>,
    base: u64,
    len: usize,
}

impl std::fmt::Debug for SeqWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqWriter")
            .field("direct", &self.buf.is_some())
            .field("offset", &self.offset())
            .finish()
    }
}

impl SeqWriter {
    /// A writer appending at `offset` (the file's current end of data).
    pub fn new(file: File, offset: u64) -> io::Result<SeqWriter> {
        let mut w = SeqWriter {
            file,
            buf: None,
            base: offset,
            len: 0,
        };
        if set_direct(&w.file, true).is_ok() {
            w.buf = Aligned::new(DIRECT_BUF);
        }
        w.position(offset)?;
        Ok(w)
    }

    /// Moves to `offset`, dropping anything not yet written: only for a
    /// writer that has written nothing since it was made (or made durable).
    pub fn position(&mut self, offset: u64) -> io::Result<()> {
        let Some(buf) = self.buf.as_mut() else {
            self.base = offset;
            return Ok(());
        };
        // Start on a block boundary: the head of a partial block comes
        // back into the buffer and is rewritten with the block.
        let base = offset - offset % ALIGN as u64;
        let head = (offset - base) as usize;
        if head > 0 {
            set_direct(&self.file, false)?;
            let r = self.file.read_exact_at(buf.get_mut(head), base);
            set_direct(&self.file, true)?;
            r?;
        }
        self.base = base;
        self.len = head;
        Ok(())
    }

    /// The file written to.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Reads back bytes already written and made durable (a resumed
    /// upload re-hashes its prefix), through the page cache.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if self.buf.is_none() {
            return self.file.read_exact_at(buf, offset);
        }
        set_direct(&self.file, false)?;
        let r = self.file.read_exact_at(buf, offset);
        set_direct(&self.file, true)?;
        r
    }

    /// Where the next byte goes.
    pub fn offset(&self) -> u64 {
        self.base + self.len as u64
    }

    /// Appends `bytes`.
    pub fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let Some(buf) = self.buf.as_mut() else {
                let at = self.offset();
                self.file.write_all_at(bytes, at)?;
                start_writeback(&self.file, at, bytes.len());
                self.base += bytes.len() as u64;
                return Ok(());
            };
            let take = bytes.len().min(DIRECT_BUF - self.len);
            let (now, rest) = bytes.split_at(take);
            buf.get_mut(self.len + take)
                .get_mut(self.len..)
                .unwrap_or_default()
                .copy_from_slice(now);
            self.len += take;
            bytes = rest;
            if self.len == DIRECT_BUF {
                self.write_blocks()?;
            }
        }
        Ok(())
    }

    /// Writes the whole blocks held; the partial last block moves to the
    /// front of the buffer.
    fn write_blocks(&mut self) -> io::Result<()> {
        let Some(buf) = self.buf.as_mut() else {
            return Ok(());
        };
        let whole = self.len - self.len % ALIGN;
        if whole == 0 {
            return Ok(());
        }
        match self.file.write_all_at(buf.get(whole), self.base) {
            Ok(()) => {}
            Err(e) if is_einval(&e) => return self.fall_back(),
            Err(e) => return Err(e),
        }
        let tail = self.len - whole;
        let start = buf.start;
        buf.raw.copy_within(start + whole..start + self.len, start);
        self.base += whole as u64;
        self.len = tail;
        Ok(())
    }

    /// Leaves direct mode for good, writing what the buffer holds buffered.
    fn fall_back(&mut self) -> io::Result<()> {
        let Some(buf) = self.buf.take() else {
            return Ok(());
        };
        set_direct(&self.file, false)?;
        self.file.write_all_at(buf.get(self.len), self.base)?;
        self.base += self.len as u64;
        self.len = 0;
        Ok(())
    }

    /// Writes everything received (the partial last block buffered, and
    /// kept in the buffer for the next direct block) and fdatasyncs: after
    /// it, [`SeqWriter::offset`] bytes survive a crash.
    pub fn make_durable(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if let Some(buf) = self.buf.as_ref() {
            if self.len > 0 {
                set_direct(&self.file, false)?;
                let r = self.file.write_all_at(buf.get(self.len), self.base);
                set_direct(&self.file, true)?;
                r?;
            }
        }
        self.file.sync_data()
    }
}

/// How a file is being read front to back: from the page cache while the
/// bytes are there, past it once they are not.
#[derive(Default)]
pub struct ReadState {
    /// Set once a read found the bytes uncached: the rest of the file is
    /// read with O_DIRECT (a cold file is usually cold to its end, and
    /// probing again would only meet the probe's own readahead).
    direct: bool,
    /// The aligned buffer of direct reads, made on first need.
    scratch: Option<Box<[u8]>>,
}

impl std::fmt::Debug for ReadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadState")
            .field("direct", &self.direct)
            .finish()
    }
}

/// Reads `buf.len()` bytes at `offset` (fewer only at the end of the
/// file): from the page cache while the bytes are there, otherwise past it
/// with O_DIRECT, so a cold file streams at disk speed without filling the
/// cache.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64, st: &mut ReadState) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let at = offset + filled as u64;
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        let n = if st.direct {
            match read_direct(file, rest, at, &mut st.scratch)? {
                Some(n) => n,
                None => {
                    st.direct = false;
                    file.read_at(rest, at)?
                }
            }
        } else {
            // Cached bytes come at memory speed; RWF_NOWAIT answers "not
            // cached" with EAGAIN instead of waiting for the disk.
            match rustix::io::preadv2(
                file,
                &mut [IoSliceMut::new(rest)],
                at,
                ReadWriteFlags::NOWAIT,
            ) {
                Ok(n) => n,
                Err(rustix::io::Errno::AGAIN) => {
                    st.direct = true;
                    continue;
                }
                // Kernels and filesystems without RWF_NOWAIT.
                Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::INVAL) => {
                    file.read_at(rest, at)?
                }
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// One O_DIRECT read of the aligned span around `[at, at + out.len())`,
/// copied into `out`; `None` when direct reads are not possible here.
fn read_direct(
    file: &File,
    out: &mut [u8],
    at: u64,
    scratch: &mut Option<Box<[u8]>>,
) -> io::Result<Option<usize>> {
    let base = at - at % ALIGN as u64;
    let skip = (at - base) as usize;
    let want = (skip + out.len()).min(DIRECT_BUF);
    let span = want.div_ceil(ALIGN) * ALIGN;
    let raw = scratch.get_or_insert_with(|| vec![0u8; DIRECT_BUF + ALIGN].into_boxed_slice());
    let start = raw.as_ptr().align_offset(ALIGN);
    let Some(aligned) = raw.get_mut(start..start + span) else {
        return Ok(None);
    };
    if set_direct(file, true).is_err() {
        return Ok(None);
    }
    let r = file.read_at(aligned, base);
    set_direct(file, false)?;
    let n = match r {
        Ok(n) => n,
        Err(e) if is_einval(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let got = n.saturating_sub(skip).min(out.len());
    let (Some(dst), Some(src)) = (out.get_mut(..got), aligned.get(skip..skip + got)) else {
        return Ok(Some(0));
    };
    dst.copy_from_slice(src);
    Ok(Some(got))
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
