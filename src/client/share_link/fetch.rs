//! Where a fetched link lands and how: DEST or DEST/NAME, through
//! `DEST.sockit-part` (resumed on the next run), verified before the rename.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{Link, LinkError, LinkInfo, refusal, request};

/// Where `get LINK DEST` puts the file: DEST itself, or DEST/NAME when
/// DEST is a directory. The server's name must be one plain name.
pub fn target(dest: &Path, name: &str) -> Result<PathBuf, LinkError> {
    crate::wire::path::check_entry_name(name).map_err(|e| {
        LinkError::BadLink(format!(
            "the server named the file {}: {e}; refusing it",
            crate::wire::path::escape_name(name)
        ))
    })?;
    Ok(if dest.is_dir() {
        dest.join(name)
    } else {
        dest.to_owned()
    })
}

/// The partial file next to `target`.
pub fn part_of(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(".sockit-part");
    PathBuf::from(p)
}

/// Downloads the share into `target`, continuing a partial file of the
/// same content (its BLAKE3 is kept beside it), then verifying the whole.
/// `progress` is told the bytes held after each step. Returns the bytes
/// received this time (less than the size when a partial was continued).
///
/// Local file I/O is plain `std::fs` on the caller's task: this runs in
/// the CLI, one download at a time, where nothing else waits on the
/// runtime; the final hash runs on the blocking pool.
pub async fn fetch(
    link: &Link,
    info: &LinkInfo,
    target: &Path,
    force: bool,
    timeout: Duration,
    progress: impl FnMut(u64),
) -> Result<u64, LinkError> {
    let one = One {
        route: "/file",
        size: info.file_size,
        blake3: &info.blake3,
    };
    fetch_one(link, &one, target, force, timeout, progress).await
}

/// One file a link serves: its route below `/s/ID` and what it must be.
#[derive(Debug, Clone, Copy)]
pub struct One<'a> {
    /// `/file`, or `/files/N` for a folder share's file N.
    pub route: &'a str,
    /// Its size.
    pub size: u64,
    /// Its BLAKE3 (hex).
    pub blake3: &'a str,
}

/// [`fetch`] of any one file a link serves.
pub async fn fetch_one(
    link: &Link,
    info: &One<'_>,
    target: &Path,
    force: bool,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64, LinkError> {
    use std::io::{Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let local = |path: &Path| {
        let path = path.to_owned();
        move |source| LinkError::Local { path, source }
    };
    if !force && std::fs::symlink_metadata(target).is_ok() {
        return Err(LinkError::Exists(target.to_owned()));
    }
    let part = part_of(target);
    let mut meta = part.as_os_str().to_owned();
    meta.push(".blake3");
    let meta = PathBuf::from(meta);
    // A partial of another content starts over.
    let same = std::fs::read_to_string(&meta).is_ok_and(|m| m.trim() == info.blake3);
    let mut have = match std::fs::metadata(&part) {
        Ok(m) if same && m.len() <= info.size => m.len(),
        _ => 0,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .mode(0o600)
        .open(&part)
        .map_err(local(&part))?;
    file.set_len(have).map_err(local(&part))?;
    std::fs::write(&meta, info.blake3).map_err(local(&meta))?;
    let mut received = 0u64;
    if have < info.size {
        let r = request(link, info.route, have, timeout).await?;
        if !(r.status == 200 || (have > 0 && r.status == 206)) {
            return Err(refusal(r).await);
        }
        if r.status == 200 {
            // The server sent the whole file: start over.
            have = 0;
            file.set_len(0).map_err(local(&part))?;
        }
        let expect = info.size - have;
        if r.length.is_some_and(|l| l != expect) {
            return Err(LinkError::Net {
                doing: "reading the file",
                source: std::io::Error::other("the server sent an unexpected length"),
            });
        }
        file.seek(std::io::SeekFrom::Start(have))
            .map_err(local(&part))?;
        let mut body = r.body.take(expect);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = tokio::time::timeout(timeout, body.read(&mut buf))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
                .and_then(|r| r)
                .map_err(|source| LinkError::Net {
                    doing: "reading the file (run the same command again to resume)",
                    source,
                })?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            file.write_all(chunk).map_err(local(&part))?;
            have += n as u64;
            received += n as u64;
            progress(have);
        }
        if have != info.size {
            return Err(LinkError::Net {
                doing: "reading the file (run the same command again to resume)",
                source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            });
        }
    }
    file.sync_all().map_err(local(&part))?;
    drop(file);
    let p = part.clone();
    let got = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(&p)?)?;
        Ok(h.finalize().to_hex().to_string())
    })
    .await
    .map_err(|e| LinkError::Local {
        path: part.clone(),
        source: std::io::Error::other(e),
    })?
    .map_err(local(&part))?;
    if got != info.blake3 {
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&meta);
        return Err(LinkError::Verify {
            expected: info.blake3.to_owned(),
            got,
        });
    }
    std::fs::rename(&part, target).map_err(local(target))?;
    let _ = std::fs::remove_file(&meta);
    Ok(received)
}
