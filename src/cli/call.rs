//! `sockit call`: send frames, print every reply as one JSON line; the
//! redis-cli of the sockit protocol.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sockit::client::Client;
use sockit::net::Endpoint;
use sockit::wire::{DEFAULT_MAX_BODY, Frame};
use tokio::io::AsyncBufReadExt;

/// Arguments of `sockit call`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = r#"Each reply is printed as its header on one JSON line; a reply with a body
also shows "size" and "sha256" of the body (or writes the body to --out).
Exit status: 0 when no reply was an error, 1 when one was, 2 on failure.

Examples:
  sockit call tcp://127.0.0.1:7878 '{"type":"ping","id":1,"ts":123}'
  sockit call tcp://127.0.0.1:7878 '{"type":"hello","version":1}'
  sockit call tcp://127.0.0.1:7878 '{"type":"echo"}' --body photo.jpg --out copy.jpg
  printf '%s\n' '{"type":"ping","id":1}' '{"type":"ping","id":2}' | sockit call tcp://127.0.0.1:7878 --stdin"#
)]
pub struct CallArgs {
    /// Server address (tcp:// or unix://).
    addr: Endpoint,
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
    /// Give up when nothing arrives for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
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

fn read_body(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let data = if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v)
            .context("reading the body from stdin")?;
        v
    } else {
        let len = std::fs::metadata(path)
            .with_context(|| format!("reading body file {}", path.display()))?
            .len();
        if len > DEFAULT_MAX_BODY as u64 {
            bail!(
                "body file {} has {len} bytes, over the {DEFAULT_MAX_BODY}-byte frame limit; large data travels as many frames",
                path.display()
            );
        }
        std::fs::read(path).with_context(|| format!("reading body file {}", path.display()))?
    };
    Ok(data)
}

/// Runs `sockit call`.
pub async fn run(a: CallArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::try_from_secs_f64(a.timeout).context("--timeout takes seconds")?;
    let mut client = Client::connect(&a.addr, timeout).await?;
    let mut out_file = match &a.out {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    if let Some(text) = &a.header {
        let body = match &a.body {
            Some(p) => read_body(p)?,
            None => Vec::new(),
        };
        client
            .send(Frame::from_parts(parse_header(text)?, body.into()))
            .await?;
    }
    if a.stdin {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await.context("reading stdin")? {
            if line.trim().is_empty() {
                continue;
            }
            client
                .feed(Frame::from_parts(parse_header(&line)?, Default::default()))
                .await?;
        }
        client.flush().await?;
    }
    // Half-close: the server answers what it got, then closes cleanly.
    client
        .shutdown_write()
        .context("half-closing the connection")?;
    let mut errors = 0;
    let stdout = std::io::stdout();
    loop {
        let reply = match tokio::time::timeout(timeout, client.recv()).await {
            Ok(r) => r?,
            Err(_) => bail!(
                "no reply from {} within {timeout:?}; raise --timeout",
                a.addr
            ),
        };
        let Some(reply) = reply else { break };
        if reply.kind() == Some("error") {
            errors += 1;
        }
        let mut header = reply.header.clone();
        if !reply.body.is_empty() {
            header.insert("size".into(), reply.body.len().into());
            match out_file.as_mut() {
                Some(f) => f.write_all(&reply.body).context("writing --out")?,
                None => {
                    header.insert(
                        "sha256".into(),
                        hex::encode(Sha256::digest(&reply.body)).into(),
                    );
                }
            }
        }
        let mut lock = stdout.lock();
        writeln!(lock, "{}", Value::Object(header))?;
        lock.flush()?;
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
