//! nc-style pipes: copy between a byte stream pair (stdin/stdout in the CLI)
//! and a TCP, UDP or Unix socket, as the client (`connect`) or the server
//! (`listen`).
//!
//! The functions take any `AsyncRead`/`AsyncWrite` pair, so tests can drive
//! them in memory; the CLI hands in the process's stdin and stdout. Every
//! direction copies through one fixed buffer, so nothing here buffers without
//! bound.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::net::tls::ServerTls;
use crate::net::{Acl, BindError, Bound, Endpoint, Transport};

pub use exec::Program;
pub use relay_udp::DEFAULT_UDP_PEER_TIMEOUT;

mod datagram;
pub mod exec;
mod keep_open;
mod lines;
pub mod relay;
mod relay_udp;
mod stream;

/// Read size for each copy direction: large enough that a bulk transfer
/// costs few system calls, small enough to keep a session's memory trivial.
pub const CHUNK: usize = 64 * 1024;

/// Largest payload one UDP datagram can carry over IPv4 (65535 - 8 - 20);
/// a longer line is refused rather than silently truncated or fragmented.
pub const MAX_DATAGRAM: usize = crate::net::serve::MAX_DATAGRAM;

/// How long UDP `connect` keeps printing replies after stdin ends, when
/// neither `-i` nor `-w` says otherwise: an echo on a LAN answers in well
/// under a millisecond, and two seconds still feels immediate to a person.
pub const DEFAULT_UDP_WAIT: Duration = Duration::from_secs(2);

/// How long a stream `connect` waits for the handshake when `-w` is not
/// given: far beyond any real round trip, far below the OS's ~2 minutes.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a session's end may take to close its stream (over TLS: the
/// close_notify that tells the peer nothing was cut off): enough for a
/// live peer, short enough that one which stopped reading cannot hold us.
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// Most `-k` clients at once when `-m` is not given; ncat's default too.
pub const DEFAULT_MAX_CONNS: usize = 100;

/// How long `listen` (stdin not a terminal) keeps reading stdin after its
/// client closed its side, while stdin stays quiet: a reply already in the
/// pipe is read in microseconds and still sent, yet to a person the exit
/// looks immediate. (A client that leaves must not keep listen waiting on
/// a stdin that may never end.)
pub const PEER_EOF_GRACE: Duration = Duration::from_millis(100);

/// How a pipe behaves; the CLI fills it from ncat-style flags.
#[derive(Debug, Clone)]
pub struct PipeOpts {
    /// `-w`: how long to wait for a stream connection; for UDP `connect`,
    /// how long to wait for replies after stdin ends (when `-i` is not set).
    pub wait: Option<Duration>,
    /// `-i`: end a session after this long with nothing sent or received.
    pub idle: Option<Duration>,
    /// `--send-only`: discard what arrives; end when stdin ends.
    pub send_only: bool,
    /// `--recv-only`: never read stdin or send anything.
    pub recv_only: bool,
    /// `--no-shutdown`: do not half-close the socket when stdin ends.
    pub no_shutdown: bool,
    /// End a one-client session as soon as the peer closes its side, even
    /// while stdin is still open. `connect` sets it (the server hung up);
    /// `listen` sets it only when stdin is a terminal, because a client that
    /// half-closed is usually waiting for the reply still in stdin.
    pub end_on_peer_eof: bool,
    /// `-k`: keep accepting stream clients (see [`listen`]).
    pub keep_open: bool,
    /// `-m`: most `-k` clients connected at once; later ones wait in the
    /// kernel's backlog, so a flood of connections cannot exhaust memory.
    pub max_conns: usize,
    /// With [`PipeOpts::end_on_peer_eof`] off: end the session anyway once
    /// the peer has closed and input was quiet this long (see
    /// [`PEER_EOF_GRACE`]); `None` waits for the input's end.
    pub peer_eof_grace: Option<Duration>,
    /// How `connect` checks a tls:// server's certificate.
    pub trust: crate::net::tls::Trust,
    /// `listen --allow/--deny`: clients these lists deny are reset before
    /// a byte is read or written (Unix clients have no address and pass).
    pub acl: Option<Acl>,
    /// `listen tls://`: the handshake each client must complete.
    pub tls: Option<ServerTls>,
    /// `--exec`/`--sh-exec`: a program per connection instead of stdin and
    /// stdout.
    pub exec: Option<Program>,
}

impl Default for PipeOpts {
    fn default() -> Self {
        PipeOpts {
            wait: None,
            idle: None,
            send_only: false,
            recv_only: false,
            no_shutdown: false,
            end_on_peer_eof: true,
            keep_open: false,
            max_conns: DEFAULT_MAX_CONNS,
            peer_eof_grace: None,
            trust: crate::net::tls::Trust::Unset,
            acl: None,
            tls: None,
            exec: None,
        }
    }
}

