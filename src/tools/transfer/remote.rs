//! Typed requests of the `file` family, and the recursive walk that
//! `ls -r` and `get -r` share, checking every name the server sends.

use std::collections::VecDeque;

use super::{MAX_WALK, TransferError, TransferResult};
use crate::client::{Client, ClientError, server_error};
use crate::service::files::{RelPath, check_entry_name, check_received};
use crate::wire::{EntryInfo, FileReply, FileRequest, Frame};

/// Sends one request of the family and reads its typed reply.
pub async fn file_call(client: &mut Client, req: FileRequest) -> TransferResult<FileReply> {
    let reply = client.request(req.to_frame(None)).await?;
    FileReply::from_frame(&reply).map_err(|e| TransferError::Protocol(e.to_string()))
}

/// The next reply of a pipelined transfer, as a frame (its body is the
/// data) and its typed header; an `error` reply becomes the error.
pub async fn next_reply(client: &mut Client) -> TransferResult<(Frame, FileReply)> {
    let reply = client.recv().await?.ok_or(ClientError::Closed)?;
    if reply.kind() == Some("error") {
        return Err(server_error(&reply).into());
    }
    let typed =
        FileReply::from_frame(&reply).map_err(|e| TransferError::Protocol(e.to_string()))?;
    Ok((reply, typed))
}

/// What is at `path`; the server must answer for that very path.
pub async fn stat(client: &mut Client, path: &RelPath) -> TransferResult<EntryInfo> {
    match file_call(
        client,
        FileRequest::Stat {
            path: path.as_str().to_owned(),
        },
    )
    .await?
    {
        FileReply::Stat(e) => {
            check_received(path, &e.name)?;
            Ok(e)
        }
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}

/// A directory's entries (`None` is the root), each name checked to be one
/// safe component; with whether the server cut the listing short.
pub async fn list(
    client: &mut Client,
    dir: Option<&RelPath>,
) -> TransferResult<(Vec<EntryInfo>, bool)> {
    let path = dir.map_or_else(String::new, |d| d.as_str().to_owned());
    match file_call(client, FileRequest::Ls { path: path.clone() }).await? {
        FileReply::Ls {
            path: got,
            entries,
            truncated,
            ..
        } => {
            if got != path {
                return Err(TransferError::Protocol(format!(
                    "listed {got:?} when {path:?} was asked"
                )));
            }
            for e in &entries {
                check_entry_name(&e.name)?;
                if e.kind != "file" && e.kind != "dir" {
                    return Err(TransferError::Protocol(format!("entry kind {:?}", e.kind)));
                }
            }
            Ok((entries, truncated))
        }
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}

/// Walks the tree below `dir` breadth first, calling `each` with every
/// entry's validated path (relative to the user's root). Returns whether
/// some listing was truncated. Stops at [`MAX_WALK`] entries.
pub async fn walk(
    client: &mut Client,
    dir: Option<&RelPath>,
    mut each: impl FnMut(&RelPath, &EntryInfo) -> TransferResult<()>,
) -> TransferResult<bool> {
    let mut queue: VecDeque<Option<RelPath>> = VecDeque::from([dir.cloned()]);
    let mut seen = 0usize;
    let mut truncated = false;
    while let Some(d) = queue.pop_front() {
        let (entries, cut) = list(client, d.as_ref()).await?;
        truncated |= cut;
        for e in entries {
            let path = match &d {
                Some(d) => d.join(&e.name)?,
                None => RelPath::parse(&e.name)?,
            };
            seen += 1;
            if seen > MAX_WALK {
                return Err(TransferError::Protocol(format!(
                    "more than {MAX_WALK} entries; list a smaller directory"
                )));
            }
            each(&path, &e)?;
            if e.kind == "dir" {
                queue.push_back(Some(path));
            }
        }
    }
    Ok(truncated)
}

/// Removes `path` (a directory's contents too with `recursive`); returns
/// (files, dirs, bytes) removed.
pub async fn remove(
    client: &mut Client,
    path: &RelPath,
    recursive: bool,
) -> TransferResult<(u64, u64, u64)> {
    match file_call(
        client,
        FileRequest::Rm {
            path: path.as_str().to_owned(),
            recursive,
        },
    )
    .await?
    {
        FileReply::Rm {
            files, dirs, bytes, ..
        } => Ok((files, dirs, bytes)),
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}
