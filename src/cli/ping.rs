//! `sockit ping`: parse the flags, print one line per probe and a summary.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use sockit::client::ping::{PingConfig, PingReport, Progress, ping};
use sockit::client::track::Event;
use sockit::net::Endpoint;
use sockit::stats::fmt_us;
use tokio_util::sync::CancellationToken;

/// Arguments of `sockit ping`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit ping udp://127.0.0.1:8888             one probe a second until Ctrl-C
  sockit ping -c 5 tcp://127.0.0.1:8888        five probes over one TCP connection
  sockit ping -c 100 -i 0.01 -q unix://echo.sock
  sockit ping -c 10 -s 1400 -W 0.2 --json udp://[::1]:8888
  sockit ping -c 5 --proto frame tcp://127.0.0.1:7878
      through the frame protocol: each probe is the body of a sockit echo frame

Works against any echo service (sockit serve, socat, ncat). Every probe starts
with its 8-byte big-endian sequence number, so replies are matched by content:
duplicates, reordering, late replies (after -W) and corrupt replies are counted.
Over TCP and Unix the connect time is reported apart from the round trips.

With --json the last line of stdout is one JSON object:
  {\"sent\":N,\"received\":N,\"lost\":N,\"rtt_us\":{\"min\":..,\"mean\":..,\"p50\":..,
   \"p90\":..,\"p99\":..,\"p999\":..,\"max\":..,\"stddev\":..},\"loss_pct\":..,
   \"duplicates\":N,\"out_of_order\":N,\"late\":N,\"mismatched\":N,\"unreachable\":N,
   \"connect_us\":..,\"target\":..,\"transport\":..,\"size\":N,\"elapsed_s\":..,\"ended_by\":..}
rtt_us fields are null when no reply came back; connect_us is null over UDP.

Exit status, as ping(8): 0 when at least one reply came back, 1 when none
did, 2 on errors (bad flags, connection refused, unknown host). Ctrl-C prints
the summary and exits by the same rule.")]
pub struct PingArgs {
    /// The echo service: tcp://HOST:PORT, udp://HOST:PORT, unix://PATH, or HOST:PORT (TCP).
    #[arg(value_name = "ADDR")]
    target: Endpoint,
    /// Stop after COUNT probes [default: until Ctrl-C].
    #[arg(short = 'c', long, value_name = "COUNT")]
    count: Option<u64>,
    /// Seconds between probes; fractions allowed (-i 0.01).
    #[arg(short = 'i', long, value_name = "SECS", default_value_t = 1.0)]
    interval: f64,
    /// Probe size in bytes; at least 8 (the sequence number), at most 65507 over UDP.
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// Seconds to wait for each reply; later replies are reported as late.
    #[arg(short = 'W', long, value_name = "SECS", default_value_t = 1.0)]
    timeout: f64,
    /// Seconds a TCP or Unix connect may take.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    connect_timeout: f64,
    /// Print only the summary, not a line per probe.
    #[arg(short, long)]
    quiet: bool,
    /// End with one JSON object on the last line of stdout (instead of the text summary).
    #[arg(long)]
    json: bool,
    /// Wire format: echo (raw probes, any echo service) or frame (each probe
    /// inside a sockit echo frame, to `sockit serve --listen`).
    #[arg(long, value_name = "PROTO", default_value = "echo")]
    proto: sockit::client::probe_format::Proto,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit ping`.
pub async fn run(a: PingArgs) -> anyhow::Result<ExitCode> {
    let cfg = PingConfig {
        target: a.target.clone(),
        count: a.count,
        interval: super::seconds("-i", a.interval, false)?,
        size: a.size,
        timeout: super::seconds("-W", a.timeout, true)?,
        connect_timeout: super::seconds("--connect-timeout", a.connect_timeout, true)?,
        proto: a.proto,
        trust: a.tls.trust_for(&a.target).await?,
    };
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let mut out = io::stdout();
    // A failed write (stdout closed: `| head`) stops the run, as SIGPIPE would.
    let mut write_err = None;
    let report = ping(&cfg, stop.clone(), |p| {
        if a.quiet || write_err.is_some() {
            return;
        }
        if let Err(e) = writeln!(out, "{}", progress_line(&cfg, p)) {
            write_err = Some(e);
            stop.cancel();
        }
    })
    .await?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if let Some(why) = report.ended_by.as_deref().filter(|w| *w != "interrupted") {
        eprintln!("sockit: ping {}: {why}", cfg.target);
    }
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        print_summary(&mut out, &report)?;
    }
    out.flush()?;
    Ok(if report.received > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line for one thing that happened, in ping(8)'s manner.
fn progress_line(cfg: &PingConfig, p: &Progress) -> String {
    let to = &cfg.target;
    let time = |d: &Duration| fmt_us(d.as_secs_f64() * 1e6);
    match p {
        Progress::Ready { connect } => {
            let head = format!(
                "PING {to}: {}-byte probes every {} s, timeout {} s",
                cfg.size,
                cfg.interval.as_secs_f64(),
                cfg.timeout.as_secs_f64()
            );
            match connect {
                Some(c) => format!("{head}\nconnected in {}", time(c)),
                None => head,
            }
        }
        Progress::Unreachable => {
            format!("{to}: port unreachable (ICMP); is a server listening there?")
        }
        Progress::Probe(e) => match e {
            Event::Reply {
                seq,
                bytes,
                rtt,
                out_of_order,
            } => {
                let ooo = if *out_of_order { " (out of order)" } else { "" };
                format!("{bytes} bytes from {to}: seq={seq} time={}{ooo}", time(rtt))
            }
            Event::Duplicate { seq, rtt } => {
                format!(
                    "{} bytes from {to}: seq={seq} time={} (DUP!)",
                    cfg.size,
                    time(rtt)
                )
            }
            Event::Late {
                seq,
                rtt: Some(rtt),
            } => {
                let w = time(&cfg.timeout);
                format!(
                    "late reply from {to}: seq={seq} time={} (after the {w} timeout)",
                    time(rtt)
                )
            }
            Event::Late { seq, rtt: None } => {
                format!("late reply from {to}: seq={seq} (too old to time)")
            }
            Event::Lost { seq } => format!(
                "no reply from {to}: seq={seq} within {}",
                time(&cfg.timeout)
            ),
            Event::Mismatch {
                seq: Some(seq),
                bytes,
            } => {
                format!(
                    "bad reply from {to}: {bytes} bytes claiming seq={seq} differ from the probe"
                )
            }
            Event::Mismatch { seq: None, bytes } => {
                format!("bad reply from {to}: {bytes} bytes that are no probe of ours")
            }
        },
    }
}

/// The ping(8)-style summary.
fn print_summary(out: &mut impl Write, r: &PingReport) -> io::Result<()> {
    writeln!(out, "--- {} ping statistics ---", r.target)?;
    writeln!(
        out,
        "{} sent, {} received, {:.1}% loss, time {}",
        r.sent,
        r.received,
        r.loss_pct,
        fmt_us(r.elapsed_s * 1e6)
    )?;
    let extras = [
        (r.duplicates, "duplicates"),
        (r.out_of_order, "out of order"),
        (r.late, "late"),
        (r.mismatched, "mismatched"),
        (r.unreachable, "port unreachable"),
    ];
    let extras: Vec<String> = extras
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if !extras.is_empty() {
        writeln!(out, "{}", extras.join(", "))?;
    }
    if let Some(c) = r.connect_us {
        writeln!(out, "connect {}", fmt_us(c))?;
    }
    if let Some(s) = &r.rtt_us {
        writeln!(
            out,
            "rtt min/mean/p50/p90/p99/p99.9/max/stddev = {:.1}/{:.1}/{:.1}/{:.1}/{:.1}/{:.1}/{:.1}/{:.1} us",
            s.min, s.mean, s.p50, s.p90, s.p99, s.p999, s.max, s.stddev
        )?;
    }
    Ok(())
}
