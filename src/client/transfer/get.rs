//! `get`: one remote file to a local path, resumable and verified.
//!
//! ```text
//! -> file.get {path, offset, md5?}   <- {handle, path, size, blake3, md5?}
//! -> file.read {handle, offset, len}  (up to WINDOW in flight)
//!                                    <- {handle, offset, eof} + chunk
//! ```
//! Bytes go to `DEST.sockit-part`; `DEST.sockit-part.json` remembers which
//! remote file (path, size, BLAKE3) they belong to, so an interrupted get
//! continues where it stopped, and a remote file changed meanwhile starts
//! over. Only a part whose whole content hashes to the announced BLAKE3
//! (and MD5, when asked) is renamed to `DEST`.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::local::{ensure_dirs, spawn_writer, sync_dir};
use super::remote::{file_call, next_reply};
use super::{Progress, TransferError, TransferResult, WINDOW};
use crate::client::Client;
use crate::wire::path::{RelPath, check_received, escape_name};
use crate::wire::{ErrorCode, FileReply, FileRequest};

/// Suffix of the partial download next to its destination.
pub const PART_SUFFIX: &str = ".sockit-part";
/// Suffix of the note saying what the partial belongs to.
pub const PART_META_SUFFIX: &str = ".sockit-part.json";

/// Chunks waiting for the local writer (see `get_file`).
const WRITE_QUEUE: usize = 1;

/// How a get behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions {
    /// Replace an existing local file.
    pub force: bool,
    /// Also compare MD5.
    pub md5: bool,
    /// Bytes per chunk.
    pub chunk: usize,
}

/// What a get did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetOutcome {
    /// The local file written.
    pub dest: PathBuf,
    /// Its size.
    pub size: u64,
    /// Bytes that were already there from an interrupted get.
    pub resumed_from: u64,
    /// BLAKE3 (hex), verified.
    pub blake3: String,
    /// MD5 (hex), verified, with `md5`.
    pub md5: Option<String>,
}

/// What `DEST.sockit-part.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartNote {
    path: String,
    size: u64,
    blake3: String,
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Downloads `remote` to `dest` (a file path; its directory must exist).
pub async fn get_file(
    client: &mut Client,
    remote: &RelPath,
    dest: &Path,
    opts: GetOptions,
    progress: &dyn Progress,
) -> TransferResult<GetOutcome> {
    let part = with_suffix(dest, PART_SUFFIX);
    let note_path = with_suffix(dest, PART_META_SUFFIX);
    let (exists, note, held) = {
        let (d, p, n) = (dest.to_path_buf(), part.clone(), note_path.clone());
        blocking(dest, move || {
            let exists = std::fs::symlink_metadata(&d).is_ok();
            let note: Option<PartNote> = std::fs::read(&n)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let held = std::fs::symlink_metadata(&p)
                .ok()
                .filter(|m| m.is_file())
                .map_or(0, |m| m.len());
            Ok((exists, note, held))
        })
        .await?
    };
    if exists && !opts.force {
        return Err(TransferError::LocalExists {
            path: dest.to_path_buf(),
        });
    }
    let mut offset = match &note {
        Some(n) if n.path == remote.as_str() && held <= n.size => held,
        _ => 0,
    };
    let (handle, size, blake3, md5) = loop {
        let (handle, size, b3, m5) = open(client, remote, offset, opts.md5).await?;
        let same = note
            .as_ref()
            .is_some_and(|n| n.size == size && n.blake3 == b3);
        if offset == 0 || same {
            break (handle, size, b3, m5);
        }
        // The remote file changed since the part was started: start over.
        close(client, handle).await;
        offset = 0;
    };
    let fresh = PartNote {
        path: remote.as_str().to_owned(),
        size,
        blake3: blake3.clone(),
    };
    let (p, n) = (part.clone(), note_path.clone());
    let file = blocking(&part, move || {
        std::fs::write(
            &n,
            serde_json::to_vec(&fresh).map_err(std::io::Error::other)?,
        )?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&p)
    })
    .await?;
    progress.begin(&remote.to_string(), size, offset);
    // One chunk queued for the writer: each received body shares the
    // codec's read buffer, so every queued chunk pins a buffer; the reads
    // in flight (WINDOW) already cover the network's latency.
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    let writer = spawn_writer(file, part.clone(), offset, opts.md5, rx);
    let chunk = opts.chunk.max(1) as u64;
    let streamed = if offset < size {
        stream(client, handle, offset, size, chunk, tx, progress).await
    } else {
        drop(tx);
        close(client, handle).await;
        Ok(())
    };
    let written = writer.await;
    progress.end();
    streamed?;
    let d = written.map_err(|e| TransferError::local(&part)(std::io::Error::other(e)))??;
    let got_b3 = d.blake3.to_hex().to_string();
    let got_m5 = d.md5.map(hex::encode);
    let mismatch = if got_b3 != blake3 {
        Some((blake3.clone(), got_b3.clone()))
    } else if opts.md5 && got_m5 != md5 {
        Some((
            md5.clone().unwrap_or_default(),
            got_m5.clone().unwrap_or_default(),
        ))
    } else {
        None
    };
    let (d2, p2, n2, force) = (dest.to_path_buf(), part.clone(), note_path, opts.force);
    if let Some((expected, actual)) = mismatch {
        blocking(&part, move || {
            std::fs::remove_file(&p2)?;
            std::fs::remove_file(&n2)
        })
        .await?;
        return Err(TransferError::Verify {
            what: escape_name(remote.as_str()).into_owned(),
            expected,
            actual,
        });
    }
    blocking(dest, move || {
        publish(&p2, &d2, force)?;
        let _ = std::fs::remove_file(&n2);
        sync_dir(d2.parent().unwrap_or(Path::new("")))
    })
    .await?;
    Ok(GetOutcome {
        dest: dest.to_path_buf(),
        size,
        resumed_from: offset,
        blake3,
        md5: got_m5,
    })
}

