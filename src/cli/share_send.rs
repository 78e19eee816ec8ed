//! `sockit send LINK FILE...`: files into someone's upload link, with no
//! account; resumable (run it again) and verified by the server before it
//! publishes each file.

use std::path::PathBuf;
use std::process::ExitCode;

use sockit::client::share_link::{self, Link, LinkError};

use super::files::{Common, Failure, Failures};

/// Arguments of `sockit send`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("An upload link (http://HOST/u/ID) lets anyone holding it drop files into one
folder of its owner's store (`sockit share --upload DIR` makes one). Each FILE
is hashed here (BLAKE3) and sent; the server publishes it only when every byte
arrived and hashes to that BLAKE3. A send that broke off continues where the
server's copy ends when run again with the same file. A name already in the
folder is never overwritten: the file lands as `name (1).ext` (the line printed
says where). The link's owner sets how many files and bytes it takes and when
it expires; `sockit share log` shows them who sent what, from which address.
--json prints one JSON object per file.

{}

Examples:
  sockit send http://files.example:8080/u/0123456789abcdef0123456789abcdef report.pdf
  sockit send http://files.example:8080/u/0123456789abcdef0123456789abcdef a.jpg b.jpg --json", super::files::EXIT_HELP))]
pub struct SendArgs {
    /// The upload link.
    #[arg(value_name = "LINK")]
    link: String,
    /// The local files to send.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Runs `sockit send`.
pub async fn run(a: SendArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let json = c.json();
    let timeout = c.timeout()?;
    let mut failures = Failures::default();
    let link = async {
        let mut l = Link::parse(&a.link)?;
        if l.tls {
            l.trust = c
                .trust_for(&l.endpoint()?)
                .await
                .map_err(|e| LinkError::Tls(format!("{e:#}")))?;
        }
        Ok::<_, LinkError>(l)
    }
    .await;
    let link = match link {
        Ok(l) => l,
        Err(e) => {
            let f = Failure {
                code: super::share_get::status(&e),
                message: e.to_string(),
            };
            failures.add(&a.link, f, json);
            return Ok(failures.exit());
        }
    };
    for file in &a.files {
        let total = std::fs::metadata(file).map_or(0, |m| m.len());
        let shown = file.display().to_string();
        let bar = super::share_get::bar(json, total, &shown);
        let show = |n| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        };
        let r = share_link::send(&link, file, timeout, show).await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        match r {
            Ok(s) if json => println!(
                "{}",
                serde_json::json!({
                    "file": shown,
                    "name": s.name,
                    "file_size": s.file_size,
                    "blake3": s.blake3,
                    "sent": s.sent,
                })
            ),
            Ok(s) => println!(
                "{shown} -> {} ({} bytes, BLAKE3 verified by the server{})",
                sockit::wire::path::escape_name(&s.name),
                s.file_size,
                if s.sent < s.file_size {
                    format!("; resumed, {} bytes sent now", s.sent)
                } else {
                    String::new()
                }
            ),
            Err(e) => {
                let f = Failure {
                    code: super::share_get::status(&e),
                    message: e.to_string(),
                };
                failures.add(&shown, f, json);
            }
        }
    }
    if json && !failures.list.is_empty() {
        println!("{}", serde_json::json!({"errors": failures.list}));
    }
    Ok(failures.exit())
}
