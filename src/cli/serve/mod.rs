//! `sockit serve`: bind every listener, print the bound addresses, serve until
//! SIGINT/SIGTERM, then drain within the grace period.
//!
//! Here: the flags ([`ServeArgs`]) and how the config file fills them in
//! ([`resolve`]); `run.rs` has [`run`], which takes the parsed command line. Beside it: the flag groups (`store_opts`, `chat_opts`, `filestore`,
//! `guard_opts`, `limits`; accounts and TLS flags are shared with other
//! commands and live in `cli/`), the config file (`config/`), SIGHUP
//! (`reload`), the data directory lock (`data_lock`), which services run
//! where (`listeners`) and the server's settings from the flags (`opts`).

mod chat_opts;
mod config;
mod data_lock;
pub(crate) mod filestore;
mod guard_opts;
mod limits;
mod listeners;
mod opts;
mod reload;
mod run;
mod shares_opts;
mod store_opts;

use std::path::PathBuf;

use clap::{ArgMatches, FromArgMatches};
use sockit::net::Endpoint;

pub use run::run;

/// What `serve` runs when no service flag is given (on the command line
/// or in the config file): everything on loopback, as (flag, address).
const DEFAULTS: [(&str, &str); 4] = [
    ("echo", "tcp://127.0.0.1:8888"),
    ("echo", "udp://127.0.0.1:8888"),
    ("listen", "tcp://127.0.0.1:7878"),
    ("web", "tcp://127.0.0.1:8080"),
];

/// What `--print-config` prints above the settings.
const CONFIG_HEADER: &str = "\
# sockit serve configuration; use it with `sockit serve --config FILE`.
# Regenerate with `sockit serve --print-config`: it prints every key with
# its effective value (unset ones commented out) under the flag's help.
#
# Each key is a long flag of `sockit serve` (kebab-case; snake_case works
# too). Flags given on the command line win; a repeatable flag given there
# replaces the list here. Unknown keys are errors. SIGHUP re-reads this file
# and the allow/deny files: the access lists, max-conns-per-ip and
# first-frame-timeout apply to new peers at once (open connections stay);
# other keys need a restart.

";

