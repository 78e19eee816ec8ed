//! The process's Prometheus registry and the counting hooks doors and
//! services call: one line each, no locks on the per-message paths.
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client:
//! an explicit registry (no global recorder to install, so a test encodes
//! exactly what a scrape would), typed label sets, OpenMetrics text out,
//! and no HTTP server of its own (the listener in `ops::http` sits behind
//! the same gate as every door). Counters are atomics; a labelled family
//! takes a read lock to find its child, so per-message hooks (delivered,
//! file bytes) use unlabelled counters or labels fixed at compile time.
//!
//! A leaf: it imports nothing else of sockit, so any layer may call it.
//! One registry per process, as Prometheus's own clients have: several
//! servers in one process (tests) add to the same series.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// A door's label: the service name the listener prints (`framed`, `web`,
/// `chat-lines`, `metrics`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DoorLabel {
    /// The door.
    pub door: &'static str,
}

/// A refusal's labels: the door and why.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// The door that refused.
    pub door: &'static str,
    /// `denied` (access lists), `per_ip_cap`, `oversize` (datagrams),
    /// `memory_budget` (framed).
    pub reason: &'static str,
}

/// One label `reason` (login failures) or `kind` (lockouts).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The wire error code, or what was locked out.
    pub reason: &'static str,
}

/// A file-store transfer direction.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// `in` (uploads written) or `out` (downloads read).
    pub direction: &'static str,
}

/// A store's connection pool state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// Which store (`postgres`, ...).
    pub store: &'static str,
    /// `busy`, `idle` or `waiting` (callers queued for a connection).
    pub state: &'static str,
}

/// Every series sockit exports, registered once.
pub struct Metrics {
    registry: Registry,
    pub(super) accepted: Family<DoorLabel, Counter>,
    pub(super) open: Family<DoorLabel, Gauge>,
    pub(super) refused: Family<RefusalLabels, Counter>,
    pub(super) delivered: Counter,
    pub(super) commit: Histogram,
    pub(super) login_failures: Family<ReasonLabel, Counter>,
    pub(super) lockouts: Family<ReasonLabel, Counter>,
    pub(super) file_bytes: Family<DirectionLabel, Counter>,
    pub(super) pool: Family<PoolLabels, Gauge>,
}

/// Commit latency buckets: 100 us (a batch on a fast disk) doubling to
/// about 3.3 s (a stalled fsync, a PostgreSQL failover), 16 buckets.
const COMMIT_BUCKETS: (f64, f64, u16) = (0.000_1, 2.0, 16);

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut root = Registry::default();
        // The standard unprefixed `process_*` names, as every client has.
        root.register_collector(Box::new(super::process::ProcessCollector));
        let r = root.sub_registry_with_prefix("sockit");
        let m = Metrics {
            accepted: Family::default(),
            open: Family::default(),
            refused: Family::default(),
            delivered: Counter::default(),
            commit: Histogram::new(exponential_buckets(
                COMMIT_BUCKETS.0,
                COMMIT_BUCKETS.1,
                COMMIT_BUCKETS.2,
            )),
            login_failures: Family::default(),
            lockouts: Family::default(),
            file_bytes: Family::default(),
            pool: Family::default(),
            registry: Registry::default(),
        };
        r.register(
            "connections_accepted",
            "Stream connections admitted, per door",
            m.accepted.clone(),
        );
        r.register(
            "connections_open",
            "Stream connections open now, per door",
            m.open.clone(),
        );
        r.register(
            "refusals",
            "Peers and datagrams turned away, per door and reason",
            m.refused.clone(),
        );
        r.register(
            "chat_messages_delivered",
            "Chat messages queued to members (one per member reached)",
            m.delivered.clone(),
        );
        r.register_with_unit(
            "chat_commit",
            "Time to commit one batch of chat messages to the store",
            Unit::Seconds,
            m.commit.clone(),
        );
        r.register(
            "login_failures",
            "Failed logins, per wire error code",
            m.login_failures.clone(),
        );
        r.register(
            "login_lockouts",
            "Lockouts started by repeated failures, per kind (account, address)",
            m.lockouts.clone(),
        );
        r.register_with_unit(
            "file_transfer",
            "File store bytes written by uploads (in) and read by downloads (out)",
            Unit::Bytes,
            m.file_bytes.clone(),
        );
        r.register(
            "store_pool_connections",
            "Store connection pool: connections busy and idle, callers waiting",
            m.pool.clone(),
        );
        r.register_collector(Box::new(super::chat::ChatCollector));
        // Known label values start at zero, so `rate()` and alerts see
        // the series from the first scrape, not from the first event.
        for reason in ["invalid_credentials", "too_many_attempts", "account_locked"] {
            let _ = m.login_failures.get_or_create(&ReasonLabel { reason });
        }
        for reason in ["account", "address"] {
            let _ = m.lockouts.get_or_create(&ReasonLabel { reason });
        }
        for direction in ["in", "out"] {
            let _ = m.file_bytes.get_or_create(&DirectionLabel { direction });
        }
        Metrics {
            registry: root,
            ..m
        }
    }

    /// The OpenMetrics text of every series, as `/metrics` serves it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A stream connection admitted by `door`; the returned guard keeps it in
