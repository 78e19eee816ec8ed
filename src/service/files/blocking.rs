//! The bridge doors use to call this blocking API from async code.

use super::error::{FileError, FileResult};

/// Runs a store call on tokio's blocking pool, so file I/O, fsync and
/// hashing never stall the async workers. A panic in `f` becomes an
/// internal error for that one request.
///
/// ```
/// # use sockit::service::files::{FileStore, FilesConfig, run_blocking};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let (store, _) = FileStore::open(dir.path(), FilesConfig::default()).unwrap();
/// let listing = run_blocking(move || store.list(1, "")).await.unwrap();
/// assert!(listing.entries.is_empty());
/// # }
/// ```
pub async fn run_blocking<T, F>(f: F) -> FileResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> FileResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(FileError::Internal {
            doing: "running a file operation",
            source: std::io::Error::other(e),
        }),
    }
}
