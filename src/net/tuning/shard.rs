//! Connection shards: one single-threaded runtime per worker thread, and
//! each accepted connection lives its whole life on one of them.
//!
//! Why: on a work-stealing runtime a connection's task is woken by whichever
//! worker polled the I/O driver, and often runs on another, so a busy
//! pipelining peer pays a cross-thread hand-off on every batch (what that
//! cost on one machine: docs/PERFORMANCE.md, "Tuning").
//! A shard owns its own reactor and timers, so a connection's readiness
//! events, its task and its buffers stay on one thread and in its cache,
//! as in Redis or NATS. Connections are dealt round-robin; with many peers
//! the shards fill evenly, and the accept loops stay on the main runtime.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::runtime::{Builder, Handle};
use tokio_util::sync::CancellationToken;

use super::spin;

/// A set of single-threaded runtimes, each on its own OS thread.
#[derive(Debug)]
pub struct Shards {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Cancelled on drop: each shard thread then stops its runtime.
    stop: CancellationToken,
}

impl Shards {
    /// Starts `n` shard threads (at least one), named `sockit-shard-I`,
    /// each polling its quiet connections for up to `busy_poll` before it
    /// sleeps (see `net::tuning::spin`; zero never polls).
    pub fn start(n: usize, busy_poll: Duration) -> io::Result<Shards> {
        let stop = CancellationToken::new();
        let mut handles = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = Builder::new_current_thread()
                .enable_all()
                .on_thread_park(spin::before_park)
                .build()?;
            handles.push(rt.handle().clone());
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("sockit-shard-{i}"))
                .spawn(move || {
                    spin::enable(busy_poll);
                    // Tasks run only while the thread blocks on the runtime.
                    rt.block_on(stop.cancelled());
                    // Tasks still parked on sockets must not delay the exit.
                    rt.shutdown_background();
                })?;
        }
        Ok(Shards {
            handles,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// How many shards there are.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Always false: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Runs `fut` on the next shard, round-robin. The future is first polled
    /// on that shard's thread, so sockets it registers (`from_std`) belong
    /// to that shard's reactor.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        // Never out of bounds: i < len by the modulo, and len >= 1.
        if let Some(h) = self.handles.get(i) {
            h.spawn(fut);
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spreads_tasks_over_distinct_threads() {
        let shards = Shards::start(2, Duration::ZERO).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        for _ in 0..4 {
            let tx = tx.clone();
            shards.spawn(async move {
                let name = std::thread::current().name().unwrap_or("").to_owned();
                tx.send(name).await.unwrap();
            });
        }
        let mut names = Vec::new();
        for _ in 0..4 {
            names.push(rx.recv().await.unwrap());
        }
        names.sort();
        assert_eq!(
            names,
            [
                "sockit-shard-0",
                "sockit-shard-0",
                "sockit-shard-1",
                "sockit-shard-1"
            ]
        );
    }
}
