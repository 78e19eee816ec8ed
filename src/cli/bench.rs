//! `sockit bench`: parse the flags, run the load, print the figures.

use std::io::{self, Write};
use std::process::ExitCode;

use sockit::client::bench::churn::Churn;
use sockit::stats::fmt_us;

use self::print::{print_interval, print_report};
use self::web::{Target, web_session};

mod print;
mod web;
use sockit::client::bench::{BenchConfig, CancellationToken, Mode, bench_live};

/// Arguments of `sockit bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit bench tcp://127.0.0.1:8888
      one connection, one 64-byte message at a time, for 10 s (after 1 s warm-up)
  sockit bench --conns 100 --duration 5 tcp://127.0.0.1:8888
  sockit bench --conns 4 --pipeline 16 udp://127.0.0.1:8888
      16 datagrams in flight per socket; losses counted after --timeout
  sockit bench --rate 20000 --conns 10 tcp://127.0.0.1:8888
      open loop: 20000 msg/s in total, latency from the intended send time
  sockit bench --stream --size 65536 tcp://127.0.0.1:8888
      bulk MB/s through one connection with 64 KiB writes
  sockit bench --proto frame-ping --conns 50 --pipeline 16 tcp://127.0.0.1:7878
      framed ping/pong through `sockit serve --listen` (the frame protocol)
  sockit bench --proto redis --conns 50 --pipeline 16 tcp://127.0.0.1:6379
      the same load against Redis's PING, for a side-by-side comparison
  sockit bench --rate 5000 --hgrm run.hgrm --plot run.svg tcp://127.0.0.1:8888
      the full percentile spectrum as .hgrm, and drawn as SVG
  sockit bench --sweep 10k..200k --p99-max 5 --duration 3 tcp://127.0.0.1:8888
      the knee: the highest rate served on schedule with p99 under 5 ms
  sockit bench --rate 2000 --interval 1 --duration 3 tcp://127.0.0.1:8888
      a line per second: rate achieved vs intended, p50 and p99 of that second
  sockit bench --conns 20 --conn-lifetime 1 --duration 3 tcp://127.0.0.1:8888
      churn: each connection replaced after 1 s (20 connects/s)
  sockit bench --conns 50 --connect-rate 100 --duration 2 tcp://127.0.0.1:8888
      a ramp: 100 new connections a second up to 50, as tcpkali's --connect-rate
  sockit bench --user alice --conns 10 --duration 2 ws://127.0.0.1:8080/ws
      the web door's WebSocket (ping -> pong), logged in as alice

