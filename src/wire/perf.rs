//! The perf door's wire format (`sockit serve --perf`, `sockit perf`): a
//! throughput test on one stream connection, no sockets here.
//!
//! ```text
//! client -> server  {"perf":1,"mode":"up"|"down"|"bidir","secs":10}\n
//! server -> client  {"ok":true}\n            (or {"error":"..."}\n, then close)
//! client -> server  raw bytes until the test ends (up, bidir), then EOF
//!                   (down: EOF right after the header)
//! server -> client  chunks: u32 big-endian length, then that many bytes,
//!                   for `secs` (down, bidir); then a zero length, then the
//!                   result line {"received":..,"sent":..,"secs":..,
//!                   "retransmits":..,"cpu_percent":..}\n, then close
//! ```
//! Framing the server's stream lets the result follow the data on the same
//! connection, so no control connection is needed.

use serde::{Deserialize, Serialize};

/// Longest header line the server reads (a real one is ~50 bytes).
pub const MAX_HEADER_LINE: usize = 512;

/// Longest test a client may ask for: a test holds a connection slot
/// and a core for its whole length, so it must end on its own.
pub const MAX_TEST_SECS: f64 = 600.0;

/// Payload bytes per chunk the server sends: large enough that the 4-byte
/// length costs nothing (0.003 %), small enough to bound the buffer.
pub const CHUNK_LEN: usize = 128 * 1024;

/// Which way the bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerfMode {
    /// Client to server (iperf3's default).
    Up,
    /// Server to client (iperf3 -R).
    Down,
    /// Both at once (iperf3 --bidir).
    Bidir,
}

/// What a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerfHeader {
    /// Format version: 1.
    pub perf: u32,
    /// Direction of the test.
    pub mode: PerfMode,
    /// How long the sending side sends, in seconds.
    pub secs: f64,
}

/// What the server measured, sent after its last chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfResult {
    /// Bytes the server received from the client.
    pub received: u64,
    /// Payload bytes the server sent.
    pub sent: u64,
    /// Seconds from the header to the end.
    pub secs: f64,
    /// TCP retransmissions of the server's socket (TCP_INFO), if known.
    pub retransmits: Option<u64>,
    /// CPU the server process used during the test, in percent of one core.
    pub cpu_percent: Option<f64>,
}

/// Parses and checks a header line (without its newline).
pub fn parse_header(line: &[u8]) -> Result<PerfHeader, String> {
    let h: PerfHeader = serde_json::from_slice(line).map_err(|e| {
        format!("bad perf header ({e}); send {{\"perf\":1,\"mode\":\"up\",\"secs\":10}}")
    })?;
    if h.perf != 1 {
        return Err(format!("perf version {} is not supported; use 1", h.perf));
    }
    if !(h.secs > 0.0 && h.secs <= MAX_TEST_SECS) {
        return Err(format!(
            "secs {} out of range; give more than 0 and at most {MAX_TEST_SECS}",
            h.secs
        ));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked() {
        let h = parse_header(br#"{"perf":1,"mode":"bidir","secs":2.5}"#).unwrap();
        assert_eq!(h.mode, PerfMode::Bidir);
        assert!(parse_header(br#"{"perf":2,"mode":"up","secs":1}"#).is_err());
        assert!(parse_header(br#"{"perf":1,"mode":"up","secs":0}"#).is_err());
        assert!(parse_header(br#"{"perf":1,"mode":"up","secs":601}"#).is_err());
        assert!(parse_header(br#"{"perf":1,"mode":"sideways","secs":1}"#).is_err());
        assert!(parse_header(b"GET / HTTP/1.1").is_err());
    }
}
