//! `sockit get LINK [DEST]`: a share link fetched with no account,
//! resumable (DEST.sockit-part) and verified against the link's BLAKE3;
//! a folder share file by file into DEST/NAME/.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sockit::client::share_link::{self, Link, LinkError};

use super::files::{Common, Failure, Failures};

/// The exit status of each failure (the table of `sockit --help`).
fn status(e: &LinkError) -> u8 {
    match e {
        LinkError::BadLink(_) => crate::cli::exit::USAGE,
        LinkError::Status {
            status: 404 | 410, ..
        } => 4,
        LinkError::Status { .. } => 1,
        LinkError::Net { .. } | LinkError::Tls(_) => crate::cli::exit::NETWORK,
        LinkError::Local { .. } => 2,
        LinkError::Exists(_) => 5,
        LinkError::Verify { .. } => 6,
    }
}

/// Runs `sockit get LINK [DEST]`.
pub async fn run(link: &str, dest: &Path, force: bool, c: &Common) -> anyhow::Result<ExitCode> {
    let json = c.json();
    let mut failures = Failures::default();
    let timeout = c.timeout()?;
    let started = Instant::now();
    let result = async {
        let mut l = Link::parse(link)?;
        if l.tls {
            // As for tls:// servers: --ca, --fingerprint, else known_hosts.
            l.trust = c
                .trust_for(&l.endpoint()?)
                .await
                .map_err(|e| LinkError::Tls(format!("{e:#}")))?;
        }
        let info = share_link::info(&l, timeout).await?;
        let target = share_link::target(dest, &info.name)?;
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let b =
                ProgressBar::with_draw_target(Some(info.file_size), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:30!} {bar:25} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
            ) {
                b.set_style(style);
            }
            // Escaped: a hostile name cannot drive the terminal.
            b.set_message(sockit::wire::path::escape_name(&info.name).into_owned());
            b
        });
        let show = |n| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        };
        // A folder arrives as TARGET/... (DEST/NAME when DEST is a
        // directory, like `get -r`), a file as TARGET.
        let got = if info.is_dir() {
            share_link::fetch_dir(&l, &info, &target, force, timeout, show).await
        } else {
            share_link::fetch(&l, &info, &target, force, timeout, show).await
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok::<_, LinkError>((info, target, got?))
    }
    .await;
    match result {
        Ok((info, target, received)) => {
            let secs = started.elapsed().as_secs_f64();
            if json {
                let mut v = serde_json::json!({
                    "path": target.display().to_string(),
                    "file_size": info.file_size,
                    "blake3": info.blake3,
                    "received": received,
                    "secs": secs,
                });
                if info.is_dir() {
                    v["files"] = info.files.len().into();
                }
                println!("{v}");
            } else if info.is_dir() {
                println!(
                    "{}/ ({} files, {} bytes, each BLAKE3 verified)",
                    target.display(),
                    info.files.len(),
                    info.file_size
                );
            } else {
                println!(
                    "{} ({} bytes, BLAKE3 verified)",
                    target.display(),
                    info.file_size
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let f = Failure {
                code: status(&e),
                message: e.to_string(),
            };
            failures.add(link, f, json);
            if json {
                println!("{}", serde_json::json!({"errors": failures.list}));
            }
            Ok(failures.exit())
        }
    }
}
