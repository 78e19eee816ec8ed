//! `put`: one local file to the server, resuming what the server holds.
//!
//! ```text
//! -> file.put {path, size, fingerprint, force, md5}   <- {handle, offset}
//! -> file.write {handle, offset} + chunk  (up to WINDOW in flight)
//!                                                     <- {handle, offset'}
//! -> file.put.end {handle, blake3, md5?}              <- {path, size, blake3, ...}
//! ```
//! The local prefix the server already holds is hashed but not sent.

use std::path::Path;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::local::{Digests, fingerprint, spawn_reader};
use super::remote::{file_call, next_reply};
use super::{Progress, TransferError, TransferResult, WINDOW};
use crate::client::Client;
use crate::wire::path::RelPath;
use crate::wire::{ErrorCode, FileReply, FileRequest};
use tokio::task::JoinHandle;

/// How a put behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// Replace an existing file (atomically, on the server).
    pub force: bool,
    /// Also compute MD5 on both sides and compare it.
    pub md5: bool,
    /// Bytes per chunk (see [`chunk_for`](super::chunk_for)).
    pub chunk: usize,
}

/// What a put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// Where the file is on the server.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Bytes the server already held (not sent again).
    pub resumed_from: u64,
    /// BLAKE3 (hex), equal on both sides.
    pub blake3: String,
    /// MD5 (hex), with `md5`.
    pub md5: Option<String>,
    /// True when an existing file was replaced.
    pub replaced: bool,
}

fn unexpected(what: &str, r: &FileReply) -> TransferError {
    TransferError::Protocol(format!("{what}: {r:?}"))
}

/// Uploads `local` to `remote`.
pub async fn put_file(
    client: &mut Client,
    local: &Path,
    remote: &RelPath,
    opts: PutOptions,
    progress: &dyn Progress,
) -> TransferResult<PutOutcome> {
    let (file, meta) = open_local(local).await?;
    if !meta.is_file() {
        return Err(TransferError::local(local)(std::io::Error::other(
            "not a regular file (use -r for directories)",
        )));
    }
    let size = meta.len();
    let local = local.to_path_buf();
    let source =
        move |offset, chunk, tx| spawn_reader(file, local, (offset, size, chunk), opts.md5, tx);
    put_from(
        client,
        remote,
        (size, fingerprint(&meta)),
        opts,
        source,
        progress,
    )
    .await
}

/// Opens a local file and reads its metadata, on the blocking pool.
pub(crate) async fn open_local(local: &Path) -> TransferResult<(std::fs::File, std::fs::Metadata)> {
    let path = local.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path)?;
        let m = f.metadata()?;
        Ok::<_, std::io::Error>((f, m))
    })
    .await
    .map_err(|e| TransferError::local(local)(std::io::Error::other(e)))?
    .map_err(TransferError::local(local))
}

/// Where an upload's bytes come from: given the offset the server already
/// holds, the chunk size and the channel, a blocking task that sends
/// `[offset, size)` in chunks and returns the whole content's digests.
pub(crate) type Source = JoinHandle<TransferResult<Digests>>;

/// Uploads `size` bytes from `source` to `remote`; `fingerprint` names the
/// source's version (a partial upload resumes only onto the same one).
pub(crate) async fn put_from(
    client: &mut Client,
    remote: &RelPath,
    (size, fingerprint): (u64, String),
    opts: PutOptions,
    source: impl FnOnce(u64, usize, mpsc::Sender<Bytes>) -> Source,
    progress: &dyn Progress,
) -> TransferResult<PutOutcome> {
    let begin = FileRequest::Put {
        path: remote.as_str().to_owned(),
        size,
        fingerprint,
        force: opts.force,
        md5: opts.md5,
    };
    let (handle, offset) = match begin_retrying(client, begin).await? {
        FileReply::Put { handle, offset } if offset <= size => (handle, offset),
        r => return Err(unexpected("file.put", &r)),
    };
    progress.begin(&remote.to_string(), size, offset);
    let (tx, rx) = mpsc::channel(WINDOW);
    let reader = source(offset, opts.chunk.max(1), tx);
    let sent = stream(client, handle, offset, size, rx, progress).await;
    let digests = match (sent, reader.await) {
        (Ok(()), Ok(Ok(d))) => d,
        // A local read error ends the stream early: report the cause.
        (_, Ok(Err(e))) => return Err(e),
        (Err(e), _) => return Err(e),
        (Ok(()), Err(e)) => {
            return Err(TransferError::Protocol(format!(
                "the upload's reader failed: {e}"
            )));
        }
    };
    finish(client, handle, digests, offset, progress).await
}

