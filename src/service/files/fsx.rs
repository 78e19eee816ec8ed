//! Directory-handle walking: every path below a user's root is opened one
//! component at a time with `openat(O_NOFOLLOW)`, so a symbolic link planted
//! anywhere in the tree is refused instead of followed out of the root
//! (rsync CVE-2024-12086/12087 followed them), and a directory renamed
//! mid-walk cannot redirect us: each step is relative to a handle already
//! held, never to a string path.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use rustix::path::Arg;

use super::error::{FileError, FileResult};
use super::paths::{PathError, RelPath};

/// Flags for opening a directory below a root: never through a link.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Mode of directories the store creates: its user's only (the umask can
/// only narrow it).
const DIR_MODE: u32 = crate::fsutil::PRIVATE_DIR;

/// Mode of files the store creates (uploads, staging): its user's only.
pub(crate) const FILE_MODE: u32 = crate::fsutil::PRIVATE_FILE;

/// What a directory entry is, never looking through links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A socket, FIFO or device: never served.
    Other,
}

impl Kind {
    /// "a file", "a directory", ... for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Other => "a special file",
        }
    }
}

/// The parts of `stat` the store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// Inode number: with size and mtime, tells a recorded hash is current.
    pub ino: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// Field widths of `struct stat` differ between architectures; the casts
/// below are lossless on every 64-bit Linux and macOS target.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
pub(crate) fn meta_of(st: &Stat) -> Meta {
    let kind = match FileType::from_raw_mode(st.st_mode as _) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    };
    Meta {
        kind,
        size: u64::try_from(st.st_size).unwrap_or(0),
        ino: st.st_ino as u64,
        mtime_ns: (st.st_mtime as i64)
            .saturating_mul(1_000_000_000)
            .saturating_add(st.st_mtime_nsec as i64),
    }
}

/// `stat` of `name` in `dir` without following a link; `None` if absent.
pub(crate) fn stat_at<P: Arg>(dir: BorrowedFd<'_>, name: P) -> io::Result<Option<Meta>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(meta_of(&st))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `fstat` of an open file.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<Meta> {
    Ok(meta_of(&rustix::fs::fstat(fd)?))
}

/// Opens the directory `name` in `dir`, refusing a link.
pub(crate) fn open_dir_at<P: Arg>(dir: BorrowedFd<'_>, name: P) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())?)
}

/// Opens `name` in `dir` as a directory, creating it (and making its entry
/// durable with an fsync of `dir`) when missing.
pub(crate) fn ensure_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    ensure_dir_at_counting(dir, name).map(|(fd, _)| fd)
}

/// Like [`ensure_dir_at`], also saying whether this call created it.
fn ensure_dir_at_counting(dir: BorrowedFd<'_>, name: &str) -> io::Result<(OwnedFd, bool)> {
    match open_dir_at(dir, name) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let made = match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(DIR_MODE as _)) {
                Ok(()) => {
                    fsync_dir(dir)?;
                    true
                }
                // Another upload created it meanwhile: fine.
                Err(Errno::EXIST) => false,
                Err(e) => return Err(e.into()),
            };
            open_dir_at(dir, name).map(|fd| (fd, made))
        }
        other => other.map(|fd| (fd, false)),
    }
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub(crate) fn fsync_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::fs::fsync(dir)?)
}

/// Opens `name` in `dir` as a file with `flags`, never through a link.
pub(crate) fn open_file_at(dir: BorrowedFd<'_>, name: &str, flags: OFlags) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(FILE_MODE as _),
    )?;
    Ok(File::from(fd))
}

/// Walks from `root` down the directories above `path`'s last name and
/// returns a handle on the last of them, creating missing ones if `create`.
/// A link anywhere on the way is a [`PathError::Symlink`]; a file where a
/// directory should be is a conflict.
pub(crate) fn walk_parent(
    root: BorrowedFd<'_>,
    path: &RelPath,
    create: bool,
) -> FileResult<OwnedFd> {
    walk(root, path.parent_components(), path, create)
}

/// Walks from `root` down every component of `path` (a directory).
pub(crate) fn walk_dir(root: BorrowedFd<'_>, path: &RelPath) -> FileResult<OwnedFd> {
    walk(root, path.components(), path, false)
}

fn walk<'a>(
    root: BorrowedFd<'_>,
    comps: impl Iterator<Item = &'a str>,
    path: &RelPath,
    create: bool,
) -> FileResult<OwnedFd> {
    walk_counting(root, comps, path, create).map(|(fd, _)| fd)
}

/// Like [`walk_parent`] with `create`, also returning how many directories
/// it created (each is charged against the quota).
pub(crate) fn walk_parent_creating(
    root: BorrowedFd<'_>,
    path: &RelPath,
) -> FileResult<(OwnedFd, u64)> {
    walk_counting(root, path.parent_components(), path, true)
}

/// How many of the directories above `path`'s last name do not exist yet
/// (what a publish would create). A link or file on the way is the error a
/// walk gives.
pub(crate) fn missing_parents(root: BorrowedFd<'_>, path: &RelPath) -> FileResult<u64> {
    let comps: Vec<&str> = path.parent_components().collect();
    let mut cur = rustix::io::dup(root).map_err(|e| FileError::io("opening the root", e.into()))?;
    for (i, c) in comps.iter().enumerate() {
        cur = match open_dir_at(cur.as_fd(), *c) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok((comps.len() - i) as u64),
            Err(e) => return Err(walk_error(cur.as_fd(), c, &prefix(path, i), path, e)),
        };
    }
    Ok(0)
}

