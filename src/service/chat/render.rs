//! Render caches: each event is encoded at most once per renderer.
//!
//! The hub knows no door's format. A door that sends events renders them
//! with its own `Renderer` (see `event.rs`), which holds a [`RenderSlot`]
//! it claimed once at start-up; every message and presence event carries a
//! [`RenderCache`]: one lazily filled cell per slot. This module knows
//! nothing of events, so the event types depend on it and not back. A room of 1,000 line-door members gets one
//! `Arc<Message>`: the first member to write it fills the line door's
//! slot, and the other 999 copy the same `Bytes` (a reference count, not a
//! copy).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

/// How many renderers can claim a cache slot. Every event carries this many
/// cells (about 40 bytes each, allocated with the event, not per member):
/// the four doors use four, and the rest leave room for a new door or a
/// test without growing every event. A renderer that finds none left still
/// works, encoding per member instead of once (see [`RenderSlot::claim`]).
pub const RENDER_SLOTS: usize = 6;

/// Slots handed out so far, process-wide.
static CLAIMED: AtomicUsize = AtomicUsize::new(0);

/// A renderer's cell in every event's cache, claimed with
/// [`RenderSlot::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderSlot(Option<u8>);

impl RenderSlot {
    /// Claims the next free slot for the renderer called `name`. Claim once
    /// per renderer (keep the slot in a `static`), not per connection: slots
    /// are never given back. Past [`RENDER_SLOTS`] this logs a warning and
    /// returns [`RenderSlot::UNCACHED`].
    pub fn claim(name: &'static str) -> RenderSlot {
        let next = CLAIMED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < RENDER_SLOTS).then_some(n + 1)
        });
        match next.ok().and_then(|n| u8::try_from(n).ok()) {
            Some(n) => RenderSlot(Some(n)),
            None => {
                tracing::warn!(
                    renderer = name,
                    "all {RENDER_SLOTS} chat render slots are taken: this renderer encodes \
                     each event once per member"
                );
                RenderSlot::UNCACHED
            }
        }
    }

    /// No cache cell: every call renders afresh.
    pub const UNCACHED: RenderSlot = RenderSlot(None);
}

/// One lazily filled cell per [`RenderSlot`].
#[derive(Debug, Default)]
pub(super) struct RenderCache {
    slots: [OnceLock<Bytes>; RENDER_SLOTS],
}

impl RenderCache {
    /// The bytes in `slot`, filled by `render` if empty (every time for
    /// [`RenderSlot::UNCACHED`]).
    pub(super) fn get_or(&self, slot: RenderSlot, render: impl FnOnce() -> Bytes) -> Bytes {
        match slot.0.and_then(|i| self.slots.get(usize::from(i))) {
            Some(cell) => cell.get_or_init(render).clone(),
            None => render(),
        }
    }
}
