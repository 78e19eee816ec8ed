//! The perf door on UDP (`sockit serve --perf udp://ADDR`): counts the
//! datagrams of `sockit perf -u` tests (see `wire::perf_udp`) and answers
//! each test's END with its counts. It answers nothing else but a HELLO,
//! and never more than 3x the bytes a test sent it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::wire::perf_udp::{Datagram, Kind, Receiver, parse, prefix};

/// Tests counted at once, over all peers: each holds up to
/// `MAX_INTERVALS` intervals (~14 KiB), so this bounds the door's memory
/// (~1 MiB); a new test beyond it is ignored until others end.
pub const MAX_UDP_TESTS: usize = 64;

/// Tests at once from one IP address, so one host cannot take every slot.
pub const MAX_UDP_TESTS_PER_IP: usize = 8;

/// A test that has sent nothing for this long is forgotten (its END
/// retries come within a second or two of its last datagram).
pub const UDP_TEST_IDLE: Duration = Duration::from_secs(10);

/// Answers a test may get, per byte it sent: the project's 3x rule.
const AMPLIFICATION: u64 = 3;

/// One test's state.
struct Test {
    rx: Receiver,
    /// Bytes the test's peer sent us, and bytes we answered it.
    bytes_in: u64,
    bytes_out: u64,
    start: Instant,
    last: Instant,
}

/// The door's state: the tests in progress, keyed by peer and test id.
#[derive(Default)]
pub struct PerfUdp {
    tests: HashMap<(SocketAddr, u64), Test>,
    last_sweep: Option<Instant>,
}

impl std::fmt::Debug for PerfUdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfUdp")
            .field("tests", &self.tests.len())
            .finish_non_exhaustive()
    }
}

impl PerfUdp {
    /// Handles one datagram from `peer`; fills `out` and returns true
    /// when it is to be answered.
    pub fn datagram(&mut self, input: &[u8], peer: SocketAddr, out: &mut Vec<u8>) -> bool {
        let now = Instant::now();
        self.sweep(now);
        match parse(input) {
            // Stateless, and 13 bytes for a 64-byte HELLO.
            Some(Datagram::Hello { id }) => {
                prefix(out, Kind::Welcome, id);
                true
            }
            Some(Datagram::Data {
                id,
                seq,
                sent_ns,
                interval_ms,
            }) => {
                let Some(t) = self.test(peer, id, now) else {
                    return false;
                };
                t.last = now;
                t.bytes_in += input.len() as u64;
                let at = now.duration_since(t.start).as_secs_f64();
                t.rx.datagram(seq, sent_ns, interval_ms, input.len(), at);
                false
            }
            Some(Datagram::End { id, .. }) => {
                let Some(t) = self.tests.get_mut(&(peer, id)) else {
                    return false;
                };
                t.last = now;
                t.bytes_in += input.len() as u64;
                prefix(out, Kind::Result, id);
                if serde_json::to_writer(&mut *out, t.rx.result()).is_err() {
                    return false;
                }
                let budget = t.bytes_in.saturating_mul(AMPLIFICATION);
                if t.bytes_out + out.len() as u64 > budget {
                    tracing::debug!(%peer, "perf udp: result over 3x what the test sent; not sent");
                    return false;
                }
                t.bytes_out += out.len() as u64;
                true
            }
            // Our own kinds coming back, or not this format: no answer.
            _ => false,
        }
    }

    /// The test `(peer, id)`, created if there is room.
    fn test(&mut self, peer: SocketAddr, id: u64, now: Instant) -> Option<&mut Test> {
        let key = (peer, id);
        if !self.tests.contains_key(&key) {
            let from_ip = self
                .tests
                .keys()
                .filter(|(p, _)| p.ip() == peer.ip())
                .count();
            if self.tests.len() >= MAX_UDP_TESTS || from_ip >= MAX_UDP_TESTS_PER_IP {
                tracing::debug!(%peer, "perf udp: too many tests at once; datagram ignored");
                return None;
            }
            let t = Test {
                rx: Receiver::default(),
                bytes_in: 0,
                bytes_out: 0,
                start: now,
                last: now,
            };
            self.tests.insert(key, t);
        }
        self.tests.get_mut(&key)
    }

    /// Forgets idle tests, at most once a second.
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|s| now.duration_since(s) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        self.tests
            .retain(|_, t| now.duration_since(t.last) < UDP_TEST_IDLE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::perf_udp::{DATA_HEADER_LEN, HELLO_LEN, UdpResult, put_data};

    #[test]
    fn answers_stay_under_three_times_what_a_test_sent() {
        let mut door = PerfUdp::default();
        let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let mut out = Vec::new();
        // An END for an unknown test gets nothing.
        prefix(&mut out, Kind::End, 1);
        out.extend_from_slice(&1u64.to_be_bytes());
        let end = out.clone();
        assert!(!door.datagram(&end, peer, &mut out));
        // A HELLO gets a WELCOME under 3x its size.
        prefix(&mut out, Kind::Hello, 1);
        out.resize(HELLO_LEN, 0);
        let hello = out.clone();
        assert!(door.datagram(&hello, peer, &mut out));
        assert!(out.len() * 3 <= hello.len());
        // One small DATA then many ENDs: answers stop at the budget.
        let mut data = vec![0u8; DATA_HEADER_LEN];
        put_data(&mut data, 1, 0, 0, 1);
        assert!(!door.datagram(&data, peer, &mut out));
        let (mut sent, mut got) = (data.len(), 0);
        for _ in 0..100 {
            sent += end.len();
            if door.datagram(&end, peer, &mut out) {
                got += out.len();
                let r: UdpResult = match parse(&out) {
                    Some(Datagram::Result { body, .. }) => serde_json::from_slice(body).unwrap(),
                    other => panic!("{other:?}"),
                };
                assert_eq!(r.received, 1);
            }
            assert!(got <= 3 * sent, "{got} > 3 x {sent}");
        }
        assert!(got > 0);
    }

    #[test]
    fn tests_per_ip_are_capped() {
        let mut door = PerfUdp::default();
        let mut out = Vec::new();
        let mut data = vec![0u8; DATA_HEADER_LEN];
        for id in 0..100u64 {
            put_data(&mut data, id, 0, 0, 0);
            let peer: SocketAddr = format!("192.0.2.1:{}", 1000 + id).parse().unwrap();
            door.datagram(&data, peer, &mut out);
        }
        assert_eq!(door.tests.len(), MAX_UDP_TESTS_PER_IP);
    }
}
