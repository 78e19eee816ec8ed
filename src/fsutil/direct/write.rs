//! The sequential writer: whole aligned blocks through O_DIRECT, the
//! last partial block kept until the data is made durable.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::{ALIGN, Aligned, DIRECT_BUF, is_einval, set_direct, start_writeback};

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