ws://HOST:PORT/ws and wss:// load a web door (`sockit serve --web`) as a
browser talks to it: one POST /api/login as --user (the password from
SOCKIT_PASSWORD, a prompt, or --password-stdin; plain ws:// only to this
machine), then each connection is a WebSocket with that session cookie
sending {\"type\":\"ping\",\"id\":K} and matching {\"type\":\"pong\",\"id\":K}
(proto \"ws-ping\", no payload). Every mode and flag above applies but
--stream and --proto.

--proto picks the wire format: echo (raw bytes, default), frame (sockit echo
frames carrying a --size body), frame-ping (sockit ping -> pong frames),
redis (PING -> +PONG), nats (PING -> PONG after the CONNECT handshake).

Works against any echo service (sockit serve, socat, ncat, a C echo), so all
are measured by the same client. Closed loop (default): each connection keeps
--pipeline messages in flight and sends the next when a reply is complete.
Open loop (--rate): messages leave on schedule whatever the replies do; a
server that stalls shows up as latency (no coordinated omission). Stream
(--stream, TCP/Unix): a writer streams continuously, a reader counts echoed
bytes; no latency. Replies are checked byte for byte; corrupt ones are errors.
MB/s counts payload bytes echoed, each once, in 10^6 bytes.

With --json the last line of stdout is one JSON object:
  {\"conns\":N,\"size\":N,\"duration_s\":..,\"messages\":N,\"msgs_per_s\":..,\"mb_per_s\":..,
   \"latency_us\":{\"min\":..,\"mean\":..,\"p50\":..,\"p90\":..,\"p99\":..,\"p999\":..,\"max\":..,
   \"stddev\":..},\"errors\":N,\"timeouts\":N,\"mismatched\":N,\"bytes\":N,\"mode\":..,
   \"pipeline\":..,\"rate\":..,\"warmup_s\":..,\"target\":..,\"transport\":..,\"first_error\":..,
   \"achieved_fraction\":..,\"percentiles_us\":[[quantile,us,count],..]}
latency_us fields are null in stream mode. percentiles_us is the full
spectrum (as --hgrm writes it). With --rate, achieved_fraction is the
completed rate over the intended one; below 0.95 a loud warning on stderr
says the schedule slipped.

Churn (--connect-rate R, --conn-lifetime SECS; TCP, Unix and TLS): each of
--conns slots opens a connection, loads it, and after SECS stops sending,
waits up to --timeout for its replies, closes it and opens the next; new
connections start at most R per second. First lifetimes are staggered so
replacements spread evenly. In the open loop a slot keeps its schedule
across connections: messages due while it reconnects leave on the next one,
their latency counted from when they were due. The summary adds connects
(warm-up included), connects/s achieved vs intended (conns/lifetime capped
at R, or the ramp's R), failed connects, and connect latency (TCP, TLS and
protocol handshakes); JSON adds \"connects\", \"connect_failures\",
\"connects_per_s\", \"connect_rate\", \"conn_lifetime_s\" and
\"connect_latency_us\" (null without churn), and each --interval line its
connects. Below 95% of the intended connect rate a warning says so. A refused
connect is counted and retried (every 10 ms per slot without R), not fatal.

--interval SECS prints a line per interval of the measured window (the
replies completed in it: messages, msg/s, with --rate the fraction of the
intended rate, p50 and p99); with --json each is a line {\"interval\":{..}}
before the final object.

Ctrl-C stops the run early and prints the summary of what ran (duration_s is
the measured time that ran; \"interrupted\":true in --json); the exit status
is then as for a whole run (0 when messages were echoed), as ping's.

Exit status: 0 when messages were echoed, 1 when none were, 2 on errors
(bad flags, a connection that could not be opened).")]
pub struct BenchArgs {
    /// The echo service: tcp://HOST:PORT, udp://HOST:PORT, unix://PATH, or
    /// HOST:PORT (TCP); or a web door's WebSocket: ws://HOST:PORT/ws, wss://...
    #[arg(value_name = "ADDR")]
    target: Target,
    /// ws:// targets: the account the web door's /ws is logged in as (its
    /// password from SOCKIT_PASSWORD, a prompt, or --password-stdin).
    #[arg(long, short, value_name = "NAME")]
    user: Option<String>,
    /// ws:// targets: read the password from one line of stdin.
    #[arg(long, requires = "user")]
    password_stdin: bool,
    /// Concurrent connections (UDP: connected sockets).
    #[arg(long, value_name = "N", default_value_t = 1)]
    conns: usize,
    /// Message size in bytes (UDP: 8 to 65507, the first 8 carry a sequence number).
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring starts (excluded from the figures).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    warmup: f64,
    /// Messages in flight per connection (closed loop).
    #[arg(long, value_name = "DEPTH", default_value_t = 1, conflicts_with_all = ["rate", "stream"])]
    pipeline: usize,
    /// Open loop: messages per second across all connections, sent on schedule.
    #[arg(long, value_name = "R", conflicts_with = "stream")]
    rate: Option<f64>,
    /// Bulk mode (TCP/Unix): write continuously and count echoed bytes.
    #[arg(long)]
    stream: bool,
    /// Seconds after which an unanswered message counts as a timeout (UDP: lost).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    timeout: f64,
    /// Seconds a TCP or Unix connect may take.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    connect_timeout: f64,
    /// End with one JSON object on the last line of stdout (instead of the text).
    #[arg(long)]
    json: bool,
    /// Wire format: echo, frame, frame-ping, redis or nats (see below).
    #[arg(long, value_name = "PROTO", default_value = "echo")]
    proto: sockit::client::probe_format::Proto,
    /// Write the full latency spectrum to FILE in HdrHistogram's .hgrm
    /// format (milliseconds), for HdrHistogram's plotter.
    #[arg(long, value_name = "FILE")]
    hgrm: Option<std::path::PathBuf>,
    /// Open-loop runs at rising rates LOW..HIGH (e.g. 10k..200k; each run
    /// --warmup + --duration long) to find the knee: the highest rate kept
    /// on schedule with p99 under --p99-max.
    #[arg(long, value_name = "LOW..HIGH", conflicts_with_all = ["rate", "stream", "hgrm", "plot"])]
    sweep: Option<String>,
    /// Rates tried before refining (evenly spaced on a log scale).
    #[arg(long, value_name = "N", default_value_t = 8, requires = "sweep")]
    steps: usize,
    /// The p99 bound of --sweep, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10.0, requires = "sweep")]
    p99_max: f64,
    /// Print a line per interval of SECS: messages, rate achieved vs
    /// intended, p50/p99 of that interval (JSON lines with --json).
    #[arg(long, value_name = "SECS", conflicts_with_all = ["sweep", "stream"])]
    interval: Option<f64>,
    /// Draw latency by percentile to FILE as SVG.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<std::path::PathBuf>,
    /// Connection churn: open new connections at most R per second (as
    /// tcpkali). Alone, it paces the ramp up to --conns; with
    /// --conn-lifetime, the replacements.
    #[arg(long, value_name = "R", conflicts_with = "stream")]
    connect_rate: Option<f64>,
    /// Connection churn: close each connection after SECS (its replies
    /// awaited up to --timeout) and open a new one in its place.
    #[arg(long, value_name = "SECS", conflicts_with = "stream")]
    conn_lifetime: Option<f64>,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit bench`.
pub async fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let mode = match (a.rate, a.stream) {
        (Some(rate), _) => Mode::Open { rate },
        (None, true) => Mode::Stream,
        (None, false) => Mode::Closed { depth: a.pipeline },
    };
    if matches!(a.target, Target::Web(_)) && a.proto != sockit::client::probe_format::Proto::Echo {
        // Said before the password is asked for.
        anyhow::bail!(
            "--proto {} does not apply to ws:// targets: they send the web door's ping",
            a.proto
        );
    }
    let (target, web) = match &a.target {
        Target::Net(ep) => (ep.clone(), None),
        Target::Web(w) => (w.endpoint.clone(), Some(w.clone())),
    };
    let trust = a.tls.trust_for(&target).await?;
    let web = match web {
        Some(w) => Some(web_session(w, &a, &trust).await?),
        None => None,
    };
    let cfg = BenchConfig {
        trust,
        target,
        web,
        conns: a.conns,
        size: a.size,
        duration: super::seconds("--duration", a.duration, true)?,
        warmup: super::seconds("--warmup", a.warmup, false)?,
        mode,
        timeout: super::seconds("--timeout", a.timeout, true)?,
        connect_timeout: super::seconds("--connect-timeout", a.connect_timeout, true)?,
        proto: a.proto,
        churn: match (a.connect_rate, a.conn_lifetime) {
            (None, None) => None,
            (connect_rate, life) => Some(Churn {
                connect_rate,
                lifetime: match life {
                    Some(s) => Some(super::seconds("--conn-lifetime", s, true)?),
                    None => None,
                },
            }),
        },
    };
    eprintln!(
        "bench {} ({}): {} conns, {} messages, {}; {} s warm-up, {} s measured",
        cfg.web
            .as_ref()
            .map_or_else(|| cfg.target.to_string(), |w| w.url.clone()),
        if cfg.web.is_some() {
            "ws-ping".to_string()
        } else {
            cfg.proto.to_string()
        },
        cfg.conns,
        if cfg.proto.carries_payload() && cfg.web.is_none() {
            format!("{}-byte", cfg.size)
        } else {
            "fixed".to_string()
        },
        mode_text(cfg.mode),
        a.warmup,
        a.duration
    );
    if let Some(range) = &a.sweep {
        return run_sweep(&cfg, range, a.steps, a.p99_max, a.json).await;
    }
    let interval = match a.interval {
        Some(s) => Some(super::seconds("--interval", s, true)?),
        None => None,
    };
    // Ctrl-C ends the run early; the summary of what ran still prints.
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let json = a.json;
    let report = bench_live(&cfg, interval, stop, |i| print_interval(i, json)).await;
    watcher.abort();
    let report = report?;
    write_exports(&report, a.hgrm.as_deref(), a.plot.as_deref())?;
    if let (Some(f), Some(rate)) = (report.achieved_fraction, report.rate)
        && f < SLIP_WARNING
    {
        eprintln!(
            "sockit: WARNING: the schedule slipped: {:.0} msg/s completed of the {rate} msg/s intended ({:.0}%). Either the server could not keep up (its queueing is in the latencies) or this client could not (check its CPU, or spread the load over more --conns or machines); these latencies are not the server's at {rate} msg/s.",
            report.msgs_per_s,
            f * 100.0
        );
    }
    if let (Some(done), Some(want)) = (report.connects_per_s, report.connect_rate)
        && done < want * SLIP_WARNING
    {
        eprintln!(
            "sockit: WARNING: connects fell behind: {done:.0}/s achieved of the {want:.0}/s intended ({} failed). Each replacement waits for its predecessor's replies and its own handshakes, so a slow accept, a refusal or a client that cannot keep up all show here; the message latencies include that wait.",
            report.connect_failures.unwrap_or(0)
        );
    }
    let mut out = io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        print_report(&mut out, &report)?;
    }
    if let Some(e) = &report.first_error {
        eprintln!("sockit: bench {}: first error: {e}", report.target);
    }
    if report.interrupted {
        eprintln!(
            "sockit: bench stopped by Ctrl-C after {:.2} s of the {} s measured window",
            report.duration_s, a.duration
        );
    }
    Ok(if report.messages > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `--sweep` and prints each step, then the knee.
async fn run_sweep(
    cfg: &BenchConfig,
    range: &str,
    steps: usize,
    p99_max_ms: f64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use sockit::client::bench::sweep;
    let range = sweep::parse_range(range).map_err(anyhow::Error::msg)?;
    if !(2..=50).contains(&steps) {
        anyhow::bail!("--steps {steps}: give 2 to 50");
    }
    let bound = super::seconds("--p99-max", p99_max_ms / 1000.0, true)?;
    let report = sweep::sweep(cfg, range, steps, bound, |s| {
        if json {
            println!("{}", serde_json::to_string(s).unwrap_or_default());
        } else {
            println!(
                "rate {:>10.0} msg/s  achieved {:>5.1}%  p99 {:>10}  {}",
                s.rate,
                s.achieved_fraction * 100.0,
                s.p99_us.map_or_else(|| "-".to_string(), fmt_us),
                if s.ok { "ok" } else { "over" }
            );
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        match (report.knee, report.first_fail) {
            (Some(k), Some(f)) => println!(
                "knee        {k:.0} msg/s (p99 under {p99_max_ms} ms; {f:.0} msg/s was not)"
            ),
            (Some(k), None) => println!(
                "knee        above {k:.0} msg/s: every rate kept p99 under {p99_max_ms} ms"
            ),
            (None, _) => println!(
                "knee        below {:.0} msg/s: even the lowest rate missed its schedule or the bound",
                range.0
            ),
        }
    }
    Ok(if report.knee.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Below this fraction of the intended rate, an open-loop run warns that
/// its schedule slipped: 5% covers replies still in flight at the window's
/// end and timer jitter, never a real shortfall.
const SLIP_WARNING: f64 = 0.95;

/// Writes `--hgrm` and `--plot` files (0600, atomically).
fn write_exports(
    r: &sockit::client::bench::BenchReport,
    hgrm: Option<&std::path::Path>,
    plot: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if (hgrm.is_some() || plot.is_some()) && r.latency.count() == 0 {
        anyhow::bail!(
            "no latencies were measured (stream mode, or no replies), so there is nothing for --hgrm or --plot"
        );
    }
    if let Some(path) = hgrm {
        sockit::fsutil::write_atomic(path, r.latency.hgrm().as_bytes(), 0o600)
            .with_context(|| format!("writing --hgrm {}", path.display()))?;
    }
    if let Some(path) = plot {
        let title = format!(
            "sockit bench {} ({}, {} conns, {})",
            r.target, r.proto, r.conns, r.mode
        );
        let svg = sockit::client::bench::plot::svg(&r.percentiles_us, &title);
        sockit::fsutil::write_atomic(path, svg.as_bytes(), 0o600)
            .with_context(|| format!("writing --plot {}", path.display()))?;
    }
    Ok(())
}

fn mode_text(m: Mode) -> String {
    match m {
        Mode::Closed { depth } => format!("closed loop, {depth} in flight per connection"),
        Mode::Open { rate } => format!("open loop at {rate} msg/s"),
        Mode::Stream => "streaming".to_string(),
    }
}
