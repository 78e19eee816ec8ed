//! `sockit get LINK [DEST]`: a share link fetched with no account,
//! resumable (DEST.sockit-part) and verified against the link's BLAKE3;
//! a folder share file by file into DEST/NAME/.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sockit::client::e2e::E2eError;
use sockit::client::share_link::{self, LinkError};

use super::files::{Common, Failure, Failures};

/// The exit status of each failure (the table of `sockit --help`).
pub(super) fn status(e: &LinkError) -> u8 {
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
        LinkError::E2e(E2eError::BadKey) => crate::cli::exit::USAGE,
        LinkError::E2e(_) => 6,
    }
}

/// Runs `sockit get [LINK] [DEST]`: `link` is the operand (never with a
/// key), else the link comes from $SOCKIT_LINK or the prompt.
pub async fn run(
    link: Option<&str>,
    dest: &Path,
    force: bool,
    c: &Common,
) -> anyhow::Result<ExitCode> {
    let json = c.json();
    let mut failures = Failures::default();
    let timeout = c.timeout()?;
    let started = Instant::now();
    // Named without its #key, which goes nowhere, not even to stderr.
    let shown = link.map_or_else(
        || format!("${}", super::share_key::LINK_ENV),
        |l| l.split('#').next().unwrap_or(l).to_owned(),
    );
    let result = async {
        let mut l = super::share_key::resolve(link)?;
        if l.tls {
            // As for tls:// servers: --ca, --fingerprint, else known_hosts.
            l.trust = c
                .trust_for(&l.endpoint()?)
                .await
                .map_err(|e| LinkError::Tls(format!("{e:#}")))?;
        }
        let info = share_link::info(&l, timeout).await?;
        if info.e2e.is_some() {
            let key = super::share_key::key_for(&l)?;
            return super::share_key::fetch_e2e(&l, &info, &key, (dest, force), timeout, json)
                .await
                .map(Got::E2e);
        }
        let target = share_link::target(dest, &info.name)?;
        let bar = bar(json, info.file_size, &info.name);
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
        Ok::<_, LinkError>(Got::Plain(info, target, got?))
    }
    .await;
    match result {
        Ok(Got::E2e(f)) => {
            super::share_key::report(&f, started.elapsed().as_secs_f64(), json);
            Ok(ExitCode::SUCCESS)
        }
        Ok(Got::Plain(info, target, received)) => {
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
            failures.add(&shown, f, json);
            if json {
                println!("{}", serde_json::json!({"errors": failures.list}));
            }
            Ok(failures.exit())
        }
    }
}

/// What a fetch produced: a plain share's file, or a decrypted one.
enum Got {
    Plain(share_link::LinkInfo, std::path::PathBuf, u64),
    E2e(sockit::client::e2e::fetch::Fetched),
}

/// A progress bar on a terminal's stderr (none with --json): `total`
/// bytes of the file `name`, shown escaped so a hostile name cannot drive
/// the terminal.
pub(super) fn bar(json: bool, total: u64, name: &str) -> Option<ProgressBar> {
    (!json && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:30!} {bar:25} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
        ) {
            b.set_style(style);
        }
        b.set_message(sockit::wire::path::escape_name(name).into_owned());
        b
    })
}
