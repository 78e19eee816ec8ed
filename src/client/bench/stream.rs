//! The TCP, Unix and TLS engine of `bench`: one task per connection that
//! reads, issues and writes in turn, never blocking one direction on the other (a
//! deep pipeline or a bulk stream would otherwise deadlock against a server
//! whose replies fill our receive buffer while we wait to write).
//!
//! A stream keeps order and every reply has a known length (see
//! [`crate::client::probe_format`]), so the `k`th reply-sized piece that comes back
//! answers the `k`th message sent: send times sit in a ring of
//! `depth` entries (closed loop) or are computed from the schedule (open
//! loop); nothing is allocated per message.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::pace::{self, Pacer};
use super::plan::{ConnMode, Live, Plan, Tally};
use crate::client::probe;
use crate::net::Stream;

/// Bytes per read: a 64 KiB bulk message or a thousand pipelined small ones
/// in one system call.
const READ_BUF: usize = 64 * 1024;

/// At least this many bytes are offered per write call.
const WRITE_SPAN: usize = 64 * 1024;

/// Reads (or writes) per turn before turning to the other direction, so a
/// flood one way cannot starve the other.
const CALLS_PER_TURN: usize = 8;

/// Runs one connection until the plan's end; returns what it measured.
pub(super) async fn run(conn: Stream, plan: Plan, live: Live) -> io::Result<Tally> {
    let mut pacer = match plan.mode {
        ConnMode::Open(s) => Some(Pacer::new(
            s.first.saturating_duration_since(Instant::now()),
            pace::period(s.interval()),
        )?),
        _ => None,
    };
    let mut flow = Flow::new(conn, plan, live);
    let mut inbuf = vec![0u8; READ_BUF];
    if let Err(e) = flow.drive(&mut inbuf, pacer.as_mut()).await {
        flow.tally.fail(e);
    }
    Ok(flow.finish())
}

struct Flow {
    conn: Stream,
    plan: Plan,
    /// The request repeated, so a write may start anywhere inside one
    /// request and carry many.
    out: Vec<u8>,
    /// Bytes of one request.
    req_len: usize,
    /// The reply each request must get.
    expect: Vec<u8>,
    /// Messages handed to the writer.
    issued: u64,
    /// Bytes the stream accepted.
    written: u64,
    /// Bytes written since the stream last flushed (TLS keeps records).
    unflushed: bool,
    /// Replies completely received.
    completed: u64,
    /// Bytes of the current reply received so far.
    pos: usize,
    /// The current reply differs from the message somewhere.
    bad: bool,
    /// Closed loop: when message `k` was issued, at `k % depth`.
    issued_at: Vec<Instant>,
    tally: Tally,
    live: Live,
}

impl Flow {
    fn new(conn: Stream, plan: Plan, live: Live) -> Flow {
        let mut payload = vec![0u8; plan.size];
        probe::fill(0, &mut payload);
        let (msg, expect) = plan.proto.message(&payload);
        let copies = WRITE_SPAN.div_ceil(msg.len()) + 1;
        let depth = match plan.mode {
            ConnMode::Closed { depth } => depth,
            _ => 0,
        };
        Flow {
            conn,
            plan,
            out: msg.repeat(copies),
            req_len: msg.len(),
            expect,
            issued: 0,
            written: 0,
            unflushed: false,
            completed: 0,
            pos: 0,
            bad: false,
            issued_at: vec![plan.from; depth],
            tally: Tally::default(),
            live,
        }
    }

    async fn drive(&mut self, inbuf: &mut [u8], mut pacer: Option<&mut Pacer>) -> io::Result<()> {
        let end = tokio::time::sleep_until(self.plan.until);
        tokio::pin!(end);
        // Before the end, a churned connection stops issuing and drains.
        let last_issue = tokio::time::sleep_until(self.plan.issue_until);
        tokio::pin!(last_issue);
        let stop = self.live.stop.clone();
        let mut draining = false;
        loop {
            let now = Instant::now();
            if now >= self.plan.until {
                return Ok(());
            }
            if now >= self.plan.issue_until
                && (self.completed == self.issued || matches!(self.plan.mode, ConnMode::Stream))
            {
                // Everything owed has come back: the connection's life is over.
                self.plan.until = now;
                return Ok(());
            }
            // Each turn costs tokio's cooperative budget when ready at once,
            // so a connection that always has work still yields.
            tokio::select! {
                biased;
                _ = &mut end => return Ok(()),
                // Ctrl-C: the run ends now, as if planned so.
                () = stop.cancelled() => {
                    self.plan.until = Instant::now();
                    return Ok(());
                }
                () = &mut last_issue, if !draining => draining = true,
                r = std::future::poll_fn(|cx| self.poll_turn(cx, inbuf)) => r?,
                r = pace::tick(&mut pacer), if !draining => r?,
            }
        }
    }