/// Why a pipe ended badly. Each message is one line naming the cause and,
/// where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// The connection could not be made.
    #[error(transparent)]
    Connect(#[from] crate::net::DialError),
    /// The listener could not be set up.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The connection failed after it was made.
    #[error("{addr}: {hint}")]
    Peer {
        /// The endpoint as written.
        addr: String,
        /// What went wrong, in words.
        hint: String,
        /// The underlying error, for callers that branch on its kind.
        io: io::Error,
    },
    /// Reading the input (stdin) failed.
    #[error("reading stdin")]
    Input(#[source] io::Error),
    /// Writing the output (stdout) failed; a closed reader shows up here as
    /// `BrokenPipe`, which the binary treats as a clean exit.
    #[error("writing to stdout")]
    Output(#[source] io::Error),
    /// An input line does not fit in one UDP datagram.
    #[error(
        "a line of {len} bytes or more does not fit in one UDP datagram (at most {MAX_DATAGRAM} bytes, newline included); send it over TCP or split it into shorter lines"
    )]
    Oversize {
        /// A lower bound of the line's length.
        len: usize,
    },
    /// The `--exec` program could not be started.
    #[error("cannot run {cmd}: {io}; check the program's name and that it is executable")]
    Exec {
        /// The command as given.
        cmd: String,
        /// Why it failed.
        io: io::Error,
    },
    /// `--exec` was given with a UDP address.
    #[error("--exec and --sh-exec need a stream address (tcp://, tls:// or unix://), not udp://")]
    ExecNeedsStream,
    /// `relay` between a datagram and a stream address.
    #[error(
        "relay joins stream to stream (tcp, tls, unix) or udp to udp; these two addresses mix them"
    )]
    RelayMix,
    /// Nothing was sent or received for the idle timeout.
    #[error(
        "idle timeout: nothing sent or received for {0:?}; raise -i or leave it out to wait forever"
    )]
    Idle(Duration),
}

/// Connects to `ep` and pipes `input` to it and what it sends to `output`.
///
/// Stream sockets (TCP, Unix, TLS) carry bytes unchanged; at the end of `input`
/// the sending side is half-closed and the reply is read until the peer
/// closes. UDP sends one datagram per input line and, after `input` ends,
/// prints replies until none came for the wait (see [`PipeOpts::wait`]).
pub async fn connect<R, W>(
    ep: &Endpoint,
    opts: &PipeOpts,
    input: R,
    output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match ep.transport() {
        Transport::Udp if opts.exec.is_some() => Err(PipeError::ExecNeedsStream),
        Transport::Udp => datagram::connect(ep, opts, input, output).await,
        Transport::Tcp | Transport::Unix | Transport::Tls => {
            let timeout = opts.wait.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
            let conn = stream::dial(ep, timeout, &opts.trust).await?;
            let addr = ep.to_string();
            match &opts.exec {
                Some(program) => exec::attach(conn, &addr, opts, program).await,
                None => stream::session(conn, &addr, opts, input, output).await,
            }
        }
    }
}

/// Serves a bound socket (from [`crate::net::bind`]) until the pipe ends.
///
/// Stream sockets without `keep_open` serve one client and stop listening;
/// with it, clients come and go until the future is dropped, each one's data
/// goes to `output`, and `input` goes to all of them. UDP prints datagrams
/// from any peer and answers the one heard from last.
pub async fn listen<R, W>(
    bound: Bound,
    opts: &PipeOpts,
    input: R,
    output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    match bound {
        Bound::Udp(_) if opts.exec.is_some() => Err(PipeError::ExecNeedsStream),
        Bound::Udp(socket) => datagram::listen(socket, opts, input, output).await,
        bound if opts.keep_open => match &opts.exec {
            Some(program) => exec::serve_many(bound, opts, program).await,
            None => keep_open::serve(bound, opts, input, output).await,
        },
        bound => {
            let (conn, peer) = stream::accept_permitted(&bound, opts).await?;
            // ncat without -k serves one client: later ones are refused
            // rather than left hanging in the backlog.
            drop(bound);
            tracing::debug!(%peer, "connection");
            match &opts.exec {
                Some(program) => exec::serve_one(conn, &peer, opts, program).await,
                None => stream::serve_client(conn, &peer, opts, input, output).await,
            }
        }
    }
}

/// Describes an error on an established connection.
fn peer_error(addr: &str, e: io::Error) -> PipeError {
    use io::ErrorKind as K;
    let hint = match e.kind() {
        K::ConnectionReset => crate::net::dial::RESET_HINT.into(),
        K::ConnectionRefused => {
            "connection refused (ICMP port unreachable); is a server listening there?".into()
        }
        K::TimedOut => "connection timed out; the peer or the network went away".into(),
        _ => e.to_string(),
    };
    PipeError::Peer {
        addr: addr.to_string(),
        hint,
        io: e,
    }
}

/// Writes one chunk to the output and flushes it, so an interactive reader
/// sees it at once and a closed reader is noticed at once.
async fn emit<W: AsyncWrite + Unpin>(output: &mut W, data: &[u8]) -> Result<(), PipeError> {
    use tokio::io::AsyncWriteExt;
    output.write_all(data).await.map_err(PipeError::Output)?;
    output.flush().await.map_err(PipeError::Output)
}
