//! The name rules both ends enforce: one validator ([`RelPath`]) that every
//! file operation on the server, and the client for what it receives
//! ([`check_received`], [`check_entry_name`]), goes through before a name
//! touches a disk, and [`escape_name`] to print a name harmlessly. Pure,
//! like the rest of `wire`: the file store (`service::files`) and the
//! client (`client::transfer`, `cli/files`) both use it from here.
//!
//! The rules come from transfer tools that got this wrong: scp let a server
//! pick names the client never asked for (CVE-2019-6111), croc accepted
//! `..`, absolute paths and escape sequences in names (its 2023 CVEs), rsync
//! followed symlinks and paths out of the destination (CVE-2024-12086/12087).
//! A valid [`RelPath`] is plain enough to mean the same thing on Linux,
//! macOS and Windows, so a file stored here is also safe to fetch there.
//! Every name tried by the tests is in `service::files::HOSTILE_NAMES`.

mod received;

use std::fmt;
use std::path::{Path, PathBuf};

pub use received::{
    check_entry_name, check_received, check_received_below, escape_bytes, escape_name,
};

/// Longest path accepted, in bytes: Linux's `PATH_MAX`, so any valid path
/// fits in one system call on every platform we care about.
pub const MAX_PATH_BYTES: usize = 4096;

/// Longest component accepted, in bytes: `NAME_MAX` on Linux and macOS
/// (and within Windows' 255 UTF-16 units).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Deepest path accepted, in components. Recursive removal and listing walk
/// one open directory per level; 64 levels keeps that walk well inside the
/// file descriptor limit while being far deeper than real trees.
pub const MAX_DEPTH: usize = 64;

/// Prefix of names reserved for sockit's own bookkeeping (case-insensitive),
/// so metadata can live beside user files one day without colliding.
pub const RESERVED_PREFIX: &str = ".sockit";

/// Characters Windows refuses in names (`:` would also open an NTFS
/// alternate data stream); refused here so a stored file can be fetched
/// to any client under the same name.
pub(crate) const WINDOWS_FORBIDDEN: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Device names Windows resolves in every directory, with or without an
/// extension (`CON.txt` is the console too).
pub(crate) const WINDOWS_DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4",
    "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Nothing at all (the root itself is not a file).
    #[error("empty path")]
    Empty,
    /// Over [`MAX_PATH_BYTES`].
    #[error("path is {0} bytes, over the {MAX_PATH_BYTES}-byte limit")]
    TooLong(usize),
    /// Over [`MAX_DEPTH`] components.
    #[error("path is {0} levels deep, over the {MAX_DEPTH}-level limit")]
    TooDeep(usize),
    /// A component over [`MAX_COMPONENT_BYTES`].
    #[error("a name is {0} bytes, over the {MAX_COMPONENT_BYTES}-byte limit")]
    NameTooLong(usize),
    /// Starts with `/`: paths are relative to the user's own root.
    #[error("absolute path; give a path relative to your own files")]
    Absolute,
    /// `a//b`, a leading or a trailing `/`.
    #[error("empty name between slashes")]
    EmptyComponent,
    /// `.` or `..` as a component.
    #[error("`.` and `..` are not allowed in paths")]
    DotComponent,
    /// A backslash: a separator on Windows, so `a\..\b` would climb there.
    #[error("backslash in a name; use `/` to separate directories")]
    Backslash,
    /// NUL, another control character, or a bidirectional override that
    /// would make a printed name lie about itself.
    #[error("control character {0:?} in a name")]
    Control(char),
    /// A character Windows cannot store.
    #[error("character {0:?} is not allowed in names (Windows cannot store it)")]
    WindowsChar(char),
    /// A name ending in `.` or space (Windows drops them, so two names would
    /// become one).
    #[error("names may not end in a dot or a space")]
    TrailingDotOrSpace,
    /// A Windows device name or one of sockit's own names.
    #[error("`{0}` is a reserved name")]
    Reserved(String),
    /// Not in Unicode NFC: the same-looking name would map to a different
    /// file (macOS and others normalise differently).
    #[error("name is not in Unicode NFC form; normalise it before sending")]
    NotNfc,
    /// Raw bytes that are not UTF-8.
    #[error("name is not valid UTF-8")]
    NotUtf8,
    /// A symbolic link on the way: never followed.
    #[error("path crosses a symbolic link")]
    Symlink,
    /// The peer sent a name the client did not ask for.
    #[error("received `{got}`, which is not what was asked for (`{asked}`)")]
    Unexpected {
        /// What the client asked for.
        asked: String,
        /// What came back (escaped for printing).
        got: String,
    },
}