fn walk_counting<'a>(
    root: BorrowedFd<'_>,
    comps: impl Iterator<Item = &'a str>,
    path: &RelPath,
    create: bool,
) -> FileResult<(OwnedFd, u64)> {
    let mut cur = rustix::io::dup(root).map_err(|e| FileError::io("opening the root", e.into()))?;
    let mut created = 0;
    for (i, c) in comps.enumerate() {
        let next = if create {
            ensure_dir_at_counting(cur.as_fd(), c).map(|(fd, made)| {
                created += u64::from(made);
                fd
            })
        } else {
            open_dir_at(cur.as_fd(), c)
        };
        cur = match next {
            Ok(fd) => fd,
            Err(e) => return Err(walk_error(cur.as_fd(), c, &prefix(path, i), path, e)),
        };
    }
    Ok((cur, created))
}

/// The first `i + 1` components of `path`: the one a walk stopped at.
fn prefix(path: &RelPath, i: usize) -> String {
    path.components().take(i + 1).collect::<Vec<_>>().join("/")
}

/// Turns a failed step of a walk into the error the user should see,
/// naming the component that is in the way (`docs` is a file), not the
/// whole path asked for.
fn walk_error(
    dir: BorrowedFd<'_>,
    name: &str,
    at: &str,
    path: &RelPath,
    e: io::Error,
) -> FileError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => not_found(path),
        Some(libc::ELOOP) | Some(libc::ENOTDIR) | Some(libc::EMLINK) => match stat_at(dir, name) {
            Ok(Some(m)) if m.kind == Kind::Symlink => {
                FileError::bad_path(path.as_str(), PathError::Symlink)
            }
            Ok(Some(m)) => FileError::WrongKind {
                path: super::escape_name(at).into_owned(),
                wanted: "a directory",
                found: m.kind.describe(),
            },
            Ok(None) => not_found(path),
            Err(e) => FileError::io("walking a path", e),
        },
        _ => FileError::io("walking a path", e),
    }
}

/// The not-found error for `path`.
pub(crate) fn not_found(path: &RelPath) -> FileError {
    FileError::NotFound {
        path: path.to_string(),
    }
}

/// Calls `f` with each name in a directory (without `.` and `..`), as raw
/// bytes (names not made by sockit may be anything), streaming: memory
/// does not grow with the directory. `f` returns `false` to stop early.
pub(crate) fn for_each_name(
    dir: BorrowedFd<'_>,
    mut f: impl FnMut(&[u8]) -> io::Result<bool>,
) -> io::Result<()> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    while let Some(entry) = d.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." && !f(name)? {
            break;
        }
    }
    Ok(())
}

/// Like [`for_each_name`], with what each entry is as the directory says
/// (`d_type`); `None` when the filesystem does not say (then `stat`).
pub(crate) fn for_each_entry(
    dir: BorrowedFd<'_>,
    mut f: impl FnMut(&[u8], Option<Kind>) -> io::Result<bool>,
) -> io::Result<()> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    while let Some(entry) = d.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::RegularFile => Some(Kind::File),
            FileType::Directory => Some(Kind::Dir),
            FileType::Symlink => Some(Kind::Symlink),
            FileType::Unknown => None,
            _ => Some(Kind::Other),
        };
        if !f(name, kind)? {
            break;
        }
    }
    Ok(())
}

/// Up to `limit` names of a directory, and whether there were more.
pub(crate) fn read_names(dir: BorrowedFd<'_>, limit: usize) -> io::Result<(Vec<Vec<u8>>, bool)> {
    let mut names = Vec::new();
    let mut more = false;
    for_each_name(dir, |name| {
        if names.len() == limit {
            more = true;
            return Ok(false);
        }
        names.push(name.to_vec());
        Ok(true)
    })?;
    Ok((names, more))
}

/// Removes a file or link `name` in `dir`.
pub(crate) fn unlink_at<P: Arg>(dir: BorrowedFd<'_>, name: P) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
}

/// Removes an empty directory `name` in `dir`.
pub(crate) fn rmdir_at<P: Arg>(dir: BorrowedFd<'_>, name: P) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

/// Renames `from` in `from_dir` to `to` in `to_dir`; with `replace` false
/// the rename fails with `EEXIST` rather than replace an existing `to`
/// (atomically on Linux, with `RENAME_NOREPLACE`).
pub(crate) fn rename_at(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
    replace: bool,
) -> io::Result<()> {
    if replace {
        return Ok(rustix::fs::renameat(from_dir, from, to_dir, to)?);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::RenameFlags;
        match rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE) {
            // Filesystems without RENAME_NOREPLACE: check, then rename.
            Err(Errno::INVAL) | Err(Errno::NOSYS) => {}
            other => return Ok(other?),
        }
    }
    if stat_at(to_dir, to)?.is_some() {
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    Ok(rustix::fs::renameat(from_dir, from, to_dir, to)?)
}
