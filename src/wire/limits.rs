//! Size limits a frame must respect, checked before any memory is reserved.

use serde::{Deserialize, Serialize};

/// Default cap on the JSON header of one frame: 64 KiB.
pub const DEFAULT_MAX_HEADER: usize = 64 * 1024;

/// Default cap on the body of one frame: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

/// How large a frame may be, in each direction.
///
/// The decoder checks `header_len` and `"size"` against these values *before*
/// it reserves memory for them, so a peer can never make us allocate more
/// than `max_header + max_body` (plus the read buffer) per connection. The
/// encoder enforces the same values so that we never send what a peer with
/// the default limits would reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest accepted `header_len`, in bytes. 64 KiB is orders of
    /// magnitude above any real header (a chat message or a file name with
    /// its metadata is well under 1 KiB) yet small enough that parsing a
    /// hostile header costs microseconds and a little memory. Keep it at
    /// 1 KiB or more so that error replies always fit.
    pub max_header: usize,
    /// Largest accepted `"size"` (body length), in bytes. 8 MiB is enough
    /// for any single message and for a generous file chunk, while the
    /// memory one connection can pin stays small enough that the server's
    /// connection limit, not the peers, decides the total; whole files
    /// travel as a sequence of chunks, never as one body.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header: DEFAULT_MAX_HEADER,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}
