//! The file store: per-user namespaces, streamed resumable uploads with
//! atomic publish, downloads from any offset, listings and removal — the
//! rules of `put`, `get`, `ls` and `rm`, with no sockets.
//!
//! # Layout on disk
//! ```text
//! DATA/files/
//!   .lock                       flock held while a FileStore is open
//!   index.db                    BLAKE3/MD5 of published files (SQLite, WAL)
//!   u/<user_id>/<path>          each user's files, named as the user named them
//!   staging/<user_id>/<key>.part   bytes of an unfinished upload
//!   staging/<user_id>/<key>.meta   its destination, size, source fingerprint,
//!                                  and how many bytes are fsynced
//! ```
//! `<key>` is 128 bits of the BLAKE3 of the destination path. The staging
//! area is outside the users' trees (never listed or fetched) and on the
//! same filesystem, so publishing is one `rename`. One process per data
//! directory: the lock enforces it, and the busy set and usage cache live
//! in memory.
//!
//! # Guarantees
//! - Paths: every client path passes [`RelPath::parse`] (hostile names it
//!   refuses: [`HOSTILE_NAMES`]), and every directory below a user's root
//!   is opened with `O_NOFOLLOW`, one component at a time: a symlink in
//!   the tree is refused (get, ls, put's parents) or removed itself (rm),
//!   never followed.
//! - Publish: the partial is verified (BLAKE3 computed while streaming),
//!   fsynced, its hash recorded, renamed into place, and the directory
//!   fsynced. A crash leaves no file or the complete file.
//! - Durability of a partial: fsync every [`FilesConfig::sync_every`]
//!   bytes (64 MiB by default) and at [`Upload::pause`]; the offset
//!   reported on resume is what was fsynced.
//! - Quotas: published bytes plus declared sizes of unfinished uploads,
//!   every file counting at least [`ENTRY_CHARGE`] and every directory
//!   exactly that. The check and the reservation (the partial's meta file,
//!   which holds the declared size until the upload is published,
//!   cancelled or swept) happen under one per-user lock, so concurrent
//!   uploads cannot all pass the same check. No upload grows past its
//!   declared size.
//! - Concurrency: any number of uploads across users, up to
//!   [`MAX_ACTIVE_PER_USER`] per user; a second upload of the same path
//!   while one runs is refused with `busy` (not queued).
//!
//! # Blocking API
//! Every method blocks (file I/O, fsync, hashing, SQLite). Doors call them
//! through [`run_blocking`] (tokio's `spawn_blocking`), moving the
//! [`Upload`] or [`Download`] into the closure and back for each chunk;
//! memory per transfer is one chunk (at most the frame body limit) plus a
//! hasher.
//!
//! # Message flow for doors (file.put, file.get, file.ls, file.rm)
//! ```text
//! put: -> file.put {path, size, fingerprint, force, md5}
//!         begin_upload            <- {offset}        (0 new, >0 resume)
//!      -> chunk {offset} + body   write(offset, body)  (repeat; any error
//!                                                    ends the put with its code)
//!      -> file.put.end {blake3}   finish(hash)     <- {size, blake3, md5?}
//!      (disconnect: pause() in spawn_blocking, so the next put resumes
//!       from everything received)
//! get: -> file.get {path, offset, md5}
//!         download(path, offset); hashes(md5) <- {size, blake3, md5?}
//!         read_chunk(buf) ...      <- chunk frames until remaining() == 0
//!      client: check_received(asked, name); hash while writing; compare
//! ls:  -> file.ls {dir}   list(dir)  <- {entries, truncated}
//!      client: check_entry_name(each), print with escape_name
//! rm:  -> file.rm {path, recursive}  remove()  <- {files, dirs, bytes}
//! mkdir: -> file.mkdir {path, parents}  mkdir()  <- {dirs}
//! mv:  -> file.mv {from, to}     rename()  <- {kind}
//! errors: {code: FileError::code(), message: Display}
//! ```

mod backend;
mod blocking;
mod config;
mod download;
mod error;
mod fsx;
mod hostile;
mod import;
mod index;
mod organize;
mod partial;
pub mod pg;
/// The name rules live in `wire::path`, shared with the client.
use crate::wire::path as paths;
mod publish;
mod purge;
mod quota;
mod store;
mod sweep;
mod tree;
mod unfinished;
mod upload;
mod write;

#[cfg(test)]
mod tests;

pub use crate::fsutil::direct::start_writeback;
pub use crate::fsutil::direct::{
    ALIGN, DIRECT_BUF, HASH_ALONGSIDE_FROM, ReadState, SeqWriter, hash_alongside, read_at,
};
pub use crate::wire::path::{
    MAX_COMPONENT_BYTES, MAX_DEPTH, MAX_PATH_BYTES, PathError, RESERVED_PREFIX, RelPath,
    check_entry_name, check_name, check_received, check_received_below, escape_bytes, escape_name,
};
pub use backend::{Download, FileStore, Upload};
pub use blocking::run_blocking;
pub use config::{
    DEFAULT_MAX_FILE, DEFAULT_PARTIAL_RETENTION, DEFAULT_QUOTA, DEFAULT_SYNC_EVERY, ENTRY_CHARGE,
    FilesConfig, MAX_ACTIVE_PER_USER, MAX_LIST_ENTRIES, MAX_PARTIALS_PER_USER, READ_BUF, charge,
};
pub use download::DiskDownload;
pub use error::{FileError, FileResult};
pub use hostile::{HOSTILE_BYTES, HOSTILE_NAMES, Hostile};
pub use import::{Imported, import_dir};
pub use index::Hashes;
pub use organize::Moved;
pub use publish::Published;
pub use purge::Purged;
pub use purge::highest_user_id;
pub use quota::Usage;
pub use store::{DiskStore, FILES_DIR, INDEX_DB, LOCK_FILE, STAGING_DIR, USERS_DIR};
pub use sweep::SweepReport;
pub use tree::{Entry, EntryKind, Listing, Removed};
pub use unfinished::PartialInfo;
pub use upload::{DiskUpload, UploadRequest};