/// Renames the verified part into place: never over an existing file
/// unless `force` (then atomically replacing it).
fn publish(part: &Path, dest: &Path, force: bool) -> std::io::Result<()> {
    if force {
        return std::fs::rename(part, dest);
    }
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, part, CWD, dest, RenameFlags::NOREPLACE).map_err(std::io::Error::from)
}

/// Runs local file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> TransferResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(TransferError::local(path)),
        Err(e) => Err(TransferError::local(path)(std::io::Error::other(e))),
    }
}

/// Opens the download; the server must answer for the path asked.
async fn open(
    client: &mut Client,
    remote: &RelPath,
    offset: u64,
    md5: bool,
) -> TransferResult<(u64, u64, String, Option<String>)> {
    let req = FileRequest::Get {
        path: remote.as_str().to_owned(),
        offset,
        md5,
    };
    match file_call(client, req).await {
        Ok(FileReply::Get {
            handle,
            path,
            size,
            offset: o,
            blake3,
            md5,
            ..
        }) if o == offset && o <= size => {
            check_received(remote, &path)?;
            Ok((handle, size, blake3, md5))
        }
        Ok(r) => Err(TransferError::Protocol(format!("file.get: {r:?}"))),
        // A part longer than the file now is: the file changed; start over.
        Err(e) if offset > 0 && e.server_code() == Some(ErrorCode::BadOffset) => {
            Box::pin(open(client, remote, 0, md5)).await
        }
        Err(e) => Err(e),
    }
}

/// Closes a download we will not read; errors do not matter any more.
async fn close(client: &mut Client, handle: u64) {
    let _ = file_call(client, FileRequest::Close { handle }).await;
}

/// Asks for chunks with up to [`WINDOW`] reads in flight and hands each
/// to the writer, checking that it is the range asked for.
async fn stream(
    client: &mut Client,
    handle: u64,
    offset: u64,
    size: u64,
    chunk: u64,
    tx: mpsc::Sender<bytes::Bytes>,
    progress: &dyn Progress,
) -> TransferResult<()> {
    let mut asked = offset;
    let mut got = offset;
    let mut pending: VecDeque<(u64, u64, u64)> = VecDeque::new();
    while got < size {
        while asked < size && pending.len() < WINDOW {
            let len = chunk.min(size - asked);
            let id = client.next_id();
            let req = FileRequest::Read {
                handle,
                offset: asked,
                len,
            };
            client.feed(req.to_frame(Some(id))).await?;
            pending.push_back((id, asked, len));
            asked += len;
        }
        client.flush().await?;
        let Some((id, at, len)) = pending.pop_front() else {
            break;
        };
        let (reply, typed) = next_reply(client).await?;
        match typed {
            FileReply::Read { offset: o, .. }
                if reply.id() == Some(id) && o == at && reply.body.len() as u64 == len =>
            {
                got += len;
                progress.advance(len);
                if tx.send(reply.body).await.is_err() {
                    // The writer failed; its error is reported.
                    return Ok(());
                }
            }
            r => return Err(TransferError::Protocol(format!("file.read: {r:?}"))),
        }
    }
    Ok(())
}

/// Where `get -r` puts `path` (below the remote directory `base`) inside
/// the local directory `dest`: the directories are created without
/// following links, and the returned file path lies inside `dest`.
pub fn local_target(
    dest: &Path,
    base: Option<&RelPath>,
    path: &RelPath,
) -> TransferResult<PathBuf> {
    let rel: Vec<&str> = match base {
        Some(b) => {
            crate::wire::path::check_received_below(b, path.as_str())?;
            // Keep the base directory's own name, like `cp -r`.
            let keep = b.components().count().saturating_sub(1);
            path.components().skip(keep).collect()
        }
        None => path.components().collect(),
    };
    let (name, dirs) = rel
        .split_last()
        .ok_or_else(|| TransferError::Protocol("empty path".into()))?;
    let dir = ensure_dirs(dest, dirs.iter().copied())?;
    Ok(dir.join(name))
}
