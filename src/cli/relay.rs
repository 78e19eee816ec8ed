//! `sockit relay LISTEN TARGET`: forward each client of one address to
//! another, socat style, with byte counts per connection.

use std::process::ExitCode;

use anyhow::Context;
use sockit::client::pipe::relay::{self, ConnReport};
use sockit::client::pipe::{self, PipeOpts};
use sockit::net::serve::stop_signal;

/// Arguments of `sockit relay`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit relay tcp://127.0.0.1:9000 tcp://127.0.0.1:8888
      clients of port 9000 reach the server on 8888
  sockit relay 9000 unix:///tmp/app.sock      expose a Unix socket on TCP port 9000
  sockit relay tls://0.0.0.0:9443 tcp://127.0.0.1:8888
      put TLS in front of a plain server (certificate as `serve` makes it)
  sockit relay unix:///tmp/db.sock tls://db.example:5433 --fingerprint sha256:...
  sockit relay udp://127.0.0.1:5353 udp://127.0.0.1:53
      UDP: each client address gets its own mapping
  sockit relay --json -m 500 tcp://127.0.0.1:9000 tcp://127.0.0.1:8888 > conns.jsonl

LISTEN is where clients come (listen's syntax: a bare PORT listens on
every address); TARGET is dialed once per client (connect's syntax). Stream
addresses (tcp, tls, unix) relay to stream addresses, udp to udp.

Each direction passes bytes unchanged; when one side half-closes, the
other side sees EOF and can still answer, and the connection ends when
both directions are done (or after -i seconds idle). Up to -m clients at
once (100 by default); more wait to be accepted. When a connection ends, a
line reports its bytes each way (to stderr; with --json, a JSON object per
line to stdout: id, client, bytes_up, bytes_down, secs, error).

UDP: each client address gets its own socket to TARGET, so replies go back
to the right client; a mapping ends after -i seconds (60 by default) with
no datagram either way, and then reports its bytes and datagrams. At most
-m mappings at once; datagrams from new clients beyond that are dropped.
Replies to a client are capped at 3x the bytes it sent, so forged sources
cannot turn the relay into a reflector.

`listening on ADDR` goes to stderr first. Ctrl-C or SIGTERM ends relay.")]
pub struct RelayArgs {
    /// Where clients connect: tcp://, tls://, udp://, unix://, HOST:PORT or
    /// a bare PORT.
    #[arg(value_name = "LISTEN")]
    listen: String,
    /// Where each client is forwarded: tcp://, tls://, udp://, unix:// or
    /// HOST:PORT.
    #[arg(value_name = "TARGET")]
    target: String,
    /// The most clients (UDP: mappings) at once.
    #[arg(short = 'm', long = "max-conns", value_name = "N", default_value_t = pipe::DEFAULT_MAX_CONNS)]
    max_conns: usize,
    /// Seconds to wait for TARGET to accept each connection (default 10).
    #[arg(short = 'w', long = "wait", value_name = "SECS")]
    wait: Option<f64>,
    /// End a connection after this many seconds with no byte either way;
    /// for UDP, the mapping timeout (default 60).
    #[arg(short = 'i', long = "idle-timeout", value_name = "SECS")]
    idle_timeout: Option<f64>,
    #[command(flatten)]
    side: super::pipe::ListenSide,
    /// One JSON object per finished connection on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: super::tls_opts::TlsArgs,
    #[command(flatten)]
    client_tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit relay`.
pub async fn run(a: RelayArgs) -> anyhow::Result<ExitCode> {
    let target = super::pipe::endpoint(&a.target, None, false)?;
    let udp_listen = a.listen.starts_with("udp://");
    let bound =
        super::pipe::bind_listen(&a.listen, None, udp_listen, a.side.ipv4, a.side.ipv6).await?;
    let local = bound
        .local_endpoint()
        .with_context(|| format!("reading the address bound for {}", a.listen))?;
    let (local, tls) = super::pipe::listen_tls(&a.listen, local, &a.tls, &a.side.data).await?;
    let acl = a.side.acl();
    let opts = PipeOpts {
        wait: super::pipe::seconds("-w", a.wait)?,
        idle: super::pipe::seconds("-i", a.idle_timeout)?,
        max_conns: a.max_conns,
        trust: a.client_tls.trust_for(&target).await?,
        acl,
        tls,
        ..PipeOpts::default()
    };
    let stop = stop_signal().context("installing the Ctrl-C handler")?;
    eprintln!("listening on {local}");
    eprintln!("relaying to {target}");
    let (tx, mut rx) = tokio::sync::mpsc::channel(relay::REPORT_QUEUE);
    let printer = async {
        while let Some(r) = rx.recv().await {
            print_report(&r, a.json)?;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        r = relay::serve(bound, target, opts, tx) => r?,
        r = printer => r?,
        () = stop => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// One finished connection: a JSON line on stdout, or a line on stderr.
fn print_report(r: &ConnReport, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, r)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    let dgrams = r
        .datagrams
        .map(|(u, d)| format!(" ({u} datagrams up, {d} down)"))
        .unwrap_or_default();
    let end = r
        .error
        .as_deref()
        .map(|e| format!("; ended by an error: {e}"))
        .unwrap_or_default();
    eprintln!(
        "#{} {}: {} bytes up, {} bytes down{dgrams} in {:.3} s{end}",
        r.id, r.client, r.bytes_up, r.bytes_down, r.secs
    );
    Ok(())
}
