//! The herald's view of the other nodes of a cluster: who of the room is
//! there, by name, as the cluster feed reads the presence table once a
//! heartbeat (`local::herald`).
//!
//! No notice crosses nodes: each node derives the announcements for its
//! own members from the same table `who` reads, under the same rules.
//! That is what makes the rules hold across nodes: a node killed with
//! `kill -9` cannot send its members' leaves, but its rows stop counting
//! once its heartbeat is older than the presence TTL, and every other
//! node then sees them go; and whether a person is news depends on all
//! their sessions, which only the table knows (one that moved from a
//! dead node to a live one within the window never left). The table is
//! written by the nodes themselves, so there is no payload to forge; a
//! row is read through typed columns, and what one read holds is bounded
//! (at most `PRESENCE_ROOM_MAX` + 1 names per room; above the limit
//! presence is off for the room anyway).
//!
//! A member on another node is seen late: up to one heartbeat before its
//! node writes it, one more before this node reads it. Its join therefore
//! waits the grace plus that lag (`Far::wait`), so that a member its own
//! node did not announce (gone within the grace) is announced by no node;
//! a leave waits the grace as on its own node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{FOLD_NAMES_MAX, Herald, Step, same};
use crate::service::chat::event::MemberInfo;
use crate::service::chat::room::Member;

/// A person on the other nodes: their name and whether a guest.
type Key = (Arc<str>, bool);

/// Who of the room is on the other nodes (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Far {
    members: HashMap<Key, Seen>,
    /// False until the first look: who is there then was there before,
    /// and is no news.
    looked: bool,
    /// How long someone seen on another node must stay before their join
    /// is announced: the grace plus the lag (zero with a grace of zero).
    wait: Duration,
}

/// One person seen on the other nodes.
#[derive(Debug)]
struct Seen {
    info: MemberInfo,
    /// When this node first saw them there.
    since: Instant,
    /// Whether the room heard them come (or had them before the first look).
    announced: bool,
}

fn key(info: &MemberInfo) -> Key {
    (info.name.clone(), info.guest)
}

impl Far {
    /// True when someone of `info`'s name is on another node and the
    /// room heard them come.
    pub fn announced(&self, info: &MemberInfo) -> bool {
        self.members.get(&key(info)).is_some_and(|s| s.announced)
    }

    /// Marks as announced those who have stayed their wait at `now`, and
    /// returns them, by name (so a line reads the same on every node).
    pub fn due(&mut self, now: Instant) -> Vec<MemberInfo> {
        let wait = self.wait;
        let mut due: Vec<MemberInfo> = (self.members.values_mut())
            .filter(|s| !s.announced && s.since + wait <= now)
            .map(|s| {
                s.announced = true;
                s.info.clone()
            })
            .collect();
        due.sort_by(|a, b| a.name.cmp(&b.name));
        due
    }

    /// When the next of those waiting falls due.
    pub fn next_due(&self) -> Option<Instant> {
        let waiting = self.members.values().filter(|s| !s.announced);
        waiting.map(|s| s.since + self.wait).min()
    }
}

impl Herald {
    /// The room's members on the other nodes are `seen` (at most one
    /// entry per person), read at `now`; `members` are this node's.
    /// Arrivals wait the grace plus `lag`, departures are told as leaves.
    pub fn remote(
        &mut self,
        room: &Arc<str>,
        seen: Vec<MemberInfo>,
        members: &[Arc<Member>],
        (now, grace, lag): (Instant, Duration, Duration),
    ) -> Step {
        self.far.wait = if grace.is_zero() {
            Duration::ZERO
        } else {
            grace + lag
        };
        let first = !std::mem::replace(&mut self.far.looked, true);
        let mut news = false;
        let gone: Vec<Key> = (self.far.members.keys())
            .filter(|k| !seen.iter().any(|s| key(s) == **k))
            .cloned()
            .collect();
        for k in gone {
            let Some(s) = self.far.members.remove(&k) else {
                continue;
            };
            // Gone within its wait (nobody heard it come), or still here
            // on this node: no leave.
            if !s.announced || self.adopt(&s.info, members) {
                continue;
            }
            if self.leaves.len() < FOLD_NAMES_MAX {
                self.leaves.push(s.info);
            } else {
                self.leaves_more += 1;
            }
            news = true;
        }
        for info in seen {
            let k = key(&info);
            if self.far.members.contains_key(&k) {
                continue;
            }
            // Here before the first look, back within the window after a
            // leave (a reconnect on another node), or announced here on
            // this node: not news.
            let announced = first || self.take_leave(&info) || self.near(&info, members);
            news |= !announced;
            let s = Seen {
                info,
                since: now,
                announced,
            };
            self.far.members.insert(k, s);
        }
        if !news {
            return Step::Quiet;
        }
        if grace.is_zero() {
            let out = self.flush(room, members, now, grace);
            return out.event.map_or(Step::Quiet, Step::Now);
        }
        self.schedule(now + grace)
    }

    /// Forgets the other nodes (the room went over the presence limit):
    /// the next look starts afresh, and announces nobody who was there.
    pub fn forget_far(&mut self) {
        self.far = Far::default();
    }

