//! What the shares service hands out and takes in: a share's state, what
//! the store knows of it, a share to create, a share just created.

use serde::{Deserialize, Serialize};

/// Where a share is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareState {
    /// Downloadable.
    Available,
    /// Its downloads are spent.
    Consumed,
    /// Its owner (or a holder of the revoke token) ended it, or its file
    /// changed or went away.
    Revoked,
    /// Its time ran out.
    Expired,
}

impl ShareState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareState::Available => "available",
            ShareState::Consumed => "consumed",
            ShareState::Revoked => "revoked",
            ShareState::Expired => "expired",
        }
    }

    /// Reads a stored state; an unknown one (a newer build's) counts as
    /// revoked, the safe side.
    pub(super) fn parse(s: &str) -> ShareState {
        match s {
            "available" => ShareState::Available,
            "consumed" => ShareState::Consumed,
            "expired" => ShareState::Expired,
            _ => ShareState::Revoked,
        }
    }
}

/// What the store knows of one share (never its ID or revoke token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    /// The owner-facing number (`sockit share rm NUM`); not a secret.
    pub num: i64,
    /// The account that created it.
    pub owner: i64,
    /// The file, relative to the owner's root.
    pub path: String,
    /// Its size when shared.
    pub size: u64,
    /// Its BLAKE3 when shared (hex).
    pub blake3: String,
    /// Created, Unix seconds.
    pub created: u64,
    /// Expires, Unix seconds.
    pub expires: u64,
    /// Downloads allowed.
    pub downloads_max: u64,
    /// Downloads completed.
    pub downloads: u64,
    /// Its state.
    pub state: ShareState,
    /// When it left `available`, Unix seconds.
    pub ended: Option<u64>,
    /// An end-to-end encrypted share's sealed metadata (hex), which only
    /// the link's key opens; `None` for a plain share.
    pub e2e: Option<String>,
    /// For a directory share, how many files its snapshot holds (`path`
    /// is then the directory, `size` their total and `blake3` the hash of
    /// the snapshot, see `shares::dir`); `None` for a file share.
    pub files: Option<u64>,
    /// For an upload link, its limits and what it took in (`path` is then
    /// the folder uploads land in; `size`, `blake3` and the download
    /// counts are unused); `None` for a download share.
    pub upload: Option<super::UploadStats>,
}

impl ShareInfo {
    /// The share as it stands at `now`: one still recorded available past
    /// its expiry is expired (ended at its expiry), whether or not the
    /// sweeper recorded that yet; lookups never wait for it.
    pub fn seen_at(mut self, now: u64) -> ShareInfo {
        if self.state == ShareState::Available && self.expires <= now {
            self.state = ShareState::Expired;
            self.ended = Some(self.expires);
        }
        self
    }

    /// Downloads left.
    pub fn downloads_left(&self) -> u64 {
        self.downloads_max.saturating_sub(self.downloads)
    }
}

/// A share to create: the file as the owner's store describes it now.
#[derive(Debug, Clone)]
pub struct NewShare {
    /// The owner's account id.
    pub owner: i64,
    /// The file, relative to the owner's root.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its BLAKE3.
    pub blake3: [u8; 32],
    /// Seconds until it expires; `None`: the server's default.
    pub expires_in: Option<u64>,
    /// Downloads allowed; `None`: the server's default.
    pub downloads: Option<u64>,
    /// The owner's file quota, which the bytes of their shares stay within.
    pub quota: u64,
    /// An end-to-end encrypted share's sealed metadata (at most
    /// [`MAX_E2E_META`](super::MAX_E2E_META) bytes); `None` for a plain share.
    pub e2e: Option<Vec<u8>>,
}

/// A share just created: the only time its ID and revoke token exist in
/// clear.
#[derive(Debug, Clone)]
pub struct Created {
    /// The link's ID (`/s/ID`).
    pub id: String,
    /// The token that revokes it without logging in.
    pub revoke: String,
    /// What the store recorded.
    pub info: ShareInfo,
}
