//! Sweeping the staging area: at open (and whenever a caller wants, e.g.
//! daily) remove what can never be resumed, and unfinished uploads idle
//! longer than the retention.
//!
//! Removed always: meta temporaries (`*.meta.tmp`, a crash mid-replace),
//! data without a meta and metas without data (a crash between creating
//! the two). Removed after the retention: partials whose last write is
//! older than `partial_retention` (default 7 days). Kept: fresher
//! partials, uploads running right now, and names sockit did not create.
//! There is no separate publish temporary: a complete partial is renamed
//! into place, so a crash before that rename leaves a resumable partial.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, SystemTime};

use super::DiskStore;
use super::config::MAX_PARTIALS_PER_USER;
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::partial::{self, META, META_TMP, PART};

/// What a sweep did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Meta temporaries removed.
    pub temporaries: usize,
    /// Halves of partials (data or meta alone) removed.
    pub orphans: usize,
    /// Partials removed for being older than the retention.
    pub expired: usize,
    /// Bytes those expired partials held.
    pub expired_bytes: u64,
    /// Partials kept for a resume.
    pub kept: usize,
    /// Names in the staging area that sockit did not create (left alone).
    pub unknown: usize,
}

impl DiskStore {
    /// Sweeps every user's staging directory (see the module docs).
    pub fn sweep(&self) -> FileResult<SweepReport> {
        let mut report = SweepReport::default();
        let now = SystemTime::now();
        let staging = self.inner.staging.as_fd();
        // One name per user who ever uploaded: bounded by the accounts.
        let (users, _) =
            fsx::read_names(staging, usize::MAX).map_err(|e| FileError::io("sweeping", e))?;
        for name in users {
            let user = std::str::from_utf8(&name)
                .ok()
                .and_then(|s| s.parse::<i64>().ok());
            let Some(user) = user else {
                report.unknown += 1;
                continue;
            };
            let dir = match fsx::open_dir_at(staging, name.as_slice()) {
                Ok(d) => d,
                Err(_) => {
                    report.unknown += 1;
                    continue;
                }
            };
            self.sweep_user(user, dir.as_fd(), now, &mut report)
                .map_err(|e| FileError::io("sweeping", e))?;
        }
        if report != SweepReport::default() {
            tracing::info!(?report, "file store staging area swept");
        }
        Ok(report)
    }

    fn sweep_user(
        &self,
        user: i64,
        dir: BorrowedFd<'_>,
        now: SystemTime,
        report: &mut SweepReport,
    ) -> io::Result<()> {
        let (names, _) = fsx::read_names(dir, 4 * MAX_PARTIALS_PER_USER)?;
        // Asked of the directory itself, so a capped name list never
        // makes half of a pair look orphaned.
        let has = |n: &str| fsx::stat_at(dir, n).map(|m| m.is_some());
        let retention = self.inner.config.partial_retention;
        for raw in &names {
            let Ok(name) = std::str::from_utf8(raw) else {
                report.unknown += 1;
                continue;
            };
            let (key, suffix) = if let Some(k) = name.strip_suffix(META_TMP) {
                (k, META_TMP)
            } else if let Some(k) = name.strip_suffix(PART) {
                (k, PART)
            } else if let Some(k) = name.strip_suffix(META) {
                (k, META)
            } else {
                report.unknown += 1;
                continue;
            };
            if self.is_active(user, key) {
                continue;
            }
            match suffix {
                META_TMP => {
                    remove(dir, name)?;
                    report.temporaries += 1;
                }
                PART if !has(&format!("{key}{META}"))? => {
                    remove(dir, name)?;
                    report.orphans += 1;
                }
                META if !has(&format!("{key}{PART}"))? => {
                    remove(dir, name)?;
                    report.orphans += 1;
                }
                // A complete pair, judged once (by its data file).
                PART => {
                    let idle = idle_for(dir, key, now)?;
                    if idle > retention {
                        let size = fsx::stat_at(dir, name)?.map_or(0, |m| m.size);
                        partial::discard(dir, key)?;
                        report.expired += 1;
                        report.expired_bytes += size;
                    } else {
                        report.kept += 1;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn is_active(&self, user: i64, key: &str) -> bool {
        self.inner.state().active.contains(&(user, key.to_owned()))
    }
}

fn remove(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match fsx::unlink_at(dir, name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Time since the partial last changed: the newer mtime of its two files.
fn idle_for(dir: BorrowedFd<'_>, key: &str, now: SystemTime) -> io::Result<Duration> {
    let mut newest = i64::MIN;
    for suffix in [PART, META] {
        if let Some(m) = fsx::stat_at(dir, format!("{key}{suffix}").as_str())? {
            if m.kind == Kind::File {
                newest = newest.max(m.mtime_ns);
            }
        }
    }
    let now_ns = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let idle = now_ns.saturating_sub(newest).max(0);
    Ok(Duration::from_nanos(
        u64::try_from(idle).unwrap_or(u64::MAX),
    ))
}
