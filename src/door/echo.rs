//! Stream and datagram doors of the echo and upper services.
//!
//! Stream handlers wait for readiness and only then read into a buffer on the
//! stack of a plain function, so an idle connection owns no read buffer at all:
//! 10,000 idle peers cost a few hundred bytes each, not 64 KiB each.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::sync::CancellationToken;

use crate::net::{Conn, IdleTimer, bufpool};
use crate::service::{UpperLines, upper_case};

/// Bytes read per system call; matches the C reference server, large enough
/// that bulk transfers take few syscalls.
const READ_CHUNK: usize = 64 * 1024;

/// Reads taken from one connection before letting other tasks run, so a peer
/// that floods us cannot monopolise a worker thread.
const READS_PER_TURN: usize = 16;

/// What a peer of the upper service over the per-IP connection cap reads
/// before the server closes: the service's own `ERROR:` line.
pub const UPPER_BUSY: &[u8] =
    b"ERROR: too many connections from your address; close some and try again\n";

/// Settings of a stream connection.
#[derive(Debug, Clone)]
pub struct StreamOpts {
    /// Close a connection after this long without input.
    pub idle: Duration,
    /// Longest line the upper service buffers (excluding the newline).
    pub max_line: usize,
    /// Cancelled at shutdown: idle connections close, busy ones finish.
    pub shutdown: CancellationToken,
    /// Output the socket did not take at once must be written within this
    /// long, or the peer (which is not reading) is cut off.
    pub write_timeout: Duration,
}

/// The outcome of one burst of non-blocking reads.
enum Burst {
    /// Everything read was handled; wait for more.
    Done,
    /// The peer half-closed; `out` holds what is left to send.
    Eof(Vec<u8>),
    /// Output that did not fit in the socket buffer; send it, then go on.
    Pending(Vec<u8>),
    /// The service refused the input; send `out` then close.
    Refused(Vec<u8>),
}

/// A byte-stream service rule: input bytes in, output bytes out.
trait StreamRule {
    /// Turns received bytes into output, or refuses them with a message
    /// (which is sent, after which the connection closes).
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String>;
    /// Runs when the peer half-closes.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Echo: bytes back as they came.
struct Echo;

impl StreamRule for Echo {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(input);
        Ok(())
    }
}

impl StreamRule for UpperLines {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.feed(input, out).map_err(|e| e.to_string())
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        UpperLines::finish(self, out)
    }
}

/// Runs `rule` over the connection until EOF, idle timeout or shutdown.
async fn run_stream<R: StreamRule>(conn: Conn, opts: &StreamOpts, mut rule: R) -> io::Result<()> {
    // NODELAY: a reply is one small write that must leave now, not wait for
    // the ack of the previous one.
    let _ = conn.set_nodelay();
    let mut idle = IdleTimer::new(opts.idle);
    loop {
        if !super::next_input(&conn, &mut idle, &opts.shutdown).await? {
            return Ok(());
        }
        match burst(&conn, &mut rule)? {
            Burst::Done => {}
            Burst::Pending(rest) => conn.write_all_within(&rest, opts.write_timeout).await?,
            Burst::Eof(rest) => {
                conn.write_all_within(&rest, opts.write_timeout).await?;
                return conn.shutdown_write();
            }
            Burst::Refused(rest) => {
                conn.write_all_within(&rest, opts.write_timeout).await?;
                return conn.linger_close(super::REFUSE_LINGER).await;
            }
        }
    }
}

/// Reads until the socket is drained (or the turn ends) and writes the answers
/// directly while the socket accepts them. Synchronous on purpose: the read
/// buffer is the thread's spare (see `net::bufpool`), never held in the
/// connection's future, and never zeroed (a 64 KiB array on the stack was:
/// that memset was a tenth of a small echo's cost).
fn burst<R: StreamRule>(conn: &Conn, rule: &mut R) -> io::Result<Burst> {
    let mut buf = bufpool::take(READ_CHUNK);
    let result = burst_into(conn, rule, &mut buf);
    bufpool::give(&mut buf);
    result
}

fn burst_into<R: StreamRule>(conn: &Conn, rule: &mut R, buf: &mut BytesMut) -> io::Result<Burst> {
    let mut out = Vec::new();
    for _ in 0..READS_PER_TURN {
        buf.clear();
        let (n, drained) = match conn.read_buf_drained(buf) {
            Ok((0, _)) => {
                // `out` may still hold the previous read's answer, already sent.
                out.clear();
                rule.finish(&mut out);
                return Ok(Burst::Eof(out));
            }
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Burst::Done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        let refused = rule.step(&buf[..n], &mut out);
        if let Err(msg) = refused {
            tracing::debug!(%msg, "refused input");
            out.extend_from_slice(format!("ERROR: {msg}\n").as_bytes());
            return Ok(Burst::Refused(out));
        }
        let mut sent = 0;
        while sent < out.len() {
            match conn.try_write(&out[sent..]) {
                Ok(w) => sent += w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Burst::Pending(out.split_off(sent)));
                }
                Err(e) => return Err(e),
            }
        }
        if drained {
            // A short read means the socket is drained: skip a futile read.
            return Ok(Burst::Done);
        }
    }
    Ok(Burst::Done)
}

/// Echo over a stream: every byte back as it came; EOF is answered with EOF.
pub async fn echo_stream(conn: Conn, opts: StreamOpts) -> io::Result<()> {
    run_stream(conn, &opts, Echo).await
}

/// Upper over a stream: each line back upper-cased; over-long lines refused.
pub async fn upper_stream(conn: Conn, opts: StreamOpts) -> io::Result<()> {
    let rule = UpperLines::new(opts.max_line);
    run_stream(conn, &opts, rule).await
}

/// Echo over UDP: the datagram back, the empty one included.
pub fn echo_datagram(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(input);
    true
}

/// Upper over UDP: each datagram back upper-cased, never longer than it
/// came. Unicode upper-casing can make text longer (`ß` is `SS`, and some
/// characters triple), which would let a forged source use the service as
/// an amplifier; the answer is cut at the last whole character that fits
/// in the input's length, so UDP upper is at most a x1 reflector, as echo
/// is. (Streams are connected, so their lines are not cut.)
pub fn upper_datagram(input: &[u8], out: &mut Vec<u8>) -> bool {
    let upper = upper_case(input);
    let mut keep = upper.len().min(input.len());
    if keep < upper.len() {
        // Upper-casing only grows valid UTF-8, so the answer is UTF-8:
        // step back to a character boundary.
        while keep > 0 && (upper[keep] & 0xC0) == 0x80 {
            keep -= 1;
        }
    }
    out.extend_from_slice(&upper[..keep]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_upper_never_answers_more_than_it_got() {
        let up = |s: &str| {
            let mut out = Vec::new();
            upper_datagram(s.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(up("hello"), "HELLO");
        assert_eq!(up("zoë"), "ZOË");
        assert_eq!(up("straße"), "STRASSE"); // ß (2 bytes) -> SS: no growth
        let grows = "\u{1f0}".repeat(100); // ǰ (2 bytes) -> J̌ (3 bytes)
        let out = up(&grows);
        assert!(out.len() <= grows.len(), "{} > {}", out.len(), grows.len());
        assert!(out.starts_with("J\u{30c}"));
        let ligature = "\u{fb03}".repeat(50); // ﬃ (3 bytes) -> FFI
        assert_eq!(up(&ligature), "FFI".repeat(50));
    }
}
