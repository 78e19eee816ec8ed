//! Presence that does not flood: one rule, in the hub, that every door
//! renders.
//!
//! A join is announced only once the member has stayed
//! [`presence_grace`](super::ChatConfig::presence_grace) (5 s by default),
//! and a leave only if the join was announced: `sockit say` (connect,
//! join, post, leave within a second) shows nobody coming or going. What
//! falls due in one window is folded into one event, "ann and ~bob joined
//! lobby; cid left", that each door shows as a quiet line; a member who
//! leaves and comes back under the same name within the window (a
//! reconnect) is neither. A window that holds exactly one change sends the
//! plain `join` or `leave` event. A grace of zero announces every join and
//! leave at once, one event each.
//!
//! The herald is a room's bookkeeping, kept under the room's lock; it has
//! no clock and no timer of its own. The hub asks it at each join and
//! leave, and one task per room (`local::herald`) flushes it when its
//! window ends. Memory: one entry per member waiting or announced, and at
//! most [`FOLD_NAMES_MAX`] names per direction per window (the rest are
//! counted).
//!
//! On a cluster the herald also hears of the room's members on the other
//! nodes, by name, as the cluster feed reads them (see `remote`): the
//! same rules apply to them, and a person counts as here while any
//! session of theirs is, on any node, so moving from one node to another
//! within the window is news to nobody.

mod remote;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::event::{Change, Event, MemberInfo, Presence, SessionId};
use super::room::Member;

/// How long a member must stay before its join is announced, and the
/// window in which joins and leaves are folded into one line: long enough
/// to cover `sockit say` and a reconnect, short enough that someone who
/// stays is greeted while still looking.
pub const DEFAULT_PRESENCE_GRACE: Duration = Duration::from_secs(5);

/// Most names one folded line lists per direction; past it they are
/// counted ("and 12 others"), which bounds the event and the herald.
pub const FOLD_NAMES_MAX: usize = 20;

/// The names one window folds together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Members announced as arrived (at most [`FOLD_NAMES_MAX`]).
    pub joined: Vec<Arc<str>>,
    /// Arrivals past [`FOLD_NAMES_MAX`], counted only.
    pub joined_more: usize,
    /// Members announced as gone (at most [`FOLD_NAMES_MAX`]).
    pub left: Vec<Arc<str>>,
    /// Departures past [`FOLD_NAMES_MAX`], counted only.
    pub left_more: usize,
}

impl Summary {
    /// "ann, bob and 3 others joined lobby; cid left" (either half may be
    /// absent).
    pub fn notice(&self, room: &str) -> String {
        let joined = list(&self.joined, self.joined_more);
        let left = list(&self.left, self.left_more);
        match (joined, left) {
            (Some(j), Some(l)) => format!("{j} joined {room}; {l} left"),
            (Some(j), None) => format!("{j} joined {room}"),
            (None, Some(l)) => format!("{l} left {room}"),
            (None, None) => String::new(),
        }
    }

    fn changes(&self) -> usize {
        self.joined.len() + self.joined_more + self.left.len() + self.left_more
    }
}

/// "a", "a and b", "a, b and c", "a, b and 4 others"; `None` when empty.
fn list(names: &[Arc<str>], more: usize) -> Option<String> {
    let mut parts: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    match more {
        0 => {}
        1 => parts.push("1 other".to_owned()),
        n => parts.push(format!("{n} others")),
    }
    let last = parts.pop()?;
    if parts.is_empty() {
        return Some(last);
    }
    Some(format!("{} and {last}", parts.join(", ")))
}

/// What the hub must do after telling the herald of a change.
#[derive(Debug)]
pub(super) enum Step {
    /// Deliver this event now (a grace of zero).
    Now(Event),
    /// Start the room's flush task, due at this instant (none runs yet).
    FlushAt(Instant),
    /// Nothing: the change is silent, or waits for a flush already due.
    Quiet,
}

/// What one flush announces.
#[derive(Debug)]
pub(super) struct Flushed {
    /// The event for the room, if anything fell due.
    pub event: Option<Event>,
    /// When to flush again (`None`: nothing waits, the task ends).
    pub next: Option<Instant>,
    /// The member whose join alone it announces: it was told its own
    /// join when it came, so it is not sent the event again.
    pub told: Vec<SessionId>,
}

/// One room's presence bookkeeping (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Herald {
    /// Members whose join is not announced yet, with when they joined.
    waiting: Vec<(SessionId, Instant)>,
    /// Members whose join was announced: their leave will be too.
    announced: HashSet<SessionId>,
    /// Departures due at the next flush.
    leaves: Vec<MemberInfo>,
    /// Departures past [`FOLD_NAMES_MAX`] in this window.
    leaves_more: usize,
    /// When the flush task wakes next; `None` while none runs.
    due: Option<Instant>,
    /// The room's members on the other nodes of a cluster.
    far: remote::Far,
}

impl Herald {
    /// `m` joined the room at `now`.
    pub fn joined(&mut self, room: &Arc<str>, m: &Member, now: Instant, grace: Duration) -> Step {
        if grace.is_zero() {
            self.announced.insert(m.id);
            return Step::Now(event_in(room, m.info(), Change::Joined));
        }
        let info = m.info();
        if self.take_leave(&info) || self.far.announced(&info) {
            // Back under the same name within the window (a reconnect), or
            // here already on another node: neither is news.
            self.announced.insert(m.id);
            return Step::Quiet;
        }
        self.waiting.push((m.id, now));
        self.schedule(now + grace)
    }

