//! Chat series read from the hub at scrape time: the hub already counts
//! commits and cut-offs for itself (`HubStats`), and the depth of every
//! member's queue is there to be looked at, so nothing is counted twice
//! and the fan-out path pays nothing for the queue-depth figures.

use std::sync::{Mutex, PoisonError, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// What a chat hub reports at each scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatCounts {
    /// Messages committed to the store since start.
    pub committed: u64,
    /// Members cut off because their outgoing queue was full.
    pub cut_off: u64,
    /// Members connected now.
    pub members: u64,
    /// Events waiting in all members' queues now.
    pub queued: u64,
    /// The deepest member queue now.
    pub max_depth: u64,
}

/// A chat hub the metrics can read (the local hub; a PostgreSQL hub later).
pub trait ChatSource: Send + Sync {
    /// The hub's figures now.
    fn counts(&self) -> ChatCounts;
}

/// Hubs being watched; dropped hubs are skipped and pruned.
static SOURCES: Mutex<Vec<Weak<dyn ChatSource>>> = Mutex::new(Vec::new());

/// Exports `hub`'s figures for as long as it lives.
pub fn watch_chat(hub: Weak<dyn ChatSource>) {
    let mut s = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    s.retain(|w| w.strong_count() > 0);
    s.push(hub);
}

/// Every live hub's figures added up.
fn total() -> ChatCounts {
    let s = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    let mut t = ChatCounts::default();
    for c in s.iter().filter_map(Weak::upgrade).map(|h| h.counts()) {
        t.committed += c.committed;
        t.cut_off += c.cut_off;
        t.members += c.members;
        t.queued += c.queued;
        t.max_depth = t.max_depth.max(c.max_depth);
    }
    t
}

/// Encodes the watched hubs' figures on each scrape.
#[derive(Debug)]
pub(super) struct ChatCollector;

impl Collector for ChatCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let t = total();
        let counters = [
            (
                "chat_messages_committed",
                "Chat messages committed to the store.",
                t.committed,
            ),
            (
                "chat_slow_consumers_cut",
                "Chat members cut off because their outgoing queue was full.",
                t.cut_off,
            ),
        ];
        for (name, help, v) in counters {
            let c = ConstCounter::new(v);
            c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let gauges = [
            ("chat_members", "Chat members connected now.", t.members),
            (
                "chat_queued_events",
                "Events waiting in all chat members' outgoing queues now.",
                t.queued,
            ),
            (
                "chat_queue_depth_max",
                "The deepest chat member outgoing queue now (events).",
                t.max_depth,
            ),
        ];
        for (name, help, v) in gauges {
            let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
            g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    struct Fixed(ChatCounts);
    impl ChatSource for Fixed {
        fn counts(&self) -> ChatCounts {
            self.0
        }
    }

    #[test]
    fn live_hubs_are_read_at_scrape_time() {
        let hub: Arc<dyn ChatSource> = Arc::new(Fixed(ChatCounts {
            committed: 7_000_001,
            cut_off: 3,
            members: 2,
            queued: 5,
            max_depth: 4,
        }));
        watch_chat(Arc::downgrade(&hub));
        let text = super::super::metrics::METRICS.encode();
        assert!(
            text.contains("sockit_chat_messages_committed_total 7000001"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE sockit_chat_queue_depth_max gauge"),
            "{text}"
        );
        drop(hub);
        let text = super::super::metrics::METRICS.encode();
        assert!(!text.contains("7000001"), "a dropped hub is no longer read");
    }
}
