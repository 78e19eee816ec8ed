//! Criterion benchmark of the chat hub: one publisher, 100 and 1,000
//! in-process subscribers, every message committed to SQLite before it is
//! fanned out. Reports delivered messages per second (elements/s).
//!
//! Run briefly: `cargo bench --bench chat_hub -- --quick`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use sockit::door::chat_lines::LINES;
use sockit::service::chat::{
    ChatConfig, ChatHub, DoorKind, Event, Identity, LocalHub, NoAccounts, Session,
};
use tokio::sync::Notify;

/// Messages published per measured iteration.
const PER_ITER: u64 = 1000;
/// Publishes in flight at once from the one publisher: enough to let the
/// writer batch, as a pipelining client would.
const IN_FLIGHT: u64 = 64;
/// The message body, 128 bytes as in the benchmark.
const BODY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Subscribers' shared progress for one iteration.
struct Progress {
    /// Id of the last message of the current iteration.
    target: AtomicU64,
    /// Subscribers that have seen it.
    done: AtomicUsize,
    all_done: Notify,
}

fn fan_out(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("chat_hub");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for subs in [100usize, 1000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ChatConfig {
            rate_per_sec: 0.0,
            // No cut-offs: subscribers may trail a whole iteration behind.
            queue_capacity: 2 * PER_ITER as usize + subs,
            ..ChatConfig::default()
        };
        let local = LocalHub::open(dir.path(), config, Arc::new(NoAccounts)).expect("hub");
        let hub: Arc<dyn ChatHub> = local.clone();
        let progress = Arc::new(Progress {
            target: AtomicU64::new(u64::MAX),
            done: AtomicUsize::new(0),
            all_done: Notify::new(),
        });
        let publisher = rt.block_on(async {
            for i in 0..subs {
                let who = Identity::Guest(format!("s{i}"));
                let (s, mut inbox) = Session::open(hub.clone(), who, DoorKind::Line)
                    .await
                    .expect("subscriber");
                s.join("bench").await.expect("join");
                let p = progress.clone();
                tokio::spawn(async move {
                    let _s = s;
                    while let Some(ev) = inbox.recv().await {
                        if let Event::Message(m) = ev {
                            // What a line door does: the shared rendering.
                            std::hint::black_box(m.render(&*LINES));
                            if m.id == p.target.load(Ordering::Acquire)
                                && p.done.fetch_add(1, Ordering::AcqRel) + 1 == subs
                            {
                                p.all_done.notify_one();
                            }
                        }
                    }
                });
            }
            let who = Identity::Guest("publisher".into());
            let (s, mut inbox) = Session::open(hub.clone(), who, DoorKind::Frame)
                .await
                .expect("publisher");
            s.join("bench").await.expect("join");
            tokio::spawn(async move { while inbox.recv().await.is_some() {} });
            Arc::new(s)
        });
        let mut last_id = 0;
        group.throughput(Throughput::Elements(PER_ITER * subs as u64));
        group.bench_function(BenchmarkId::new("publish+fanout", subs), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    progress.done.store(0, Ordering::Release);
                    progress.target.store(last_id + PER_ITER, Ordering::Release);
                    let start = Instant::now();
                    rt.block_on(async {
                        let waiting = progress.all_done.notified();
                        let mut tasks = Vec::new();
                        for _ in 0..IN_FLIGHT {
                            let s = publisher.clone();
                            tasks.push(tokio::spawn(async move {
                                for _ in 0..PER_ITER / IN_FLIGHT {
                                    s.publish("bench", BODY).await.expect("publish");
                                }
                            }));
                        }
                        for _ in 0..PER_ITER % IN_FLIGHT {
                            publisher.publish("bench", BODY).await.expect("publish");
                        }
                        for t in tasks {
                            t.await.expect("publisher task");
                        }
                        waiting.await;
                    });
                    total += start.elapsed();
                    last_id += PER_ITER;
                }
                total
            });
        });
        assert_eq!(local.stats().cut_off, 0, "a subscriber was cut off");
        drop(publisher);
    }
    group.finish();
}

// A plain `main` rather than `criterion_group!`, whose generated public
// function would trip the crate's `missing_docs` lint.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    fan_out(&mut c);
    c.final_summary();
}
