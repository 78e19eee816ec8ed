//! The hashing pool: a few dedicated OS threads, niced, fed by a bounded
//! queue, so a flood of logins costs a fixed share of the CPU and never
//! occupies the async workers that carry everyone else's traffic.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// Niceness of the hashing threads: +10 lets the reactor threads (nice 0)
/// win the CPU whenever both are runnable, so echo latency holds up while
/// logins queue.
pub const HASH_NICE: libc::c_int = 10;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The queue is full (or every thread is gone): tell the client to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A fixed set of hashing threads behind a bounded queue.
#[derive(Debug)]
pub struct HashPool {
    tx: SyncSender<Job>,
}

impl HashPool {
    /// Starts `threads` threads (at least one) behind a queue of `queue` jobs
    /// (at least one: a zero-length queue would refuse nearly everything).
    /// The threads end once the pool is dropped and the queue drains.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("sockit-hash-{i}"))
                .spawn(move || worker(&rx))?;
        }
        Ok(Self { tx })
    }

    /// Queues `f`; its result arrives on the receiver. A job whose receiver
    /// was dropped (the client went away) is skipped, not hashed.
    pub fn submit<T, F>(&self, f: F) -> Result<oneshot::Receiver<T>, Full>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if !reply.is_closed() {
                let _ = reply.send(f());
            }
        });
        match self.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Full),
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting, not while hashing.
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        // A panicking job loses its reply (the caller sees an internal
        // error) but must not take the thread with it.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a hashing job panicked");
        }
    }
}

/// Nices the calling thread (Linux: priorities are per thread, and
/// setpriority(PRIO_PROCESS) given a thread id nices only that thread).
#[cfg(target_os = "linux")]
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), HASH_NICE) {
        tracing::debug!(error = %std::io::Error::from(e), "cannot nice a hashing thread");
    }
}

/// Elsewhere setpriority(PRIO_PROCESS) would nice the whole process: skip.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_is_refused_not_blocked() {
        let pool = HashPool::new(1, 1).unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        // Occupy the one thread until released.
        let busy = pool
            .submit(move || {
                started_tx.send(()).unwrap();
                gate.recv().unwrap();
                1
            })
            .unwrap();
        started.recv().unwrap();
        let queued = pool.submit(|| 2).unwrap();
        assert_eq!(pool.submit(|| 3).unwrap_err(), Full, "queue of one is full");
        release.send(()).unwrap();
        assert_eq!(busy.blocking_recv().unwrap(), 1);
        assert_eq!(queued.blocking_recv().unwrap(), 2);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn threads_run_niced() {
        let pool = HashPool::new(1, 1).unwrap();
        let nice = pool
            .submit(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .unwrap();
        assert!(nice.blocking_recv().unwrap().unwrap() >= HASH_NICE);
    }
}
