//! A member's bounded outgoing queue, and the cut-off policy when it fills.
//!
//! The hub holds the [`Outbox`] and never waits on it: it offers each event
//! with `try_send`. When the queue is full the member is cut off on the spot
//! (as NATS does with slow consumers and IRC servers with a full send
//! queue): the flag is set, later events are not even offered, and the
//! door's next [`Inbox::recv`] returns [`Event::Dropped`] at once (discarding
//! what was still queued) and then `None`. So a client that never reads
//! never slows the room, and never holds more than the queue's capacity.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::event::Event;

/// What became of an offered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued for the member.
    Queued,
    /// The queue was full: the member has just been cut off.
    CutOff,
    /// The member was already cut off or has gone away.
    Gone,
    /// A presence event was left out because the queue is three-quarters
    /// full: joins and leaves are news, not history, and a burst of them
    /// (a thousand members leaving at once) must never cut anyone off.
    Skipped,
}

/// The hub's end of a member's queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Event>,
    cut: Arc<AtomicBool>,
}

/// The door's end of a member's queue.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Event>,
    cut: Arc<AtomicBool>,
    told: bool,
}

/// A queue of `capacity` events (at least 1).
pub fn channel(capacity: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let cut = Arc::new(AtomicBool::new(false));
    (
        Outbox {
            tx,
            cut: cut.clone(),
        },
        Inbox {
            rx,
            cut,
            told: false,
        },
    )
}

impl Outbox {
    /// Queues `event` without waiting; cuts the member off if it is full.
    pub fn offer(&self, event: Event) -> Offer {
        if self.cut.load(Ordering::Relaxed) {
            return Offer::Gone;
        }
        // Presence only while a quarter of the queue is free, so messages
        // always have room and a presence storm never cuts anyone off.
        if matches!(event, Event::Presence(_) | Event::Read(_))
            && self.tx.capacity() * 4 <= self.tx.max_capacity()
        {
            return Offer::Skipped;
        }
        match self.tx.try_send(event) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.cut.store(true, Ordering::Relaxed);
                Offer::CutOff
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// True once the member was cut off.
    pub fn is_cut_off(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    /// Events waiting in the queue now.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
    }

    /// True once the member was cut off or its door dropped the inbox:
    /// nothing offered will ever be read.
    pub fn is_dead(&self) -> bool {
        self.is_cut_off() || self.tx.is_closed()
    }
}

impl Inbox {
    /// The next event; [`Event::Dropped`] once if the member was cut off,
    /// then `None` (also `None` when the hub let go of the member).
    pub async fn recv(&mut self) -> Option<Event> {
        if let Some(end) = self.check_cut() {
            return end;
        }
        let ev = self.rx.recv().await;
        // A full queue is what cuts a member off, so the flag can only have
        // been set while events were waiting: report it before them.
        self.check_cut().unwrap_or(ev)
    }

    /// The next event if one is queued now, for doors that batch writes.
    pub fn try_recv(&mut self) -> Option<Event> {
        if let Some(end) = self.check_cut() {
            return end;
        }
        self.rx.try_recv().ok()
    }

    /// True once the member was cut off.
    pub fn is_cut_off(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    fn check_cut(&mut self) -> Option<Option<Event>> {
        if self.told {
            return Some(None);
        }
        if !self.cut.load(Ordering::Relaxed) {
            return None;
        }
        self.told = true;
        // Free what was queued: the client will never be sent it.
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        Some(Some(Event::Dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn presence_never_fills_the_last_quarter() {
        use super::super::event::{Change, DoorKind, Presence};
        let (out, _inbox) = channel(4);
        let p = || {
            let p = Presence::new(
                "r".into(),
                "n".into(),
                false,
                DoorKind::Line,
                Change::Joined,
            );
            Event::Presence(Arc::new(p))
        };
        for _ in 0..3 {
            assert_eq!(out.offer(p()), Offer::Queued);
        }
        assert_eq!(out.offer(p()), Offer::Skipped);
        assert!(!out.is_cut_off());
        assert_eq!(out.offer(Event::Dropped), Offer::Queued);
    }

    #[tokio::test]
    async fn full_queue_cuts_off_and_says_so_once() {
        let (out, mut inbox) = channel(2);
        assert_eq!(out.offer(Event::Dropped), Offer::Queued);
        assert_eq!(out.offer(Event::Dropped), Offer::Queued);
        assert_eq!(out.offer(Event::Dropped), Offer::CutOff);
        assert_eq!(out.offer(Event::Dropped), Offer::Gone);
        assert!(matches!(inbox.recv().await, Some(Event::Dropped)));
        assert!(inbox.recv().await.is_none());
        assert!(inbox.try_recv().is_none());
        assert!(inbox.is_cut_off());
    }

    #[tokio::test]
    async fn hub_letting_go_ends_the_inbox() {
        let (out, mut inbox) = channel(2);
        drop(out);
        assert!(inbox.recv().await.is_none());
    }
}
