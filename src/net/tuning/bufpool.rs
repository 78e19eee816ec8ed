//! Spare connection buffers, kept per thread.
//!
//! A connection loop gives its buffers back whenever it falls idle, so an
//! idle peer holds no buffer memory. Handing them to the allocator and
//! asking again on the next message cost a malloc/free pair (and a
//! reallocation as the buffer grows) per request on a ping-pong peer;
//! here the thread keeps a few cleared buffers for the next connection
//! that wakes. Each shard runs on one thread, so no lock is taken.

use std::cell::RefCell;

use bytes::BytesMut;

/// Spare buffers a thread keeps at most.
const KEEP: usize = 32;

/// Buffers larger than this go back to the allocator: a pooled buffer
/// should not pin the memory of one burst forever.
const MAX_KEPT: usize = 64 * 1024;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// A cleared buffer with `min` bytes of room: a spare one when the thread
/// has one, otherwise a new one.
pub fn take(min: usize) -> BytesMut {
    let mut buf = SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    buf.reserve(min);
    buf
}

/// Gives `buf` back to the thread (its contents are dropped), leaving an
/// empty, unallocated buffer in its place.
pub fn give(buf: &mut BytesMut) {
    let mut buf = std::mem::take(buf);
    if buf.capacity() == 0 || buf.capacity() > MAX_KEPT {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < KEEP {
            s.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_cleared() {
        let mut b = take(100);
        b.extend_from_slice(b"left over");
        let ptr = b.as_ptr();
        give(&mut b);
        assert_eq!(b.capacity(), 0, "the caller keeps nothing");
        let again = take(10);
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
        assert!(again.is_empty());
    }

    #[test]
    fn large_buffers_are_not_kept() {
        let mut big = BytesMut::with_capacity(MAX_KEPT + 1);
        give(&mut big);
        let small = take(1);
        assert!(small.capacity() < MAX_KEPT + 1);
    }
}
