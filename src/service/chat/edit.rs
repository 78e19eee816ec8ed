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

/// Whether `who` (a display name, and whether a guest) may change message
/// `seq` of `room`, found as `target`, at `now` (Unix milliseconds).
pub(super) fn check(
    target: Option<&Target>,
    (room, seq): (&str, u64),
    (who, guest): (&str, bool),
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
    if t.guest || t.name != who {
        return Err(ChatError::NotAuthor(seq));
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
        let at = |now| check(Some(&t), ("lobby", 7), ("ann", false), now, WINDOW);
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
            check(Some(&e), ("lobby", 7), ("ann", false), 2_000, WINDOW),
            Ok(())
        );
    }

    #[test]
    fn others_guests_deleted_and_missing_messages_are_refused() {
        let t = said("ann", 0, Revision::Original);
        let who = |name, guest| check(Some(&t), ("lobby", 3), (name, guest), 1, WINDOW);
        assert_eq!(who("bob", false), Err(ChatError::NotAuthor(3)));
        // A guest holding the author's name is still not the author.
        assert_eq!(who("ann", true), Err(ChatError::NotAuthor(3)));
        let mut g = said("~ann", 0, Revision::Original);
        g.guest = true;
        assert_eq!(
            check(Some(&g), ("lobby", 3), ("~ann", false), 1, WINDOW),
            Err(ChatError::NotAuthor(3))
        );
        let d = said("ann", 0, Revision::Deleted);
        assert_eq!(
            check(Some(&d), ("lobby", 3), ("ann", false), 1, WINDOW),
            Err(ChatError::MessageDeleted(3))
        );
        for entry in [Revision::Edit(1), Revision::Delete(1)] {
            let e = said("ann", 0, entry);
            assert_eq!(
                check(Some(&e), ("lobby", 3), ("ann", false), 1, WINDOW),
                Err(ChatError::NoSuchMessage("lobby".into(), 3))
            );
        }
        assert_eq!(
            check(None, ("lobby", 3), ("ann", false), 1, WINDOW),
            Err(ChatError::NoSuchMessage("lobby".into(), 3))
        );
    }
}