/// A validated path relative to a user's root: `/`-separated names, each
/// passing every rule above.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// Validates a client-given path.
    pub fn parse(s: &str) -> Result<RelPath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong(s.len()));
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute);
        }
        let mut depth = 0;
        for c in s.split('/') {
            check_name(c)?;
            depth += 1;
        }
        if depth > MAX_DEPTH {
            return Err(PathError::TooDeep(depth));
        }
        Ok(RelPath(s.to_owned()))
    }

    /// Validates raw bytes (a name read from a local disk or a raw peer).
    pub fn parse_bytes(b: &[u8]) -> Result<RelPath, PathError> {
        Self::parse(std::str::from_utf8(b).map_err(|_| PathError::NotUtf8)?)
    }

    /// The path as given, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names from the root down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last name.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The names of the directories above the last one.
    pub fn parent_components(&self) -> impl Iterator<Item = &str> {
        let parent = self.0.rsplit_once('/').map_or("", |(p, _)| p);
        parent.split('/').filter(|c| !c.is_empty())
    }

    /// `self/name`, validated.
    pub fn join(&self, name: &str) -> Result<RelPath, PathError> {
        check_name(name)?;
        Self::parse(&format!("{}/{name}", self.0))
    }

    /// True when `self` is `dir` or lies below it (component-wise, so
    /// `ab` is not below `a`).
    pub fn starts_with(&self, dir: &RelPath) -> bool {
        self.0 == dir.0
            || (self.0.starts_with(&dir.0) && self.0.as_bytes().get(dir.0.len()) == Some(&b'/'))
    }

    /// The local path under `base`, one component at a time (never a
    /// string join a platform could re-interpret).
    pub fn to_local(&self, base: &Path) -> PathBuf {
        let mut p = base.to_path_buf();
        for c in self.components() {
            p.push(c);
        }
        p
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_name(&self.0))
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelPath({:?})", self.0)
    }
}

/// Checks one name (a single path component): the rules [`RelPath::parse`]
/// applies to each component. Clients use it on `ls` entries.
pub fn check_name(c: &str) -> Result<(), PathError> {
    if c.is_empty() {
        return Err(PathError::EmptyComponent);
    }
    if c == "." || c == ".." {
        return Err(PathError::DotComponent);
    }
    if c.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::NameTooLong(c.len()));
    }
    for ch in c.chars() {
        if ch == '\\' {
            return Err(PathError::Backslash);
        }
        if ch.is_control() || is_bidi_control(ch) {
            return Err(PathError::Control(ch));
        }
        if WINDOWS_FORBIDDEN.contains(&ch) {
            return Err(PathError::WindowsChar(ch));
        }
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace);
    }
    if is_reserved(c) {
        return Err(PathError::Reserved(c.to_owned()));
    }
    if !unicode_normalization::is_nfc(c) {
        return Err(PathError::NotNfc);
    }
    Ok(())
}

/// Bidirectional formatting characters: invisible, yet they reorder what a
/// terminal shows ("Trojan Source"), so `txt.exe` can print as `exe.txt`.
pub(crate) fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_reserved(c: &str) -> bool {
    let lower = c.to_lowercase();
    if lower.starts_with(RESERVED_PREFIX) {
        return true;
    }
    // Windows ignores everything after the first dot and trailing spaces
    // before it when it matches device names.
    let stem = c.split('.').next().unwrap_or(c).trim_end_matches(' ');
    WINDOWS_DEVICES
        .iter()
        .any(|d| d.to_lowercase() == stem.to_lowercase())
}
