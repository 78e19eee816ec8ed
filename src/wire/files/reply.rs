//! The replies of the `file` family, and the entries a listing carries.

use serde::{Deserialize, Serialize};

use super::super::frame::Frame;
use super::super::message::{MessageError, from_header, to_frame};

/// What an [`EntryInfo`] is; `"file"`, `"dir"` or `"partial"` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// An unfinished upload (`file.ls` with `partial`).
    Partial,
    /// A kind this build does not know (a newer server's): a client
    /// neither descends into it nor fetches it. Never sent.
    #[serde(other)]
    Other,
}

/// One entry of a listing, or what `file.stat` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// One name (no `/`) in a listing; the whole path in `file.stat`.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Bytes (0 for a directory).
    #[serde(rename = "file_size")]
    pub size: u64,
    /// Modification time, Unix seconds (for a partial: its last write).
    pub mtime: i64,
    /// BLAKE3 (hex) when the server has it recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// A partial only (`kind` `"partial"`): bytes the server holds
    /// durably, where a resume continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// A partial only: true while a connection is uploading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
}

/// A successful reply of the `file` family; failures are `error` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FileReply {
    /// `file.put`: the upload is open; send bytes from `offset`.
    #[serde(rename = "file.put")]
    Put {
        /// Names the upload in `file.write` and `file.put.end`.
        handle: u64,
        /// Bytes the server already holds durably (0 when new): resume here.
        offset: u64,
    },
    /// `file.write`: the chunk is written (not yet fsynced).
    #[serde(rename = "file.write")]
    Write {
        /// The upload.
        handle: u64,
        /// Bytes received so far: where the next chunk goes.
        offset: u64,
    },
    /// `file.put.end`: verified and published.
    #[serde(rename = "file.put.end")]
    PutEnd {
        /// Where the file now is.
        path: String,
        /// Its size.
        #[serde(rename = "file_size")]
        size: u64,
        /// Its BLAKE3 (hex).
        blake3: String,
        /// Its MD5 (hex), when the upload asked for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        md5: Option<String>,
        /// True when an existing file was replaced (`force`).
        replaced: bool,
    },
    /// `file.get`: the download is open.
    #[serde(rename = "file.get")]
    Get {
        /// Names the download in `file.read`.
        handle: u64,
        /// The file's path, as asked.
        path: String,
        /// Its whole size.
        #[serde(rename = "file_size")]
        size: u64,
        /// Where reading starts (the request's offset).
        offset: u64,
        /// Modification time, Unix seconds.
        mtime: i64,
        /// BLAKE3 of the whole file (hex): verify against it.
        blake3: String,
        /// MD5 of the whole file (hex), when asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        md5: Option<String>,
    },
    /// `file.read`: the body holds the bytes at `offset`.
    #[serde(rename = "file.read")]
    Read {
        /// The download.
        handle: u64,
        /// Where the body's bytes start.
        offset: u64,
        /// True when this chunk ends the file (the handle is then closed).
        eof: bool,
    },
    /// `file.close`: the handle is gone.
    #[serde(rename = "file.close")]
    Close {
        /// The handle.
        handle: u64,
    },
    /// `file.stat`: one entry, `name` being the whole path.
    #[serde(rename = "file.stat")]
    Stat(EntryInfo),
    /// `file.ls`: a directory's entries, sorted by name.
    #[serde(rename = "file.ls")]
    Ls {
        /// The directory listed.
        path: String,
        /// Its entries.
        entries: Vec<EntryInfo>,
        /// True when more entries follow: ask again with `after` = `next`.
        truncated: bool,
        /// Names in the directory no page lists (links, special files,
        /// unsafe names); the same on every page.
        skipped: usize,
        /// The cursor for the next page, when `truncated`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        /// True when `entries` are unfinished uploads (asked with
        /// `partial`): each `name` is then a whole path.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        partial: bool,
    },
    /// `file.put.cancel`: the unfinished upload is gone.
    #[serde(rename = "file.put.cancel")]
    PutCancel {
        /// Its destination.
        path: String,
        /// Bytes of quota freed.
        bytes: u64,
    },
    /// `file.rm`: what was removed.
    #[serde(rename = "file.rm")]
    Rm {
        /// The path removed.
        path: String,
        /// Files removed.
        files: u64,
        /// Directories removed.
        dirs: u64,
        /// Bytes freed.
        bytes: u64,
    },
    /// `file.mkdir`: the directory exists now.
    #[serde(rename = "file.mkdir")]
    Mkdir {
        /// The directory.
        path: String,
        /// Directories created (0 with `parents` when it already existed).
        dirs: u64,
    },
    /// `file.mv`: moved.
    #[serde(rename = "file.mv")]
    Mv {
        /// Where it was.
        from: String,
        /// Where it is now.
        to: String,
        /// What moved: `file` or `dir`.
        kind: EntryKind,
    },
}

impl FileReply {
    /// Reads a reply of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this reply, with no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}
