//! Typed requests of the `file` family, and the recursive walk that
//! `ls -r` and `get -r` share, checking every name the server sends.

use std::collections::VecDeque;

use super::{MAX_WALK, TransferError, TransferResult};
use crate::client::{Client, ClientError, server_error};
use crate::wire::path::{RelPath, check_entry_name, check_received};
use crate::wire::{EntryInfo, EntryKind, FileReply, FileRequest, Frame};

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
/// safe component, following the server's pages (`next`) to the end; with
/// whether the listing was cut short ([`MAX_WALK`] entries).
pub async fn list(
    client: &mut Client,
    dir: Option<&RelPath>,
) -> TransferResult<(Vec<EntryInfo>, bool)> {
    let path = dir.map_or_else(String::new, |d| d.as_str().to_owned());
    let mut all: Vec<EntryInfo> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let req = FileRequest::Ls {
            path: path.clone(),
            partial: false,
            after: after.clone(),
        };
        let (entries, next) = match file_call(client, req).await? {
            FileReply::Ls {
                path: got,
                entries,
                next,
                truncated,
                ..
            } => {
                if got != path {
                    return Err(TransferError::Protocol(format!(
                        "listed {got:?} when {path:?} was asked"
                    )));
                }
                (entries, next.filter(|_| truncated))
            }
            other => return Err(TransferError::Protocol(format!("{other:?}"))),
        };
        for e in &entries {
            check_entry_name(&e.name)?;
            if !matches!(e.kind, EntryKind::File | EntryKind::Dir) {
                return Err(TransferError::Protocol(format!("entry kind {:?}", e.kind)));
            }
            // Pages must move forward, or a hostile server could loop us.
            if after.as_deref().is_some_and(|a| e.name.as_str() <= a) {
                return Err(TransferError::Protocol(format!(
                    "page after {after:?} repeated {:?}",
                    e.name
                )));
            }
        }
        all.extend(entries);
        match next {
            Some(n) if all.len() < MAX_WALK => {
                if after.as_deref().is_some_and(|a| n.as_str() <= a) {
                    return Err(TransferError::Protocol(format!(
                        "listing cursor {n:?} does not advance"
                    )));
                }
                after = Some(n);
            }
            Some(_) => return Ok((all, true)),
            None => return Ok((all, false)),
        }
    }
}

/// The unfinished uploads at or below `dir` (`None`: all), each path
/// checked to be valid and below `dir`.
pub async fn partials(
    client: &mut Client,
    dir: Option<&RelPath>,
) -> TransferResult<Vec<EntryInfo>> {
    let path = dir.map_or_else(String::new, |d| d.as_str().to_owned());
    let req = FileRequest::Ls {
        path: path.clone(),
        partial: true,
        after: None,
    };
    match file_call(client, req).await? {
        FileReply::Ls {
            entries,
            partial: true,
            ..
        } => {
            for e in &entries {
                let p = RelPath::parse(&e.name)?;
                if let Some(d) = dir {
                    if !p.starts_with(d) {
                        return Err(TransferError::Protocol(format!(
                            "partial {:?} is not below {d}",
                            e.name
                        )));
                    }
                }
            }
            Ok(entries)
        }
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}

/// Cancels the unfinished upload of `path`; returns the bytes of quota
/// freed.
pub async fn cancel(client: &mut Client, path: &RelPath) -> TransferResult<u64> {
    let req = FileRequest::PutCancel {
        handle: None,
        path: Some(path.as_str().to_owned()),
    };
    match file_call(client, req).await? {
        FileReply::PutCancel { bytes, .. } => Ok(bytes),
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
            if e.kind == EntryKind::Dir {
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

/// Creates the directory `path` (missing parents too with `parents`);
/// returns how many directories were created.
pub async fn mkdir(client: &mut Client, path: &RelPath, parents: bool) -> TransferResult<u64> {
    let req = FileRequest::Mkdir {
        path: path.as_str().to_owned(),
        parents,
    };
    match file_call(client, req).await? {
        FileReply::Mkdir { dirs, .. } => Ok(dirs),
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}

/// Moves `from` to `to` (never replacing); returns what moved.
pub async fn rename(
    client: &mut Client,
    from: &RelPath,
    to: &RelPath,
) -> TransferResult<EntryKind> {
    let req = FileRequest::Mv {
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
    };
    match file_call(client, req).await? {
        FileReply::Mv { kind, .. } => Ok(kind),
        other => Err(TransferError::Protocol(format!("{other:?}"))),
    }
}
