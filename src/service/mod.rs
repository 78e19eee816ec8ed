//! The rules of each service, with no sockets: doors feed them bytes.

pub mod accounts;
pub mod chat;
pub mod files;
pub mod upper;

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
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("accounts", &self.accounts.is_some())
            .field("chat", &self.chat.is_some())
            .field("files", &self.files.is_some())
            .finish()
    }
}

/// Chat asks the account store whether a guest's name belongs to an
/// account (guests may not take it). Runs on the blocking pool.
impl chat::NameRegistry for accounts::Accounts {
    fn is_registered(&self, name: &str) -> bool {
        // A store error must not let a guest impersonate: refuse the name.
        self.registered_name(name).map_or(true, |n| n.is_some())
    }
}

/// Seconds since the Unix epoch: the time unit of every expiry and
/// timestamp the services hand out.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
