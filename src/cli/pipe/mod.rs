//! `sockit connect` and `sockit listen`: nc-style pipes between
//! stdin/stdout and a TCP, UDP or Unix socket. Flags follow ncat's names.
//! This file holds the flags and the two commands; `bind.rs` turns an
//! address (and -4/-6, a bare port, tls://) into a bound listener.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, bail};
use sockit::client::pipe::{self, PipeOpts};
use sockit::net::serve::stop_signal;

mod bind;

pub(super) use bind::{bind_listen, endpoint, listen_tls, seconds};

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
  sockit connect -w 3 -i 30 tcp://127.0.0.1:8888
      give up if not connected within 3 s, or after 30 s of silence
  sockit connect --sh-exec 'echo hi; sleep 1' tcp://127.0.0.1:8888
      a program talks to the server instead of stdin and stdout (its
      stdout goes to the server, what the server sends goes to its stdin)

TCP and Unix: bytes pass unchanged both ways. When stdin ends, our sending
side is half-closed (the server reads EOF; --no-shutdown keeps it open) and
the reply is still read to its end. connect exits when the server closes.

UDP: each line of stdin, newline included, is one datagram (a last line
without a newline is one too); a line over 65507 bytes is an error. Each
datagram received goes to stdout as it came. After stdin ends, replies
print until none came for -i, else -w, else 2 seconds.

-e/--exec PROG runs PROG (split on spaces, no shell) and -c/--sh-exec CMD
runs `/bin/sh -c CMD`, attached to the connection instead of stdin and
stdout; the program's stderr stays ours. The session ends when the
program closes its stdout (or exits) and the server closes its side; the
program then has 2 s to exit before it is killed.

Exit status: 0 when the pipe ends normally or stdout's reader goes away
(`| head`); 2 with a one-line error otherwise, including when the server
refuses or resets the connection (a sockit server resets addresses its
--allow/--deny lists refuse).")]
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
  sockit listen 9000                                  every address, IPv4 and IPv6
  sockit listen -4 9000                               IPv4 only (0.0.0.0)
  sockit listen -k -m 10 tcp://0.0.0.0:9000           many clients (10 at once); stdin to all
  sockit listen udp://127.0.0.1:9000                  print datagrams from anyone
  sockit listen unix:///tmp/pipe.sock
  sockit listen --allow 127.0.0.1 --deny 10.0.0.0/8 9000
  sockit listen tls://127.0.0.1:9443                  TLS, certificate as `serve` makes it
  sockit listen -k --exec 'tr a-z A-Z' tcp://127.0.0.1:9000
      each client talks to its own `tr`: an upper-casing server
  sockit listen -k --sh-exec 'date; cat' tcp://127.0.0.1:9000

DANGER: --exec and --sh-exec give every client that connects whatever the
program can do. On any address but loopback or a Unix socket, a shell
there is a remote shell for anyone: combine them with --allow, tls://, or
not at all. They are off unless asked for.

`listening on ADDR` goes to stderr, with the real port when you asked for
port 0; stdout carries only data. Ctrl-C or SIGTERM ends listen (exit 0).

TCP and Unix, without -k: one client is served, then the listener closes.
Its data goes to stdout and stdin goes to it (stdin is not read before it
arrives); when stdin ends our side is half-closed. listen exits when both
directions are done: the client has closed its side and stdin has ended.
When stdin is a terminal, the client closing is enough; otherwise, once
the client has closed, listen ends as soon as stdin has nothing more ready
(100 ms of quiet), so a reply already piped in is still sent.

With -k (as ncat -k): clients are accepted until Ctrl-C, several at once
(up to -m, 100 by default; more wait to be accepted). Each client ends
when it closes its side, or after -i seconds idle. Data from each goes to
stdout as it arrives, in whole chunks; stdin goes to every client connected
at the time, and is read only while at least one is. A client that stops
reading holds stdin back for all: nothing is dropped, and nothing piles up
in memory. Once stdin has ended, clients (present and later ones) are
half-closed but can still send.

A bare PORT listens on every address ([::], which takes IPv4 too; -4 for
0.0.0.0 only, -6 for [::]). -4/-6 with a host name pick its address of
that family. --allow/--deny take addresses or CIDR networks (repeatable):
a client matching a deny rule, or no allow rule when there are some, is
reset before a byte passes. Unix clients have no address and pass.