/// Arguments of `sockit serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit serve
      the defaults: echo on tcp+udp 127.0.0.1:8888, the framed protocol on
      tcp://127.0.0.1:7878, the web page on http://127.0.0.1:8080
  sockit serve --listen tcp://0.0.0.0:7878 --listen unix://sockit.sock
      the framed protocol (docs/PROTOCOL.md) for `sockit call` and the Python client
  sockit serve --echo tcp://0.0.0.0:8888 --echo udp://0.0.0.0:8888
      the classic ping/pong exercise: TCP and UDP on one port number
  sockit serve --upper tcp://127.0.0.1:9999 --echo unix://echo.sock
      the socketserver upper-case example, and echo on a Unix socket
  sockit serve --echo tcp://[::]:0
      IPv6 (and IPv4) on a free port; the real port is printed
  sockit serve --chat-lines tcp://0.0.0.0:2323 --chat-udp udp://0.0.0.0:9999 \\
        --chat-filter darn=**** --chat-filter spam=!block
      chat for `nc HOST 2323` users and for JSON datagrams {\"name\",\"msg\"},
      in the same rooms, with the classic keyword rule
  sockit serve --store postgres://sockit@db.internal:5432/sockit
      one node of a cluster: chat rooms and history in a shared PostgreSQL;
      members of every node given the same URL meet in the same rooms
  sockit serve --print-config > sockit.toml; sockit serve --config sockit.toml
      every setting in a TOML file (flags given on the command line win);
      `kill -HUP PID` re-reads it and applies the access lists at once
  sockit serve --listen tcp://0.0.0.0:7878 --allow 10.0.0.0/8 --deny 10.6.6.6
      only the 10.x network, except one host
  sockit serve --listen tls://0.0.0.0:7879 --web tls://0.0.0.0:8443
      the frame protocol and the web page (HTTPS) over TLS; without
      --tls-cert a self-signed certificate is made in DATA/tls on first start
      and its fingerprint printed, for clients to pin (see `sockit cert`)
  sockit serve --listen tls://0.0.0.0:7879 --tls-cert cert.pem --tls-key key.pem
      TLS with your own certificate (from a CA, or `sockit cert new`)
  sockit serve --listen tcp://0.0.0.0:7878 --metrics tcp://127.0.0.1:9464
      Prometheus /metrics, /healthz and /readyz for load balancers on
      http://127.0.0.1:9464 (docs/OPERATIONS.md lists the series)
  sockit serve --log-format json
      the defaults, logging one JSON object per line on stderr (time, level,
      target, message, fields) for log shippers

Any listener flag (--echo, --upper, --listen, --web, --chat-lines,
--chat-udp, here or in the config file) replaces ALL the defaults: name
every service you want (the `hint:` line on start lists the defaults left
out). Servers with only echo and upper use no data directory.

On start, one line per listener goes to stdout, e.g.
  echo listening on tcp://127.0.0.1:8888
then, with tls:// listeners, `tls certificate sha256:HEX (PATH)`, and a line
starting with `ready`. Ctrl-C or SIGTERM stops accepting,
lets busy connections finish for --grace seconds, and exits 0.")]
pub struct ServeArgs {
    /// Run the echo service (bytes back as they came) on ADDR; repeatable.
    /// Over UDP it reflects to any forged sender: limit it with --allow.
    #[arg(long, value_name = "ADDR")]
    echo: Vec<Endpoint>,
    /// Serve throughput tests for `sockit perf` on ADDR (tcp://, tls://,
    /// unix:// or udp:// for `perf -u`); repeatable. Each TCP test is one
    /// connection, under the same limits and access lists as every door;
    /// several may run at once (UDP: 64 at once, 8 per IP address).
    #[arg(long, value_name = "ADDR")]
    perf: Vec<Endpoint>,
    /// Run the upper service (each line back upper-cased) on ADDR; repeatable.
    #[arg(long, value_name = "ADDR")]
    upper: Vec<Endpoint>,
    /// Serve the sockit frame protocol on ADDR (tcp://, tls:// or unix://);
    /// repeatable.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<Endpoint>,
    /// Serve the web page (login, and the frame protocol over WebSocket)
    /// on HOST:PORT (tls://HOST:PORT for HTTPS); repeatable.
    #[arg(long, value_name = "ADDR")]
    web: Vec<Endpoint>,
    /// Serve line chat for nc/telnet users on ADDR (tcp://, tls:// or
    /// unix://); repeatable.
    #[arg(long, value_name = "ADDR")]
    chat_lines: Vec<Endpoint>,
    /// Serve JSON datagram chat ({"name","msg","room"}) on ADDR (udp://);
    /// repeatable. An address that echoes the cookie it is sent becomes a
    /// member; others get at most 3x the bytes they send (PROTOCOL.md §11).
    #[arg(long, value_name = "ADDR")]
    chat_udp: Vec<Endpoint>,
    /// Seconds a datagram chat member stays in a room after its last
    /// datagram to it.
    #[arg(long, value_name = "SECS", default_value_t = 600.0)]
    chat_lease: f64,
    /// Close a line chat connection after this many seconds with no input
    /// and no output (chat users sit quietly for long).
    #[arg(long, value_name = "SECS", default_value_t = 3600.0)]
    chat_idle: f64,
    /// Seconds between pings to a quiet WebSocket (browsers answer them by
    /// themselves); one silent through three pings is closed (a sleeping
    /// laptop, a lost network) and frees its connection slot. 0: no pings.
    #[arg(long, value_name = "SECS", default_value_t = sockit::door::web::DEFAULT_PING.as_secs_f64())]
    web_ping: f64,
    /// Largest frame body accepted, in bytes (the header: --max-header).
    #[arg(long, value_name = "BYTES", default_value_t = sockit::wire::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Directory for the server's state; created on first start.
    #[arg(long, value_name = "DIR", default_value = "./sockit-data")]
    data: PathBuf,
    /// Close a stream connection after this many seconds without input.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    idle_timeout: f64,
    /// Longest line the upper service accepts, in bytes; longer lines are refused.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    max_line: usize,
    /// Most stream connections open at once; further peers wait in the backlog.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    max_conns: usize,
    /// Threads serving stream connections [default: one per CPU]. Each
    /// connection stays on one thread for its whole life (no cross-thread
    /// wake-ups); connections are dealt to the threads in turn.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Microseconds a serving thread keeps polling its connections after
    /// they fall quiet, before it sleeps: the next request then finds it
    /// awake instead of paying a wake-up (tens of microseconds on a VM).
    /// It yields to other threads meanwhile and backs off when polling
    /// does not pay (idle peers, a busy CPU); 0 turns it off.
    #[arg(long, value_name = "MICROS", default_value_t = sockit::server::DEFAULT_BUSY_POLL.as_micros() as u64)]
    busy_poll: u64,
    /// Seconds that busy connections may take to finish after a stop signal.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    grace: f64,
    /// Read settings from a TOML file: each flag of `serve` is a key named
    /// like the flag (max-conns = 100, listen = ["tcp://0.0.0.0:7878"]).
    /// Flags given on the command line win; a repeatable flag given there
    /// replaces the file's list. SIGHUP re-reads the file and the rule
    /// files and applies the access lists, --max-conns-per-ip and
    /// --first-frame-timeout to new connections (open ones stay).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective settings as a config file and exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    store: store_opts::StoreArgs,
    #[command(flatten)]
    accounts: crate::cli::accounts::AccountsArgs,
    #[command(flatten)]
    chat: chat_opts::ChatArgs,
    #[command(flatten)]
    files: filestore::FilesArgs,
    #[command(flatten)]
    shares: shares_opts::SharesArgs,
    #[command(flatten)]
    limits: limits::LimitArgs,
    #[command(flatten)]
    tls: crate::cli::tls_opts::TlsArgs,
    #[command(flatten)]
    memory: guard_opts::MemoryArgs,
    #[command(flatten)]
    web_guard: guard_opts::WebGuardArgs,
    #[command(flatten)]
    ops: crate::cli::ops_opts::OpsArgs,
}

/// The `serve` command alone, as the config file sees it.
pub fn command() -> clap::Command {
    <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"))
}

/// The effective arguments: the command line `cli` over the config file it
/// names (read again on every call), with the default listeners when none
/// is given anywhere. Also the matches, which `--print-config` prints and
/// a reload compares. Blocking (reads files).
pub fn resolve(cli: &ArgMatches) -> anyhow::Result<(ServeArgs, ArgMatches)> {
    let cmd = command();
    let file = match cli.get_one::<PathBuf>("config") {
        Some(path) => config::read(path, &cmd)?,
        None => Vec::new(),
    };
    let mut argv = config::merge(&cmd, &file, cli);
    let mut m = cmd.clone().try_get_matches_from(&argv)?;
    let mut a = ServeArgs::from_arg_matches(&m)?;
    if a.listeners().is_empty() {
        for (flag, addr) in DEFAULTS {
            argv.push(format!("--{flag}={addr}").into());
        }
        m = cmd.try_get_matches_from(&argv)?;
        a = ServeArgs::from_arg_matches(&m)?;
    }
    Ok((a, m))
}

impl ServeArgs {
    /// The rules a reload swaps in (reads the rule files; blocking).
    pub fn gate_rules(&self) -> anyhow::Result<sockit::net::GateRules> {
        self.limits.rules()
    }
}
