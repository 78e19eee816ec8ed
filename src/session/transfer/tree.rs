//! The `file` requests on names rather than open transfers: stat, ls
//! (files, or unfinished uploads), rm, mkdir, mv. Each is one store call
//! on the blocking pool and a reply.

use crate::service::files::{
    Entry, EntryKind as StoreKind, FileStore, PartialInfo, escape_name, run_blocking,
};
use crate::session::Failure;
use crate::wire::{EntryInfo, EntryKind, FileReply};

/// The wire's kind of a stored entry.
fn kind(k: StoreKind) -> EntryKind {
    match k {
        StoreKind::File => EntryKind::File,
        StoreKind::Dir => EntryKind::Dir,
    }
}

fn info(e: Entry, name: String) -> EntryInfo {
    EntryInfo {
        name,
        kind: kind(e.kind),
        size: e.size,
        mtime: e.mtime,
        blake3: e.blake3.map(|h| h.to_hex().to_string()),
        offset: None,
        running: None,
    }
}

fn partial_info(p: PartialInfo) -> EntryInfo {
    EntryInfo {
        name: p.path,
        kind: EntryKind::Partial,
        size: p.size,
        mtime: p.mtime,
        blake3: None,
        offset: Some(p.held),
        running: Some(p.running),
    }
}

/// `file.stat`.
pub(super) async fn stat(store: &FileStore, user: i64, path: String) -> Result<FileReply, Failure> {
    let (store, p) = (store.clone(), path.clone());
    let e = run_blocking(move || store.stat(user, &p)).await?;
    Ok(FileReply::Stat(info(e, path)))
}

/// `file.ls`: a page of a directory, or the unfinished uploads under it.
pub(super) async fn ls(
    store: &FileStore,
    user: i64,
    path: String,
    partial: bool,
    after: Option<String>,
) -> Result<FileReply, Failure> {
    let (store, p) = (store.clone(), path.clone());
    if partial {
        let list = run_blocking(move || store.partials(user, &p)).await?;
        return Ok(FileReply::Ls {
            path,
            entries: list.into_iter().map(partial_info).collect(),
            truncated: false,
            skipped: 0,
            next: None,
            partial: true,
        });
    }
    let l = run_blocking(move || store.list_page(user, &p, after.as_deref())).await?;
    Ok(FileReply::Ls {
        path,
        entries: l
            .entries
            .into_iter()
            .map(|e| {
                let name = e.name.clone();
                info(e, name)
            })
            .collect(),
        truncated: l.truncated,
        skipped: l.skipped,
        next: l.next,
        partial: false,
    })
}

/// `file.rm`.
pub(super) async fn rm(
    store: &FileStore,
    user: i64,
    path: String,
    recursive: bool,
) -> Result<FileReply, Failure> {
    let (store, p) = (store.clone(), path.clone());
    let r = run_blocking(move || store.remove(user, &p, recursive)).await?;
    tracing::info!(path = %escape_name(&path), files = r.files, dirs = r.dirs, "removed");
    Ok(FileReply::Rm {
        path,
        files: r.files,
        dirs: r.dirs,
        bytes: r.bytes,
    })
}

/// `file.mkdir`.
pub(super) async fn mkdir(
    store: &FileStore,
    user: i64,
    path: String,
    parents: bool,
) -> Result<FileReply, Failure> {
    let (store, p) = (store.clone(), path.clone());
    let dirs = run_blocking(move || store.mkdir(user, &p, parents)).await?;
    tracing::info!(path = %escape_name(&path), dirs, "directory created");
    Ok(FileReply::Mkdir { path, dirs })
}

/// `file.mv`.
pub(super) async fn mv(
    store: &FileStore,
    user: i64,
    from: String,
    to: String,
) -> Result<FileReply, Failure> {
    let (store, f, t) = (store.clone(), from.clone(), to.clone());
    let moved = run_blocking(move || store.rename(user, &f, &t)).await?;
    tracing::info!(from = %escape_name(&from), to = %escape_name(&to), "moved");
    Ok(FileReply::Mv {
        from,
        to,
        kind: kind(moved.kind),
    })
}
