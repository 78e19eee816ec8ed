//! The blocking admin API behind `sockit user`: add, passwd, del, list,
//! lock, unlock. Safe to use while a server has the same database open.

use super::password::check_new_password;
use super::store::Store;
use super::{Accounts, AccountsError, UserInfo, name_key, validate_name};

impl Accounts {
    /// Creates an account. Blocking (hashes the password here).
    pub fn add_user(&self, name: &str, password: &str) -> Result<UserInfo, AccountsError> {
        let (name, key) = checked_name(name)?;
        check_new_password(password).map_err(AccountsError::BadPassword)?;
        // Checked first so a taken name costs no hash; the insert re-checks.
        if let Some(existing) = self.inner.with_conn(|c| c.name_of(&key))? {
            return Err(AccountsError::NameTaken(existing));
        }
        let phc = self
            .inner
            .hasher
            .hash(password)
            .map_err(AccountsError::Internal)?;
        let now_ms = self.inner.cfg.clock.now_millis();
        let inserted = self
            .inner
            .with_conn(|c| c.insert_user(&name, &key, &phc, now_ms))?;
        if !inserted {
            let existing = self.inner.with_conn(|c| c.name_of(&key))?;
            return Err(AccountsError::NameTaken(existing.unwrap_or(name)));
        }
        tracing::debug!(name, "user added");
        Ok(UserInfo {
            name,
            created: now_ms / 1000,
            last_login: None,
            locked: false,
            locked_until: None,
        })
    }

    /// Sets a new password and ends every session of the account. Blocking.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AccountsError> {
        let (name, key) = checked_name(name)?;
        check_new_password(password).map_err(AccountsError::BadPassword)?;
        if !self.inner.with_conn(|c| c.exists(&key))? {
            return Err(AccountsError::NoSuchUser(name));
        }
        let phc = self
            .inner
            .hasher
            .hash(password)
            .map_err(AccountsError::Internal)?;
        if !self
            .inner
            .with_conn(|c| c.set_phc(&key, &phc, self.inner.now_unix()))?
        {
            return Err(AccountsError::NoSuchUser(name));
        }
        self.notify_key(&key);
        tracing::debug!(name, "password changed; sessions revoked");
        Ok(())
    }

    /// Deletes an account and its sessions, and queues the removal of its
    /// files (done by [`Accounts::run_purges`] in the process holding the
    /// file store). Returns the deleted account's id.
    pub fn delete_user(&self, name: &str) -> Result<i64, AccountsError> {
        let (name, key) = checked_name(name)?;
        let Some(id) = self
            .inner
            .with_conn(|c| c.delete_user(&key, self.inner.now_unix()))?
        else {
            return Err(AccountsError::NoSuchUser(name));
        };
        self.inner.throttle().forget_account(&key);
        self.inner.revocations.notify(id);
        tracing::debug!(name, "user deleted");
        Ok(id)
    }

    /// Makes sure no new account gets an id up to `used` (the highest id
    /// the file store holds anything under), so none inherits old files.
    pub fn reserve_ids_through(&self, used: i64) -> Result<(), AccountsError> {
        Ok(self.inner.with_conn(|c| c.reserve_ids_through(used))?)
    }

    /// Wakes this process's connections of the account holding `key`.
    fn notify_key(&self, key: &str) {
        match self.inner.with_conn(|c| c.find_user(key)) {
            Ok(Some(u)) => self.inner.revocations.notify(u.id),
            Ok(None) => {}
            // The store's log still reaches them at the next poll.
            Err(e) => tracing::warn!(error = %e, "looking up a revoked account"),
        }
    }

    /// The registered spelling of the account holding this name (ignoring
    /// case), if any: lets a CLI say "taken" or "no such user" before it
    /// asks for a password.
    pub fn registered_name(&self, name: &str) -> Result<Option<String>, AccountsError> {
        let (_, key) = checked_name(name)?;
        Ok(self.inner.with_conn(|c| c.name_of(&key))?)
    }

    /// Whether an account holds this name, and if so whether it is locked
    /// by the operator (chat asks before delivering a direct message).
    pub fn account_state(&self, name: &str) -> Result<Option<bool>, AccountsError> {
        let (_, key) = checked_name(name)?;
        let row = self.inner.with_conn(|c| c.find_user(&key))?;
        Ok(row.map(|r| r.locked))
    }

    /// When the account called `name` was created (unix milliseconds), if
    /// there is one: what was said to the name before is not its own
    /// (see chat's direct messages and edits).
    pub fn created_ms(&self, name: &str) -> Result<Option<u64>, AccountsError> {
        let (_, key) = checked_name(name)?;
        let row = self.inner.with_conn(|c| c.find_user(&key))?;
        Ok(row.map(|r| r.created_ms))
    }

    /// Reads one row of the account table: the store answers (the
    /// readiness probe of `/readyz`; blocking).
    pub fn check_store(&self) -> Result<(), crate::store::StoreError> {
        self.inner.with_conn(Store::check)
    }

    /// Every account, ordered by name.
    pub fn list_users(&self) -> Result<Vec<UserInfo>, AccountsError> {
        let now = self.inner.now_unix();
        Ok(self.inner.with_conn(|c| c.list_users(now))?)
    }

    /// Whether account `user_id` is locked by the operator (or gone, until
    /// its shares are ended with its files): its share links are refused
    /// meanwhile (`shares::Shares::set_owner_locked`). One indexed read of
    /// the store every node shares, so a lock holds everywhere at once.
    pub fn owner_locked(&self, user_id: i64) -> Result<bool, AccountsError> {
        Ok(self
            .inner
            .with_conn(|c| c.revoked_since(user_id, u64::MAX))?)
    }

    /// Operator lock: logins are refused (with [`super::AuthError::AccountLocked`]
    /// once the password is right) and every session ends.
    pub fn lock_user(&self, name: &str) -> Result<(), AccountsError> {
        let (name, key) = checked_name(name)?;
        if !self
            .inner
            .with_conn(|c| c.set_locked(&key, true, self.inner.now_unix()))?
        {
            return Err(AccountsError::NoSuchUser(name));
        }
        self.notify_key(&key);
        tracing::debug!(name, "user locked; sessions revoked");
        Ok(())
    }

    /// Lifts the operator lock and any temporary lockout of the name: here
    /// at once, and in a server in another process at its next login
    /// attempt (it reads the recorded unlock time).
    pub fn unlock_user(&self, name: &str) -> Result<(), AccountsError> {
        let (name, key) = checked_name(name)?;
        if !self
            .inner
            .with_conn(|c| c.set_locked(&key, false, self.inner.now_unix()))?
        {
            return Err(AccountsError::NoSuchUser(name));
        }
        self.inner.throttle().clear_account(&key);
        tracing::debug!(name, "user unlocked");
        Ok(())
    }
}

/// The canonical name and its key, or why the name is not valid.
fn checked_name(name: &str) -> Result<(String, String), AccountsError> {
    let name = validate_name(name).map_err(|e| AccountsError::BadName(e.to_string()))?;
    let key = name_key(&name);
    Ok((name, key))
}
