//! Reads front to back: from the page cache while the bytes are there,
//! past it (O_DIRECT) once they are not.

use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::FileExt;

use rustix::io::ReadWriteFlags;

use super::{ALIGN, DIRECT_BUF, is_einval, set_direct};

/// How a file is being read front to back: from the page cache while the
/// bytes are there, past it once they are not.
#[derive(Default)]
pub struct ReadState {
    /// Set once a read found the bytes uncached: the rest of the file is
    /// read with O_DIRECT (a cold file is usually cold to its end, and
    /// probing again would only meet the probe's own readahead).
    direct: bool,
    /// The aligned buffer of direct reads, made on first need.
    pub(super) scratch: Option<Box<[u8]>>,
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
pub(super) fn read_direct(
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