tls:// serves TLS with the certificate `serve` uses: --tls-cert/--tls-key,
else DATA/tls (made self-signed on first use; DATA is --data, default
./sockit-data). Its fingerprint goes to stderr for clients to pin.

-e/--exec PROG (split on spaces, no shell) and -c/--sh-exec CMD (run by
/bin/sh -c) start one program per client, attached to it instead of
stdin and stdout; with -k, up to -m at once. A client's session ends when
its program closes its stdout (or exits) and the client has closed.

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
    #[command(flatten)]
    side: ListenSide,
    #[command(flatten)]
    tls: super::tls_opts::TlsArgs,
    /// With -k, the most clients connected at once; more wait to be accepted.
    #[arg(short = 'm', long = "max-conns", value_name = "N", default_value_t = pipe::DEFAULT_MAX_CONNS)]
    max_conns: usize,
    #[command(flatten)]
    flags: PipeFlags,
}

/// The listening side's flags, the same for `listen` and `relay`.
#[derive(Debug, clap::Args)]
pub struct ListenSide {
    /// IPv4 only: a bare PORT listens on 0.0.0.0, a host name uses its
    /// IPv4 address.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6: a bare PORT listens on [::], a host name uses its IPv6 address.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Accept only clients from ADDR or CIDR (repeatable); others are reset.
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<sockit::net::Cidr>,
    /// Reset clients from ADDR or CIDR (repeatable); wins over --allow.
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<sockit::net::Cidr>,
    /// For a tls:// listener: where the generated certificate lives
    /// (DATA/tls), as in `serve`; unused otherwise.
    #[arg(long, value_name = "DIR", default_value = "./sockit-data")]
    pub data: std::path::PathBuf,
}

impl ListenSide {
    /// The access list of `--allow`/`--deny`, if either was given.
    pub fn acl(&self) -> Option<sockit::net::Acl> {
        (!self.allow.is_empty() || !self.deny.is_empty())
            .then(|| sockit::net::Acl::new(self.allow.iter().copied(), self.deny.iter().copied()))
    }
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
    /// Attach PROG (split on spaces; no shell) to the connection instead of
    /// stdin and stdout. Dangerous on a public listener: see DANGER.
    #[arg(
        short = 'e',
        long = "exec",
        value_name = "PROG",
        conflicts_with = "sh_exec"
    )]
    exec: Option<String>,
    /// Like --exec, but run COMMAND with /bin/sh -c.
    #[arg(short = 'c', long = "sh-exec", value_name = "COMMAND")]
    sh_exec: Option<String>,
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
    let acl = a.side.acl();
    let mut opts = PipeOpts {
        keep_open: a.keep_open,
        max_conns: a.max_conns,
        // A person at a terminal ends with Ctrl-D rarely; a closed client is
        // their cue. A pipe's reply, though, may still be on its way: it
        // gets a short grace.
        end_on_peer_eof: std::io::stdin().is_terminal(),
        peer_eof_grace: Some(pipe::PEER_EOF_GRACE),
        acl,
        ..a.flags.opts()?
    };
    let bound = bind_listen(&a.addr, a.port, a.flags.udp, a.side.ipv4, a.side.ipv6).await?;
    let local = bound
        .local_endpoint()
        .with_context(|| format!("reading the address bound for {}", a.addr))?;
    let (local, tls) = listen_tls(&a.addr, local, &a.tls, &a.side.data).await?;
    opts.tls = tls;
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
        let exec = match (&self.exec, &self.sh_exec) {
            (Some(cmd), _) => Some(pipe::Program::exec(cmd)?),
            (None, Some(cmd)) if cmd.trim().is_empty() => {
                bail!("--sh-exec needs a command, e.g. --sh-exec 'tr a-z A-Z'")
            }
            (None, Some(cmd)) => Some(pipe::Program::Shell(cmd.clone())),
            (None, None) => None,
        };
        if exec.is_some() && (self.send_only || self.recv_only) {
            bail!("--exec and --sh-exec replace stdin and stdout; drop --send-only/--recv-only");
        }
        Ok(PipeOpts {
            idle: seconds("-i", self.idle_timeout)?,
            send_only: self.send_only,
            recv_only: self.recv_only,
            no_shutdown: self.no_shutdown,
            exec,
            ..PipeOpts::default()
        })
    }
}
