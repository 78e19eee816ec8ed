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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_dotted_types() {
        let r = FileRequest::Write {
            handle: 3,
            offset: 8,
        };
        let f = r.to_frame(Some(9));
        assert_eq!(f.kind(), Some("file.write"));
        assert_eq!(f.id(), Some(9));
        assert_eq!(FileRequest::from_frame(&f).unwrap(), r);
    }

    #[test]
    fn defaults_keep_requests_short() {
        let f = Frame::new("file.put").set("path", "a").set("file_size", 1);
        let r = FileRequest::from_frame(&f).unwrap();
        assert!(
            matches!(r, FileRequest::Put { force: false, md5: false, ref fingerprint, .. } if fingerprint.is_empty())
        );
        let f = Frame::new("file.ls");
        assert_eq!(
            FileRequest::from_frame(&f).unwrap(),
            FileRequest::Ls {
                path: String::new(),
                partial: false,
                after: None,
            }
        );
    }

    #[test]
    fn a_negative_offset_is_a_bad_request() {
        let f = Frame::new("file.write").set("handle", 1).set("offset", -1);
        let e = FileRequest::from_frame(&f).unwrap_err();
        assert_eq!(e.code(), crate::wire::ErrorCode::BadRequest);
    }

    #[test]
    fn stat_reply_flattens_the_entry() {
        let r = FileReply::Stat(EntryInfo {
            name: "a/b".into(),
            kind: EntryKind::File,
            size: 3,
            mtime: 1,
            blake3: None,
            offset: None,
            running: None,
        });
        let f = r.to_frame(Some(1));
        assert_eq!(f.get("kind").and_then(|v| v.as_str()), Some("file"));
        assert_eq!(FileReply::from_frame(&f).unwrap(), r);
    }
}