/// the open gauge until dropped.
pub fn conn_open(door: &'static str) -> OpenConn {
    let m = &*METRICS;
    let label = DoorLabel { door };
    m.accepted.get_or_create(&label).inc();
    m.open.get_or_create(&label).inc();
    OpenConn { door }
}

/// Counts a connection in `sockit_connections_open` while it lives.
#[derive(Debug)]
pub struct OpenConn {
    door: &'static str,
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        METRICS
            .open
            .get_or_create(&DoorLabel { door: self.door })
            .dec();
    }
}

/// A peer or datagram turned away by `door` for `reason`.
pub fn refusal(door: &'static str, reason: &'static str) {
    METRICS
        .refused
        .get_or_create(&RefusalLabels { door, reason })
        .inc();
}

/// `n` members were handed one chat message.
pub fn chat_delivered(n: u64) {
    if n > 0 {
        METRICS.delivered.inc_by(n);
    }
}

/// One batch of chat messages committed in `took`.
pub fn chat_commit(took: Duration) {
    METRICS.commit.observe(took.as_secs_f64());
}

/// A login refused with the wire error `code` (`invalid_credentials`,
/// `too_many_attempts`, `account_locked`, ...).
pub fn login_failed(code: &'static str) {
    METRICS
        .login_failures
        .get_or_create(&ReasonLabel { reason: code })
        .inc();
}

/// A lockout began, of an account name (`account`) or an address (`address`).
pub fn lockout(kind: &'static str) {
    METRICS
        .lockouts
        .get_or_create(&ReasonLabel { reason: kind })
        .inc();
}

/// `n` bytes written into an upload.
pub fn file_bytes_in(n: usize) {
    file_bytes("in", n);
}

/// `n` bytes read out of a download.
pub fn file_bytes_out(n: usize) {
    file_bytes("out", n);
}

fn file_bytes(direction: &'static str, n: usize) {
    METRICS
        .file_bytes
        .get_or_create(&DirectionLabel { direction })
        .inc_by(n as u64);
}

/// A store's pool state, for a store with a connection pool (PostgreSQL)
/// to call whenever it hands out or takes back a connection, or on a tick.
pub fn store_pool(store: &'static str, busy: usize, idle: usize, waiting: usize) {
    for (state, n) in [("busy", busy), ("idle", idle), ("waiting", waiting)] {
        METRICS
            .pool
            .get_or_create(&PoolLabels { store, state })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the series line starting with `series ` in `text`.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn hooks_move_their_series() {
        let before = METRICS.encode();
        let g = conn_open("unit-test");
        refusal("unit-test", "per_ip_cap");
        refusal("unit-test", "oversize");
        store_pool("unit-test", 3, 2, 1);
        let text = METRICS.encode();
        assert_eq!(
            value(&text, r#"sockit_connections_open{door="unit-test"}"#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                r#"sockit_connections_accepted_total{door="unit-test"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"sockit_refusals_total{door="unit-test",reason="per_ip_cap"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"sockit_store_pool_connections{store="unit-test",state="waiting"}"#
            ),
            Some(1.0)
        );
        assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with EOF");
        drop(g);
        let after = METRICS.encode();
        assert_eq!(
            value(&after, r#"sockit_connections_open{door="unit-test"}"#),
            Some(0.0)
        );
        assert!(!before.contains("unit-test"));
    }

    #[test]
    fn commit_latency_is_a_histogram_in_seconds() {
        chat_commit(Duration::from_millis(3));
        let text = METRICS.encode();
        assert!(
            text.contains("# TYPE sockit_chat_commit_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("sockit_chat_commit_seconds_bucket{le=\"0.0032\"}"),
            "{text}"
        );
    }
}
