//! Direct messages: one-to-one conversations between two accounts.
//!
//! A direct conversation is a room with a reserved name, `@` and the two
//! accounts' name keys (NFC, lowercase) sorted and joined by `+`:
//! `@ann+bob`. Room names allow only `a-z 0-9 - _ .`, and account names
//! never contain `@` or `+`, so no ordinary join can name one and each pair
//! of accounts has exactly one. Everything a room has (history, seqs,
//! epoch, catch-up, idempotent send, the cluster feed) serves it as is;
//! what differs is who may use it: only its two accounts may join it, read
//! its history, send to it or see it listed ([`may_read`]). Guests have no
//! direct messages: a guest's name is not an account's, so nothing could
//! keep another guest from taking it and reading the conversation.
//!
//! A member names a conversation as `@bob` (the other account) or by its
//! full name; [`conversation`] turns either into the room name.

use unicode_normalization::UnicodeNormalization;

use super::error::ChatError;
use super::names::{Identity, name_key, room_name};

/// The first character of every direct conversation's name.
pub const DM_MARK: char = '@';

/// Separates the two accounts in a direct conversation's name.
const PARTY_SEPARATOR: char = '+';

/// Longest account name a direct conversation can name, in characters
/// (the accounts service's own limit).
const PARTY_MAX_CHARS: usize = 32;

/// Most direct conversations one account may start: each is a room the
/// server keeps, so one account opening conversations with every other
/// one must stop somewhere. Conversations others started with it do not
/// count against it.
pub const DM_MAX_PER_ACCOUNT: usize = 200;

/// What the account registry says about the account a message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An account that can receive messages.
    Open,
    /// Locked by the operator: nothing is delivered to it.
    Locked,
    /// No account has that name (never had, or it was deleted).
    Unknown,
}

/// True for a direct conversation's name (`@...`).
pub fn is_dm(room: &str) -> bool {
    room.starts_with(DM_MARK)
}

/// The conversation between accounts `a` and `b` (display names or keys,
/// any case), or why there cannot be one.
pub fn dm_room(a: &str, b: &str) -> Result<String, ChatError> {
    let (a, b) = (party(a)?, party(b)?);
    if a == b {
        return Err(ChatError::BadRoom {
            name: format!("{DM_MARK}{b}"),
            why: "that is you; a direct message goes to another account",
        });
    }
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    Ok(format!("{DM_MARK}{lo}{PARTY_SEPARATOR}{hi}"))
}

/// The two account keys of a direct conversation's name, if it is one.
pub fn dm_parties(room: &str) -> Option<(&str, &str)> {
    room.strip_prefix(DM_MARK)?.split_once(PARTY_SEPARATOR)
}

/// The other party of `room` for the account keyed `me`, if `me` is one.
pub fn dm_peer<'a>(room: &'a str, me: &str) -> Option<&'a str> {
    match dm_parties(room)? {
        (a, b) if a == me => Some(b),
        (a, b) if b == me => Some(a),
        _ => None,
    }
}

/// Whether `who` may read the conversation `room` (as given or
/// canonical): every room is readable by everyone, a direct conversation
/// only by its two accounts. The one rule every feature that shows
/// messages (history, search, listings) asks.
pub fn may_read(who: &Identity, room: &str) -> bool {
    match who {
        _ if !is_dm(room.trim()) => true,
        Identity::Guest(_) => false,
        Identity::Registered(me) => conversation(me, false, room).is_ok(),
    }
}

/// The canonical room name a member called `me` (a guest when `guest`)
/// means by `input`: an ordinary room name, or `@other` / `@a+b` for a
/// direct conversation, which must be its own.
pub fn conversation(me: &str, guest: bool, input: &str) -> Result<String, ChatError> {
    let input = input.trim();
    let Some(rest) = input.strip_prefix(DM_MARK) else {
        return room_name(input);
    };
    if guest {
        return Err(ChatError::DmNeedsAccount);
    }
    let me_key = party(me)?;
    match rest.split_once(PARTY_SEPARATOR) {
        None => dm_room(&me_key, rest),
        Some((a, b)) => {
            let room = dm_room(a, b)?;
            if dm_peer(&room, &me_key).is_none() {
                // The same answer as for a room one is not in: a third
                // account learns nothing about the conversation.
                return Err(ChatError::NotInRoom(shorten(input)));
            }
            Ok(room)
        }
    }
}

