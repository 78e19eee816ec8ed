//! The `file` family: put, get, ls, rm of a logged-in user's files.
//!
//! The messages only; the rules live in `service::files`, the
//! per-connection transfers in `session`. Uploads and downloads are
//! opened once (`file.put`, `file.get`), then move as many `file.write` /
//! `file.read` frames, each carrying one chunk in its body, which a client
//! pipelines (docs/PROTOCOL.md, section 4).
//!
//! A file's size travels as `file_size` (the classic exercise's name):
//! `size` belongs to the frame layer, where it is the body's length.

use serde::{Deserialize, Serialize};

mod reply;
#[cfg(test)]
mod tests;

pub use reply::{EntryInfo, EntryKind, FileReply};

use super::code::ErrorCode;
use super::frame::Frame;
use super::message::{MessageError, from_header, to_frame};

/// Error code for a `handle` this connection has not opened (or closed).
pub const BAD_HANDLE: ErrorCode = ErrorCode::BadHandle;

/// A request of the `file` family; the frame's `"type"` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FileRequest {
    /// `file.put`: start (or resume) an upload of `size` bytes to `path`.
    #[serde(rename = "file.put")]
    Put {
        /// Destination, relative to the user's root (`a/b.txt`).
        path: String,
        /// Size of the whole file.
        #[serde(rename = "file_size")]
        size: u64,
        /// Identifies the source version; an unfinished upload with another
        /// fingerprint is discarded, so a changed source starts over.
        #[serde(default)]
        fingerprint: String,
        /// Replace an existing file (atomically, at the end).
        #[serde(default)]
        force: bool,
        /// Also compute MD5 (to verify with it, or to record it).
        #[serde(default)]
        md5: bool,
    },
    /// `file.write`: the body is the file's bytes at `offset`.
    #[serde(rename = "file.write")]
    Write {
        /// The handle `file.put` returned.
        handle: u64,
        /// Where the body goes: exactly the bytes received so far.
        offset: u64,
    },
    /// `file.put.end`: verify and publish.
    #[serde(rename = "file.put.end")]
    PutEnd {
        /// The handle `file.put` returned.
        handle: u64,
        /// BLAKE3 of the whole file, 64 hex digits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blake3: Option<String>,
        /// MD5 of the whole file, 32 hex digits (uploads begun with `md5`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        md5: Option<String>,
    },
    /// `file.get`: open a file for reading from `offset`.
    #[serde(rename = "file.get")]
    Get {
        /// The file, relative to the user's root.
        path: String,
        /// First byte wanted (a resumed download asks for what it lacks).
        #[serde(default)]
        offset: u64,
        /// Also return the MD5 (computed once if not recorded).
        #[serde(default)]
        md5: bool,
    },
    /// `file.read`: the next `len` bytes of an open download.
    #[serde(rename = "file.read")]
    Read {
        /// The handle `file.get` returned.
        handle: u64,
        /// Must be where the previous read ended.
        offset: u64,
        /// Bytes wanted, at most the server's `max_body`.
        len: u64,
    },
    /// `file.close`: forget an open download (or pause an upload).
    #[serde(rename = "file.close")]
    Close {
        /// The handle to close.
        handle: u64,
    },
    /// `file.stat`: what is at `path`.
    #[serde(rename = "file.stat")]
    Stat {
        /// The path, relative to the user's root.
        path: String,
    },
    /// `file.ls`: the entries of a directory, one page at a time; or, with
    /// `partial`, the unfinished uploads below it.
    #[serde(rename = "file.ls")]
    Ls {
        /// The directory; `""` (the default) is the user's root.
        #[serde(default)]
        path: String,
        /// List unfinished uploads below `path` instead of its entries.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        partial: bool,
        /// Only names sorting after this one (the `next` of the previous
        /// page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
    /// `file.put.cancel`: give up an unfinished upload, deleting what the
    /// server holds of it and freeing its quota.
    #[serde(rename = "file.put.cancel")]
    PutCancel {
        /// An upload open on this connection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handle: Option<u64>,
        /// Or the destination of an unfinished upload not running
        /// elsewhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// `file.rm`: remove a file or a directory.
    #[serde(rename = "file.rm")]
    Rm {
        /// The path, relative to the user's root.
        path: String,
        /// Remove a non-empty directory with everything in it.
        #[serde(default)]
        recursive: bool,
    },
    /// `file.mkdir`: create a directory (a new folder).
    #[serde(rename = "file.mkdir")]
    Mkdir {
        /// The new directory, relative to the user's root.
        path: String,
        /// Also create missing parents; an existing directory is then no
        /// error (as `mkdir -p`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        parents: bool,
    },
    /// `file.mv`: move or rename a file or directory; never replaces.
    #[serde(rename = "file.mv")]
    Mv {
        /// What to move.
        from: String,
        /// Where it goes (its parent must exist; nothing may be there).
        to: String,
    },
}

impl FileRequest {
    /// `file.ls` of `path`'s first page (`""`: the root).
    pub fn ls(path: impl Into<String>) -> Self {
        FileRequest::Ls {
            path: path.into(),
            partial: false,
            after: None,
        }
    }

    /// Reads a request of this family out of a frame (the body is left to
    /// the caller: it is the chunk of a `file.write`).
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this request, with no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}
