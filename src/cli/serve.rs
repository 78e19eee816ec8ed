//! `sockit serve`: bind every listener, print the bound addresses, serve until
//! SIGINT/SIGTERM, then drain within the grace period.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use sockit::net::{Endpoint, Gate};
use sockit::server::{self, ServerOpts, Service};
use tokio_util::sync::CancellationToken;

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
  sockit serve --listen tcp://0.0.0.0:7878 --chat-store postgres://sockit@db.internal:5432/sockit
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
    accounts: super::accounts::AccountsArgs,
    #[command(flatten)]
    chat: super::chat_opts::ChatArgs,
    #[command(flatten)]
    files: super::filestore::FilesArgs,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
    #[command(flatten)]
    tls: super::tls_opts::TlsArgs,
    #[command(flatten)]
    memory: super::guard_opts::MemoryArgs,
    #[command(flatten)]
    web_guard: super::guard_opts::WebGuardArgs,
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
        Some(path) => super::config::read(path, &cmd)?,
        None => Vec::new(),
    };
    let mut argv = super::config::merge(&cmd, &file, cli);
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

/// The `serve` matches of this process's command line. Parsed again here
/// (main keeps only the typed arguments) because merging with a config
/// file needs to know which flags the user gave.
fn command_line() -> anyhow::Result<ArgMatches> {
    let m = super::Cli::command().try_get_matches_from(std::env::args_os())?;
    m.subcommand_matches("serve")
        .cloned()
        .context("the command line has no `serve`")
}

impl ServeArgs {
    /// Every listener asked for, with its service.
    fn listeners(&self) -> Vec<(Service, Endpoint)> {
        let mut specs: Vec<(Service, Endpoint)> = Vec::new();
        let each =
            |s: Service, v: &[Endpoint]| v.iter().map(|e| (s, e.clone())).collect::<Vec<_>>();
        specs.extend(each(Service::Echo, &self.echo));
        specs.extend(each(Service::Upper, &self.upper));
        specs.extend(each(Service::Framed, &self.listen));
        specs.extend(each(Service::Web, &self.web));
        specs.extend(each(Service::ChatLines, &self.chat_lines));
        specs.extend(each(Service::ChatUdp, &self.chat_udp));
        specs.extend(each(Service::Perf, &self.perf));
        specs
    }

    /// The rules a reload swaps in (reads the rule files; blocking).
    pub fn gate_rules(&self) -> anyhow::Result<sockit::net::GateRules> {
        self.limits.rules()
    }
}