/// How long a put waits for the server to let go of the same path: after
/// a client is killed, the server may still be draining that connection's
/// last chunks for a moment before it pauses the upload; a real concurrent
/// upload of the same path still fails after this.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Pause between two tries while the path is busy.
const BUSY_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// `file.put`, tried again while the server answers `busy` for up to
/// [`BUSY_WAIT`].
async fn begin_retrying(client: &mut Client, begin: FileRequest) -> TransferResult<FileReply> {
    let start = std::time::Instant::now();
    loop {
        match file_call(client, begin.clone()).await {
            Err(e) if e.server_code() == Some(ErrorCode::Busy) && start.elapsed() < BUSY_WAIT => {
                tokio::time::sleep(BUSY_STEP).await;
            }
            r => return r,
        }
    }
}

/// Sends the chunks from `rx`, keeping up to [`WINDOW`] writes
/// unacknowledged; checks that each ack moves the offset as expected.
async fn stream(
    client: &mut Client,
    handle: u64,
    mut offset: u64,
    size: u64,
    mut rx: mpsc::Receiver<Bytes>,
    progress: &dyn Progress,
) -> TransferResult<()> {
    let mut sent = offset;
    let mut pending: std::collections::VecDeque<(u64, u64)> = Default::default();
    let mut done = false;
    while sent < size || !pending.is_empty() {
        while !done && pending.len() < WINDOW {
            let Some(chunk) = rx.recv().await else {
                done = true;
                break;
            };
            let id = client.next_id();
            let len = chunk.len() as u64;
            let frame = FileRequest::Write {
                handle,
                offset: sent,
            }
            .to_frame(Some(id))
            .with_body(chunk);
            client.send_large(frame).await?;
            progress.wrote(len);
            sent += len;
            pending.push_back((id, sent));
        }
        client.flush().await?;
        let Some((id, end)) = pending.pop_front() else {
            if done && sent < size {
                // The reader stopped early; its own error says why.
                return Ok(());
            }
            continue;
        };
        let (reply, typed) = next_reply(client).await?;
        match typed {
            FileReply::Write { offset: o, .. } if reply.id() == Some(id) && o == end => {
                progress.advance(o - offset);
                offset = o;
            }
            r => return Err(unexpected("file.write", &r)),
        }
    }
    Ok(())
}

async fn finish(
    client: &mut Client,
    handle: u64,
    d: Digests,
    resumed_from: u64,
    progress: &dyn Progress,
) -> TransferResult<PutOutcome> {
    let end = FileRequest::PutEnd {
        handle,
        blake3: Some(d.blake3.to_hex().to_string()),
        md5: d.md5.map(hex::encode),
    };
    let r = file_call(client, end).await;
    progress.end();
    match r? {
        FileReply::PutEnd {
            path,
            size,
            blake3,
            md5,
            replaced,
        } => {
            // The server verified; a different echo would be a broken server.
            if blake3 != d.blake3.to_hex().as_str() {
                return Err(TransferError::Verify {
                    what: path,
                    expected: d.blake3.to_hex().to_string(),
                    actual: blake3,
                });
            }
            Ok(PutOutcome {
                path,
                size,
                resumed_from,
                blake3,
                md5,
                replaced,
            })
        }
        r => Err(unexpected("file.put.end", &r)),
    }
}
