//! The perf door's UDP format (`sockit perf -u`): datagrams that carry a
//! sequence number and a send timestamp, and the receiver's accounting of
//! loss, RFC 3550 jitter and reordering. No sockets, no clock here.
//!
//! ```text
//! every datagram    "SKPU" (4 bytes), kind (u8), test id (u64 BE), ...
//! kind 1 HELLO      c->s  padding to at least 64 bytes
//! kind 2 WELCOME    s->c  nothing more (13 bytes: under 3x a HELLO)
//! kind 3 DATA       c->s  seq (u64), send time in ns since the test's
//!                         start (u64), interval in ms (u32), padding
//! kind 4 END        c->s  datagrams sent (u64)
//! kind 5 RESULT     s->c  a JSON UdpResult
//! ```
//! The server keeps no state for a HELLO and answers a test's END only
//! while its answers stay within 3x the bytes that test sent it (the
//! project's anti-amplification rule). All integers are big-endian.

use serde::{Deserialize, Serialize};

/// Every datagram of the format starts with these bytes.
pub const MAGIC: &[u8; 4] = b"SKPU";
/// Magic, kind and test id.
pub const PREFIX_LEN: usize = 13;
/// A DATA datagram's fixed part: prefix, seq, send time, interval.
pub const DATA_HEADER_LEN: usize = PREFIX_LEN + 8 + 8 + 4;
/// A HELLO is padded to this, so the WELCOME is far under 3x of it.
pub const HELLO_LEN: usize = 64;
/// Intervals a server keeps per test: -t 600 at -i 1. Beyond it, later
/// datagrams count in the last interval; bounds the per-test memory.
pub const MAX_INTERVALS: usize = 600;

/// What a datagram is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The client asks whether a perf door is there.
    Hello = 1,
    /// The server's yes.
    Welcome = 2,
    /// Test traffic.
    Data = 3,
    /// The client has sent everything.
    End = 4,
    /// The server's counts.
    Result = 5,
}

/// A datagram, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// HELLO.
    Hello {
        /// Test id.
        id: u64,
    },
    /// WELCOME.
    Welcome {
        /// Test id.
        id: u64,
    },
    /// DATA.
    Data {
        /// Test id.
        id: u64,
        /// Sequence number, from 0.
        seq: u64,
        /// Send time, ns since the sender's start.
        sent_ns: u64,
        /// Interval length in ms (0: none).
        interval_ms: u32,
    },
    /// END.
    End {
        /// Test id.
        id: u64,
        /// Datagrams the client sent.
        sent: u64,
    },
    /// RESULT: the JSON body.
    Result {
        /// Test id.
        id: u64,
        /// A JSON [`UdpResult`].
        body: &'a [u8],
    },
}

/// Writes the magic, kind and id into `out` (cleared first).
pub fn prefix(out: &mut Vec<u8>, kind: Kind, id: u64) {
    out.clear();
    out.extend_from_slice(MAGIC);
    out.push(kind as u8);
    out.extend_from_slice(&id.to_be_bytes());
}

/// Writes a DATA header at the start of `buf` (at least [`DATA_HEADER_LEN`]).
pub fn put_data(buf: &mut [u8], id: u64, seq: u64, sent_ns: u64, interval_ms: u32) {
    buf[..4].copy_from_slice(MAGIC);
    buf[4] = Kind::Data as u8;
    buf[5..13].copy_from_slice(&id.to_be_bytes());
    buf[13..21].copy_from_slice(&seq.to_be_bytes());
    buf[21..29].copy_from_slice(&sent_ns.to_be_bytes());
    buf[29..33].copy_from_slice(&interval_ms.to_be_bytes());
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a datagram; `None` for anything not of this format.
pub fn parse(b: &[u8]) -> Option<Datagram<'_>> {
    if b.get(..4)? != MAGIC {
        return None;
    }
    let id = u64_at(b, 5)?;
    Some(match b[4] {
        1 if b.len() >= HELLO_LEN => Datagram::Hello { id },
        2 => Datagram::Welcome { id },
        3 => Datagram::Data {
            id,
            seq: u64_at(b, 13)?,
            sent_ns: u64_at(b, 21)?,
            interval_ms: u32::from_be_bytes(b.get(29..33)?.try_into().ok()?),
        },
        4 => Datagram::End {
            id,
            sent: u64_at(b, 13)?,
        },
        5 => Datagram::Result {
            id,
            body: &b[PREFIX_LEN..],
        },
        _ => return None,
    })
}

/// One interval as the receiver counted it (by the datagrams' send time,
/// so it lines up with the sender's own intervals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RecvInterval {
    /// Datagrams received that were sent in this interval.
    pub received: u64,
    /// Of those, how many came after a later-numbered one.
    pub out_of_order: u64,
    /// Smoothed jitter (RFC 3550) after this interval's last datagram, ms.
    pub jitter_ms: f64,
}

/// What the server sends back in a RESULT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpResult {
    /// Datagrams received (duplicates count again).
    pub received: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Datagrams that came after a later-numbered one.
    pub out_of_order: u64,
    /// Smoothed interarrival jitter (RFC 3550 §6.4.1) at the end, in ms.
    pub jitter_ms: f64,
    /// Seconds from the first datagram to the last.
    pub secs: f64,
    /// Per interval, indexed by send time (empty without intervals).
    pub intervals: Vec<RecvInterval>,
}

