//! `sockit connect` and `sockit listen`: nc-style pipes between
//! stdin/stdout and a TCP, UDP or Unix socket. Flags follow ncat's names.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use sockit::net::{Endpoint, serve::stop_signal};
use sockit::tools::pipe::{self, PipeOpts};

/// Arguments of `sockit connect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  echo hi | sockit connect tcp://127.0.0.1:8888
      send a line, then print the reply until the server closes
  sockit connect 127.0.0.1 8888
      ncat-style HOST PORT (TCP); type lines, Ctrl-D to finish
  echo hi | sockit connect udp://127.0.0.1:8888
      one datagram per line; replies print until 2 s pass without one
  sockit connect -u localhost:8888            the same as udp://localhost:8888
  sockit connect unix:///tmp/echo.sock < request.bin > reply.bin
  sockit connect --send-only tcp://host:9000 < backup.tar
  sockit connect tls://127.0.0.1:2324
      line chat over TLS (`serve --chat-lines tls://...`); the certificate
      is checked by --ca, --fingerprint, or known_hosts on first use

TCP and Unix: bytes pass unchanged both ways. When stdin ends, our sending
side is half-closed (the server reads EOF; --no-shutdown keeps it open) and
the reply is still read to its end. connect exits when the server closes.

UDP: each line of stdin, newline included, is one datagram (a last line
without a newline is one too); a line over 65507 bytes is an error. Each
datagram received goes to stdout as it came. After stdin ends, replies
print until none came for -i, else -w, else 2 seconds.

