//! The line door's connection: waiting on input, the member's inbox, the
//! idle timer and shutdown at once, and writing with a stall limit.
//!
//! The connection is any byte stream (`net::Stream`, or a
//! `tokio::io::duplex` in tests). Input is read into a buffer on the stack
//! of the poll that reads it, and split into lines at once, so an idle
//! member owns no read buffer; lines not yet handled wait in a queue bounded by one
//! read's worth. Output is written as it comes, a batch of queued events
//! per write, and never buffered beyond that batch: a peer that stops
//! reading stalls our write, the hub's bounded queue fills, and the hub
//! cuts the member off (see [`crate::service::chat::ChatConfig`]).

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use tokio_util::sync::CancellationToken;

use super::reader::{Input, LineSplitter};
use crate::net::{AsyncStream, IdleTimer, linger_close, write_all_within};
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
    conn: Box<dyn AsyncStream>,
    peer: Option<IpAddr>,
    splitter: LineSplitter,
    pending: VecDeque<Input>,
    eof: bool,
    idle: IdleTimer,
    shutdown: CancellationToken,
}

impl LineIo {
    /// Wraps a connection from `peer` (None: a Unix socket, or in memory).
    pub fn new(
        conn: impl AsyncStream + 'static,
        peer: Option<IpAddr>,
        max_line: usize,
        idle: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        LineIo {
            conn: Box::new(conn),
            peer,
            splitter: LineSplitter::new(max_line),
            pending: VecDeque::new(),
            eof: false,
            idle: IdleTimer::new(idle),
            shutdown,
        }
    }

    /// The peer's IP address (TCP), for the login throttle.
    pub fn peer_ip(&self) -> Option<IpAddr> {
        self.peer
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
            let (conn, splitter, pending) = (&mut self.conn, &mut self.splitter, &mut self.pending);
            let read = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Ok(Wake::Shutdown),
                ev = recv => return Ok(Wake::Event(ev)),
                r = std::future::poll_fn(|cx| poll_lines(conn, cx, splitter, pending)) => r,
                _ = self.idle.expired() => return Ok(Wake::Idle),
            };
            self.eof = read? == 0;
            self.idle.touch();
        }
    }

    /// Writes bytes, giving up after [`WRITE_STALL`] of a full socket.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_all_within(&mut self.conn, bytes, WRITE_STALL).await?;
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
        let sent =
            write_all_within(&mut self.conn, notice(text).as_bytes(), FINAL_WRITE_STALL).await;
        if sent.is_err() {
            return Ok(()); // not reading: just hang up
        }
        linger_close(&mut self.conn, super::super::REFUSE_LINGER).await
    }
}

/// Reads what is there and splits it into `pending`; the byte count (0 at
/// EOF). The buffer lives on this poll's stack, never in the connection's
/// future.
fn poll_lines(
    conn: &mut Box<dyn AsyncStream>,
    cx: &mut Context<'_>,
    splitter: &mut LineSplitter,
    pending: &mut VecDeque<Input>,
) -> Poll<io::Result<usize>> {
    let mut stack = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut buf = ReadBuf::uninit(&mut stack);
    std::task::ready!(Pin::new(conn).poll_read(cx, &mut buf))?;
    let got = buf.filled();
    if !got.is_empty() {
        let mut out = Vec::new();
        splitter.feed(got, &mut out);
        pending.extend(out);
    }
    Poll::Ready(Ok(got.len()))
}

/// A notice line: `* text\r\n`.
pub fn notice(text: &str) -> String {
    format!("* {text}\r\n")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

    use super::super::{ChatLineOpts, chat_lines_on};
    use super::*;
    use crate::service::Services;
    use crate::service::chat::{ChatConfig, LocalHub, NoAccounts};

    const IDLE: Duration = Duration::from_secs(600);

    /// A line-door member on one end of a pipe; the peer's end, read by line.
    fn member(opts: &ChatLineOpts) -> BufReader<DuplexStream> {
        let (peer, ours) = tokio::io::duplex(4096);
        tokio::spawn(chat_lines_on(ours, None, opts.clone()));
        BufReader::new(peer)
    }

    async fn line(peer: &mut BufReader<DuplexStream>) -> String {
        let mut l = String::new();
        peer.read_line(&mut l).await.unwrap();
        l
    }

    /// Reads lines until one contains `what`.
    async fn until(peer: &mut BufReader<DuplexStream>, what: &str) -> String {
        for _ in 0..20 {
            let l = line(peer).await;
            assert!(!l.is_empty(), "closed while waiting for {what:?}");
            if l.contains(what) {
                return l;
            }
        }
        panic!("no line with {what:?}");
    }

    #[tokio::test]
    async fn two_members_chat_over_in_memory_streams() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LocalHub::open(dir.path(), ChatConfig::default(), Arc::new(NoAccounts)).unwrap();
        let opts = ChatLineOpts {
            services: Services {
                chat: Some(hub),
                ..Services::default()
            },
            idle: IDLE,
            max_line: 1024,
            shutdown: CancellationToken::new(),
        };
        let mut ann = member(&opts);
        until(&mut ann, "what is your name?").await;
        ann.write_all(b"ann\r\n").await.unwrap();
        until(&mut ann, "you are ~ann").await;
        let mut bob = member(&opts);
        until(&mut bob, "what is your name?").await;
        bob.write_all(b"bob\n").await.unwrap();
        until(&mut ann, "~bob joined").await;
        bob.write_all(b"hi ann\n").await.unwrap();
        assert_eq!(until(&mut ann, "hi ann").await, "<~bob> hi ann\r\n");
        ann.write_all(b"/quit\n").await.unwrap();
        until(&mut ann, "bye").await;
        assert_eq!(line(&mut ann).await, "", "then the door closes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_never_reads_is_given_up_after_the_write_stall() {
        let (_peer, ours) = tokio::io::duplex(64);
        let mut io = LineIo::new(ours, None, 64, IDLE, CancellationToken::new());
        let started = tokio::time::Instant::now();
        let e = io.write(&[b'x'; 1024]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), WRITE_STALL);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_member_is_told_and_closed() {
        let (peer, ours) = tokio::io::duplex(4096);
        let mut io = LineIo::new(ours, None, 64, IDLE, CancellationToken::new());
        let started = tokio::time::Instant::now();
        assert!(matches!(io.next(None).await.unwrap(), Wake::Idle));
        assert_eq!(started.elapsed(), IDLE);
        io.close_with("idle for too long; bye").await.unwrap();
        drop(io);
        let mut peer = BufReader::new(peer);
        assert_eq!(line(&mut peer).await, "* idle for too long; bye\r\n");
    }
}