    /// `m` left the room (or was removed) at `now`; `announce` is false
    /// when its flood allowance is spent (the leave is then not told).
    pub fn left(
        &mut self,
        room: &Arc<str>,
        m: &Member,
        (now, grace): (Instant, Duration),
        announce: bool,
    ) -> Step {
        if let Some(pos) = self.waiting.iter().position(|(id, _)| *id == m.id) {
            // Gone within the grace period: nobody heard it come.
            self.waiting.swap_remove(pos);
            return Step::Quiet;
        }
        // Still here on another node: not gone.
        if !self.announced.remove(&m.id) || !announce || self.far.announced(&m.info()) {
            return Step::Quiet;
        }
        if grace.is_zero() {
            return Step::Now(event_in(room, m.info(), Change::Left));
        }
        if self.leaves.len() < FOLD_NAMES_MAX {
            self.leaves.push(m.info());
        } else {
            self.leaves_more += 1;
        }
        self.schedule(now + grace)
    }

    /// `id` was cut off: true when the room heard it come (and so should
    /// hear that it went).
    pub fn cut(&mut self, id: SessionId) -> bool {
        self.waiting.retain(|(w, _)| *w != id);
        self.announced.remove(&id)
    }

    /// True when the room heard `id` come: its renames are news too.
    pub fn is_announced(&self, id: SessionId) -> bool {
        self.announced.contains(&id)
    }

    /// Ends the window at `now`: announces the members of `members` who
    /// have stayed the grace period and the departures queued, as one
    /// event.
    pub fn flush(
        &mut self,
        room: &Arc<str>,
        members: &[Arc<Member>],
        now: Instant,
        grace: Duration,
    ) -> Flushed {
        let mut arrived: Vec<MemberInfo> = Vec::new();
        let mut told = Vec::new();
        let mut fold = Summary::default();
        let mut arrive = |info: MemberInfo, fold: &mut Summary| {
            // One line names a person once, however many sessions came.
            if arrived.iter().any(|a| same(a, &info)) {
                return false;
            }
            if arrived.len() < FOLD_NAMES_MAX {
                arrived.push(info);
            } else {
                fold.joined_more += 1;
            }
            true
        };
        let (announced, far) = (&mut self.announced, &self.far);
        self.waiting.retain(|&(id, since)| {
            if since + grace > now {
                return true;
            }
            if let Some(m) = members.iter().find(|m| m.id == id) {
                announced.insert(id);
                let info = m.info();
                // Announced already as here on another node: not news.
                if !far.announced(&info) && arrive(info, &mut fold) {
                    told.push(id);
                }
            }
            false
        });
        for info in self.far.due(now) {
            let here = members
                .iter()
                .any(|m| self.announced.contains(&m.id) && same(&m.info(), &info));
            if !here {
                arrive(info, &mut fold);
            }
        }
        let departed = std::mem::take(&mut self.leaves);
        fold.left_more = std::mem::take(&mut self.leaves_more);
        let near = self.waiting.iter().map(|(_, t)| *t + grace).min();
        self.due = match (near, self.far.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut out = Flushed {
            event: None,
            next: self.due,
            told,
        };
        if departed.len() + arrived.len() == 1 && fold.changes() == 0 {
            out.event = match (arrived.pop(), departed.into_iter().next()) {
                (Some(a), _) => Some(event_in(room, a, Change::Joined)),
                (None, Some(d)) => Some(event_in(room, d, Change::Left)),
                (None, None) => None,
            };
            return out;
        }
        // A line naming others too is news to those it names as well.
        out.told.clear();
        fold.joined = arrived.into_iter().map(|i| i.name).collect();
        fold.left = departed.into_iter().map(|i| i.name).collect();
        if fold.changes() > 0 {
            let p = Presence::summary(room.clone(), fold);
            out.event = Some(Event::Presence(Arc::new(p)));
        }
        out
    }

    /// A flush at `at` unless one is already due (it will take this change).
    fn schedule(&mut self, at: Instant) -> Step {
        if self.due.is_some() {
            return Step::Quiet;
        }
        self.due = Some(at);
        Step::FlushAt(at)
    }

    /// Forgets that a flush is due (its task could not be started).
    pub fn unschedule(&mut self) {
        self.due = None;
    }

    /// Takes back a leave queued for someone of `info`'s name: they are
    /// back within the window (a reconnect, on this node or another).
    fn take_leave(&mut self, info: &MemberInfo) -> bool {
        match self.leaves.iter().position(|l| same(l, info)) {
            Some(pos) => {
                self.leaves.swap_remove(pos);
                true
            }
            None => false,
        }
    }
}

/// True when two members show as the same person.
fn same(a: &MemberInfo, b: &MemberInfo) -> bool {
    a.name == b.name && a.guest == b.guest
}

fn event_in(room: &Arc<str>, info: MemberInfo, change: Change) -> Event {
    let p = Presence::new(room.clone(), info.name, info.guest, info.door, change);
    Event::Presence(Arc::new(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<Arc<str>> {
        v.iter().map(|n| Arc::from(*n)).collect()
    }

    #[test]
    fn folded_lines_read_as_sentences() {
        let f = Summary {
            joined: names(&["ann", "~bob"]),
            left: names(&["cid"]),
            ..Summary::default()
        };
        assert_eq!(f.notice("lobby"), "ann and ~bob joined lobby; cid left");
        let f = Summary {
            left: names(&["a", "b", "c"]),
            left_more: 4,
            ..Summary::default()
        };
        assert_eq!(f.notice("dev"), "a, b, c and 4 others left dev");
        let f = Summary {
            joined: names(&["a"]),
            joined_more: 1,
            ..Summary::default()
        };
        assert_eq!(f.notice("dev"), "a and 1 other joined dev");
    }
}
