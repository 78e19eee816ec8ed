//! `sockit get LINK [DEST]` of a folder share: every file of the snapshot
//! fetched one after the other (`/s/ID/files/N`), each through its own
//! `.sockit-part` and verified against its BLAKE3. A rerun skips files
//! already in place with the right hash and resumes the one cut short, so
//! the set as a whole is resumable; the server counts the download once it
//! has sent this address every byte of the set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fetch::{One, fetch_one};
use super::{Link, LinkError, LinkInfo};
use crate::service::shares::dir::manifest_hash;

/// The local path of the snapshot's `rel` under `root`: every component
/// must be one plain name, so nothing lands outside `root`.
fn local_path(root: &Path, rel: &str) -> Result<PathBuf, LinkError> {
    let mut p = root.to_owned();
    for c in rel.split('/') {
        crate::wire::path::check_entry_name(c).map_err(|e| {
            LinkError::BadLink(format!(
                "the server named a file {}: {e}; refusing the folder",
                crate::wire::path::escape_name(rel)
            ))
        })?;
        p.push(c);
    }
    Ok(p)
}

/// Whether `path` already holds `blake3` (a previous run finished it).
async fn holds(path: &Path, blake3: &str) -> bool {
    let p = path.to_owned();
    tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(&p)?)?;
        Ok(h.finalize().to_hex().to_string())
    })
    .await
    .is_ok_and(|r| r.is_ok_and(|h| h == blake3))
}

/// Fetches the folder share into `root`; `progress` is told the bytes of
/// the set held after each step. Returns the bytes received this time.
pub async fn fetch_dir(
    link: &Link,
    info: &LinkInfo,
    root: &Path,
    force: bool,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64, LinkError> {
    if hex::encode(manifest_hash(&info.files)) != info.blake3 {
        return Err(LinkError::Verify {
            expected: info.blake3.clone(),
            got: hex::encode(manifest_hash(&info.files)),
        });
    }
    // Every name is checked before anything is written.
    let paths = info
        .files
        .iter()
        .map(|f| local_path(root, &f.path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut done = 0u64;
    let mut received = 0u64;
    for (i, (f, path)) in info.files.iter().zip(&paths).enumerate() {
        if let Some(parent) = path.parent() {
            std::os::unix::fs::DirBuilderExt::mode(
                std::fs::DirBuilder::new().recursive(true),
                0o700,
            )
            .create(parent)
            .map_err(|source| LinkError::Local {
                path: parent.to_owned(),
                source,
            })?;
        }
        let exists = std::fs::symlink_metadata(path).is_ok();
        if exists && holds(path, &f.blake3).await {
            done += f.size;
            progress(done);
            continue;
        }
        let route = format!("/files/{i}");
        let one = One {
            route: &route,
            size: f.size,
            blake3: &f.blake3,
        };
        let before = done;
        received += fetch_one(link, &one, path, force, timeout, |n| progress(before + n)).await?;
        done += f.size;
    }
    Ok(received)
}