    /// One turn: reads what has arrived, issues what the mode allows, and
    /// writes what is owed. `Ready` once anything moved; `Pending` (with
    /// the stream set to wake us) when neither direction can.
    fn poll_turn(&mut self, cx: &mut Context<'_>, inbuf: &mut [u8]) -> Poll<io::Result<()>> {
        let read = self.poll_read(cx, inbuf)?;
        self.issue(Instant::now());
        let wrote = self.poll_write(cx)?;
        if read || wrote {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Hands the writer every message the mode allows now.
    fn issue(&mut self, now: Instant) {
        if now >= self.plan.issue_until {
            // Open loop: the messages due up to the last instant still go.
            if let ConnMode::Open(s) = self.plan.mode {
                self.issued = self.issued.max(s.due(self.plan.issue_until));
            }
            return;
        }
        match self.plan.mode {
            ConnMode::Closed { depth } => {
                while self.issued - self.completed < depth as u64 {
                    self.issued_at[(self.issued % depth as u64) as usize] = now;
                    self.issued += 1;
                }
            }
            ConnMode::Open(s) => self.issued = self.issued.max(s.due(now)),
            ConnMode::Stream => {}
        }
    }

    /// Writes what is owed until the stream would block or the turn ends,
    /// then flushes; whether any bytes moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let size = self.req_len as u64;
        let mut moved = false;
        for _ in 0..CALLS_PER_TURN {
            let owed = match self.plan.mode {
                ConnMode::Stream => u64::MAX,
                _ => self.issued * size - self.written,
            };
            if owed == 0 {
                break;
            }
            let off = (self.written % size) as usize;
            let n = (self.out.len() - off).min(usize::try_from(owed).unwrap_or(usize::MAX));
            match Pin::new(&mut self.conn).poll_write(cx, &self.out[off..off + n]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(w)) => {
                    self.written += w as u64;
                    moved = true;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.conn).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(moved)
    }

    /// Reads what has arrived (a bounded number of times); whether any
    /// bytes came. A short read leaves the stream marked not readable, so
    /// the read after it costs no system call.
    fn poll_read(&mut self, cx: &mut Context<'_>, inbuf: &mut [u8]) -> io::Result<bool> {
        let mut got = false;
        for _ in 0..CALLS_PER_TURN {
            let mut rb = ReadBuf::new(inbuf);
            match Pin::new(&mut self.conn).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed by the server",
                        ));
                    }
                    self.absorb(&inbuf[..n], Instant::now());
                    got = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        Ok(got)
    }

    /// Checks received bytes against the message and completes replies.
    fn absorb(&mut self, mut chunk: &[u8], now: Instant) {
        let size = self.expect.len();
        let counted = now >= self.plan.from;
        // Streaming counts every byte as it lands; the other modes count
        // whole replies, so that bytes = messages * size.
        if counted && matches!(self.plan.mode, ConnMode::Stream) {
            self.tally.bytes += chunk.len() as u64;
        }
        while !chunk.is_empty() {
            let n = chunk.len().min(size - self.pos);
            self.bad |= chunk[..n] != self.expect[self.pos..self.pos + n];
            self.pos += n;
            chunk = &chunk[n..];
            if self.pos == size {
                self.pos = 0;
                self.complete(now, counted);
            }
        }
    }

    fn complete(&mut self, now: Instant, counted: bool) {
        let k = self.completed;
        self.completed += 1;
        if std::mem::take(&mut self.bad) {
            self.tally.mismatched += 1;
        }
        if !counted {
            return;
        }
        self.tally.messages += 1;
        let sent = match self.plan.mode {
            ConnMode::Closed { depth } => self.issued_at[(k % depth as u64) as usize],
            ConnMode::Open(s) => s.at(k),
            ConnMode::Stream => return,
        };
        if self.plan.proto.carries_payload() {
            self.tally.bytes += self.plan.size as u64;
        }
        let latency = now.saturating_duration_since(sent);
        self.tally.latency.record(latency);
        self.live.record(latency);
    }

    /// Counts as timeouts the messages still unanswered `timeout` after they
    /// were issued (or due) when the run ended.
    fn finish(mut self) -> Tally {
        let stale = self.plan.until.checked_sub(self.plan.timeout);
        for k in self.completed..self.issued {
            let sent = match self.plan.mode {
                ConnMode::Closed { depth } => self.issued_at[(k % depth as u64) as usize],
                ConnMode::Open(s) => s.at(k),
                ConnMode::Stream => break,
            };
            self.tally.timeouts += u64::from(stale.is_some_and(|s| sent <= s));
        }
        self.tally
    }
}
