//! Editing and deleting one's own messages: the rules, shared by both
//! stores. An edit or a delete is an entry of its own in the room's log
//! (a new seq, see [`Revision`]), committed in the same transaction that
//! rewrites the message it changes; so catch-up after a seq replays it in
//! order, history shows each message as it is now, and every node of a
//! cluster delivers it like any message.
//!
//! Who may: the author, logged in to the account that said it, within the
//! edit window (measured on the server's clock, from the message's commit
//! time), and not once it is deleted. Guests may not: a guest name is not
//! an identity (another guest may hold it tomorrow), so nothing proves
//! that a guest wrote what it wants to change.
//!
//! "The account that said it", not just its name: a name deleted and
//! registered again within the window is a new account, and must not
//! change what the old one said. A message is its author's only if it was
//! committed at or after the author's account was created (its
//! `created_ms`, the same rule `dm_floor` applies to direct messages).
//! Why the creation time rather than an account id stored with each
//! message: the accounts already keep it on both stores, every message
//! already has its commit time, so no message table, publish function or
//! migration changes, and one rule serves edits and direct messages alike;
//! the old account cannot have said anything after it was deleted, and
//! the new one is created after that. Its limit, shared with direct
//! messages: on a cluster the commit time is the committing node's clock
//! and the creation time that of the machine that ran `sockit user add`,
//! so clocks apart by more than the time between `user del` and `user
//! add` would blur it (SECURITY.md).

use std::time::Duration;

use super::error::ChatError;
use super::event::Revision;

/// Default time after sending during which a message may be edited or
/// deleted: Zulip's default, long enough to fix a typo or take back a
/// message sent to the wrong room, short enough that a conversation read
/// an hour ago still says what it said.
pub const DEFAULT_EDIT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Longest topic, in UTF-8 bytes: a line in a header, not an essay.
pub const TOPIC_MAX_BYTES: usize = 250;

/// Whether `who` may set a room's topic: any account member of the room
/// (guests may not, as for edits: a guest name is nobody in particular).
pub(super) fn check_topic(guest: bool) -> Result<(), super::error::ChatError> {
    if guest {
        return Err(super::error::ChatError::TopicNeedsAccount);
    }
    Ok(())
}

/// A change to an earlier message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amend {
    /// Replace its text with this one (already sanitised and filtered).
    Edit(String),
    /// Delete it: its text is erased from history and search.
    Delete,
    /// Set the room's topic to this text (already cleaned; empty clears
    /// it): not a change of a message, but an entry of the log too, so
    /// every member on every node hears of it in order.
    Topic(String),
}

impl Amend {
    /// The log entry this change is, for the message `target`.
    pub(super) fn revision(&self, target: u64) -> Revision {
        match self {
            Amend::Edit(_) => Revision::Edit(target),
            Amend::Delete => Revision::Delete(target),
            Amend::Topic(_) => Revision::Topic,
        }
    }

    /// The text its log entry carries: the new text, or none.
    pub(super) fn text(&self) -> &str {
        match self {
            Amend::Edit(t) | Amend::Topic(t) => t,
            Amend::Delete => "",
        }
    }
}

/// An edit, delete or topic change on its way to the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// The seq of the message it changes (unused for a topic).
    pub target: u64,
    /// What it does.
    pub amend: Amend,
    /// When the account asking for it was created (unix milliseconds):
    /// messages committed before that are someone else's (see the module
    /// doc). Unused for a topic and for guests, who may change nothing.
    pub since: u64,
}

/// The message an edit or delete targets, as its store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// Its sender's display name.
    pub name: String,
    /// True when a guest sent it.
    pub guest: bool,
    /// Its commit time, Unix milliseconds.
    pub ts: u64,
    /// What it is now.
    pub revision: Revision,
}