    /// True when someone of `info`'s name is here on this node and the
    /// room heard them come.
    fn near(&self, info: &MemberInfo, members: &[Arc<Member>]) -> bool {
        members
            .iter()
            .any(|m| self.announced.contains(&m.id) && same(&m.info(), info))
    }

    /// Someone of `info`'s name, announced on another node, is (also) on
    /// this one: their sessions here count as announced (it is the same
    /// person, moved). True when there is one.
    fn adopt(&mut self, info: &MemberInfo, members: &[Arc<Member>]) -> bool {
        let mut found = false;
        for m in members.iter().filter(|m| same(&m.info(), info)) {
            found = true;
            self.waiting.retain(|(id, _)| *id != m.id);
            self.announced.insert(m.id);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::chat::event::{DoorKind, Event};

    const GRACE: Duration = Duration::from_secs(5);
    const LAG: Duration = Duration::from_secs(2);

    fn who(name: &str) -> MemberInfo {
        MemberInfo {
            name: Arc::from(name),
            door: DoorKind::Frame,
            guest: false,
        }
    }

    fn notice(ev: Option<Event>) -> Option<String> {
        match ev {
            Some(Event::Presence(p)) => Some(p.notice()),
            _ => None,
        }
    }

    #[test]
    fn those_there_at_the_first_look_are_no_news_and_arrivals_wait_the_lag_too() {
        let room: Arc<str> = Arc::from("lobby");
        let mut h = Herald::default();
        let t0 = Instant::now();
        let at = |t| (t, GRACE, LAG);
        let step = h.remote(&room, vec![who("ann")], &[], at(t0));
        assert!(matches!(step, Step::Quiet), "{step:?}");
        let step = h.remote(&room, vec![who("ann"), who("bob")], &[], at(t0));
        assert!(matches!(step, Step::FlushAt(_)), "{step:?}");
        // Not at the grace: a member its own node did not announce is
        // announced by no node.
        assert_eq!(notice(h.flush(&room, &[], t0 + GRACE, GRACE).event), None);
        let out = h.flush(&room, &[], t0 + GRACE + LAG, GRACE);
        assert_eq!(notice(out.event).as_deref(), Some("bob joined lobby"));
        assert_eq!(out.next, None);
        // Gone: told once, after the grace.
        let step = h.remote(&room, vec![who("ann")], &[], at(t0 + GRACE * 3));
        assert!(matches!(step, Step::FlushAt(_)), "{step:?}");
        let out = h.flush(&room, &[], t0 + GRACE * 4, GRACE);
        assert_eq!(notice(out.event).as_deref(), Some("bob left lobby"));
        assert_eq!(
            notice(h.flush(&room, &[], t0 + GRACE * 5, GRACE).event),
            None
        );
    }

    #[test]
    fn come_and_gone_within_the_wait_and_moving_between_nodes_are_no_news() {
        let room: Arc<str> = Arc::from("lobby");
        let mut h = Herald::default();
        let t0 = Instant::now();
        let at = |t| (t, GRACE, LAG);
        h.remote(&room, vec![who("ann")], &[], at(t0));
        // Cid comes and goes before his wait is over.
        h.remote(&room, vec![who("ann"), who("cid")], &[], at(t0));
        h.remote(&room, vec![who("ann")], &[], at(t0 + GRACE));
        assert_eq!(
            notice(h.flush(&room, &[], t0 + GRACE * 3, GRACE).event),
            None
        );
        // Ann's node stops counting (killed); she is back on a third
        // node before the window ends: the same name, so no pair.
        h.remote(&room, vec![], &[], at(t0 + GRACE * 4));
        h.remote(&room, vec![who("ann")], &[], at(t0 + GRACE * 4 + LAG));
        assert_eq!(
            notice(h.flush(&room, &[], t0 + GRACE * 6, GRACE).event),
            None
        );
    }

    #[test]
    fn a_flood_of_arrivals_is_one_line_of_bounded_size() {
        let room: Arc<str> = Arc::from("big");
        let mut h = Herald::default();
        let t0 = Instant::now();
        h.remote(&room, vec![], &[], (t0, GRACE, LAG));
        let many: Vec<MemberInfo> = (0..400).map(|i| who(&format!("m{i}"))).collect();
        h.remote(&room, many, &[], (t0, GRACE, LAG));
        let out = h.flush(&room, &[], t0 + GRACE + LAG, GRACE);
        let Some(Event::Presence(p)) = out.event else {
            panic!("no line")
        };
        let s = p.summary_of().unwrap();
        assert_eq!((s.joined.len(), s.joined_more), (FOLD_NAMES_MAX, 380));
    }

    #[test]
    fn with_no_grace_changes_are_told_at_once() {
        let room: Arc<str> = Arc::from("lobby");
        let mut h = Herald::default();
        let t0 = Instant::now();
        h.remote(&room, vec![], &[], (t0, Duration::ZERO, LAG));
        let step = h.remote(&room, vec![who("bob")], &[], (t0, Duration::ZERO, LAG));
        let Step::Now(ev) = step else {
            panic!("{step:?}")
        };
        assert_eq!(notice(Some(ev)).as_deref(), Some("bob joined lobby"));
    }
}
