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
    /// `share.create`: a link to one of the user's files.
    #[serde(rename = "share.create")]
    Create {
        /// The file, relative to the user's root.
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
    /// `share.ls`: the user's shares, newest first.
    #[serde(rename = "share.ls")]
    Ls {},
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
