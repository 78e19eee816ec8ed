//! The async API the doors call: login, resume, logout, is_registered.
//!
//! None of it blocks the calling worker: the throttle is a short in-memory
//! check, store work goes to `spawn_blocking`, hashing to the pool.

use std::net::IpAddr;

use super::password::MAX_PASSWORD_BYTES;
use super::store::Store;
use super::throttle::{Blocked, SPIKE_DELAY};
use super::token::{new_token, token_hash, well_formed};
use super::{Accounts, AuthError, Identity, Inner, Login, name_key, validate_name};

/// The throttle's clock: tokio's, which is the real time except in a test
/// that moves tokio's clock to jump past a lockout. Captured on the async
/// side and carried to the hashing thread, which has no runtime: there it
/// runs on from the captured instant at the real pace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    /// Tokio's now when captured.
    tokio: std::time::Instant,
    /// The real now when captured.
    real: std::time::Instant,
}

impl Clock {
    /// Tokio's clock, now (the real one outside a runtime).
    pub(super) fn capture() -> Clock {
        Clock {
            tokio: tokio::time::Instant::now().into_std(),
            real: std::time::Instant::now(),
        }
    }

    /// Now on this clock.
    pub(super) fn now(self) -> std::time::Instant {
        self.tokio + self.real.elapsed()
    }
}

/// Now, on tokio's clock (async side only).
pub(super) fn now() -> std::time::Instant {
    Clock::capture().now()
}

impl Accounts {
    /// Checks a name and password and opens a session. `peer` is the
    /// client's address, for the per-address throttle (`None` for Unix
    /// sockets: only the per-name count applies). Failures are counted
    /// by error code for `/metrics`.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> Result<Login, AuthError> {
        let r = self.try_login(name, password, peer).await;
        if let Err(e) = &r {
            crate::ops::metrics::login_failed(e.code().as_str());
        }
        r
    }

    async fn try_login(
        &self,
        name: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> Result<Login, AuthError> {
        // Refused before hashing: a long password would cost us, not them.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::BadInput(format!(
                "password longer than {MAX_PASSWORD_BYTES} bytes; no account has one that long"
            )));
        }
        let name = validate_name(name)
            .map_err(|e| AuthError::BadInput(format!("invalid username: {e}")))?;
        let key = name_key(&name);
        self.admit(&key, peer).await?;
        if self.inner.throttle().spiking(now()) {
            // Failures are spiking across many names or addresses: every
            // login waits, so a distributed flood crawls (see the throttle).
            tokio::time::sleep(SPIKE_DELAY).await;
        }
        let inner = self.inner.clone();
        let password = password.to_owned();
        let clock = Clock::capture();
        let reply = self
            .inner
            .pool
            .submit(move || login_job(&inner, &name, &key, &password, peer, clock))
            .map_err(|_| AuthError::Busy)?;
        reply
            .await
            .map_err(|e| AuthError::internal("login job lost", &e))?
    }

    /// The identity behind a session token, if the session is still valid
    /// (also used to re-check a session). An expired session is deleted.
    pub async fn resume(&self, token: &str) -> Result<Identity, AuthError> {
        if !well_formed(token) {
            return Err(AuthError::InvalidToken);
        }
        let hash = token_hash(token);
        let now = self.inner.now_unix();
        let found = self
            .blocking(move |c| match c.find_session(&hash)? {
                Some(s) if s.expires > now => Ok(Some(Identity {
                    user_id: s.user_id,
                    name: s.name,
                    expires: s.expires,
                })),
                Some(_) => c.drop_session(&hash).map(|()| None),
                None => Ok(None),
            })
            .await?;
        found.ok_or(AuthError::InvalidToken)
    }

    /// Ends the session of `token`; an unknown token is [`AuthError::InvalidToken`].
    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        if !well_formed(token) {
            return Err(AuthError::InvalidToken);
        }
        let hash = token_hash(token);
        let now = self.inner.now_unix();
        match self.blocking(move |c| c.delete_session(&hash, now)).await? {
            Some(user_id) => {
                // The connections still using this token end now.
                self.inner.revocations.notify(user_id);
                Ok(())
            }
            None => Err(AuthError::InvalidToken),
        }
    }

    /// Whether an account holds this name (after NFC, ignoring case), so
    /// chat can keep guests off registered names. Invalid names are never
    /// registered.
    pub async fn is_registered(&self, name: &str) -> Result<bool, AuthError> {
        let Ok(name) = validate_name(name) else {
            return Ok(false);
        };
        let key = name_key(&name);
        self.blocking(move |c| c.exists(&key)).await
    }

    /// The throttle's verdict, before any hashing. A name locked out here may
    /// have been unlocked by `sockit user unlock` in another process since;
    /// only then is the store asked (so an address lockout costs no I/O).
    pub(super) async fn admit(&self, key: &str, peer: Option<IpAddr>) -> Result<(), AuthError> {
        let verdict = self.inner.throttle().check(key, peer, now());
        match verdict {
            Ok(()) => Ok(()),
            Err(Blocked::Ip { retry_after }) => Err(AuthError::TooManyAttempts { retry_after }),
            Err(Blocked::Account {
                retry_after,
                since_unix,
            }) => {
                let k = key.to_owned();
                let unlocked = self.blocking(move |c| c.unlocked_at(&k)).await?;
                if lifted(unlocked, since_unix) {
                    self.inner.throttle().clear_account(key);
                    Ok(())
                } else {
                    Err(AuthError::TooManyAttempts { retry_after })
                }
            }
        }
    }

    /// Runs store work in `spawn_blocking`.
    pub(super) async fn blocking<T, F>(&self, f: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_conn(f))
            .await
            .map_err(|e| AuthError::internal("store task failed", &e))?
            .map_err(|e| AuthError::internal("account store failed", &e))
    }
}

