//! `sockit perf -u`: UDP at a target bitrate, printed per interval and as
//! a summary (iperf3 -u's figures), or as JSON.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use sockit::client::perf_udp::{self, UdpInterval, UdpOpts, UdpSummary};
use sockit::net::Endpoint;
use sockit::wire::perf::MAX_TEST_SECS;
use sockit::wire::perf_udp::MAX_INTERVALS;

use super::perf::{PerfArgs, rate};

/// Highest -b accepted: far above what one core sends, so a typo (an
/// extra digit) is caught rather than meaning "unlimited".
const MAX_BITRATE: f64 = 1e12;

/// Runs `sockit perf -u`.
pub async fn run(a: &PerfArgs) -> anyhow::Result<ExitCode> {
    let Endpoint::Udp(hp) = &a.addr else {
        bail!(
            "-u needs a udp:// address (got {}); the door is `sockit serve --perf udp://HOST:PORT`",
            a.addr
        );
    };
    if a.reverse || a.bidir || a.parallel != 1 {
        bail!("-R, --bidir and -P are TCP only; UDP tests send client to server on one socket");
    }
    if !(a.time > 0.0 && a.time <= MAX_TEST_SECS) {
        bail!(
            "-t {}: give more than 0 and at most {MAX_TEST_SECS} seconds",
            a.time
        );
    }
    if !(perf_udp::MIN_LEN..=perf_udp::MAX_LEN).contains(&a.length) {
        bail!(
            "-l {}: give {} to {} bytes (the sequence header to the largest UDP payload)",
            a.length,
            perf_udp::MIN_LEN,
            perf_udp::MAX_LEN
        );
    }
    let bitrate = parse_rate(&a.bitrate)?;
    let interval = match a.interval {
        0.0 => None,
        s if s < 0.001 => bail!("-i {s}: give 0 (none) or at least 0.001 seconds"),
        s => Some(super::seconds("-i", s, true)?),
    };
    if let Some(i) = interval {
        let n = (a.time / i.as_secs_f64()).ceil();
        if n > MAX_INTERVALS as f64 {
            bail!(
                "-i {} with -t {}: {n} intervals; UDP reports at most {MAX_INTERVALS}, so raise -i",
                a.interval,
                a.time
            );
        }
    }
    let addr: SocketAddr = *a
        .addr
        .resolve()
        .await
        .with_context(|| format!("resolving {}", hp.host))?
        .first()
        .with_context(|| format!("{} resolves to no address", hp.host))?;
    let opts = UdpOpts {
        secs: a.time,
        bitrate,
        len: a.length,
        interval,
        connect_timeout: super::seconds("-w", a.wait, true)?,
    };
    let (intervals, summary) = tokio::task::spawn_blocking(move || perf_udp::run(addr, &opts))
        .await
        .context("the UDP sender thread failed")??;
    if a.json {
        let doc = serde_json::json!({ "intervals": intervals, "summary": summary });
        println!("{doc}");
    } else {
        for i in &intervals {
            print_interval(i);
        }
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a bitrate: a number with an optional K, M or G (powers of 1000,
/// as iperf3's -b).
fn parse_rate(s: &str) -> anyhow::Result<f64> {
    let t = s.trim();
    let not_rate =
        || anyhow::anyhow!("-b {s}: not a rate; give bits per second like 1G, 100M or 500K");
    let split = t.len()
        - t.chars()
            .last()
            .filter(char::is_ascii_alphabetic)
            .map_or(0, char::len_utf8);
    let v: f64 = t[..split].parse().map_err(|_| not_rate())?;
    let mult = match t[split..].to_ascii_uppercase().as_str() {
        "" => 1.0,
        "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        suffix => bail!("-b {s}: unknown suffix {suffix:?}; use K, M or G (e.g. -b 100M)"),
    };
    let bits = v * mult;
    if !(0.0..=MAX_BITRATE).contains(&bits) {
        bail!("-b {s}: give 0 (unlimited) up to 1000G");
    }
    Ok(bits)
}

fn print_interval(i: &UdpInterval) {
    let secs = i.end - i.start;
    println!(
        "{:6.2}-{:<6.2} s sent {:>8} {:>14}  received {:>8}  lost {:>6} ({:.2}%)  out of order {:>4}  jitter {:.3} ms",
        i.start,
        i.end,
        i.sent,
        rate((i.bits_per_second * secs / 8.0) as u64, secs),
        i.received,
        i.lost,
        i.loss_percent,
        i.out_of_order,
        i.jitter_ms
    );
}

fn print_summary(s: &UdpSummary) {
    let cpu = s
        .cpu_client
        .map_or_else(|| "n/a".to_string(), |c| format!("{c:.0}%"));
    let secs = s.secs;
    let as_bytes = |bps: f64| (bps * secs / 8.0) as u64;
    println!("- - - - - - - - - - - - - - - - - - - - - - - - -");
    println!("UDP, {} B datagrams, {:.2} s", s.length, s.secs);
    println!(
        "sent {} datagrams ({}), server received {} ({})",
        s.sent,
        rate(as_bytes(s.sent_bits_per_second), secs),
        s.received,
        rate(as_bytes(s.received_bits_per_second), secs)
    );
    println!(
        "lost {}/{} ({:.3}%), out of order {}, jitter {:.3} ms; cpu client {cpu}",
        s.lost, s.sent, s.loss_percent, s.out_of_order, s.jitter_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_iperf3_suffixes() {
        assert_eq!(parse_rate("1G").unwrap(), 1e9);
        assert_eq!(parse_rate("100m").unwrap(), 1e8);
        assert_eq!(parse_rate("2.5K").unwrap(), 2500.0);
        assert_eq!(parse_rate("0").unwrap(), 0.0);
        assert_eq!(parse_rate("1200").unwrap(), 1200.0);
        assert!(parse_rate("1T").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("-1M").is_err());
        assert!(parse_rate("").is_err());
    }
}