/// Runs `sockit serve`. The typed arguments main parsed are resolved again
/// against the config file (see [`resolve`]).
pub async fn run(_parsed: ServeArgs) -> anyhow::Result<ExitCode> {
    let cli = command_line()?;
    let (a, matches, rules) = {
        let cli = cli.clone();
        // Reads the config and rule files.
        tokio::task::spawn_blocking(move || {
            let (a, m) = resolve(&cli)?;
            let rules = if a.print_config {
                None
            } else {
                Some(a.gate_rules()?)
            };
            anyhow::Ok((a, m, rules))
        })
        .await??
    };
    let Some(rules) = rules else {
        print!(
            "{CONFIG_HEADER}{}",
            super::config::to_toml(&command(), &matches)
        );
        return Ok(ExitCode::SUCCESS);
    };
    let gate = Arc::new(Gate::new(rules, a.limits.max_datagram()?));
    let opts = ServerOpts {
        idle_timeout: super::seconds("--idle-timeout", a.idle_timeout, true)?,
        max_line: a.max_line,
        max_conns: a.max_conns,
        grace: super::seconds("--grace", a.grace, false)?,
        frame_limits: sockit::wire::Limits {
            max_body: a.max_body,
            max_header: a.limits.max_header()?,
        },
        shards: a.threads.unwrap_or_else(super::cpus).max(1),
        busy_poll: std::time::Duration::from_micros(a.busy_poll),
        chat_idle: super::seconds("--chat-idle", a.chat_idle, true)?,
        chat_lease: super::seconds("--chat-lease", a.chat_lease, true)?,
        web_ping: super::seconds("--web-ping", a.web_ping, false)?,
        gate: gate.clone(),
        tls: None,
        handshake_timeout: a.tls.handshake_timeout()?,
        memory: a.memory.budget()?,
        frame_timeout: a.memory.frame_timeout()?,
        guest_max_body: a.memory.guest_max_body(),
        write_timeout: a.memory.write_timeout()?,
        web_hosts: a.web_guard.hosts(),
        web_session_idle: a.web_guard.session_idle()?,
    };
    let specs = a.listeners();
    let stateless = is_stateless(&specs);
    let (services, users, _data_lock) = if stateless {
        // Echo and upper keep nothing: no directory to create or lock, so
        // a second such server runs beside a full one in the same place.
        let none = sockit::service::Services {
            accounts: None,
            chat: None,
            files: None,
        };
        (none, None, None)
    } else {
        open_services(&a).await?
    };

    // Bind everything before serving anything: a taken port fails the start.
    let listeners = server::bind_all(&specs).await?;
    for l in &listeners {
        println!("{} listening on {}", l.service.name(), l.local_endpoint()?);
    }
    let tls_hosts: Vec<String> = specs
        .iter()
        .filter_map(|(_, ep)| match ep {
            Endpoint::Tls(hp) => Some(hp.host.clone()),
            _ => None,
        })
        .collect();
    let mut opts = opts;
    if !tls_hosts.is_empty() {
        opts.tls = Some(a.tls.identity(&a.data, &tls_hosts).await?);
    }
    // Registered before `ready`: SIGHUP's default action would kill us.
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("watching for SIGHUP")?;
    tokio::spawn(super::reload::watch(hangups, cli, matches, gate));
    // Handlers in place before `ready`: an early SIGTERM must stop us
    // gracefully, not kill us by its default action.
    let signalled = sockit::net::serve::stop_signal().context("watching for SIGINT/SIGTERM")?;
    if stateless {
        println!("no data directory (echo and upper keep no state)");
    } else {
        println!("data directory {}", a.data.display());
    }
    if users == Some(0) {
        println!(
            "no accounts yet: create one with `sockit user add NAME --data {}`",
            a.data.display()
        );
    }
    if let Some(hint) = dropped_defaults(&specs) {
        println!("{hint}");
    }
    println!("ready (pid {}); Ctrl-C stops", std::process::id());

    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        signalled.await;
        tracing::info!("stop signal: no new connections; finishing open ones");
        stop.cancel();
    });
    // Ends sessions revoked by `sockit user` and removes deleted accounts' files.
    let keeper = services.clone();
    let (data, stop) = (a.data.clone(), shutdown.clone());
    tokio::spawn(async move { keeper.keep_accounts(data, stop).await });
    let summary = server::run(listeners, opts, services, shutdown).await;
    if summary.cut_off > 0 {
        tracing::warn!(
            connections = summary.cut_off,
            "grace period over; closing the rest"
        );
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// True when every listener is echo or upper over plain sockets: such a
/// server needs no data directory (TLS needs one for its certificate).
fn is_stateless(specs: &[(Service, Endpoint)]) -> bool {
    specs.iter().all(|(s, ep)| {
        matches!(s, Service::Echo | Service::Upper) && !matches!(ep, Endpoint::Tls(_))
    })
}

/// Opens the data directory's stores, and counts the accounts (so the
/// banner can say how to create the first one).
async fn open_services(
    a: &ServeArgs,
) -> anyhow::Result<(
    sockit::service::Services,
    Option<usize>,
    Option<super::data_lock::DataLock>,
)> {
    if let Some(warning) = sockit::fsutil::loose_dir_warning(&a.data) {
        tracing::warn!("{warning}");
    }
    sockit::fsutil::create_private_dir_all(&a.data).with_context(|| {
        format!(
            "creating data directory {}; choose another with --data DIR",
            a.data.display()
        )
    })?;
    let lock = super::data_lock::take(&a.data)?;
    let accounts = a.accounts.open(&a.data).await?;
    let users = {
        let accounts = accounts.clone();
        tokio::task::spawn_blocking(move || accounts.list_users())
            .await
            .context("counting accounts")??
            .len()
    };
    let chat = a.chat.open(&a.data, accounts.clone()).await?;
    let files = a.files.open(&a.data, a.max_body).await?;
    let services = sockit::service::Services {
        accounts: Some(accounts),
        chat: Some(chat),
        files,
    };
    Ok((services, Some(users), Some(lock)))
}

/// The banner's hint when listener flags replaced the defaults: which
/// default services are not running, and the flags that bring them back.
/// `None` when every default service runs somewhere.
fn dropped_defaults(specs: &[(Service, Endpoint)]) -> Option<String> {
    let missing: Vec<String> = DEFAULTS
        .iter()
        .filter(|(flag, _)| {
            let service = default_service(flag);
            !specs.iter().any(|(s, _)| *s == service)
        })
        .map(|(flag, addr)| format!("--{flag} {addr}"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "hint: listener flags replace all the defaults; not running: {} (add them to keep them)",
        missing.join(" ")
    ))
}

/// The service a `DEFAULTS` flag starts.
fn default_service(flag: &str) -> Service {
    match flag {
        "echo" => Service::Echo,
        "listen" => Service::Framed,
        _ => Service::Web,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: Service, ep: &str) -> (Service, Endpoint) {
        (s, ep.parse().unwrap())
    }

    #[test]
    fn hint_names_the_dropped_defaults() {
        let chat_only = [
            spec(Service::ChatLines, "tcp://0.0.0.0:2323"),
            spec(Service::ChatUdp, "udp://0.0.0.0:9999"),
        ];
        let hint = dropped_defaults(&chat_only).unwrap();
        assert!(hint.contains("--listen tcp://127.0.0.1:7878"), "{hint}");
        assert!(hint.contains("--web tcp://127.0.0.1:8080"), "{hint}");
        assert!(hint.contains("replace all the defaults"), "{hint}");
        let all: Vec<_> = DEFAULTS
            .iter()
            .map(|(f, a)| spec(default_service(f), a))
            .collect();
        assert_eq!(dropped_defaults(&all), None);
        assert!(is_stateless(&[spec(Service::Upper, "udp://127.0.0.1:0")]));
        assert!(!is_stateless(&[spec(Service::Echo, "tls://127.0.0.1:0")]));
        assert!(!is_stateless(&chat_only));
    }
}
