//! One `sockit serve` per data directory, and a clear line when a second
//! one tries: the pid of the server holding it, and the fix (`--data DIR`).
//!
//! The lock is `flock` on `DATA/serve.lock`, which also holds the owner's
//! pid as text. The kernel drops the lock when its process dies (even by
//! `kill -9`), so a stale file never blocks a restart; the pid inside is
//! only read to name the owner. The file store keeps its own lock as a
//! backstop for other programs built on the library.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use rustix::fs::FlockOperation;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "serve.lock";

/// Holds the data directory for this process until dropped.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// Takes the data directory `data` (already created) for this server.
pub fn take(data: &Path) -> anyhow::Result<DataLock> {
    let path = data.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut text = String::new();
            // Best effort: the pid only names the owner.
            let _ = Read::by_ref(&mut file).take(32).read_to_string(&mut text);
            let owner = match text.trim().parse::<u32>() {
                Ok(pid) => format!("sockit serve (pid {pid})"),
                Err(_) => "another sockit serve".to_owned(),
            };
            anyhow::bail!(
                "data directory {} is in use by {owner}; stop it, or give this server its \
                 own with --data DIR",
                data.display()
            );
        }
        Err(e) => {
            return Err(std::io::Error::from(e))
                .with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(DataLock { _file: file })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_taker_learns_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let held = super::take(dir.path()).unwrap();
        // flock locks belong to the open file, so a second open in the same
        // process conflicts as another process would.
        let e = super::take(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains("--data DIR"), "{e}");
        drop(held);
        super::take(dir.path()).unwrap();
    }
}
