//! The process series every Prometheus client exports under the standard
//! names (`process_open_fds`, `process_max_fds`,
//! `process_resident_memory_bytes`), read from /proc at scrape time: a
//! server that runs out of descriptors refuses everyone, so the gap
//! between the two fd series is the alert that comes first.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads /proc/self on each scrape (Linux; elsewhere the series are absent).
#[derive(Debug)]
pub(super) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = [
            ("process_open_fds", "Open file descriptors.", open_fds()),
            (
                "process_max_fds",
                "The soft limit on open file descriptors.",
                max_fds(),
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                resident_bytes(),
            ),
        ];
        for (name, help, v) in series {
            let Some(v) = v else { continue };
            let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
            g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

/// Entries of /proc/self/fd (the directory handle itself counts as one,
/// as in Prometheus's Go client).
fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// The soft `Max open files` of /proc/self/limits.
fn max_fds() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    limit(&text, "Max open files")
}

/// `VmRSS` of /proc/self/status, in bytes.
fn resident_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    kb.checked_mul(1024)
}

/// The soft limit on the line of /proc/self/limits named `name`.
fn limit(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            20000                524288               files     \n";
        assert_eq!(limit(limits, "Max open files"), Some(20_000));
        assert!(open_fds().unwrap() >= 3, "stdin, stdout, stderr");
        assert!(max_fds().unwrap() >= open_fds().unwrap());
        assert!(resident_bytes().unwrap() > 1024 * 1024);
    }
}
