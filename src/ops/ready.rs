//! Readiness, as a load balancer asks it: the server is accepting (not
//! draining after a stop signal) and every store it needs answers.
//!
//! Store checks are blocking (SQLite), so they run on the blocking pool
//! under a timeout, one at a time: a wedged store makes `/readyz` answer
//! "not ready" quickly instead of piling up threads behind it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a store check may take before the store counts as down: a
/// healthy SQLite or PostgreSQL answers a one-row query in milliseconds,
/// and load balancers probe every few seconds with a timeout of their own
/// (HAProxy's default check timeout is 2 s too).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A store the server cannot serve without.
pub trait Probe: Send + Sync + 'static {
    /// The store's name, for the `/readyz` reply.
    fn name(&self) -> &'static str;
    /// Asks the store something cheap; blocking.
    fn check(&self) -> Result<(), String>;
}

impl Probe for crate::service::accounts::Accounts {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn check(&self) -> Result<(), String> {
        self.check_store().map_err(|e| e.to_string())
    }
}

/// What `/readyz` answers from.
#[derive(Clone)]
pub struct Readiness {
    draining: CancellationToken,
    probes: Vec<Arc<dyn Probe>>,
    /// One store check at a time.
    checking: Arc<Semaphore>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.draining.is_cancelled())
            .field("probes", &self.probes.len())
            .finish()
    }
}

impl Readiness {
    /// Ready until `draining` is cancelled (the server's stop signal).
    pub fn new(draining: CancellationToken) -> Readiness {
        Readiness {
            draining,
            probes: Vec::new(),
            checking: Arc::new(Semaphore::new(1)),
        }
    }

    /// Also requires `probe` to answer.
    pub fn with_probe(mut self, probe: Arc<dyn Probe>) -> Readiness {
        self.probes.push(probe);
        self
    }

    /// `Ok` when ready, else why not (one line).
    pub async fn check(&self) -> Result<(), String> {
        if self.draining.is_cancelled() {
            return Err("draining: the server is stopping".into());
        }
        if self.probes.is_empty() {
            return Ok(());
        }
        let slow = || {
            let names: Vec<_> = self.probes.iter().map(|p| p.name()).collect();
            format!(
                "store {}: no answer within {} s",
                names.join(", "),
                PROBE_TIMEOUT.as_secs()
            )
        };
        // One deadline for the turn and the check. The turn goes into the
        // blocking task and is held until the check really ends, so a
        // wedged store holds one thread, and concurrent probes of a
        // healthy one wait a moment instead of failing.
        let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
        let turn = self.checking.clone().acquire_owned();
        let Ok(Ok(turn)) = tokio::time::timeout_at(deadline, turn).await else {
            return Err(slow());
        };
        let probes = self.probes.clone();
        let run = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            probes
                .iter()
                .try_for_each(|p| p.check().map_err(|e| format!("store {}: {e}", p.name())))
        });
        match tokio::time::timeout_at(deadline, run).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => return Err(format!("store check failed: {e}")),
            Err(_) => return Err(slow()),
        }
        // Stopped while the stores were asked: say so rather than "ready".
        if self.draining.is_cancelled() {
            return Err("draining: the server is stopping".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers after the given time (a slow or wedged store).
    struct Slow(std::time::Duration);
    impl Probe for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn check(&self) -> Result<(), String> {
            std::thread::sleep(self.0);
            Ok(())
        }
    }

    #[tokio::test]
    async fn concurrent_probes_of_a_quick_store_all_pass_and_a_wedged_one_fails_in_time() {
        let r = Readiness::new(CancellationToken::new())
            .with_probe(Arc::new(Slow(std::time::Duration::from_millis(20))));
        let all = tokio::join!(r.check(), r.check(), r.check(), r.check());
        assert_eq!(all, (Ok(()), Ok(()), Ok(()), Ok(())));
        let wedged = Readiness::new(CancellationToken::new())
            .with_probe(Arc::new(Slow(PROBE_TIMEOUT + Duration::from_millis(100))));
        let t = std::time::Instant::now();
        let (a, b) = tokio::join!(wedged.check(), wedged.check());
        assert_eq!(a, Err("store slow: no answer within 2 s".into()));
        assert_eq!(b, a);
        assert!(
            t.elapsed() < PROBE_TIMEOUT + PROBE_TIMEOUT / 2,
            "{:?}",
            t.elapsed()
        );
    }

    struct Down;
    impl Probe for Down {
        fn name(&self) -> &'static str {
            "test"
        }
        fn check(&self) -> Result<(), String> {
            Err("connection refused".into())
        }
    }

    #[tokio::test]
    async fn draining_and_a_down_store_are_not_ready() {
        let stop = CancellationToken::new();
        let r = Readiness::new(stop.clone());
        assert_eq!(r.check().await, Ok(()));
        let down = r.clone().with_probe(Arc::new(Down));
        assert_eq!(
            down.check().await,
            Err("store test: connection refused".into())
        );
        stop.cancel();
        assert!(r.check().await.unwrap_err().starts_with("draining"));
    }
}
