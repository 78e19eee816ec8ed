//! Downloads: `file.get` opens one (with the file's hashes), `file.read`
//! takes its next chunk; a download read to its end closes itself.

use bytes::Bytes;

use super::{FilesState, OpenDownload};
use crate::service::files::{FileError, run_blocking};
use crate::session::Failure;
use crate::wire::FileReply;

impl FilesState {
    /// `file.get`: opens `path` at `offset` under a new handle.
    pub(super) async fn get(
        &mut self,
        user: i64,
        path: String,
        offset: u64,
        md5: bool,
    ) -> Result<FileReply, Failure> {
        let handle = self.open_slot()?;
        let (store, p) = (self.store.clone(), path.clone());
        let (download, hashes) = run_blocking(move || {
            let mut d = store.download(user, &p, offset)?;
            let h = d.hashes(md5)?;
            Ok((d, h))
        })
        .await?;
        let reply = FileReply::Get {
            handle,
            path,
            size: download.size(),
            offset,
            mtime: download.mtime(),
            blake3: hashes.blake3.to_hex().to_string(),
            md5: hashes.md5.filter(|_| md5).map(hex::encode),
        };
        self.downloads
            .insert(handle, OpenDownload { user, download });
        Ok(reply)
    }

    /// The next chunk of a download, in the reply's body.
    pub(super) async fn read(
        &mut self,
        user: i64,
        handle: u64,
        offset: u64,
        len: u64,
    ) -> Result<(FileReply, Bytes), Failure> {
        let max = self.store.config().max_chunk;
        let len = match usize::try_from(len) {
            Ok(n) if n <= max => n,
            _ => {
                return Err(Failure::Files(FileError::TooLarge {
                    what: "the read",
                    size: len,
                    max: max as u64,
                }));
            }
        };
        let mut open = match self.downloads.remove(&handle) {
            Some(d) if d.user == user => d,
            Some(d) => {
                self.downloads.insert(handle, d);
                return Err(Failure::BadHandle(handle));
            }
            None => return Err(Failure::BadHandle(handle)),
        };
        if offset != open.download.offset() {
            let expected = open.download.offset();
            self.downloads.insert(handle, open);
            return Err(Failure::Files(FileError::BadOffset {
                expected,
                got: offset,
            }));
        }
        // Never more than what is left: a request for 8 MiB of a 10-byte
        // file allocates 10 bytes.
        let want = len.min(usize::try_from(open.download.remaining()).unwrap_or(len));
        let (open, chunk) = run_blocking(move || {
            let mut buf = vec![0u8; want];
            let n = open.download.read_chunk(&mut buf)?;
            buf.truncate(n);
            Ok((open, buf))
        })
        .await?;
        let eof = open.download.remaining() == 0;
        if !eof {
            self.downloads.insert(handle, open);
        }
        Ok((
            FileReply::Read {
                handle,
                offset,
                eof,
            },
            Bytes::from(chunk),
        ))
    }
}
