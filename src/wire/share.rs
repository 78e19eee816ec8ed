//! The `share` family: a logged-in user creates, lists and revokes share
//! links to their files. Downloading through a link is plain HTTP on the
//! web door (`GET /s/ID/file`), needing no account; see docs/PROTOCOL.md.

use serde::{Deserialize, Serialize};

use super::frame::Frame;
use super::message::{MessageError, from_header, to_frame};

/// A request of the `share` family; the frame's `"type"` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ShareRequest {
    /// `share.create`: a link to one of the user's files, or to a folder
    /// (a snapshot of the files below it).
    #[serde(rename = "share.create")]
    Create {
        /// The file or folder, relative to the user's root.
        path: String,
        /// Seconds until the link expires; absent: the server's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<u64>,
        /// Downloads allowed; absent: the server's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        downloads: Option<u64>,
        /// End to end: `path` holds ciphertext and this is its sealed
        /// metadata (hex, at most 2048 bytes), which the server keeps
        /// unread and hands to receivers (docs/PROTOCOL.md, end-to-end
        /// encrypted shares).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        e2e: Option<String>,
    },
    /// `share.upload`: an upload link into one of the user's folders
    /// (created if missing), through which anyone holding it drops files.
    #[serde(rename = "share.upload")]
    Upload {
        /// The folder, relative to the user's root.
        path: String,
        /// Seconds until the link expires; absent: the server's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<u64>,
        /// Most bytes it takes in; absent: the server's maximum.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bytes: Option<u64>,
        /// Most files it takes in; absent: the server's maximum.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_files: Option<u64>,
    },
    /// `share.ls`: the user's shares, newest first.
    #[serde(rename = "share.ls")]
    Ls {},
    /// `share.log`: what one of the user's upload links took in.
    #[serde(rename = "share.log")]
    Log {
        /// Its number (from `share.ls`) or its link or ID.
        share: String,
    },
    /// `share.rm`: revoke a share.
    #[serde(rename = "share.rm")]
    Rm {
        /// Its number (from `share.ls`), its link or ID (the owner's
        /// only), or its revoke token (anyone holding it).
        share: String,
    },
}

impl ShareRequest {
    /// Reads a request of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this request, with no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// One share as `share.ls` and `share.rm` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareEntry {
    /// The owner-facing number (`share.rm`).
    pub num: i64,
    /// The file shared.
    pub path: String,
    /// Its size when shared.
    #[serde(rename = "file_size")]
    pub size: u64,
    /// Its BLAKE3 when shared (hex).
    pub blake3: String,
    /// `available`, `consumed`, `revoked` or `expired`.
    pub state: String,
    /// Created, Unix seconds.
    pub created: u64,
    /// Expires, Unix seconds.
    pub expires: u64,
    /// Downloads completed.
    pub downloads: u64,
    /// Downloads allowed.
    pub downloads_max: u64,
    /// True for an end-to-end encrypted share (`path` holds ciphertext).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub e2e: bool,
    /// For a folder share, how many files it holds (`file_size` is then
    /// their total and `blake3` the hash of its file list); absent for a
    /// file share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// For an upload link, its limits and what it took in (`path` is the
    /// folder uploads land in); absent for a download share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadStats>,
}

/// A successful reply of the `share` family; failures are `error` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ShareReply {
    /// `share.create`: the link, shown this once.
    #[serde(rename = "share.create")]
    Create {
        /// The share.
        #[serde(flatten)]
        share: ShareEntry,
        /// The link's ID (128 bits, hex); not `id`, which is the request's.
        share_id: String,
        /// The whole link, when the server has a web door.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The token that revokes the share without logging in.
        revoke: String,
    },
    /// `share.ls`.
    #[serde(rename = "share.ls")]
    Ls {
        /// The user's shares, newest first (ended ones while their
        /// tombstone lasts).
        shares: Vec<ShareEntry>,
    },
    /// `share.rm`: the share, now revoked.
    #[serde(rename = "share.rm")]
    Rm(ShareEntry),
    /// `share.log`: an upload link and the files it took in, oldest first.
    #[serde(rename = "share.log")]
    Log {
        /// The link.
        share: ShareEntry,
        /// Its files.
        uploads: Vec<UploadRecord>,
    },
}

impl ShareReply {
    /// Reads a reply of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this reply, with no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// An upload link's limits and what it took in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStats {
    /// Most bytes it takes in.
    pub max_bytes: u64,
    /// Most files it takes in.
    pub max_files: u64,
    /// Bytes taken in.
    pub bytes: u64,
    /// Files taken in.
    pub files: u64,
}

impl UploadStats {
    /// Bytes it still takes.
    pub fn bytes_left(&self) -> u64 {
        self.max_bytes.saturating_sub(self.bytes)
    }

    /// Files it still takes.
    pub fn files_left(&self) -> u64 {
        self.max_files.saturating_sub(self.files)
    }
}

/// One file an upload link took in, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Where it landed, relative to the owner's root.
    pub path: String,
    /// Its size.
    #[serde(rename = "file_size")]
    pub size: u64,
    /// Its BLAKE3 (hex), as the store verified it.
    pub blake3: String,
    /// The uploader's address.
    pub addr: String,
    /// When it was published, Unix seconds.
    pub at: u64,
}
