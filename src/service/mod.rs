//! The rules of each service, with no sockets: doors feed them bytes.

pub mod accounts;
pub mod chat;
mod families;
pub mod files;
pub mod migrate;
pub mod shares;
pub mod upper;

pub use families::Families;
pub use upper::{LineTooLong, UpperLines, upper_case};

/// The stateful services a server runs, shared by every door: each door
/// calls the same rules, so a login, a chat message or a file means the
/// same thing whichever way it came in. Cheap to clone.
#[derive(Clone, Default)]
pub struct Services {
    /// Accounts and sessions; `None` serves anonymous protocols only.
    pub accounts: Option<accounts::Accounts>,
    /// The chat rooms every chat door meets in.
    pub chat: Option<std::sync::Arc<dyn chat::ChatHub>>,
    /// The file store; `None` serves no `file` family (its requests then
    /// answer `unknown_type`, and `hello` does not list the feature).
    pub files: Option<files::FileStore>,
    /// Share links; `None` serves no `share` family and no `/s/` links.
    pub shares: Option<shares::Shares>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("accounts", &self.accounts.is_some())
            .field("chat", &self.chat.is_some())
            .field("files", &self.files.is_some())
            .field("shares", &self.shares.is_some())
            .finish()
    }
}

impl Services {
    /// Keeps accounts and files in step until `shutdown`: first raises the
    /// next account id above every id the file store holds (so no new
    /// account inherits a deleted one's files), then polls the account
    /// store's revocation log (ending live sessions revoked by `sockit
    /// user` in another process) and removes the files of deleted accounts.
    /// `data_dir` is the directory both live in. A no-op without accounts.
    pub async fn keep_accounts(
        &self,
        data_dir: std::path::PathBuf,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let Some(accounts) = self.accounts.clone() else {
            return;
        };
        let a = accounts.clone();
        let reserved = tokio::task::spawn_blocking(move || {
            let high = files::highest_user_id(&data_dir).map_err(|e| e.to_string())?;
            a.reserve_ids_through(high).map_err(|e| e.to_string())
        })
        .await;
        match reserved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot reserve account ids above the file store's; a new account might see a deleted one's files")
            }
            Err(e) => tracing::error!(error = %e, "the id reservation task failed"),
        }
        let store = self.files.clone();
        let shares = self.shares.clone();
        let purge = move |user: i64| match &store {
            Some(store) => match store.purge_user(user) {
                Ok(_) => {
                    end_shares(shares.as_ref(), user);
                    true
                }
                Err(e) => {
                    tracing::warn!(user_id = user, error = %e, "removing a deleted account's files; retrying");
                    false
                }
            },
            // Without a file store (--no-files) the files wait for a run
            // that has one.
            None => false,
        };
        accounts.run_purges(purge.clone()).await;
        accounts.watch_store(shutdown, purge).await;
    }
}

/// Ends a deleted account's share links with its files (they would
/// answer 410 anyway, once a download found the file gone).
fn end_shares(shares: Option<&shares::Shares>, user: i64) {
    if let Some(s) = shares {
        if let Err(e) = s.forget_owner(user, unix_now()) {
            tracing::warn!(user_id = user, error = %e, "ending a deleted account's shares");
        }
    }
}

/// Chat asks the account store whether a guest's name belongs to an
/// account (guests may not take it). Runs on the blocking pool.
impl chat::NameRegistry for accounts::Accounts {
    fn is_registered(&self, name: &str) -> bool {
        // A store error must not let a guest impersonate: refuse the name.
        self.registered_name(name).map_or(true, |n| n.is_some())
    }

    fn recipient(&self, name: &str) -> chat::Recipient {
        match self.account_state(name) {
            Ok(Some(false)) => chat::Recipient::Open,
            Ok(Some(true)) => chat::Recipient::Locked,
            // A store error delivers nothing: as if there were no account.
            Ok(None) | Err(_) => chat::Recipient::Unknown,
        }
    }

    fn reads_from(&self, name: &str) -> u64 {
        match self.created_ms(name) {
            // To the millisecond (an account made before those were kept:
            // from the start of its second).
            Ok(Some(created)) => created,
            // No such account reads nothing; a store error shows nothing.
            Ok(None) | Err(_) => u64::MAX,
        }
    }
}

/// Seconds since the Unix epoch: the time unit of every expiry and
/// timestamp the services hand out.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
