//! Unit tests of the file store, on real files in temporary directories.

mod organize;
mod paths;
mod symlinks;
mod tree;
mod upload;
mod upload_limits;

use std::path::PathBuf;

use super::*;

/// A user id for tests.
pub(super) const ALICE: i64 = 1;
/// Another user id.
pub(super) const BOB: i64 = 2;

/// A store in a fresh temporary directory.
pub(super) fn store() -> (tempfile::TempDir, FileStore) {
    store_with(FilesConfig::default())
}

/// A store with the given configuration.
pub(super) fn store_with(config: FilesConfig) -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = FileStore::open(dir.path(), config).unwrap();
    (dir, store)
}

/// Deterministic content that differs at every offset.
pub(super) fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// An upload request with a fixed fingerprint.
pub(super) fn req(path: &str, size: usize) -> UploadRequest {
    UploadRequest {
        path: path.into(),
        size: size as u64,
        fingerprint: "v1".into(),
        force: false,
        md5: false,
    }
}

/// Uploads `content` in `chunk`-sized writes and finishes with its hash.
pub(super) fn put(
    s: &FileStore,
    user: i64,
    r: &UploadRequest,
    content: &[u8],
) -> FileResult<Published> {
    let mut up = s.begin_upload(user, r)?;
    let start = up.offset() as usize;
    for (i, c) in content[start..].chunks(1000).enumerate() {
        up.write((start + i * 1000) as u64, c)?;
    }
    up.finish(&blake3::hash(content))
}

/// Uploads `content` to `path` as `user` (no force).
pub(super) fn put_new(s: &FileStore, user: i64, path: &str, content: &[u8]) -> Published {
    put(s, user, &req(path, content.len()), content).unwrap()
}

/// Reads a whole file back through a download.
pub(super) fn get(s: &FileStore, user: i64, path: &str) -> Vec<u8> {
    let mut d = s.download(user, path, 0).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 777];
    loop {
        let n = d.read_chunk(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// The directory holding a user's files.
pub(super) fn user_dir(dir: &tempfile::TempDir, user: i64) -> PathBuf {
    dir.path()
        .join(FILES_DIR)
        .join(USERS_DIR)
        .join(user.to_string())
}

/// The directory holding a user's unfinished uploads.
pub(super) fn staging_dir(dir: &tempfile::TempDir, user: i64) -> PathBuf {
    dir.path()
        .join(FILES_DIR)
        .join(STAGING_DIR)
        .join(user.to_string())
}

/// Names in a directory, sorted (empty when it does not exist).
pub(super) fn names(p: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
