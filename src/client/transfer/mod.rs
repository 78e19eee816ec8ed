//! Client side of the `file` family: `put`, `get`, listings and removal
//! over a logged-in [`Client`](crate::client::Client), streamed, pipelined,
//! resumable and verified end to end.
//!
//! Local file I/O and hashing run on blocking threads that talk to the
//! async side through channels of [`WINDOW`] chunks, so memory is a few
//! chunks whatever the file size. Every name a server sends back is
//! checked with the store's own rules (`wire::path::check_*`) before
//! anything is written, and local directories are created one component
//! at a time, never through a symbolic link.

mod get;
mod local;
mod put;
mod remote;

pub use get::{GetOptions, GetOutcome, PART_META_SUFFIX, PART_SUFFIX, get_file, local_target};
pub(crate) use local::Digests;
pub use local::fingerprint;
pub use put::{PutOptions, PutOutcome, put_file};
pub(crate) use put::{Source, open_local, put_from};
pub use remote::{cancel, file_call, list, mkdir, partials, remove, rename, stat, walk};

use std::path::PathBuf;

use crate::client::ClientError;
use crate::wire::ErrorCode;
use crate::wire::path::PathError;

/// Bytes per chunk (one `file.write` or `file.read` body), unless the
/// server's `max_body` is smaller: 4 MiB amortises the per-request cost
/// (a JSON header and a blocking-pool hop, a few microseconds) to well
/// under 1% while [`WINDOW`] of them stay far below the 64 MiB budget.
pub const CHUNK: usize = 4 << 20;

/// Chunk requests a transfer keeps in flight: enough to cover a round trip
/// and the server's disk latency at wire speed, few enough that the bytes
/// in flight (WINDOW x CHUNK = 16 MiB) bound both sides' memory.
pub const WINDOW: usize = 4;

/// Most entries one recursive walk collects (`get -r`, `ls -r`): bounds
/// the client's memory on a hostile or enormous tree.
pub const MAX_WALK: usize = 1_000_000;

/// Why a transfer failed; the CLI maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The connection failed, or the server answered with an error.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The local destination exists and `--force` was not given.
    #[error("{} already exists; use --force to replace it", path.display())]
    LocalExists {
        /// The local path.
        path: PathBuf,
    },
    /// The received content does not hash to what the server announced;
    /// nothing was kept.
    #[error("verification failed for {what}: expected {expected}, got {actual}; nothing was kept")]
    Verify {
        /// The file (escaped).
        what: String,
        /// The hash announced.
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },
    /// The server sent a name or path that is unsafe or was not asked for.
    #[error("refused what the server sent: {0}")]
    Unsafe(#[from] PathError),
    /// The server's reply broke the protocol (wrong type, offset or size).
    #[error("unexpected reply from the server: {0}")]
    Protocol(String),
}

impl TransferError {
    /// The server's error code, when the server refused.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            TransferError::Client(e) => e.error_code(),
            _ => None,
        }
    }

    /// Wraps an I/O error about the local `path`.
    pub fn local(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TransferError::Local { path, source }
    }
}

/// Shorthand for results of this module.
pub type TransferResult<T> = Result<T, TransferError>;

/// Reports a transfer's progress (the CLI draws a bar; tests ignore it).
pub trait Progress: Send + Sync {
    /// A file starts: `total` bytes, of which `done` are already there
    /// (a resume).
    fn begin(&self, name: &str, total: u64, done: u64);
    /// `n` more bytes moved.
    fn advance(&self, n: u64);
    /// `n` more bytes written to the connection (an upload's bytes go out
    /// before the server acknowledges them; a summary of a transfer that
    /// broke off reports these). Nothing by default.
    fn wrote(&self, _n: u64) {}
    /// The file is done (or failed).
    fn end(&self);
}

/// Progress that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}

/// The chunk size for a server whose `hello` announced `max_body`.
pub fn chunk_for(max_body: Option<u64>) -> usize {
    let server = max_body
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(crate::wire::DEFAULT_MAX_BODY);
    CHUNK.min(server).clamp(1, crate::wire::DEFAULT_MAX_BODY)
}
