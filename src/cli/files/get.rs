//! `sockit get [[ADDR]:]PATH [DEST]`: download a file (a directory with -r).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sockit::client::transfer::{GetOptions, TransferError, get_file, local_target, stat, walk};
use sockit::wire::EntryKind;
use sockit::wire::path::RelPath;

use super::progress::Bar;
use super::{Common, Failures, connect, rate};

/// Arguments of `sockit get`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("PATH is on the server (the colon is optional here: `docs/a.txt`, `:docs/a.txt`,
`tcp://HOST:PORT:docs/a.txt`). DEST defaults to the current directory; an
existing directory receives the file under its own name, anything else is the
new file's name. With -r, a directory arrives as DEST/NAME/... (your whole root
as DEST/...). Existing local files are kept unless --force.

Bytes land in DEST.sockit-part first; an interrupted get continues from it on
the next run (DEST.sockit-part.json remembers which remote file it is, so a
file changed on the server starts over). The whole file is checked against the
server's BLAKE3 (and MD5 with --md5) before it is renamed into place; every
name the server sends is checked to be what was asked for, inside DEST.

{}

LINK is a share link (http://HOST:PORT/s/ID, from `sockit share`): fetched with
no account, resumable and verified the same way. An end-to-end encrypted link
(`sockit share --e2e`, ending in #KEY) is never taken from the command line,
where other users see it (ps): put it in the environment, as
SOCKIT_LINK='http://HOST:PORT/s/ID#KEY' sockit get [http://HOST:PORT/s/ID DEST],
or give the link without its #KEY and paste the whole link at the prompt. It is
decrypted here, every record authenticated and the SHA-256 checked; resumable.

Examples:
  sockit get report.pdf
  sockit get :docs/a.txt /tmp/a.txt
  sockit get -r tcp://10.0.0.5:7878:photos ~/backup", super::EXIT_HELP))]
pub struct GetArgs {
    /// The remote file or directory, or a share LINK [default: the link
    /// in $SOCKIT_LINK].
    #[arg(value_name = "[[ADDR]:]PATH|LINK")]
    path: Option<String>,
    /// Local file or directory [default: .].
    #[arg(value_name = "DEST")]
    dest: Option<PathBuf>,
    /// Download a directory with everything in it.
    #[arg(short, long)]
    recursive: bool,
    /// Replace existing local files.
    #[arg(short, long)]
    force: bool,
    /// Also compare MD5 (slower).
    #[arg(long)]
    md5: bool,
    #[command(flatten)]
    common: Common,
}

/// Runs `sockit get`.
pub async fn run(a: GetArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let dest = a.dest.clone().unwrap_or_else(|| PathBuf::from("."));
    let path = match a.path.as_deref() {
        Some(p) if p.starts_with("http://") || p.starts_with("https://") => {
            return crate::cli::share_get::run(Some(p), &dest, a.force, c).await;
        }
        Some(p) => p.to_owned(),
        None => return crate::cli::share_get::run(None, &dest, a.force, c).await,
    };
    let path = &path;
    let remote = c.remote(path)?;
    let mut failures = Failures::default();
    let mut session = match connect(c, &remote.server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&remote.server.to_string(), f, c.json);
            return Ok(failures.exit());
        }
    };
    let opts = GetOptions {
        force: a.force,
        md5: a.md5,
        chunk: session.chunk,
    };
    // Which files, and where each goes.
    let mut jobs: Vec<(RelPath, PathBuf)> = Vec::new();
    let is_dir = match &remote.path {
        None => true,
        Some(p) if a.recursive => match stat(&mut session.client, p).await {
            Ok(e) => e.kind == EntryKind::Dir,
            Err(e) => {
                failures.add(path, e.into(), c.json);
                return Ok(failures.exit());
            }
        },
        Some(_) => false,
    };
    if is_dir {
        if !a.recursive {
            failures.add(
                path,
                super::Failure {
                    code: 5,
                    message: "is a directory; use -r".into(),
                },
                c.json,
            );
            return Ok(failures.exit());
        }
        let mut files = Vec::new();
        let walked = walk(&mut session.client, remote.path.as_ref(), |p, e| {
            if e.kind == EntryKind::File {
                files.push(p.clone());
            }
            Ok(())
        })
        .await;
        if let Err(e) = walked {
            failures.add(path, e.into(), c.json);
            return Ok(failures.exit());
        }
        let base = remote.path.clone();
        let d = dest.clone();
        let placed = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&d).map_err(TransferError::local(&d))?;
            files
                .into_iter()
                .map(|f| local_target(&d, base.as_ref(), &f).map(|t| (f, t)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        match placed {
            Ok(p) => jobs = p,
            Err(e) => {
                failures.add(path, e.into(), c.json);
                return Ok(failures.exit());
            }
        }
    } else if let Some(p) = &remote.path {
        // One stat: cheap enough for the async thread, like the CLI's
        // other argument checks.
        let into_dir = std::fs::metadata(&dest).is_ok_and(|m| m.is_dir());
        let target = if into_dir {
            dest.join(p.file_name())
        } else {
            dest.clone()
        };
        jobs.push((p.clone(), target));
    }
    let bar = Bar::new(c.json);
    let started = Instant::now();
    let (mut done, mut total) = (Vec::new(), 0u64);
    for (path, target) in jobs {
        let t0 = Instant::now();
        match get_file(&mut session.client, &path, &target, opts, &bar).await {
            Ok(o) => {
                let secs = t0.elapsed().as_secs_f64();
                let moved = o.size - o.resumed_from;
                total += moved;
                if !c.json {
                    let mut line = format!(
                        "get {path} -> {} ({} bytes, {})",
                        shown(&target),
                        o.size,
                        rate(moved, secs)
                    );
                    if o.resumed_from > 0 {
                        let at = indicatif::HumanBytes(o.resumed_from);
                        line += &format!(", resumed from {at} ({} bytes)", o.resumed_from);
                    }
                    println!("{line}");
                }
                done.push(serde_json::json!({
                    "path": path.as_str(), "local": shown(&target), "size": o.size,
                    "resumed_from": o.resumed_from, "blake3": o.blake3, "md5": o.md5,
                    "seconds": secs,
                }));
            }
            Err(e) => {
                bar.end_quietly();
                let dead = matches!(e, TransferError::Client(ref ce) if ce.code().is_none());
                failures.add(&path.to_string(), e.into(), c.json);
                if dead {
                    break;
                }
            }
        }
    }
    if c.json {
        println!(
            "{}",
            serde_json::json!({
                "command": "get", "server": remote.server.to_string(), "files": done,
                "bytes_received": total, "seconds": started.elapsed().as_secs_f64(),
                "failures": failures.list,
            })
        );
    }
    Ok(failures.exit())
}

fn shown(p: &Path) -> String {
    sockit::wire::path::escape_bytes(p.as_os_str().as_encoded_bytes())
}