/// The blocking half of a login, on a hashing thread: look up, verify
/// (against the dummy hash for unknown names, so both cost the same),
/// count failures, and on success rehash if due and record the session.
fn login_job(
    inner: &Inner,
    name: &str,
    key: &str,
    password: &str,
    peer: Option<IpAddr>,
    clock: Clock,
) -> Result<Login, AuthError> {
    let store_err = |e: crate::store::StoreError| AuthError::internal("account store failed", &e);
    // Again, now that it is our turn: failures of attempts queued ahead of
    // this one may have started a lockout since the caller's check, and
    // without this a burst of queued guesses would all be hashed.
    match inner.throttle().check(key, peer, clock.now()) {
        Ok(()) => {}
        Err(Blocked::Ip { retry_after }) => return Err(AuthError::TooManyAttempts { retry_after }),
        Err(Blocked::Account {
            retry_after,
            since_unix,
        }) => {
            let unlocked = inner.with_conn(|c| c.unlocked_at(key)).map_err(store_err)?;
            if !lifted(unlocked, since_unix) {
                return Err(AuthError::TooManyAttempts { retry_after });
            }
            inner.throttle().clear_account(key);
        }
    }
    let user = inner.with_conn(|c| c.find_user(key)).map_err(store_err)?;
    let phc = user
        .as_ref()
        .map_or(inner.dummy_phc.as_str(), |u| u.phc.as_str());
    let matches = inner.hasher.verify(phc, password);
    let exists = user.is_some();
    let Some(user) = user.filter(|_| matches) else {
        failed(inner, name, key, exists, peer, clock);
        return Err(AuthError::InvalidCredentials);
    };
    if user.locked {
        return Err(AuthError::AccountLocked);
    }
    inner.throttle().success(key, peer);
    share_outcome(inner, key, peer, true, true);
    let new_phc = if inner.hasher.needs_rehash(&user.phc) {
        // A failed rehash only delays the upgrade to the next login.
        inner
            .hasher
            .hash(password)
            .inspect_err(|e| tracing::warn!(error = %e, "password rehash failed"))
            .ok()
    } else {
        None
    };
    let token = new_token().map_err(|e| AuthError::internal("OS random generator failed", &e))?;
    let now = inner.now_unix();
    let expires = now.saturating_add(inner.cfg.session_ttl.as_secs());
    inner
        .with_conn(|c| {
            c.record_login(
                user.id,
                &token_hash(&token),
                now,
                expires,
                new_phc.as_deref(),
            )
        })
        .map_err(store_err)?;
    if new_phc.is_some() {
        tracing::info!(name = %user.name, "password hash upgraded to the configured parameters");
    }
    Ok(Login {
        identity: Identity {
            user_id: user.id,
            name: user.name,
            expires,
        },
        token,
    })
}

/// Counts a failure; logs any lockout it starts for the operator and shows
/// an account lockout in `sockit user list` (a no-op for unknown names).
pub(super) fn failed(
    inner: &Inner,
    name: &str,
    key: &str,
    exists: bool,
    peer: Option<IpAddr>,
    clock: Clock,
) {
    let now_unix = inner.now_unix();
    let started = inner
        .throttle()
        .failure(key, exists, peer, clock.now(), now_unix);
    share_outcome(inner, key, peer, exists, false);
    for l in started {
        crate::ops::metrics::lockout(if l.account { "account" } else { "address" });
        let what = if l.account {
            "account name"
        } else {
            "client address"
        };
        tracing::warn!(
            name,
            ip = ?peer,
            retry_after_secs = l.retry_after.as_secs(),
            "login lockout of the {what} after repeated failures"
        );
        if l.account {
            let until = now_unix.saturating_add(l.retry_after.as_secs());
            if let Err(e) = inner.with_conn(|c| c.note_lockout(key, until)) {
                tracing::warn!(error = %e, "cannot record a lockout for `sockit user list`");
            }
        }
    }
}

/// Whether an operator unlock (recorded at `unlocked_at`, possibly by
/// another process) came after a lockout that began at `since_unix`.
fn lifted(unlocked_at: Option<u64>, since_unix: u64) -> bool {
    unlocked_at.is_some_and(|t| t >= since_unix)
}

/// Tells the other nodes' throttles about a login outcome (on a cluster;
/// a no-op on one node). A store error only delays what the others learn.
fn share_outcome(inner: &Inner, key: &str, peer: Option<IpAddr>, known: bool, ok: bool) {
    let node = inner.node.as_str();
    if let Err(e) =
        inner.with_conn(|c| c.log_throttle(node, key, peer, known, ok, inner.now_unix()))
    {
        tracing::warn!(error = %e, "cannot share a login outcome with the other nodes");
    }
}
