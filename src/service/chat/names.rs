//! Room and member names: the rules, and who may use which name.
//!
//! Rooms: 1..=32 characters from `a-z`, `0-9`, `-`, `_`, `.`; input is
//! lowercased (ASCII) and one leading `#` is dropped, so `#Lobby` is `lobby`.
//!
//! Members are registered users (the name of their account, vouched for by
//! the door after the accounts service authenticated them) or guests.
//! A guest's name is shown with a leading `~`: account names never contain
//! `~`, so `~alice` can never be mistaken for the account `alice`. A guest
//! name is 1..=24 letters, digits (any script), `-`, `_` or `.`, starting
//! with a letter or digit; it may not be a registered account's name, nor
//! the name of a guest online now, compared case-insensitively after NFC
//! normalisation.

use unicode_normalization::UnicodeNormalization;

use super::error::ChatError;
use super::sanitize::sanitize;

/// Longest room name, in characters.
pub const ROOM_MAX_CHARS: usize = 32;

/// Longest guest name, in characters (without the `~`): fits a terminal
/// column of names and any account name rule we are likely to adopt.
pub const NAME_MAX_CHARS: usize = 24;

/// The mark in front of every guest's name.
pub const GUEST_MARK: char = '~';

/// Who a member says it is when it connects or renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A guest choosing a name (shown as `~name`; a leading `~` is ignored).
    Guest(String),
    /// A registered user; the door passes this only after the accounts
    /// service authenticated the name.
    Registered(String),
}

/// Tells whether a name belongs to a registered account, so guests cannot
/// take it. The hub calls it on a blocking thread: it may query SQLite.
pub trait NameRegistry: Send + Sync {
    /// True when `name` (without `~`) is an account's name, compared the way
    /// the accounts service compares names.
    fn is_registered(&self, name: &str) -> bool;

    /// Whether a direct message may go to the account `name`: by default,
    /// any registered name (a registry that knows locks says so).
    fn recipient(&self, name: &str) -> super::dm::Recipient {
        if self.is_registered(name) {
            super::dm::Recipient::Open
        } else {
            super::dm::Recipient::Unknown
        }
    }

    /// From when (Unix milliseconds) the account `name` may read its
    /// direct messages: an account deleted and its name registered again
    /// must not read what was said to the old one. By default, everything
    /// (a registry that knows creation times says so).
    fn reads_from(&self, _name: &str) -> u64 {
        0
    }
}

impl<F: Fn(&str) -> bool + Send + Sync> NameRegistry for F {
    fn is_registered(&self, name: &str) -> bool {
        self(name)
    }
}

/// A registry with no accounts, for servers without the accounts service.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAccounts;

impl NameRegistry for NoAccounts {
    fn is_registered(&self, _name: &str) -> bool {
        false
    }
}

/// Checks and normalises a room name (see the module documentation).
pub fn room_name(input: &str) -> Result<String, ChatError> {
    let bad = |why| ChatError::BadRoom {
        name: shorten(&sanitize(input)),
        why,
    };
    let name = input.trim();
    let name = name.strip_prefix('#').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > ROOM_MAX_CHARS {
        return Err(bad("longer than 32 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("use only letters a-z, digits and - _ ."));
    }
    Ok(name)
}

/// Checks a guest's chosen name; returns it without the `~` mark.
pub fn guest_name(input: &str) -> Result<String, ChatError> {
    let clean = sanitize(input);
    let bad = |why| ChatError::BadName {
        name: shorten(&clean),
        why,
    };
    let name = clean.strip_prefix(GUEST_MARK).unwrap_or(&clean);
    let Some(first) = name.chars().next() else {
        return Err(bad("it is empty"));
    };
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(bad("longer than 24 characters"));
    }
    if !first.is_alphanumeric() {
        return Err(bad("start with a letter or digit"));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("use only letters, digits and - _ ."));
    }
    Ok(name.to_owned())
}

/// Checks a registered user's name as the door vouched for it.
pub fn account_name(input: &str) -> Result<String, ChatError> {
    let name = sanitize(input);
    if name.is_empty() || name.contains(GUEST_MARK) || name.contains(' ') {
        return Err(ChatError::BadName {
            name: shorten(&name),
            why: "not a valid account name",
        });
    }
    Ok(name)
}

/// The key two names collide on: NFC, then Unicode lowercase.
pub fn name_key(name: &str) -> String {
    name.nfc().flat_map(char::to_lowercase).collect()
}

/// Cuts a refused name for display in an error, so a 1 MB name does not
/// come back in a 1 MB error line.
fn shorten(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_normalised_or_refused() {
        assert_eq!(room_name("#Lobby").unwrap(), "lobby");
        assert_eq!(room_name(" dev-ops_2.0 ").unwrap(), "dev-ops_2.0");
        for bad in ["", "#", "a b", "café", "x/y", &"r".repeat(33)] {
            assert!(
                matches!(room_name(bad), Err(ChatError::BadRoom { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(room_name(&"r".repeat(32)).unwrap().len(), 32);
    }

    #[test]
    fn guest_names() {
        assert_eq!(guest_name("~Zoë").unwrap(), "Zoë");
        assert_eq!(guest_name("bob_2").unwrap(), "bob_2");
        // Escapes are stripped before the rule applies.
        assert_eq!(guest_name("\x1b[31mred").unwrap(), "red");
        for bad in ["", "~", "~~x", "a b", ".x", "a<b>", &"n".repeat(25)] {
            assert!(
                matches!(guest_name(bad), Err(ChatError::BadName { .. })),
                "{bad:?}"
            );
        }
        let long = guest_name(&"é".repeat(1000)).unwrap_err().to_string();
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn keys_fold_case_and_composition() {
        assert_eq!(name_key("ZOE\u{308}"), name_key("zoë"));
        assert_ne!(name_key("zoe"), name_key("zoë"));
    }

    #[test]
    fn account_names_never_carry_the_guest_mark() {
        assert!(account_name("~alice").is_err());
        assert_eq!(account_name("alice").unwrap(), "alice");
    }
}
