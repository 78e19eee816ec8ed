//! File-store flags of `sockit serve`: per-user quota and largest file,
//! with sizes written the way people write them (`20G`, `512MiB`), and how
//! long an unfinished upload is kept; and the sweeper that removes those
//! kept too long while the server runs.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sockit::service::files::{
    DEFAULT_MAX_FILE, DEFAULT_PARTIAL_RETENTION, DEFAULT_QUOTA, FileStore, FilesConfig, SweepReport,
};
use sockit::service::shares::parse_duration;
use sockit::store::Backend;

/// Flags that configure the file store.
#[derive(Debug, Clone, clap::Args)]
pub struct FilesArgs {
    /// Bytes each user may hold, published files plus unfinished uploads,
    /// each file counting at least 4 KiB and each directory 4 KiB
    /// (suffixes K, M, G, T are binary: 20G = 20 GiB) [default: 20G].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    quota: Option<u64>,
    /// Largest file accepted [default: 16G].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_file: Option<u64>,
    /// How long an unfinished upload (an interrupted put, resumable until
    /// then) is kept after its last write before it is deleted and its
    /// quota freed; swept at start and every eighth of this (at most
    /// hourly) while the server runs: 90s, 30m, 12h, 3d, 2w [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    partial_retention: Option<u64>,
    /// Serve no files (no `file` family, nothing under DATA/files).
    #[arg(long)]
    no_files: bool,
}

impl FilesArgs {
    /// Opens the store (unless --no-files): in `DATA/files`, or in the
    /// PostgreSQL of `--store`; sweeps stale temporaries and logs what the
    /// sweep found. `max_chunk` is the frame body limit: one chunk travels
    /// in one frame.
    pub async fn open(
        &self,
        data: &Path,
        backend: &Backend,
        max_chunk: usize,
    ) -> anyhow::Result<Option<FileStore>> {
        if self.no_files {
            return Ok(None);
        }
        let cfg = FilesConfig {
            quota: self.quota.unwrap_or(DEFAULT_QUOTA),
            max_file: self.max_file.unwrap_or(DEFAULT_MAX_FILE),
            max_chunk,
            partial_retention: self
                .partial_retention
                .map_or(DEFAULT_PARTIAL_RETENTION, Duration::from_secs),
            ..FilesConfig::default()
        };
        let period = sweep_period(cfg.partial_retention);
        let (store, report) = match backend {
            Backend::Sqlite => {
                let dir = data.to_path_buf();
                tokio::task::spawn_blocking(move || FileStore::open(&dir, cfg))
                    .await
                    .context("opening the file store")?
                    .with_context(|| format!("opening the file store in {}", data.display()))?
            }
            Backend::Postgres(pg) => {
                let pg = (**pg).clone();
                tokio::task::spawn_blocking(move || FileStore::open_pg(pg, cfg))
                    .await
                    .context("opening the file store")?
                    .context("opening the file store in PostgreSQL (--store)")?
            }
        };
        log_sweep(&report, "file store swept");
        tokio::spawn(sweep_every(store.clone(), period));
        Ok(Some(store))
    }
}

/// How often the running server sweeps: an eighth of the retention, so an
/// upload is gone at most 12.5% after it expired; at least every hour
/// and at most every second.
fn sweep_period(retention: Duration) -> Duration {
    (retention / 8).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Sweeps `store` every `period` for as long as the server runs (on a
/// cluster the nodes take turns: one sweeps, the others find its lock).
async fn sweep_every(store: FileStore, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: the start already swept
    loop {
        tick.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.sweep()).await {
            // Partials merely kept are not news every period.
            Ok(Ok(r)) if r.expired + r.orphans + r.temporaries == 0 => {}
            Ok(Ok(report)) => log_sweep(&report, "file store swept (periodic)"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "sweeping the file store failed; retrying later")
            }
            Err(e) => tracing::warn!(error = %e, "the file store sweep stopped"),
        }
    }
}

/// Logs what a sweep found: an empty sweep is not news, anything found or
/// removed is.
fn log_sweep(report: &SweepReport, what: &'static str) {
    if *report == SweepReport::default() {
        tracing::debug!("{what}: nothing to do");
        return;
    }
    tracing::info!(
        kept = report.kept,
        expired = report.expired,
        expired_bytes = report.expired_bytes,
        orphans = report.orphans,
        temporaries = report.temporaries,
        unknown = report.unknown,
        "{what}"
    );
}

/// Parses `123`, `4K`, `512MiB`, `20G`, `1.5T` (binary units, case
/// ignored) into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: unknown unit; use e.g. 500M, 20G or bytes")),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a size such as 20G or 1048576"))?;
    let bytes = n * (1u64 << shift) as f64;
    if !(0.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_people_write() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("20g"), Ok(20 << 30));
        assert_eq!(parse_size("1.5T"), Ok(3 << 39));
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("").is_err());
    }
}
