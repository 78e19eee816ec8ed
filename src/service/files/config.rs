//! Limits and retention of the file store, each with the reason for its
//! default.

use std::time::Duration;

use crate::wire::DEFAULT_MAX_BODY;

/// Default per-user quota: 20 GiB, a generous share of one disk for a small
/// team's file drop; operators raise it per deployment.
pub const DEFAULT_QUOTA: u64 = 20 << 30;

/// Default largest file: 16 GiB, above any disk image or video a team
/// drops, below the quota so one file cannot take all of it.
pub const DEFAULT_MAX_FILE: u64 = 16 << 30;

/// Default data between two fsyncs of an upload: 64 MiB. After a crash the
/// client resends at most this much; at ~1 GB/s that is well under a
/// second of work, while fsyncing more often would stall the stream.
pub const DEFAULT_SYNC_EVERY: u64 = 64 << 20;

/// Default retention of an unfinished upload: 7 days, long enough to
/// resume after a weekend, short enough that abandoned partials do not fill
/// the disk.
pub const DEFAULT_PARTIAL_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Unfinished uploads one user may keep: each holds quota and a file in the
/// staging area, so this bounds the staging directory scan at each upload.
pub const MAX_PARTIALS_PER_USER: usize = 256;

/// Uploads one user may run at once: each holds an open file and a hasher;
/// 16 keeps a `put -r` pipelined while one user cannot exhaust descriptors.
pub const MAX_ACTIVE_PER_USER: usize = 16;

/// Entries returned by one listing: bounds the reply's memory; the listing
/// says when it was cut.
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// The least one entry counts against the quota: a file counts its size
/// but at least this much, a directory (or anything else in a user's tree)
/// exactly this much. 4 KiB is one filesystem block, what an empty file or
/// a directory really costs the disk; without it, empty files and
/// directories would be free and one user could fill the disk's inodes
/// (3,000 empty files passed a 1 KiB quota).
pub const ENTRY_CHARGE: u64 = 4096;

/// What a file of `size` bytes counts against the quota (see
/// [`ENTRY_CHARGE`]).
pub fn charge(size: u64) -> u64 {
    size.max(ENTRY_CHARGE)
}

/// Buffer used when the store reads a file itself (re-hashing a resumed
/// prefix or a file with no recorded hash): 1 MiB amortises system calls,
/// and it is the only memory such a pass needs whatever the file size.
pub const READ_BUF: usize = 1 << 20;

/// The store's tunables; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesConfig {
    /// Bytes each user may hold: published files and directories plus the
    /// declared sizes of unfinished uploads, each entry counting at least
    /// [`ENTRY_CHARGE`].
    pub quota: u64,
    /// Largest file accepted, checked against the declared size at begin.
    pub max_file: u64,
    /// Largest chunk one `write` accepts: the frame body limit, since one
    /// chunk travels in one frame.
    pub max_chunk: usize,
    /// Bytes written between two fsyncs of an upload (and of its offset).
    pub sync_every: u64,
    /// How long an unfinished upload is kept after its last write.
    pub partial_retention: Duration,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            quota: DEFAULT_QUOTA,
            max_file: DEFAULT_MAX_FILE,
            max_chunk: DEFAULT_MAX_BODY,
            sync_every: DEFAULT_SYNC_EVERY,
            partial_retention: DEFAULT_PARTIAL_RETENTION,
        }
    }
}
