//! Read markers, and the unread and mention counts they give.
//!
//! Each account has, per conversation (room or direct), the seq of the
//! last message it read, kept with the room's epoch: a marker from an
//! older history (the room was reset, its seqs restarted) reads as 0. A
//! marker only moves forward, and never past the room's last message, so
//! a client cannot make a conversation look read for good.
//!
//! Counts cost at most two bounded index range scans per conversation:
//! unread messages are counted up to [`COUNT_CAP`] (a count of 100 means
//! "100 or more", shown "99+"); mentions are looked for in the newest
//! [`MENTION_SCAN`] unread messages only. An account's own messages are
//! never unread. A mention is `@name` (the account's name, any case for
//! ASCII letters) not followed by another name character.

use std::sync::Arc;

use unicode_normalization::UnicodeNormalization;

use super::names::name_key;

/// Counts stop here: a count equal to it means "this many or more".
pub const COUNT_CAP: u64 = 100;

/// Mentions are looked for in at most this many of the newest unread
/// messages of a conversation, so one count never reads a whole history.
pub const MENTION_SCAN: u64 = 1000;

/// Most conversations one `chat.unread` (or `chat.dms`) counts: each is
/// two queries.
pub const UNREAD_ROOMS_MAX: usize = 64;

/// A read marker moved: pushed to the account's other sessions so that
/// every client shows the same counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The conversation's canonical name.
    pub room: Arc<str>,
    /// The last read seq now.
    pub seq: u64,
}

/// One conversation's place in an account's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The room's canonical name (`@a+b` for a direct conversation).
    pub room: Arc<str>,
    /// For a direct conversation, the other account (its name key).
    pub with: Option<Arc<str>>,
    /// The seq of its last message (0 when it has none).
    pub last_id: u64,
    /// When its last message was committed (unix millis; 0 if unknown).
    pub ts: u64,
    /// The account's read marker (0: nothing read).
    pub read: u64,
    /// Messages after the marker, not the account's own, capped at
    /// [`COUNT_CAP`].
    pub unread: u64,
    /// Those of them that mention the account, capped at [`COUNT_CAP`].
    pub mentions: u64,
}

/// The marker key of an account: its name's key.
pub fn account_key(name: &str) -> String {
    name_key(name).nfc().collect()
}

/// The `LIKE` pattern that finds candidate mentions of `name` (`%` and
/// `_` in the name escaped with `\`): exact matches are then checked with
/// [`mentions`].
pub(super) fn mention_pattern(name: &str) -> String {
    let mut p = String::from("%@");
    for c in name.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// True when `text` mentions `name`: `@name`, ignoring case, not followed
/// by a character that could continue a name.
pub fn mentions(text: &str, name: &str) -> bool {
    let want = account_key(name);
    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix(want.as_str()) {
            let ends = tail
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-')));
            if ends {
                return true;
            }
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_the_whole_name_after_an_at() {
        assert!(mentions("hi @ann", "ann"));
        assert!(mentions("@Ann, look", "ann"));
        assert!(mentions("ping @ANN.", "Ann"));
        assert!(!mentions("hi @anna", "ann"));
        assert!(!mentions("hi ann", "ann"));
        assert!(!mentions("mail ann@example.org", "ann"));
        assert!(mentions("@x @ann", "ann"));
        assert!(mentions("@zoë!", "Zoë"));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(mention_pattern("a_b%"), "%@a\\_b\\%%");
    }
}