Exit status: 0 when the pipe ends normally or stdout's reader goes away
(`| head`); 2 with a one-line error otherwise.")]
pub struct ConnectArgs {
    /// Where to connect: tcp://HOST:PORT, udp://HOST:PORT, tls://HOST:PORT,
    /// unix://PATH or HOST:PORT (TCP); with PORT, ADDR is just the host.
    #[arg(value_name = "ADDR")]
    addr: String,
    /// The port, ncat style: `sockit connect HOST PORT`.
    #[arg(value_name = "PORT")]
    port: Option<u16>,
    /// Seconds to wait for the connection (default 10); for UDP, seconds to
    /// wait for replies after stdin ends (default 2).
    #[arg(short = 'w', long = "wait", value_name = "SECS")]
    wait: Option<f64>,
    #[command(flatten)]
    flags: PipeFlags,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit listen tcp://127.0.0.1:9000 > upload.bin     take one client's data
  echo reply | sockit listen tcp://127.0.0.1:0        a free port, shown on stderr
  sockit listen -k tcp://0.0.0.0:9000                 many clients; stdin to all
  sockit listen udp://127.0.0.1:9000                  print datagrams from anyone
  sockit listen unix:///tmp/pipe.sock

`listening on ADDR` goes to stderr, with the real port when you asked for
port 0; stdout carries only data. Ctrl-C or SIGTERM ends listen (exit 0).

TCP and Unix, without -k: one client is served, then the listener closes.
Its data goes to stdout and stdin goes to it (stdin is not read before it
arrives); when stdin ends our side is half-closed. listen exits when both
directions are done: the client has closed its side and stdin has ended.
When stdin is a terminal, the client closing is enough.

With -k (as ncat -k): clients are accepted until Ctrl-C, several at once
(up to -m, 100 by default; more wait to be accepted). Each client ends
when it closes its side, or after -i seconds idle. Data from each goes to
stdout as it arrives, in whole chunks; stdin goes to every client connected
at the time, and is read only while at least one is. A client that stops
reading holds stdin back for all: nothing is dropped, and nothing piles up
in memory. Once stdin has ended, clients (present and later ones) are
half-closed but can still send.

UDP: datagrams from any peer go to stdout as they came; stdin, one line
per datagram, goes to the peer heard from most recently (ncat locks onto
the first peer instead), and is not read before some peer is heard. UDP
has no connections, so listen runs until Ctrl-C or -i seconds of quiet,
and -k changes nothing.")]
pub struct ListenArgs {
    /// Where to listen: tcp://HOST:PORT, udp://HOST:PORT, unix://PATH or
    /// HOST:PORT (TCP); port 0 picks a free port.
    #[arg(value_name = "ADDR")]
    addr: String,
    /// The port, ncat style: `sockit listen HOST PORT`.
    #[arg(value_name = "PORT")]
    port: Option<u16>,
    /// Keep listening after a client leaves; serve several clients at once.
    #[arg(short = 'k', long = "keep-open")]
    keep_open: bool,
    /// With -k, the most clients connected at once; more wait to be accepted.
    #[arg(short = 'm', long = "max-conns", value_name = "N", default_value_t = pipe::DEFAULT_MAX_CONNS)]
    max_conns: usize,
    #[command(flatten)]
    flags: PipeFlags,
}

/// The flags both directions share.
#[derive(Debug, clap::Args)]
struct PipeFlags {
    /// Use UDP for a bare HOST:PORT (the same as writing udp://).
    #[arg(short = 'u', long = "udp")]
    udp: bool,
    /// End after this many seconds with nothing sent or received: an error
    /// on TCP and Unix, as in ncat; the normal end on UDP; with -k, the
    /// idle client is closed.
    #[arg(short = 'i', long = "idle-timeout", value_name = "SECS")]
    idle_timeout: Option<f64>,
    /// Only send: discard what arrives, and end when stdin ends.
    #[arg(long, conflicts_with = "recv_only")]
    send_only: bool,
    /// Only receive: never read stdin, never send.
    #[arg(long)]
    recv_only: bool,
    /// Do not half-close the socket when stdin ends (for servers that hang
    /// up on EOF before answering).
    #[arg(long)]
    no_shutdown: bool,
}

/// Runs `sockit connect`.
pub async fn connect(a: ConnectArgs) -> anyhow::Result<ExitCode> {
    let ep = endpoint(&a.addr, a.port, a.flags.udp)?;
    let opts = PipeOpts {
        wait: seconds("-w", a.wait)?,
        trust: a.tls.trust_for(&ep).await?,
        ..a.flags.opts()?
    };
    pipe::connect(&ep, &opts, tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `sockit listen`.
pub async fn listen(a: ListenArgs) -> anyhow::Result<ExitCode> {
    let ep = endpoint(&a.addr, a.port, a.flags.udp)?;
    if ep.transport() == sockit::net::Transport::Tls {
        bail!(
            "sockit listen does not serve TLS; use tcp://, or `sockit serve --echo tls://...` for a TLS endpoint"
        );
    }
    let opts = PipeOpts {
        keep_open: a.keep_open,
        max_conns: a.max_conns,
        // A person at a terminal ends with Ctrl-D rarely; a closed client is
        // their cue. A pipe's reply, though, may still be on its way.
        end_on_peer_eof: std::io::stdin().is_terminal(),
        ..a.flags.opts()?
    };
    let bound = sockit::net::bind(&ep).await?;
    let local = bound
        .local_endpoint()
        .with_context(|| format!("reading the address bound for {ep}"))?;
    // stderr, because stdout is the data; tests and scripts read the port here.
    let stop = stop_signal().context("installing the Ctrl-C handler")?;
    eprintln!("listening on {local}");
    tokio::select! {
        r = pipe::listen(bound, &opts, tokio::io::stdin(), tokio::io::stdout()) => r?,
        // Dropping the listener removes a unix socket file.
        () = stop => {}
    }
    Ok(ExitCode::SUCCESS)
}

impl PipeFlags {
    fn opts(&self) -> anyhow::Result<PipeOpts> {
        Ok(PipeOpts {
            idle: seconds("-i", self.idle_timeout)?,
            send_only: self.send_only,
            recv_only: self.recv_only,
            no_shutdown: self.no_shutdown,
            ..PipeOpts::default()
        })
    }
}

/// Builds the endpoint from `ADDR [PORT]` and `-u`.
fn endpoint(addr: &str, port: Option<u16>, udp: bool) -> anyhow::Result<Endpoint> {
    let has_scheme = addr.contains("://");
    let text = match port {
        None => addr.to_string(),
        Some(_) if has_scheme => {
            bail!("{addr} already has a port; give either a full address or HOST PORT")
        }
        // An IPv6 literal needs brackets once a port follows it.
        Some(p) if addr.contains(':') && !addr.starts_with('[') => format!("[{addr}]:{p}"),
        Some(p) => format!("{addr}:{p}"),
    };
    let ep: Endpoint = text.parse()?;
    Ok(match ep {
        Endpoint::Tcp(hp) if udp && !has_scheme => Endpoint::Udp(hp),
        Endpoint::Udp(_) => ep,
        _ if udp => bail!(
            "-u makes a bare HOST:PORT use UDP, but {addr} names its transport; drop -u or write udp://HOST:PORT"
        ),
        _ => ep,
    })
}

/// Reads an optional seconds flag.
fn seconds(flag: &str, v: Option<f64>) -> anyhow::Result<Option<Duration>> {
    v.map(|s| super::seconds(flag, s, true)).transpose()
}