/// Whether `who` (a display name, whether a guest, and when its account
/// was created, Unix milliseconds) may change message `seq` of `room`,
/// found as `target`, at `now` (Unix milliseconds).
pub(super) fn check(
    target: Option<&Target>,
    (room, seq): (&str, u64),
    (who, guest, since): (&str, bool, u64),
    now: u64,
    window: Duration,
) -> Result<(), ChatError> {
    if guest {
        return Err(ChatError::NotAuthor(seq));
    }
    let t = match target {
        Some(t) if matches!(t.revision, Revision::Original | Revision::Edited) => t,
        Some(t) if t.revision == Revision::Deleted => return Err(ChatError::MessageDeleted(seq)),
        _ => return Err(ChatError::NoSuchMessage(room.to_owned(), seq)),
    };
    // `since` is u64::MAX when the asker has no account now (deleted
    // meanwhile, or the store failed): nobody's author.
    if t.guest || t.name != who || since == u64::MAX {
        return Err(ChatError::NotAuthor(seq));
    }
    if t.ts < since {
        // Said under this name before this account existed: by an
        // account deleted since, whose name this one took.
        return Err(ChatError::EarlierAccount(seq));
    }
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    if now.saturating_sub(t.ts) >= window_ms {
        return Err(ChatError::EditWindow { seq, window });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(600);

    fn said(name: &str, ts: u64, revision: Revision) -> Target {
        Target {
            name: name.into(),
            guest: false,
            ts,
            revision,
        }
    }

    #[test]
    fn the_author_may_change_a_message_inside_the_window_only() {
        let t = said("ann", 1_000, Revision::Original);
        let at = |now| check(Some(&t), ("lobby", 7), ("ann", false, 0), now, WINDOW);
        assert_eq!(at(1_000), Ok(()));
        assert_eq!(at(1_000 + 599_999), Ok(()));
        assert_eq!(
            at(1_000 + 600_000),
            Err(ChatError::EditWindow {
                seq: 7,
                window: WINDOW
            })
        );
        // An edited message may be edited again, within its first window.
        let e = said("ann", 1_000, Revision::Edited);
        assert_eq!(
            check(Some(&e), ("lobby", 7), ("ann", false, 0), 2_000, WINDOW),
            Ok(())
        );
    }

    #[test]
    fn others_guests_deleted_and_missing_messages_are_refused() {
        let t = said("ann", 0, Revision::Original);
        let who = |name, guest| check(Some(&t), ("lobby", 3), (name, guest, 0), 1, WINDOW);
        assert_eq!(who("bob", false), Err(ChatError::NotAuthor(3)));
        // A guest holding the author's name is still not the author.
        assert_eq!(who("ann", true), Err(ChatError::NotAuthor(3)));
        let mut g = said("~ann", 0, Revision::Original);
        g.guest = true;
        assert_eq!(
            check(Some(&g), ("lobby", 3), ("~ann", false, 0), 1, WINDOW),
            Err(ChatError::NotAuthor(3))
        );
        let d = said("ann", 0, Revision::Deleted);
        assert_eq!(
            check(Some(&d), ("lobby", 3), ("ann", false, 0), 1, WINDOW),
            Err(ChatError::MessageDeleted(3))
        );
        for entry in [Revision::Edit(1), Revision::Delete(1)] {
            let e = said("ann", 0, entry);
            assert_eq!(
                check(Some(&e), ("lobby", 3), ("ann", false, 0), 1, WINDOW),
                Err(ChatError::NoSuchMessage("lobby".into(), 3))
            );
        }
        assert_eq!(
            check(None, ("lobby", 3), ("ann", false, 0), 1, WINDOW),
            Err(ChatError::NoSuchMessage("lobby".into(), 3))
        );
    }

    #[test]
    fn a_name_registered_again_may_not_change_what_the_old_account_said() {
        // Ann said it at 5_000; her account was deleted and the name
        // registered again at 5_001 (milliseconds): the new Ann is not
        // its author, though the name and the window match.
        let t = said("ann", 5_000, Revision::Original);
        let by = |since| check(Some(&t), ("lobby", 9), ("ann", false, since), 6_000, WINDOW);
        assert_eq!(by(5_001), Err(ChatError::EarlierAccount(9)));
        // The account that said it (created before, or in the same
        // millisecond) still may.
        assert_eq!(by(5_000), Ok(()));
        assert_eq!(by(1), Ok(()));
        // No such account (deleted, or the store failed): nobody.
        assert_eq!(by(u64::MAX), Err(ChatError::NotAuthor(9)));
    }
}
