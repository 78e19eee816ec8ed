//! Flags for operators: `serve --metrics ADDR` (health, readiness and
//! Prometheus metrics over HTTP) and the global `--log-format`.

use std::sync::Arc;

use sockit::net::{Endpoint, Gate, StreamListener, Transport};
use sockit::ops::Readiness;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The operator's listener flag of `sockit serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Operations")]
pub struct OpsArgs {
    /// Serve /healthz (alive), /readyz (accepting, stores answering; 503
    /// while draining) and Prometheus /metrics over HTTP on ADDR: a bare
    /// PORT listens on 127.0.0.1 only, HOST:PORT or tcp://HOST:PORT where
    /// you say, unix://PATH on a socket file. Off unless given. Behind the
    /// same access lists and per-IP cap as every door.
    #[arg(long, value_name = "ADDR", value_parser = metrics_addr)]
    metrics: Option<Endpoint>,
}

/// `--metrics`'s value: `PORT` (loopback), `HOST:PORT`, `tcp://` or `unix://`.
fn metrics_addr(s: &str) -> Result<Endpoint, String> {
    let ep: Endpoint = if let Ok(port) = s.parse::<u16>() {
        format!("tcp://127.0.0.1:{port}").parse()
    } else if s.contains("://") {
        s.parse()
    } else {
        format!("tcp://{s}").parse()
    }
    .map_err(|e| format!("{e}"))?;
    match ep.transport() {
        Transport::Tcp | Transport::Unix => Ok(ep),
        _ => Err(format!(
            "{s}: the metrics listener speaks plain HTTP over tcp:// or unix://; \
             keep it on loopback or a private network (e.g. --metrics 9464)"
        )),
    }
}

impl OpsArgs {
    /// Binds and starts the listener when `--metrics` is given, printing
    /// `metrics listening on ADDR`. `/readyz` turns "not ready" once
    /// `draining` is cancelled and while a store in `probes` fails. The
    /// listener stops when the returned guard drops.
    pub async fn start(
        &self,
        gate: Arc<Gate>,
        draining: CancellationToken,
        services: &sockit::service::Services,
    ) -> anyhow::Result<Option<DropGuard>> {
        let Some(ep) = &self.metrics else {
            return Ok(None);
        };
        let bound = sockit::net::bind(ep).await?;
        let shown = bound.local_endpoint()?;
        let Ok(listener) = StreamListener::from_bound(bound) else {
            anyhow::bail!("--metrics {ep}: not a stream address; give tcp:// or unix://");
        };
        let mut ready = Readiness::new(draining);
        if let Some(accounts) = &services.accounts {
            ready = ready.with_probe(Arc::new(accounts.clone()));
        }
        let stop = CancellationToken::new();
        tokio::spawn(sockit::ops::http::serve(
            listener,
            gate,
            ready,
            stop.clone(),
        ));
        println!("{} listening on {shown}", sockit::ops::http::DOOR);
        Ok(Some(stop.drop_guard()))
    }
}

/// How log lines look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One compact line of text per event, for people.
    Text,
    /// One JSON object per line: time, level, target, message, fields.
    Json,
}

/// The logging flag every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log lines on stderr as text (for people) or json (one object per
    /// line with time, level, target, message and fields, for log
    /// shippers); RUST_LOG and -v still choose what is logged.
    #[arg(long, global = true, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_is_loopback_and_udp_is_refused() {
        assert_eq!(
            metrics_addr("9464").unwrap().to_string(),
            "tcp://127.0.0.1:9464"
        );
        assert_eq!(
            metrics_addr("0.0.0.0:9464").unwrap().to_string(),
            "tcp://0.0.0.0:9464"
        );
        assert!(metrics_addr("unix://m.sock").is_ok());
        let e = metrics_addr("udp://127.0.0.1:9464").unwrap_err();
        assert!(e.contains("tcp:// or unix://"), "{e}");
        assert!(metrics_addr("tls://127.0.0.1:9464").is_err());
    }
}
