//! `sockit serve`: bind every listener, print the bound addresses, serve until
//! SIGINT/SIGTERM, then drain within the grace period.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sockit::net::Endpoint;
use sockit::server::{self, ServerOpts, Service};
use tokio_util::sync::CancellationToken;

/// What `serve` runs when no service flag is given: everything on loopback.
const DEFAULTS: [(Service, &str); 4] = [
    (Service::Echo, "tcp://127.0.0.1:8888"),
    (Service::Echo, "udp://127.0.0.1:8888"),
    (Service::Framed, "tcp://127.0.0.1:7878"),
    (Service::Web, "tcp://127.0.0.1:8080"),
];

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
  sockit serve --listen tls://0.0.0.0:7879 --web tls://0.0.0.0:8443
      the frame protocol and the web page (HTTPS) over TLS; without
      --tls-cert a self-signed certificate is made in DATA/tls on first start
      and its fingerprint printed, for clients to pin (see `sockit cert`)
  sockit serve --listen tls://0.0.0.0:7879 --tls-cert cert.pem --tls-key key.pem
      TLS with your own certificate (from a CA, or `sockit cert new`)

On start, one line per listener goes to stdout, e.g.
  echo listening on tcp://127.0.0.1:8888
then, with tls:// listeners, `tls certificate sha256:HEX (PATH)`, and a line
starting with `ready`. Ctrl-C or SIGTERM stops accepting,
lets busy connections finish for --grace seconds, and exits 0.")]
pub struct ServeArgs {
    /// Run the echo service (bytes back as they came) on ADDR; repeatable.
    #[arg(long, value_name = "ADDR")]
    echo: Vec<Endpoint>,
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
    /// repeatable.
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
    /// Largest frame body accepted, in bytes (the header is capped at 64 KiB).
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
    /// Seconds that busy connections may take to finish after a stop signal.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    grace: f64,
    #[command(flatten)]
    accounts: super::accounts::AccountsArgs,
    #[command(flatten)]
    chat: super::chat_opts::ChatArgs,
    #[command(flatten)]
    files: super::filestore::FilesArgs,
    #[command(flatten)]
    tls: super::tls_opts::TlsArgs,
}

/// Runs `sockit serve`.
pub async fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let opts = ServerOpts {
        idle_timeout: super::seconds("--idle-timeout", a.idle_timeout, true)?,
        max_line: a.max_line,
        max_conns: a.max_conns,
        grace: super::seconds("--grace", a.grace, false)?,
        frame_limits: sockit::wire::Limits {
            max_body: a.max_body,
            ..Default::default()
        },
        shards: a.threads.unwrap_or_else(super::cpus).max(1),
        chat_idle: super::seconds("--chat-idle", a.chat_idle, true)?,
        chat_lease: super::seconds("--chat-lease", a.chat_lease, true)?,
        tls: None,
        handshake_timeout: a.tls.handshake_timeout()?,
    };
    let mut specs: Vec<(Service, Endpoint)> = Vec::new();
    specs.extend(a.echo.into_iter().map(|e| (Service::Echo, e)));
    specs.extend(a.upper.into_iter().map(|e| (Service::Upper, e)));
    specs.extend(a.listen.into_iter().map(|e| (Service::Framed, e)));
    specs.extend(a.web.into_iter().map(|e| (Service::Web, e)));
    specs.extend(a.chat_lines.into_iter().map(|e| (Service::ChatLines, e)));
    specs.extend(a.chat_udp.into_iter().map(|e| (Service::ChatUdp, e)));
    if specs.is_empty() {
        for (service, addr) in DEFAULTS {
            specs.push((service, addr.parse()?));
        }
    }
    std::fs::create_dir_all(&a.data).with_context(|| {
        format!(
            "creating data directory {}; choose another with --data DIR",
            a.data.display()
        )
    })?;

    let accounts = a.accounts.open(&a.data).await?;
    let chat = a.chat.open(&a.data, accounts.clone()).await?;
    let files = a.files.open(&a.data, a.max_body).await?;
    let services = sockit::service::Services {
        accounts: Some(accounts),
        chat: Some(chat),
        files,
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
    println!("data directory {}", a.data.display());
    println!("ready (pid {}); Ctrl-C stops", std::process::id());

    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = sockit::net::serve::stop_signal().await {
            tracing::error!(error = %e, "cannot watch for signals");
            return;
        }
        tracing::info!("stop signal: no new connections; finishing open ones");
        stop.cancel();
    });
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
