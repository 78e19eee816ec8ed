//! `sockit perf`: TCP throughput against `sockit serve --perf`, printed
//! per interval and as a summary (iperf3's layout), or as JSON; UDP (-u)
//! in `perf_udp`.

use std::process::ExitCode;

use anyhow::bail;
use sockit::client::perf::{self, Interval, PerfOpts, Summary};
use sockit::client::perf_udp;
use sockit::wire::perf::{MAX_TEST_SECS, PerfMode};

/// Arguments of `sockit perf`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit serve --perf tcp://127.0.0.1:5201 &          the server side (a door of serve)
  sockit perf tcp://127.0.0.1:5201                    10 s client -> server
  sockit perf -R -t 5 tcp://127.0.0.1:5201            server -> client
  sockit perf --bidir -P 4 tcp://127.0.0.1:5201       both ways, 4 streams each
  sockit perf -i 0 --json tcp://127.0.0.1:5201 > run.json
  sockit serve --perf udp://127.0.0.1:5201 &          the UDP door (may share the port)
  sockit perf -u -b 100M -t 3 udp://127.0.0.1:5201    UDP at 100 Mbit/s: loss, jitter

Each stream is one connection to the perf door; the sender sends for -t
seconds, then the server reports what it received and sent, its TCP
retransmits (TCP_INFO) and its process's CPU. Intervals show what the
client sent and received; the summary shows both ends' counts, so a
difference means bytes still in flight at the end. Retransmits are the
sending sockets' (the client's for an upload, the server's for -R, both
for --bidir). CPU is percent of one core for the whole process at each end.

The server runs any number of tests at once, each under serve's limits
(--max-conns, --max-conns-per-ip, --allow/--deny); run one at a time for
figures that mean something.

