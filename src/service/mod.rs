//! The rules of each service, with no sockets: doors feed them bytes.

pub mod accounts;
pub mod files;
pub mod upper;

pub use upper::{LineTooLong, UpperLines, upper_case};

/// The stateful services a server runs, shared by every door: each door
/// calls the same rules, so a login (or later a chat message or a file)
/// means the same thing whichever way it came in. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// Accounts and sessions; `None` serves anonymous protocols only.
    pub accounts: Option<accounts::Accounts>,
    /// The file store; `None` serves no `file` family (its requests then
    /// answer `unknown_type`, and `hello` does not list the feature).
    pub files: Option<files::FileStore>,
}

/// Seconds since the Unix epoch: the time unit of every expiry and
/// timestamp the services hand out.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
