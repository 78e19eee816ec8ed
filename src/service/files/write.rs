//! Streaming into an upload: chunks at exactly the expected offset, hashed
//! as they arrive, fsynced every `sync_every` bytes together with the
//! offset they make durable.

use std::os::fd::AsFd;

use md5::Digest;

use super::error::{FileError, FileResult};
use super::partial;
use super::upload::DiskUpload;

impl DiskUpload {
    /// Appends `bytes` at `offset`, which must be [`DiskUpload::offset`];
    /// returns the new offset. Chunks over the chunk limit and bytes beyond
    /// the declared size are refused. A full disk discards the partial and
    /// answers [`FileError::DiskFull`].
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> FileResult<u64> {
        self.alive()?;
        let end = check_chunk(
            self.inner.config.max_chunk,
            self.offset,
            self.meta.size,
            offset,
            bytes,
        )?;
        if let Err(e) = self.write_file(bytes) {
            // The hashers saw these bytes; the upload cannot go on, but its
            // durable prefix stays for a resume (which re-hashes it).
            self.dead = true;
            return Err(self.fail(FileError::io("writing an upload", e)));
        }
        self.offset = end;
        crate::ops::metrics::file_bytes_in(bytes.len());
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= self.inner.config.sync_every {
            self.sync()?;
        }
        Ok(self.offset)
    }

    fn write_file(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(left) = self.fail_after {
            if (bytes.len() as u64) > left {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.fail_after = Some(left - bytes.len() as u64);
        }
        let (out, b3, md5) = (&mut self.out, &mut self.blake3, &mut self.md5);
        let hash = move || {
            b3.update(bytes);
            if let Some(m) = md5.as_mut() {
                m.update(bytes);
            }
        };
        crate::fsutil::direct::hash_alongside(bytes.len(), hash, || out.write(bytes))
    }

    /// Makes every byte received durable and records the offset.
    pub(crate) fn sync(&mut self) -> FileResult<()> {
        self.alive()?;
        let r = self.out.make_durable().and_then(|()| {
            self.meta.synced = self.offset;
            partial::write_meta(self.staging.as_fd(), &self.key, &self.meta)
        });
        match r {
            Ok(()) => {
                self.unsynced = 0;
                Ok(())
            }
            Err(e) => Err(self.fail(FileError::io("syncing an upload", e))),
        }
    }

    /// Stops for now: everything received becomes durable and is what a
    /// later `begin_upload` resumes from. Returns that offset.
    pub fn pause(mut self) -> FileResult<u64> {
        self.sync()?;
        Ok(self.offset)
    }

    /// Gives up: the partial is removed, and with it its reservation.
    pub fn abort(mut self) -> FileResult<()> {
        self.dead = true;
        partial::discard(self.staging.as_fd(), &self.key)
            .map_err(|e| FileError::io("discarding a partial", e))
    }

    /// Bytes this upload holds of the quota.
    pub fn reserved(&self) -> u64 {
        self.meta.reserved()
    }

    pub(crate) fn alive(&self) -> FileResult<()> {
        if self.dead {
            return Err(FileError::io(
                "using an upload",
                std::io::Error::other("this upload already failed and was discarded"),
            ));
        }
        Ok(())
    }

    /// On a full disk, nothing is kept (the partial would only hold quota
    /// and space); other errors keep it for a resume.
    pub(crate) fn fail(&mut self, e: FileError) -> FileError {
        if matches!(e, FileError::DiskFull) {
            self.dead = true;
            if let Err(err) = partial::discard(self.staging.as_fd(), &self.key) {
                tracing::warn!(error = %err, "could not remove a partial upload after a full disk");
            }
        }
        e
    }
}

/// The checks every store makes on a chunk before writing it: at most
/// `max_chunk` bytes, written at the upload's current `at`, ending within
/// the declared `size`. Returns where the chunk ends.
pub(super) fn check_chunk(
    max_chunk: usize,
    at: u64,
    size: u64,
    offset: u64,
    bytes: &[u8],
) -> FileResult<u64> {
    if bytes.len() > max_chunk {
        return Err(FileError::TooLarge {
            what: "the chunk",
            size: bytes.len() as u64,
            max: max_chunk as u64,
        });
    }
    if offset != at {
        return Err(FileError::BadOffset {
            expected: at,
            got: offset,
        });
    }
    let end = offset.saturating_add(bytes.len() as u64);
    if end > size {
        return Err(FileError::TooLarge {
            what: "the upload",
            size: end,
            max: size,
        });
    }
    Ok(end)
}
