//! The line door's connection: waiting on input, the member's inbox, the
//! idle timer and shutdown at once, and writing with a stall limit.
//!
//! Input is read with `readable` + `try_read` into a buffer on the stack of
//! a plain function, and split into lines at once, so an idle member owns
//! no read buffer; lines not yet handled wait in a queue bounded by one
//! read's worth. Output is written as it comes, a batch of queued events
//! per write, and never buffered beyond that batch: a peer that stops
//! reading stalls our write, the hub's bounded queue fills, and the hub
//! cuts the member off (see [`crate::service::chat::ChatConfig`]).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::reader::{Input, LineSplitter};
use crate::net::{Conn, IdleTimer};
use crate::service::chat::{Event, Inbox};

/// Bytes read per system call: a typed line fits many times over, and at
/// most this much input is split into lines ahead of being handled.
const READ_CHUNK: usize = 4096;

/// How long a write may find the peer's socket full before we give up on
/// the peer: a person's terminal drains in milliseconds, so a minute of
/// stall means nobody is reading. (The hub usually cuts such a member off
/// sooner, when its queue fills.)
pub const WRITE_STALL: Duration = Duration::from_secs(60);

/// How long the last words (a cut-off or shutdown notice) may take to go
/// out: the peer may be the very one not reading.
pub const FINAL_WRITE_STALL: Duration = Duration::from_secs(2);

/// What woke the door.
#[derive(Debug)]
pub enum Wake {
    /// A unit of input.
    Input(Input),
    /// An event from the hub (`None`: the hub let go of the member).
    Event(Option<Event>),
    /// The peer closed its side (any unfinished line is dropped).
    Eof,
    /// No input and no output for the idle time.
    Idle,
    /// The server is stopping.
    Shutdown,
}

/// One line-door connection.
pub struct LineIo {
    conn: Conn,
    splitter: LineSplitter,
    pending: VecDeque<Input>,
    eof: bool,
    idle: IdleTimer,
    shutdown: CancellationToken,
}

impl LineIo {
    /// Wraps an accepted connection.
    pub fn new(conn: Conn, max_line: usize, idle: Duration, shutdown: CancellationToken) -> Self {
        // NODELAY: chat lines are small writes that must leave at once.
        let _ = conn.set_nodelay();
        LineIo {
            conn,
            splitter: LineSplitter::new(max_line),
            pending: VecDeque::new(),
            eof: false,
            idle: IdleTimer::new(idle),
            shutdown,
        }
    }

    /// The peer's IP address (TCP), for the login throttle.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.conn.peer_ip()
    }

    /// The longest line accepted.
    pub fn max_line(&self) -> usize {
        self.splitter.max()
    }

    /// Waits for the next thing to do. Input already split is handed out
    /// first; the inbox is watched only when given (after the greeting).
    pub async fn next(&mut self, mut inbox: Option<&mut Inbox>) -> io::Result<Wake> {
        loop {
            if let Some(input) = self.pending.pop_front() {
                return Ok(Wake::Input(input));
            }
            if self.eof {
                return Ok(Wake::Eof);
            }
            let recv = async {
                match inbox.as_deref_mut() {
                    Some(i) => i.recv().await,
                    None => std::future::pending().await,
                }
            };
            let readable = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Ok(Wake::Shutdown),
                ev = recv => return Ok(Wake::Event(ev)),
                r = self.conn.readable() => r,
                _ = self.idle.expired() => return Ok(Wake::Idle),
            };
            readable?;
            self.idle.touch();
            self.read_some()?;
        }
    }

    /// Reads what is there and splits it. Synchronous so that the buffer
    /// lives on this call's stack, never in the connection's future.
    fn read_some(&mut self) -> io::Result<()> {
        let mut buf = [0u8; READ_CHUNK];
        match self.conn.try_read(&mut buf) {
            Ok(0) => self.eof = true,
            Ok(n) => {
                let mut out = Vec::new();
                self.splitter.feed(&buf[..n], &mut out);
                self.pending.extend(out);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Writes bytes, giving up after [`WRITE_STALL`] of a full socket.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.conn.write_all_within(bytes, WRITE_STALL).await?;
        self.idle.touch();
        Ok(())
    }

    /// Writes a notice: `* text\r\n`.
    pub async fn notice(&mut self, text: &str) -> io::Result<()> {
        self.write(notice(text).as_bytes()).await
    }

    /// Writes several notices in one write.
    pub async fn notices<S: AsRef<str>>(&mut self, lines: &[S]) -> io::Result<()> {
        let all: String = lines.iter().map(|l| notice(l.as_ref())).collect();
        self.write(all.as_bytes()).await
    }

    /// Says a last notice (briefly: the peer may not be reading), then
    /// closes with a linger so the notice is read rather than reset away.
    pub async fn close_with(&mut self, text: &str) -> io::Result<()> {
        let sent = self
            .conn
            .write_all_within(notice(text).as_bytes(), FINAL_WRITE_STALL)
            .await;
        if sent.is_err() {
            return Ok(()); // not reading: just hang up
        }
        self.conn.linger_close(super::super::REFUSE_LINGER).await
    }
}

/// A notice line: `* text\r\n`.
pub fn notice(text: &str) -> String {
    format!("* {text}\r\n")
}
