//! The cluster's revocation wake-up: a thread LISTENing on PostgreSQL for
//! the empty `pg_notify` every revoking transaction sends, waking the
//! node's revocation poll at once instead of at its next tick.
//!
//! Only a wake-up: notifications sent while the listener is away (its
//! connection broke, PostgreSQL restarted) are lost, so the poll keeps
//! running on its own, and the listener wakes it after each reconnect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::store::pg::PgTarget;
use postgres::fallible_iterator::FallibleIterator;
use tokio::sync::Notify;

use super::db_pg::NOTIFY_CHANNEL;

/// How long the listener waits for a notification before it checks
/// whether it should stop: bounds how long a stopped listener lingers.
const WAIT: Duration = Duration::from_millis(500);

/// Pause before reconnecting after PostgreSQL went away (the poll still
/// runs meanwhile, so this costs latency, not revocations).
const RETRY: Duration = Duration::from_secs(1);

/// A running listener; stops (within [`WAIT`]) when dropped.
#[derive(Debug)]
pub(super) struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that wakes `wake` on each notification (and after
/// each reconnect).
pub(super) fn spawn(cfg: PgTarget, wake: Arc<Notify>) -> std::io::Result<Listener> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("sockit-revoke-listen".into())
        .spawn(move || run(&cfg, &wake, &flag))?;
    Ok(Listener { stop })
}

fn run(cfg: &PgTarget, wake: &Notify, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let mut client = match cfg.connect() {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "revocation listener cannot connect; retrying");
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")) {
            tracing::debug!(error = %e, "revocation listener cannot LISTEN; retrying");
            std::thread::sleep(RETRY);
            continue;
        }
        // Whatever was sent while we were away is lost: poll now.
        wake.notify_one();
        while !stop.load(Ordering::Relaxed) {
            let next = client.notifications().timeout_iter(WAIT).next();
            match next {
                Ok(Some(_)) => wake.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, "revocation listener lost PostgreSQL");
                    break;
                }
                Ok(None) if client.is_closed() => break,
                Ok(None) => {}
            }
        }
    }
}