/// The receiver's accounting for one test.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    r: UdpResult,
    /// The next sequence number expected; lower ones are out of order.
    next_seq: u64,
    /// The previous datagram's transit time (arrival - send), seconds.
    last_transit: Option<f64>,
    /// Jitter in seconds, unrounded.
    jitter: f64,
    first_arrival: Option<f64>,
}

impl Receiver {
    /// Counts a DATA datagram of `len` bytes that arrived at `arrival`
    /// seconds (the receiver's clock, any origin).
    pub fn datagram(&mut self, seq: u64, sent_ns: u64, interval_ms: u32, len: usize, arrival: f64) {
        let r = &mut self.r;
        r.received += 1;
        r.bytes += len as u64;
        let first = *self.first_arrival.get_or_insert(arrival);
        r.secs = (arrival - first).max(r.secs);
        let ooo = seq < self.next_seq;
        if ooo {
            r.out_of_order += 1;
        } else {
            self.next_seq = seq.saturating_add(1);
        }
        // RFC 3550 §6.4.1: D = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16.
        let transit = arrival - sent_ns as f64 / 1e9;
        if let Some(last) = self.last_transit {
            self.jitter += ((transit - last).abs() - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        r.jitter_ms = self.jitter * 1e3;
        if interval_ms > 0 {
            let idx = (sent_ns / (u64::from(interval_ms) * 1_000_000)) as usize;
            let idx = idx.min(MAX_INTERVALS - 1);
            if r.intervals.len() <= idx {
                r.intervals.resize(idx + 1, RecvInterval::default());
            }
            let i = &mut r.intervals[idx];
            i.received += 1;
            i.out_of_order += u64::from(ooo);
            i.jitter_ms = r.jitter_ms;
        }
    }

    /// The counts so far.
    pub fn result(&self) -> &UdpResult {
        &self.r
    }
}

/// Datagrams lost of `sent`, given `received` (duplicates can make
/// received exceed sent; loss is then 0), and that as a percentage.
pub fn loss(sent: u64, received: u64) -> (u64, f64) {
    let lost = sent.saturating_sub(received);
    let pct = if sent == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / sent as f64
    };
    (lost, pct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_round_trip() {
        let mut b = vec![0u8; 100];
        put_data(&mut b, 7, 9, 1_500_000_000, 1000);
        assert_eq!(
            parse(&b),
            Some(Datagram::Data {
                id: 7,
                seq: 9,
                sent_ns: 1_500_000_000,
                interval_ms: 1000
            })
        );
        let mut out = Vec::new();
        prefix(&mut out, Kind::End, 7);
        out.extend_from_slice(&42u64.to_be_bytes());
        assert_eq!(parse(&out), Some(Datagram::End { id: 7, sent: 42 }));
        prefix(&mut out, Kind::Hello, 1);
        assert_eq!(parse(&out), None, "an unpadded HELLO is refused");
        out.resize(HELLO_LEN, 0);
        assert_eq!(parse(&out), Some(Datagram::Hello { id: 1 }));
        assert_eq!(parse(b"SKPU\x03short"), None);
        assert_eq!(parse(b"hello"), None);
    }

    #[test]
    fn reordering_and_loss_are_counted() {
        let mut r = Receiver::default();
        // Sent 0..10 at 1 ms apart, 100 ms intervals; 3 and 7 lost, 5
        // arrives after 6.
        for (seq, at) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (4, 4),
            (6, 6),
            (5, 7),
            (8, 8),
            (9, 9),
        ] {
            r.datagram(seq, seq * 1_000_000, 100, 100, f64::from(at) / 1e3);
        }
        let res = r.result();
        assert_eq!(res.received, 8);
        assert_eq!(res.out_of_order, 1);
        assert_eq!(loss(10, res.received), (2, 20.0));
        assert_eq!(res.bytes, 800);
        assert_eq!(res.intervals.len(), 1);
        assert_eq!(res.intervals[0].received, 8);
        // Transit was constant except for seq 5 (2 ms late): jitter > 0.
        assert!(res.jitter_ms > 0.0 && res.jitter_ms < 2.0, "{res:?}");
        // More received than sent (duplicates) is no loss, not a panic.
        assert_eq!(loss(1, 2), (0, 0.0));
        assert_eq!(loss(0, 0), (0, 0.0));
    }

    #[test]
    fn constant_transit_has_no_jitter_and_intervals_follow_send_time() {
        let mut r = Receiver::default();
        for seq in 0..30u64 {
            // 10 ms apart, 5 ms transit; 100 ms intervals.
            let sent = seq * 10_000_000;
            r.datagram(seq, sent, 100, 50, sent as f64 / 1e9 + 0.005);
        }
        let res = r.result();
        assert!(res.jitter_ms.abs() < 1e-9, "{res:?}");
        let per: Vec<u64> = res.intervals.iter().map(|i| i.received).collect();
        assert_eq!(per, [10, 10, 10]);
        // A send time far in the future cannot grow the table past its cap.
        r.datagram(30, u64::MAX, 1, 50, 1.0);
        assert_eq!(r.result().intervals.len(), MAX_INTERVALS);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut r = Receiver::default();
        // Transits 0, 16 ms: D = 16 ms, J = 16/16 = 1 ms.
        r.datagram(0, 0, 0, 1, 0.0);
        r.datagram(1, 0, 0, 1, 0.016);
        assert!((r.result().jitter_ms - 1.0).abs() < 1e-9);
    }
}
