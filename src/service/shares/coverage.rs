//! Which bytes of a share each downloader has been sent, so that a
//! download counts once, when its bytes cover the whole file: a full GET
//! counts at its last byte; a download resumed with `Range` counts when
//! the range completing it is sent; a 1-byte range (or any range that
//! leaves a gap) never counts by itself.
//!
//! A downloader is the client address (not a token the client picks, which
//! would let one client fetch half a file under each of two tokens and
//! never be counted). Two people behind one address downloading at once
//! may therefore count once: the error is in the receivers' favour only
//! when they share an address, never by a client's choice.
//!
//! Memory is bounded: [`MAX_RANGES`] intervals per downloader (beyond that
//! the download is counted at once: a client that fragments on purpose
//! pays, not the owner) and [`MAX_TRACKED`] downloaders in all (the least
//! recently served is forgotten first).

use std::collections::HashMap;

/// Disjoint intervals kept per downloader and share.
pub const MAX_RANGES: usize = 64;

/// Downloaders tracked across all shares: a few MB at most.
pub const MAX_TRACKED: usize = 10_000;

/// Adds `[start, end)` to `spans` (merged, sorted, half-open intervals of
/// a file of `size` bytes) and merges them; true when they now cover the
/// whole file, or hold more than [`MAX_RANGES`] intervals (a client that
/// fragments on purpose is counted). The one rule both stores keep to:
/// in memory here on one node, in `share_coverage` rows on a cluster
/// (`coverage_pg`).
pub(crate) fn merge(spans: &mut Vec<(u64, u64)>, start: u64, end: u64, size: u64) -> bool {
    spans.push((start, end));
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for &(s, e) in spans.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let complete =
        merged.first().is_some_and(|&(s, e)| s == 0 && e >= size) || merged.len() > MAX_RANGES;
    *spans = merged;
    complete
}

/// A downloader's merged, sorted half-open intervals, and when last
/// touched (a tick).
type Spans = (Vec<(u64, u64)>, u64);

/// Byte coverage per (share number, downloader).
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    seen: HashMap<(i64, String), Spans>,
    /// A counter standing in for time, for eviction order.
    tick: u64,
}

impl Coverage {
    /// Records `[start, end)` of share `num` (of `size` bytes) as sent to
    /// `who`; true when that completes the whole file, which also forgets
    /// the downloader's intervals (a next download starts afresh).
    pub(crate) fn record(&mut self, num: i64, who: &str, start: u64, end: u64, size: u64) -> bool {
        if end <= start && size > 0 {
            return false;
        }
        self.tick += 1;
        let key = (num, who.to_owned());
        if !self.seen.contains_key(&key) && self.seen.len() >= MAX_TRACKED {
            self.evict();
        }
        let tick = self.tick;
        let entry = self.seen.entry(key.clone()).or_default();
        entry.1 = tick;
        let complete = merge(&mut entry.0, start, end, size);
        if complete {
            self.seen.remove(&key);
        }
        complete
    }

    /// Forgets every downloader of share `num` (it ended).
    pub(crate) fn forget(&mut self, num: i64) {
        self.seen.retain(|(n, _), _| *n != num);
    }

    fn evict(&mut self) {
        if let Some(oldest) = self
            .seen
            .iter()
            .min_by_key(|(_, (_, t))| *t)
            .map(|(k, _)| k.clone())
        {
            self.seen.remove(&oldest);
        }
    }

    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_read_counts_and_a_small_range_does_not() {
        let mut c = Coverage::default();
        assert!(!c.record(1, "a", 99, 100, 100), "last byte alone");
        assert!(!c.record(1, "a", 0, 1, 100), "first byte alone");
        assert!(!c.record(1, "b", 0, 50, 100));
        assert!(c.record(1, "b", 50, 100, 100), "resume completes");
        assert!(c.record(1, "c", 0, 100, 100), "one full read");
        assert!(
            !c.record(1, "c", 0, 10, 100),
            "a new download starts afresh"
        );
    }

    #[test]
    fn addresses_and_shares_are_kept_apart() {
        let mut c = Coverage::default();
        assert!(!c.record(1, "a", 0, 50, 100));
        assert!(!c.record(1, "b", 50, 100, 100));
        assert!(!c.record(2, "a", 50, 100, 100));
        assert!(c.record(1, "a", 40, 100, 100));
    }

    #[test]
    fn fragmenting_on_purpose_counts_and_memory_is_bounded() {
        let mut c = Coverage::default();
        let mut counted = false;
        for i in 0..=MAX_RANGES as u64 {
            counted |= c.record(1, "a", i * 2, i * 2 + 1, 1000);
        }
        assert!(counted);
        for i in 0..MAX_TRACKED + 10 {
            c.record(1, &i.to_string(), 0, 1, 1000);
        }
        assert_eq!(c.tracked(), MAX_TRACKED);
    }

    #[test]
    fn an_empty_file_counts_at_once() {
        let mut c = Coverage::default();
        assert!(c.record(1, "a", 0, 0, 0));
    }
}
