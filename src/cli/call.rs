//! `sockit call`: send frames, print every reply as one JSON line; the
//! redis-cli of the sockit protocol.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sockit::client::failover;
use sockit::net::dial_with;
use sockit::net::tls::Trust;
use sockit::wire::{DEFAULT_MAX_BODY, Frame, FrameCodec, Limits};
use tokio::io::AsyncBufReadExt;
use tokio_util::codec::{FramedRead, FramedWrite};

/// Arguments of `sockit call`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = r#"Each reply is printed as its header on one JSON line; a reply with a body
also shows "size" and "sha256" of the body (or writes the body to --out).
Exit status: 0 when no reply was an error, 1 when one was, 2 on failure.
With --stdin, a line that is not a JSON object is reported with its line
number and skipped; the others are still sent and answered, then the exit
status is 2.

Examples:
  sockit call tcp://127.0.0.1:7878 '{"type":"ping","id":1,"ts":123}'
  sockit call tcp://127.0.0.1:7878 '{"type":"hello","version":1}'
  sockit call tls://example.org:7879 '{"type":"ping"}' --fingerprint sha256:...
  sockit call tcp://127.0.0.1:7878,tcp://127.0.0.1:7879 '{"type":"ping"}'
      the first node that answers; a line on stderr says if it fell over
  sockit call tcp://127.0.0.1:7878 '{"type":"echo"}' --body a.jpg --out b.jpg
  printf '%s\n' '{"type":"ping","id":1}' '{"type":"ping","id":2}' \
    | sockit call tcp://127.0.0.1:7878 --stdin"#
)]
pub struct CallArgs {
    /// Server address (tcp://, tls:// or unix://), or several nodes
    /// separated by commas, tried in turn.
    addr: super::server_addr::ServerList,
    /// The frame header, a JSON object such as '{"type":"ping"}'.
    #[arg(required_unless_present = "stdin")]
    header: Option<String>,
    /// Send this file as the body ('-' reads stdin).
    #[arg(long, value_name = "FILE|-", conflicts_with = "stdin")]
    body: Option<PathBuf>,
    /// Read headers from stdin, one JSON object per line, and pipeline them.
    #[arg(long)]
    stdin: bool,
    /// Write reply bodies to FILE instead of summarising them.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Largest body sent or accepted, in bytes; match the server's --max-body.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Give up when nothing arrives for this many seconds after sending.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

fn parse_header(text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => {
            bail!("header {text:?} is not a JSON object; write one like '{{\"type\":\"ping\"}}'")
        }
        Err(e) => {
            bail!("header {text:?} is not valid JSON ({e}); write one like '{{\"type\":\"ping\"}}'")
        }
    }
}

fn read_body(path: &PathBuf, max: usize) -> anyhow::Result<Vec<u8>> {
    let data = if path.as_os_str() == "-" {
        let mut v = Vec::new();
        // One byte over the limit is enough to know it is too much.
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin().lock(), limit),
            &mut v,
        )
        .context("reading the body from stdin")?;
        if v.len() > max {
            bail!(
                "the body on stdin is over the {max}-byte frame limit (--max-body); large data travels as many frames"
            );
        }
        v
    } else {
        let len = std::fs::metadata(path)
            .with_context(|| format!("reading body file {}", path.display()))?
            .len();
        if len > max as u64 {
            bail!(
                "body file {} has {len} bytes, over the {max}-byte frame limit (--max-body); large data travels as many frames",
                path.display()
            );
        }
        std::fs::read(path).with_context(|| format!("reading body file {}", path.display()))?
    };
    Ok(data)
}

/// Runs `sockit call`.
pub async fn run(a: CallArgs) -> anyhow::Result<ExitCode> {
    let timeout = super::seconds("--timeout", a.timeout, true)?;
    let limits = Limits {
        max_body: a.max_body,
        ..Limits::default()
    };
    let first = match &a.header {
        Some(text) => {
            let body = match &a.body {
                Some(p) => read_body(p, a.max_body)?,
                None => Vec::new(),
            };
            Some(Frame::from_parts(parse_header(text)?, body.into()))
        }
        None => None,
    };
    let mut out_file = match &a.out {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    let nodes = super::server_addr::with_trust(&a.tls, a.addr.0.clone()).await?;
    let (conn, used, skipped) = failover::in_turn(&a.addr.0, |ep| {
        let trust = nodes
            .iter()
            .find(|(n, _)| *n == ep)
            .map_or(Trust::Unset, |(_, t)| t.clone());
        async move {
            dial_with(&ep, timeout, &trust)
                .await
                .map_err(sockit::client::ClientError::from)
        }
    })
    .await?;
    super::server_addr::report_fallover(&skipped, &used);
    let _ = conn.set_nodelay();
    let (rx, tx) = tokio::io::split(conn);
    let mut sink = FramedWrite::new(tx, FrameCodec::with_limits(limits));
    let mut replies = FramedRead::new(rx, FrameCodec::with_limits(limits));
    let (done_tx, mut done) = tokio::sync::watch::channel(false);

    // Writer and reader run together: a long --stdin pipeline must not fill
    // the socket buffers with replies nobody reads yet.
    let writer = async {
        if let Some(f) = first {
            sink.feed(f).await?;
        }
        // Lines that are not headers: reported and skipped, so one typo in
        // a long script does not lose the answers to every other line.
        let mut skipped = 0usize;
        if a.stdin {
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            let mut number = 0usize;
            while let Some(line) = lines.next_line().await.context("reading stdin")? {
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                match parse_header(&line) {
                    Ok(header) => {
                        sink.feed(Frame::from_parts(header, Default::default()))
                            .await?
                    }
                    Err(e) => {
                        skipped += 1;
                        eprintln!("sockit: stdin line {number}: {e}; skipped");
                    }
                }
            }
        }
        // Flush, then half-close: the server answers what it got and closes.
        SinkExt::<Frame>::close(&mut sink)
            .await
            .context("half-closing the connection")?;
        let _ = done_tx.send(true);
        anyhow::Ok(skipped)
    };
    let reader = async {
        let mut errors = 0;
        loop {
            // --timeout counts once everything is sent (stdin may be slow).
            let quiet = async {
                if !*done.borrow() {
                    let _ = done.wait_for(|d| *d).await;
                }
                tokio::time::sleep(timeout).await;
            };
            let reply = tokio::select! {
                r = replies.next() => r,
                _ = quiet => bail!("no reply from {} within {timeout:?}; raise --timeout", used),
            };
            let Some(reply) = reply.transpose()? else {
                break;
            };
            errors += usize::from(reply.kind() == Some("error"));
            print_reply(&reply, out_file.as_mut())?;
        }
        anyhow::Ok(errors)
    };
    let (skipped, errors) = tokio::try_join!(writer, reader)?;
    Ok(if skipped > 0 {
        ExitCode::from(2)
    } else if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One reply as one JSON line: the header, plus the body's size and SHA-256
/// (or the body written to `out`).
fn print_reply(reply: &Frame, out: Option<&mut std::fs::File>) -> anyhow::Result<()> {
    let mut header = reply.header.clone();
    if !reply.body.is_empty() {
        header.insert("size".into(), reply.body.len().into());
        match out {
            Some(f) => f.write_all(&reply.body).context("writing --out")?,
            None => {
                let digest = hex::encode(Sha256::digest(&reply.body));
                header.insert("sha256".into(), digest.into());
            }
        }
    }
    let mut lock = std::io::stdout().lock();
    writeln!(lock, "{}", Value::Object(header))?;
    lock.flush()?;
    Ok(())
}
