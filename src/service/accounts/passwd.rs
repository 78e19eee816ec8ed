//! A user changing their own password (`passwd` on the frame protocol and
//! the web page): the current password again, then a new one; every other
//! session of the account ends, the one asking stays.
//!
//! The current password is checked like a login (same hashing pool, same
//! throttle, failures counted against the name and the address), so a
//! stolen session cannot use `passwd` to guess the password faster than
//! `login` could.

use std::net::IpAddr;

use super::login::{Clock, failed};
use super::password::MAX_PASSWORD_BYTES;
use super::token::token_hash;
use super::{Accounts, AuthError, Identity, Inner, check_new_password, name_key};

impl Accounts {
    /// Sets a new password for the account `who` speaks for, after checking
    /// `current`, and ends every session of it except `token`'s (the live
    /// connections of those end now, on every door and node). Returns how
    /// many sessions ended.
    pub async fn change_password(
        &self,
        who: &Identity,
        token: &str,
        current: &str,
        new: &str,
        peer: Option<IpAddr>,
    ) -> Result<usize, AuthError> {
        if current.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::BadInput(format!(
                "current password longer than {MAX_PASSWORD_BYTES} bytes; no account has one that long"
            )));
        }
        check_new_password(new).map_err(|e| AuthError::BadInput(format!("new password: {e}")))?;
        let key = name_key(&who.name);
        self.admit(&key, peer).await?;
        let inner = self.inner.clone();
        let (name, user_id) = (who.name.clone(), who.user_id);
        let (current, new) = (current.to_owned(), new.to_owned());
        let keep = token_hash(token);
        let clock = Clock::capture();
        let reply = self
            .inner
            .pool
            .submit(move || {
                let job = Job {
                    inner: &inner,
                    name: &name,
                    key: &key,
                    user_id,
                    peer,
                    clock,
                };
                job.run(&current, &new, &keep)
            })
            .map_err(|_| AuthError::Busy)?;
        let ended = reply
            .await
            .map_err(|e| AuthError::internal("password job lost", &e))??;
        self.inner.revocations.notify(user_id);
        tracing::info!(name = %who.name, ended, "password changed by its user; other sessions ended");
        Ok(ended)
    }
}

/// The blocking half, on a hashing thread.
struct Job<'a> {
    inner: &'a Inner,
    name: &'a str,
    key: &'a str,
    user_id: i64,
    peer: Option<IpAddr>,
    clock: Clock,
}

impl Job<'_> {
    fn run(&self, current: &str, new: &str, keep: &[u8; 32]) -> Result<usize, AuthError> {
        let store_err =
            |e: crate::store::StoreError| AuthError::internal("account store failed", &e);
        let user = self
            .inner
            .with_conn(|c| c.find_user(self.key))
            .map_err(store_err)?
            .filter(|u| u.id == self.user_id)
            .ok_or(AuthError::InvalidToken)?;
        if !self.inner.hasher.verify(&user.phc, current) {
            failed(self.inner, self.name, self.key, true, self.peer, self.clock);
            return Err(AuthError::InvalidCredentials);
        }
        if user.locked {
            return Err(AuthError::AccountLocked);
        }
        let phc = self.inner.hasher.hash(new).map_err(AuthError::Internal)?;
        self.inner
            .with_conn(|c| c.set_phc_keeping(self.user_id, &phc, keep, self.inner.now_unix()))
            .map_err(store_err)?
            .ok_or(AuthError::InvalidToken)
    }
}