/// One party's key, checked as the accounts service checks names (letters
/// and digits of any script, `_ - .`, 1 to 32 characters).
fn party(input: &str) -> Result<String, ChatError> {
    let bad = |why| ChatError::BadRoom {
        name: format!("{DM_MARK}{}", shorten(input)),
        why,
    };
    let name: String = input.nfc().collect();
    let Some(first) = name.chars().next() else {
        return Err(bad("name the account to write to: @name"));
    };
    if name.chars().count() > PARTY_MAX_CHARS {
        return Err(bad("account names have at most 32 characters"));
    }
    if !first.is_alphanumeric()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad("not an account name (letters, digits and - _ .)"));
    }
    Ok(name_key(&name).nfc().collect())
}

/// Cuts a refused name for an error line.
fn shorten(s: &str) -> String {
    const SHOWN: usize = 40;
    let s = super::sanitize::sanitize(s);
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Identity {
        Identity::Registered("Ann".into())
    }

    #[test]
    fn names_are_sorted_keys_whatever_the_spelling() {
        assert_eq!(dm_room("bob", "Ann").unwrap(), "@ann+bob");
        assert_eq!(conversation("Ann", false, "@BOB").unwrap(), "@ann+bob");
        assert_eq!(
            conversation("bob", false, " @ann+bob ").unwrap(),
            "@ann+bob"
        );
        assert_eq!(conversation("bob", false, "@bob+ann").unwrap(), "@ann+bob");
        assert_eq!(dm_room("Zoë", "ann").unwrap(), "@ann+zoë");
        assert_eq!(dm_parties("@ann+bob"), Some(("ann", "bob")));
        assert_eq!(dm_peer("@ann+bob", "bob"), Some("ann"));
        assert_eq!(dm_peer("@ann+bob", "eve"), None);
        // Ordinary rooms pass through the room rule.
        assert_eq!(conversation("ann", false, "#Lobby").unwrap(), "lobby");
    }

    #[test]
    fn only_the_two_accounts_may_read() {
        assert!(may_read(&ann(), "@ann+bob"));
        assert!(may_read(&ann(), "@bob"));
        assert!(may_read(&ann(), "lobby"));
        assert!(!may_read(&Identity::Registered("eve".into()), "@ann+bob"));
        assert!(!may_read(&Identity::Guest("ann".into()), "@ann+bob"));
        assert!(may_read(&Identity::Guest("ann".into()), "lobby"));
        assert!(matches!(
            conversation("eve", false, "@ann+bob"),
            Err(ChatError::NotInRoom(_))
        ));
    }

    #[test]
    fn hostile_names_are_refused_in_one_short_line() {
        assert!(matches!(
            conversation("ann", true, "@bob"),
            Err(ChatError::DmNeedsAccount)
        ));
        for bad in [
            "@", "@ann", "@ANN", "@~bob", "@a b", "@.x", "@a+b+c", "@+bob", "@bob+",
        ] {
            assert!(conversation("ann", false, bad).is_err(), "{bad:?}");
        }
        let long = conversation("ann", false, &format!("@{}", "b".repeat(10_000)))
            .unwrap_err()
            .to_string();
        assert!(long.len() < 200, "{long}");
        let escape = conversation("ann", false, "@\x1b[31mx")
            .unwrap_err()
            .to_string();
        assert!(!escape.contains('\x1b'), "{escape}");
        assert!(dm_room("ann", &"b".repeat(33)).is_err());
        assert!(dm_room("ann", &"b".repeat(32)).is_ok());
    }
}
