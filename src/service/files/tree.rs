//! Listing, inspecting and removing what a user holds, never through links.

use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use super::DiskStore;
use super::config::MAX_LIST_ENTRIES;
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind, Meta};
use super::paths::{MAX_DEPTH, RelPath, check_name};

/// What a listed entry is. Links, sockets and devices are never listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name (one valid component).
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// BLAKE3 when the index has it for this exact file.
    pub blake3: Option<blake3::Hash>,
}

/// A directory's entries, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The entries, at most [`MAX_LIST_ENTRIES`], sorted by name (bytes).
    pub entries: Vec<Entry>,
    /// True when more entries follow this page: ask again with
    /// [`Listing::next`] as `after`.
    pub truncated: bool,
    /// The cursor for the next page (the last name of this one), when
    /// `truncated`.
    pub next: Option<String>,
    /// Names in the whole directory that no page lists: links, special
    /// files, and names that break the path rules (placed by an operator;
    /// they could not be fetched). The same count on every page.
    pub skipped: usize,
}

/// What a removal took away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Files (and links) removed.
    pub files: u64,
    /// Directories removed.
    pub dirs: u64,
    /// Bytes of the removed files.
    pub bytes: u64,
}

impl DiskStore {
    /// Lists a directory; `""` is the user's root. The first page of
    /// [`DiskStore::list_page`].
    pub fn list(&self, user: i64, dir: &str) -> FileResult<Listing> {
        self.list_page(user, dir, None)
    }

    /// One page of a directory: its entries whose names sort (by bytes)
    /// after `after`, at most [`MAX_LIST_ENTRIES`]. Pass the last name of
    /// a truncated page as `after` to get the next one. The whole
    /// directory is read each time (memory stays one page), so pages are
    /// consistent with the order whatever the filesystem returns.
    pub fn list_page(&self, user: i64, dir: &str, after: Option<&str>) -> FileResult<Listing> {
        let root = self.inner.user_root(user)?;
        let fd = if dir.is_empty() {
            root
        } else {
            let rel = RelPath::parse(dir).map_err(|e| FileError::bad_path(dir, e))?;
            fsx::walk_dir(root.as_fd(), &rel)?
        };
        let base = (!dir.is_empty()).then_some(dir);
        self.list_fd(
            user,
            base,
            fd.as_fd(),
            after.unwrap_or(""),
            MAX_LIST_ENTRIES,
        )
    }

    fn list_fd(
        &self,
        user: i64,
        base: Option<&str>,
        dir: BorrowedFd<'_>,
        after: &str,
        limit: usize,
    ) -> FileResult<Listing> {
        let io = |e| FileError::io("listing a directory", e);
        let mut out = Listing::default();
        // The `limit` smallest listable names after `after`, in a max-heap
        // of at most limit + 1: memory is one page whatever the directory.
        let mut page: BinaryHeap<String> = BinaryHeap::with_capacity(limit.min(1024) + 1);
        fsx::for_each_entry(dir, |raw, kind| {
            let kind = match kind {
                Some(k) => Some(k),
                None => fsx::stat_at(dir, raw)?.map(|m| m.kind),
            };
            let name = match std::str::from_utf8(raw) {
                Ok(n) if check_name(n).is_ok() => n,
                _ => {
                    out.skipped += 1;
                    return Ok(true);
                }
            };
            match kind {
                Some(Kind::File | Kind::Dir) => {}
                Some(_) => {
                    out.skipped += 1;
                    return Ok(true);
                }
                None => return Ok(true), // removed meanwhile
            }
            if name.as_bytes() > after.as_bytes() {
                page.push(name.to_owned());
                if page.len() > limit {
                    page.pop();
                    out.truncated = true;
                }
            }
            Ok(true)
        })
        .map_err(io)?;
        for name in page.into_sorted_vec() {
            let Some(meta) = fsx::stat_at(dir, name.as_str()).map_err(io)? else {
                continue; // removed meanwhile
            };
            let path = base.map_or_else(|| name.clone(), |b| format!("{b}/{name}"));
            let Some(entry) = self.entry(user, &path, name, &meta)? else {
                continue; // replaced by a link or special file meanwhile
            };
            out.entries.push(entry);
        }
        if out.truncated {
            out.next = out.entries.last().map(|e| e.name.clone());
        }
        Ok(out)
    }

