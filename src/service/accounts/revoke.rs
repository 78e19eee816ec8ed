//! Revocation signals: how a lock, delete, password change or logout
//! reaches the account's live connections on every door.
//!
//! Each authenticated connection subscribes to its account's signal (a
//! `watch` per account id, made on first use and dropped with its last
//! subscriber) and selects on it beside its input. A signal says only
//! "something about this account was revoked": the connection re-checks
//! its own session token and closes if it no longer holds (so one logout
//! ends the connections of that session and leaves the account's other
//! devices alone).
//!
//! Signals come from this process (logout, and the admin API when the
//! server calls it) at once, and from other processes (`sockit user` beside
//! a running server, or another node of a cluster) through the store's
//! revocation log, which [`Accounts::watch_store`] polls every
//! [`REVOCATION_POLL`]; on PostgreSQL a LISTEN (`listen`) wakes the poll
//! at once, the tick staying as the safety net for lost notifications.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{Accounts, AccountsError, lock};
use crate::store::Backend;

/// How often a server reads the store's revocation log (and its queue of
/// deleted accounts' files): a revocation made by `sockit user` in another
/// process ends the account's sessions within this (plus a re-check), well
/// inside the one second promised; each poll is one indexed query.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);

/// Accounts with a live signal before the map is swept for accounts with
/// no subscriber left (the sweep is linear, so it runs when the map has
/// doubled since the last one, never per subscription).
const SWEEP_FROM: usize = 1024;

/// The per-account signals of one server.
#[derive(Debug, Default)]
pub(super) struct Revocations {
    users: Mutex<Signals>,
}

#[derive(Debug, Default)]
struct Signals {
    by_user: HashMap<i64, watch::Sender<u64>>,
    /// Sweep again once the map reaches this size.
    sweep_at: usize,
}

impl Revocations {
    /// A receiver that wakes when `user_id` is revoked.
    fn subscribe(&self, user_id: i64) -> watch::Receiver<u64> {
        let mut s = lock(&self.users);
        if s.by_user.len() >= s.sweep_at.max(SWEEP_FROM) {
            s.by_user.retain(|_, tx| tx.receiver_count() > 0);
            s.sweep_at = s.by_user.len().saturating_mul(2);
        }
        s.by_user
            .entry(user_id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes every connection of `user_id`.
    pub(super) fn notify(&self, user_id: i64) {
        let s = lock(&self.users);
        if let Some(tx) = s.by_user.get(&user_id) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// One connection's subscription to its account's revocations.
#[derive(Debug)]
pub struct RevokeWatch {
    user_id: i64,
    rx: watch::Receiver<u64>,
}

impl RevokeWatch {
    /// The account watched.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// Resolves when the account was revoked since the last call (the
    /// caller then re-checks its session); never resolves otherwise.
    /// Cancel-safe: use it in `select!`.
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            // The sender lives as long as the registry; never reached.
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for `watch` to fire; never resolves when there is none (so a
/// door can select on it whether or not the connection is logged in).
pub async fn revoked(watch: Option<&mut RevokeWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

impl Accounts {
    /// The id of the account holding `name`, for a door that logged in
    /// without keeping a session token (the line door).
    pub async fn account_id(&self, name: &str) -> Result<Option<i64>, super::AuthError> {
        let key = super::name_key(name);
        self.blocking(move |c| c.find_user(&key).map(|u| u.map(|u| u.id)))
            .await
    }

    /// Whether account `user_id` was deleted, locked, or had its password
    /// changed at or after `since_unix` (from the store's revocation log):
    /// how a connection without a session token re-checks after a signal.
    pub async fn revoked_since(
        &self,
        user_id: i64,
        since_unix: u64,
    ) -> Result<bool, super::AuthError> {
        self.blocking(move |c| c.revoked_since(user_id, since_unix))
            .await
    }

    /// Subscribes a connection speaking for `user_id` to its revocations.
    pub fn subscribe(&self, user_id: i64) -> RevokeWatch {
        RevokeWatch {
            user_id,
            rx: self.inner.revocations.subscribe(user_id),
        }
    }

    /// Until `shutdown`: polls the store's revocation log every
    /// [`REVOCATION_POLL`], waking the connections of each account revoked
    /// (by this or another process), and hands each deleted account's id to
    /// `purge` (which removes its files and returns true when done; the id
    /// is then taken off the queue, else retried at the next poll).
    pub async fn watch_store<P>(&self, shutdown: CancellationToken, purge: P)
    where
        P: Fn(i64) -> bool + Clone + Send + 'static,
    {
        let start = self
            .blocking(|c| Ok((c.last_revocation()?, c.last_throttle()?)))
            .await;
        let (mut seen, mut throttle_seen) = match start {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the revocation log; revocations from `sockit user` will not reach live sessions");
                return;
            }
        };
        // On a cluster, a LISTEN wakes the poll as soon as any node revokes.
        let wake = Arc::new(Notify::new());
        let _listener = match &self.inner.backend {
            Backend::Postgres(cfg) => super::listen::spawn((**cfg).clone(), Arc::clone(&wake))
                .inspect_err(|e| tracing::warn!(error = %e, "cannot start the revocation listener; polling only"))
                .ok(),
            Backend::Sqlite => None,
        };
        let mut tick = tokio::time::interval(REVOCATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            match self.blocking(move |c| c.revocations_since(seen)).await {
                Ok(rows) => {
                    for (seq, user) in rows {
                        seen = seen.max(seq);
                        self.inner.revocations.notify(user);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading the revocation log"),
            }
            throttle_seen = self.apply_remote_throttle(throttle_seen).await;
            self.run_purges(purge.clone()).await;
        }
    }

    /// Feeds the login outcomes other nodes logged after `seen` into this
    /// node's throttle, so a cluster counts failures as one node would (a
    /// guesser gains nothing by spreading over nodes, within one poll);
    /// returns the new cursor. Nothing to do on one node.
    async fn apply_remote_throttle(&self, seen: i64) -> i64 {
        if !self.is_shared() {
            return seen;
        }
        let node = self.inner.node.clone();
        match self.blocking(move |c| c.throttle_since(seen, &node)).await {
            Ok((last, events)) => {
                let now = tokio::time::Instant::now().into_std();
                let now_unix = self.inner.now_unix();
                let mut t = self.inner.throttle();
                for e in events {
                    if e.ok {
                        t.success(&e.name_key, e.ip);
                    } else {
                        t.failure(&e.name_key, e.known, e.ip, now, now_unix);
                    }
                }
                last
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the shared login throttle log");
                seen
            }
        }
    }

    /// Removes the files of every deleted account still queued, on the
    /// blocking pool.
    pub async fn run_purges<P>(&self, purge: P)
    where
        P: Fn(i64) -> bool + Send + 'static,
    {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.run_purges_blocking(purge)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "removing deleted accounts' files"),
            Err(e) => tracing::warn!(error = %e, "the purge task failed"),
        }
    }

    /// Hands each deleted account still queued to `purge` (which removes
    /// its files and returns true when done); returns how many were done.
    /// Blocking.
    pub fn run_purges_blocking<P>(&self, mut purge: P) -> Result<usize, AccountsError>
    where
        P: FnMut(i64) -> bool,
    {
        let ids = self.inner.with_conn(|c| c.pending_purges())?;
        let mut done = 0;
        for id in ids {
            if purge(id) {
                self.inner.with_conn(|c| c.purge_done(id))?;
                tracing::info!(user_id = id, "files of a deleted account removed");
                done += 1;
            }
        }
        Ok(done)
    }
}