UDP (-u, or a udp:// address): the client sends datagrams of -l bytes,
each with a sequence number and its send time, paced at -b bits/s of
payload (K, M, G suffixes: 1000s; 0 for as fast as it can), then asks the
server for its counts. Per interval (by send time) and in total: datagrams
sent, received, lost (count and %), out of order, and the server's smoothed
interarrival jitter (RFC 3550). The intervals print at the end, when the
server's counts arrive. Client to server only (no -R, --bidir or -P).")]
pub struct PerfArgs {
    // Fields are pub(super) for the UDP half in `perf_udp`.
    /// The server's perf door: tcp://, tls://, unix:// or udp://.
    #[arg(value_name = "ADDR")]
    pub(super) addr: sockit::net::Endpoint,
    /// Seconds to send.
    #[arg(
        short = 't',
        long = "time",
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub(super) time: f64,
    /// Parallel streams.
    #[arg(short = 'P', long = "parallel", value_name = "N", default_value_t = 1)]
    pub(super) parallel: usize,
    /// Reverse: the server sends, the client receives.
    #[arg(short = 'R', long, conflicts_with = "bidir")]
    pub(super) reverse: bool,
    /// Both directions at once on each stream.
    #[arg(long)]
    pub(super) bidir: bool,
    /// Seconds between interval reports; 0 for the summary only.
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "SECS",
        default_value_t = 1.0
    )]
    pub(super) interval: f64,
    /// One JSON document at the end: intervals and summary.
    #[arg(long)]
    pub(super) json: bool,
    /// Seconds to wait for each connection.
    #[arg(
        short = 'w',
        long = "wait",
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub(super) wait: f64,
    /// UDP at a target bitrate (implied by a udp:// address).
    #[arg(short = 'u', long)]
    pub(super) udp: bool,
    /// UDP target bitrate of payload: bits/s, K/M/G suffixes (x1000); 0 is unlimited.
    #[arg(
        short = 'b',
        long = "bitrate",
        value_name = "RATE",
        default_value = "1M"
    )]
    pub(super) bitrate: String,
    /// UDP payload bytes per datagram.
    #[arg(short = 'l', long = "length", value_name = "BYTES", default_value_t = perf_udp::DEFAULT_LEN)]
    pub(super) length: usize,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit perf`.
pub async fn run(a: PerfArgs) -> anyhow::Result<ExitCode> {
    if !(a.time > 0.0 && a.time <= MAX_TEST_SECS) {
        bail!(
            "-t {}: give more than 0 and at most {MAX_TEST_SECS} seconds (the server's limit)",
            a.time
        );
    }
    if a.udp || matches!(a.addr, sockit::net::Endpoint::Udp(_)) {
        return super::perf_udp::run(&a).await;
    }
    if a.parallel == 0 || a.parallel > perf::MAX_STREAMS {
        bail!("-P {}: give 1 to {} streams", a.parallel, perf::MAX_STREAMS);
    }
    let mode = match (a.reverse, a.bidir) {
        (true, _) => PerfMode::Down,
        (_, true) => PerfMode::Bidir,
        _ => PerfMode::Up,
    };
    let interval = match a.interval {
        0.0 => None,
        s => Some(super::seconds("-i", s, true)?),
    };
    let opts = PerfOpts {
        mode,
        secs: a.time,
        streams: a.parallel,
        interval,
        connect_timeout: super::seconds("-w", a.wait, true)?,
        trust: a.tls.trust_for(&a.addr).await?,
    };
    let mut intervals = Vec::new();
    let json = a.json;
    let summary = perf::run(&a.addr, &opts, |i| {
        if json {
            intervals.push(i.clone());
        } else {
            print_interval(i, mode);
        }
    })
    .await?;
    if json {
        let doc = serde_json::json!({ "intervals": intervals, "summary": summary });
        println!("{doc}");
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// Bits per second of `bytes` over `secs`, in the unit a person reads.
pub(super) fn rate(bytes: u64, secs: f64) -> String {
    let bps = if secs > 0.0 {
        bytes as f64 * 8.0 / secs
    } else {
        0.0
    };
    match bps {
        b if b >= 1e9 => format!("{:.2} Gbit/s", b / 1e9),
        b if b >= 1e6 => format!("{:.1} Mbit/s", b / 1e6),
        b => format!("{:.1} kbit/s", b / 1e3),
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1024.0 * 1024.0 * 1024.0 => format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0)),
        b if b >= 1024.0 * 1024.0 => format!("{:.1} MiB", b / (1024.0 * 1024.0)),
        b => format!("{:.1} KiB", b / 1024.0),
    }
}

fn print_interval(i: &Interval, mode: PerfMode) {
    let secs = i.end - i.start;
    let span = format!("{:6.2}-{:<6.2} s", i.start, i.end);
    if mode != PerfMode::Down {
        println!(
            "{span} sent     {:>10}  {:>14}",
            size(i.bytes_sent),
            rate(i.bytes_sent, secs)
        );
    }
    if mode != PerfMode::Up {
        println!(
            "{span} received {:>10}  {:>14}",
            size(i.bytes_received),
            rate(i.bytes_received, secs)
        );
    }
}

fn print_summary(s: &Summary) {
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |c| format!("{c:.0}%"));
    println!("- - - - - - - - - - - - - - - - - - - - - - - - -");
    println!("{} stream(s), {:.2} s", s.streams, s.secs);
    if s.mode != PerfMode::Down {
        println!(
            "client -> server: sent {} ({}), server received {} ({})",
            size(s.client_sent),
            rate(s.client_sent, s.secs),
            size(s.server_received),
            rate(s.server_received, s.secs)
        );
    }
    if s.mode != PerfMode::Up {
        println!(
            "server -> client: sent {} ({}), client received {} ({})",
            size(s.server_sent),
            rate(s.server_sent, s.secs),
            size(s.client_received),
            rate(s.client_received, s.secs)
        );
    }
    let retx = s
        .retransmits
        .map_or_else(|| "n/a".to_string(), |r| r.to_string());
    println!(
        "retransmits {retx}; cpu client {}, server {}",
        opt(s.cpu_client),
        opt(s.cpu_server)
    );
}