    fn entry(&self, user: i64, path: &str, name: String, meta: &Meta) -> FileResult<Option<Entry>> {
        let kind = match meta.kind {
            Kind::File => EntryKind::File,
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink | Kind::Other => return Ok(None),
        };
        let blake3 = if kind == EntryKind::File {
            self.inner
                .index()
                .lookup(user, path, meta)?
                .map(|h| h.blake3)
        } else {
            None
        };
        Ok(Some(Entry {
            name,
            kind,
            size: if kind == EntryKind::File {
                meta.size
            } else {
                0
            },
            mtime: meta.mtime_ns.div_euclid(1_000_000_000),
            blake3,
        }))
    }

    /// Describes one path (a `get` uses it to tell a file from a
    /// directory). A link is reported as a bad path, never followed. `""`
    /// is the user's root, a directory named `""`, as in [`DiskStore::list`].
    pub fn stat(&self, user: i64, path: &str) -> FileResult<Entry> {
        if path.is_empty() {
            let root = self.inner.user_root(user)?;
            let meta =
                fsx::stat_fd(root.as_fd()).map_err(|e| FileError::io("inspecting a path", e))?;
            return Ok(Entry {
                name: String::new(),
                kind: EntryKind::Dir,
                size: 0,
                mtime: meta.mtime_ns.div_euclid(1_000_000_000),
                blake3: None,
            });
        }
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let root = self.inner.user_root(user)?;
        let parent = fsx::walk_parent(root.as_fd(), &rel, false)?;
        let name = rel.file_name();
        let meta = fsx::stat_at(parent.as_fd(), name)
            .map_err(|e| FileError::io("inspecting a path", e))?
            .ok_or_else(|| fsx::not_found(&rel))?;
        if meta.kind == Kind::Symlink {
            return Err(FileError::bad_path(path, super::PathError::Symlink));
        }
        self.entry(user, rel.as_str(), name.to_owned(), &meta)?
            .ok_or_else(|| fsx::not_found(&rel))
    }

    /// Removes a file, or a directory: an empty one always, a non-empty
    /// one only with `recursive`. A link is removed itself, never what it
    /// points to; links inside a removed tree likewise.
    pub fn remove(&self, user: i64, path: &str, recursive: bool) -> FileResult<Removed> {
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let root = self.inner.user_root(user)?;
        let parent = fsx::walk_parent(root.as_fd(), &rel, false)?;
        let name = rel.file_name();
        let io = |doing| move |e| FileError::io(doing, e);
        let meta = fsx::stat_at(parent.as_fd(), name)
            .map_err(io("inspecting a path"))?
            .ok_or_else(|| fsx::not_found(&rel))?;
        let mut removed = Removed::default();
        let result = if meta.kind != Kind::Dir {
            fsx::unlink_at(parent.as_fd(), name).map(|()| {
                removed.files = 1;
                removed.bytes = if meta.kind == Kind::File {
                    meta.size
                } else {
                    0
                };
            })
        } else if !recursive {
            match fsx::rmdir_at(parent.as_fd(), name) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {
                    return Err(FileError::NotEmpty {
                        path: rel.to_string(),
                    });
                }
                r => r.map(|()| removed.dirs = 1),
            }
        } else {
            remove_tree(parent.as_fd(), name.as_bytes(), 0, &mut removed)
        };
        // Whatever was removed before an error is gone: forget it too.
        self.inner.published_forget(user);
        self.inner.index().forget(user, rel.as_str())?;
        result.map_err(io("removing"))?;
        fsx::fsync_dir(parent.as_fd()).map_err(io("syncing a directory"))?;
        Ok(removed)
    }
}

/// Removes the directory `name` in `dir` with everything below it, one
/// handle per level, unlinking links instead of following them.
pub(crate) fn remove_tree(
    dir: BorrowedFd<'_>,
    name: &[u8],
    depth: usize,
    out: &mut Removed,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(
            "directory tree deeper than the path limit",
        ));
    }
    let sub = fsx::open_dir_at(dir, name)?;
    // Unlinking entries already returned while reading on is well defined
    // (POSIX only leaves open whether *removed* entries still show up).
    fsx::for_each_name(sub.as_fd(), |child| {
        match fsx::stat_at(sub.as_fd(), child)? {
            Some(m) if m.kind == Kind::Dir => remove_tree(sub.as_fd(), child, depth + 1, out)?,
            Some(m) => {
                fsx::unlink_at(sub.as_fd(), child)?;
                out.files += 1;
                if m.kind == Kind::File {
                    out.bytes += m.size;
                }
            }
            None => {}
        }
        Ok(true)
    })?;
    fsx::rmdir_at(dir, name)?;
    out.dirs += 1;
    Ok(())
}
