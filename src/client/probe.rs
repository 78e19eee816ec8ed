//! The bytes of a probe: an 8-byte big-endian sequence number, then a
//! pattern derived from it.
//!
//! Any echo service (ours, socat's, ncat's) returns the bytes untouched, so
//! the reply alone tells which probe it answers, and a reply with the right
//! sequence number but other bytes is caught as corrupt. The pattern is
//! printable letters so a probe echoed through a terminal stays readable.

/// Bytes of the sequence number at the start of every probe; the smallest
/// probe that still says which one it is.
pub const SEQ_LEN: usize = 8;

/// Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP); one probe must
/// fit in one datagram.
pub const MAX_DATAGRAM: usize = crate::net::serve::MAX_DATAGRAM;

/// Largest probe over a stream: a bound on the buffers a typo can allocate.
pub const MAX_STREAM_PROBE: usize = 16 * 1024 * 1024;

/// The pattern byte at `offset` of probe `seq` (offset counts from the start
/// of the probe, so the sequence number's bytes are never patterned).
#[inline]
fn pattern(seq: u64, offset: usize) -> u8 {
    // Shifted by seq: a reply to another probe differs beyond its header too.
    b'a' + ((seq as usize).wrapping_add(offset) % 26) as u8
}

/// Fills `buf` (at least [`SEQ_LEN`] bytes) with probe `seq`.
pub fn fill(seq: u64, buf: &mut [u8]) {
    let (head, tail) = buf.split_at_mut(SEQ_LEN.min(buf.len()));
    head.copy_from_slice(&seq.to_be_bytes()[..head.len()]);
    for (i, b) in tail.iter_mut().enumerate() {
        *b = pattern(seq, SEQ_LEN + i);
    }
}

/// The sequence number a reply claims, if it is long enough to carry one.
pub fn seq_of(reply: &[u8]) -> Option<u64> {
    let head: [u8; SEQ_LEN] = reply.get(..SEQ_LEN)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// Whether `reply` is exactly probe `seq` of `size` bytes.
pub fn matches(seq: u64, size: usize, reply: &[u8]) -> bool {
    reply.len() == size
        && seq_of(reply) == Some(seq)
        && reply[SEQ_LEN..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(seq, SEQ_LEN + i))
}

/// Why a probe size cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Smaller than the sequence number.
    #[error(
        "size {0} is too small: every probe carries an {SEQ_LEN}-byte sequence number; use {SEQ_LEN} or more"
    )]
    TooSmall(usize),
    /// Larger than one UDP datagram can carry.
    #[error("size {0} does not fit in one UDP datagram; use at most {MAX_DATAGRAM}")]
    TooBigForUdp(usize),
    /// Larger than the stream limit.
    #[error("size {0} is larger than the {MAX_STREAM_PROBE}-byte limit")]
    TooBig(usize),
}

/// Checks a probe size for a transport (`udp` true for datagrams).
pub fn check_size(size: usize, udp: bool) -> Result<(), SizeError> {
    if size < SEQ_LEN {
        Err(SizeError::TooSmall(size))
    } else if udp && size > MAX_DATAGRAM {
        Err(SizeError::TooBigForUdp(size))
    } else if size > MAX_STREAM_PROBE {
        Err(SizeError::TooBig(size))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let mut buf = [0u8; 12];
        fill(0x0102_0304_0506_0708, &mut buf);
        assert_eq!(&buf[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(buf[8..].iter().all(u8::is_ascii_lowercase));
        assert_eq!(seq_of(&buf), Some(0x0102_0304_0506_0708));
        assert!(matches(0x0102_0304_0506_0708, 12, &buf));
    }

    #[test]
    fn detects_corruption_other_seq_and_other_size() {
        let mut buf = vec![0u8; 64];
        fill(7, &mut buf);
        assert!(matches(7, 64, &buf));
        assert!(!matches(8, 64, &buf));
        assert!(!matches(7, 64, &buf[..63]));
        buf[40] ^= 1;
        assert!(!matches(7, 64, &buf));
        assert_eq!(seq_of(&buf[..7]), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(check_size(7, false), Err(SizeError::TooSmall(7)));
        assert!(check_size(8, true).is_ok());
        assert!(check_size(65_507, true).is_ok());
        assert_eq!(
            check_size(65_508, true),
            Err(SizeError::TooBigForUdp(65_508))
        );
        assert!(check_size(65_536, false).is_ok());
        assert!(check_size(MAX_STREAM_PROBE + 1, false).is_err());
    }
}
