//! `sockit put FILE... [[ADDR]:DIR]`: upload files (directories with -r).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sockit::client::transfer::{MAX_WALK, PutOptions, TransferError, put_file, stat};
use sockit::wire::path::{RelPath, check_name, escape_bytes};
use sockit::wire::{EntryKind, ErrorCode};

use super::progress::Bar;
use super::{Common, Failure, Failures, Remote, connect, is_remote, rate};

/// Arguments of `sockit put`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("The destination is written with a colon, like scp: `:DIR` on the default
server, `tcp://HOST:PORT:DIR` on another (`tcp://HOST:PORT:` for your root).
Without one, files go to your root on the default server. As with scp, a
destination ending in / (created if missing) or naming an existing directory
is a directory, and each file keeps its name inside it; with one FILE, any
other destination is the new file's name (`:docs` on a fresh account makes a
file named docs; write `:docs/` for the directory).

An interrupted put (Ctrl-C, dropped connection, either side killed) resumes on
the next run from what the server holds durably; a source changed meanwhile
(size, mtime, ctime or inode) starts over. Both sides hash with BLAKE3 while
streaming and the server publishes only a verified file, atomically.

{}

Examples:
  sockit put report.pdf                       to your root on tcp://127.0.0.1:7878
  sockit put a.txt b.txt :docs/               into docs/ (created if missing)
  sockit put report.pdf :docs/report-v2.pdf   under another name
  sockit put -r photos tcp://10.0.0.5:7878:   the directory photos/ into your root
  sockit put --force --md5 big.iso :isos/big.iso", super::EXIT_HELP))]
pub struct PutArgs {
    /// Local files, then optionally the destination (`[ADDR]:DIR`).
    #[arg(required = true, value_name = "FILE... [[ADDR]:DIR]")]
    operands: Vec<OsString>,
    /// Upload directories with everything in them (links are skipped).
    #[arg(short, long)]
    recursive: bool,
    /// Replace existing files (atomically).
    #[arg(short, long)]
    force: bool,
    /// Also compute and compare MD5 (the classic exercise's hash; slower).
    #[arg(long)]
    md5: bool,
    #[command(flatten)]
    common: Common,
}

/// One file to send.
struct Job {
    local: PathBuf,
    /// The operand it came from, for messages.
    shown: String,
    /// Path below the destination directory.
    rel: Vec<String>,
}

/// Runs `sockit put`.
pub async fn run(a: PutArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let (dest, locals) = split(&a.operands, c)?;
    let mut failures = Failures::default();
    let jobs = tokio::task::spawn_blocking({
        let (locals, recursive) = (locals.to_vec(), a.recursive);
        move || collect(&locals, recursive)
    })
    .await?;
    let mut todo = Vec::new();
    for j in jobs {
        match j {
            Ok(job) => todo.push(job),
            Err((what, f)) => failures.add(&what, f, c.json),
        }
    }
    let mut session = match connect(c, &dest.server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&dest.server.to_string(), f, c.json);
            return Ok(failures.exit());
        }
    };
    // One file to a path that is not a directory: that path is its name.
    let last = a.operands.last().and_then(|o| o.to_str()).unwrap_or("");
    let mut exact = None;
    if let (Some(p), [job]) = (&dest.path, todo.as_slice()) {
        if job.rel.len() == 1 && !last.ends_with('/') {
            match stat(&mut session.client, p).await {
                Ok(e) if e.kind == EntryKind::Dir => {}
                Ok(_) => exact = Some(p.clone()),
                Err(e) if e.server_code() == Some(ErrorCode::NotFound) => exact = Some(p.clone()),
                Err(e) => {
                    failures.add(&p.to_string(), e.into(), c.json);
                    return Ok(failures.exit());
                }
            }
        }
    }
    let opts = PutOptions {
        force: a.force,
        md5: a.md5,
        chunk: session.chunk,
    };
    let bar = Bar::new(c.json);
    let started = Instant::now();
    let mut done = Vec::new();
    for job in todo {
        let target = match &exact {
            Some(p) => Ok(p.clone()),
            None => target(dest.path.as_ref(), &job.rel),
        };
        let target = match target {
            Ok(t) => t,
            Err(f) => {
                failures.add(&job.shown, f, c.json);
                continue;
            }
        };
        let t0 = Instant::now();
        match put_file(&mut session.client, &job.local, &target, opts, &bar).await {
            Ok(o) => {
                let secs = t0.elapsed().as_secs_f64();
                if !c.json {
                    let mut line = format!(
                        "put {} -> {} ({} bytes, {})",
                        job.shown,
                        target,
                        o.size,
                        rate(o.size - o.resumed_from, secs)
                    );
                    if o.resumed_from > 0 {
                        let at = indicatif::HumanBytes(o.resumed_from);
                        line += &format!(", resumed from {at} ({} bytes)", o.resumed_from);
                    }
                    if o.replaced {
                        line += ", replaced";
                    }
                    println!("{line}");
                }
                done.push(serde_json::json!({
                    "local": job.shown, "path": o.path, "size": o.size,
                    "resumed_from": o.resumed_from, "blake3": o.blake3,
                    "md5": o.md5, "replaced": o.replaced, "seconds": secs,
                }));
            }
            Err(e) => {
                bar.end_quietly();
                let dead = matches!(e, TransferError::Client(ref ce) if ce.code().is_none());
                failures.add(&job.shown, e.into(), c.json);
                if dead {
                    break; // the connection is gone
                }
            }
        }
    }
    if c.json {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({
                "command": "put", "server": dest.server.to_string(), "files": done,
                // What went out, a broken-off file included.
                "bytes_sent": bar.bytes_written(), "seconds": secs, "failures": failures.list,
            })
        );
    }
    Ok(failures.exit())
}

/// Splits the operands into the destination and the local files.
fn split<'a>(ops: &'a [OsString], c: &Common) -> anyhow::Result<(Remote, &'a [OsString])> {
    if let [locals @ .., last] = ops {
        if let Some(s) = last.to_str().filter(|s| is_remote(s)) {
            anyhow::ensure!(!locals.is_empty(), "no files to put before {s:?}");
            return Ok((c.remote(s)?, locals));
        }
    }
    Ok((c.remote(":")?, ops))
}

/// `dest/rel...`, validated.
fn target(dest: Option<&RelPath>, rel: &[String]) -> Result<RelPath, Failure> {
    let joined = rel.join("/");
    let full = match dest {
        Some(d) => format!("{}/{joined}", d.as_str()),
        None => joined,
    };
    RelPath::parse(&full).map_err(|e| Failure {
        code: 1,
        message: format!(
            "cannot be stored as {}: {e}",
            sockit::wire::path::escape_name(&full)
        ),
    })
}

type Collected = Result<Job, (String, Failure)>;

/// The files to send, directories expanded with -r (links skipped).
fn collect(locals: &[OsString], recursive: bool) -> Vec<Collected> {
    let mut out = Vec::new();
    for op in locals {
        let path = PathBuf::from(op);
        let shown = escape_bytes(op.as_encoded_bytes());
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                out.push(Err((shown, TransferError::local(&path)(e).into())));
                continue;
            }
        };
        let name = match base_name(&path) {
            Ok(name) => name,
            Err(why) => {
                out.push(Err((shown, usage(&why))));
                continue;
            }
        };
        if meta.is_dir() {
            if recursive {
                walk_local(&path, vec![name], &mut out);
            } else {
                out.push(Err((shown, usage("is a directory; use -r"))));
            }
        } else {
            out.push(Ok(Job {
                local: path,
                shown,
                rel: vec![name],
            }));
        }
    }
    out
}

fn usage(msg: &str) -> Failure {
    Failure {
        code: 2,
        message: msg.to_owned(),
    }
}

/// The last component of a local path, as a valid store name; else why
/// not, naming the rule it breaks (`a<b.txt`: the `<`).
fn base_name(p: &Path) -> Result<String, String> {
    let name = p
        .file_name()
        .ok_or("has no file name; name the directory itself")?
        .to_str()
        .ok_or("has a name that is not UTF-8; rename it")?
        .to_owned();
    check_name(&name)
        .map(|()| name)
        .map_err(|e| format!("cannot be stored under this name: {e}; rename it or put a copy"))
}

/// Adds every regular file below `dir` (depth first, sorted names).
fn walk_local(dir: &Path, rel: Vec<String>, out: &mut Vec<Collected>) {
    let shown = escape_bytes(dir.as_os_str().as_encoded_bytes());
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            out.push(Err((shown, TransferError::local(dir)(e).into())));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= MAX_WALK {
            out.push(Err((
                shown,
                usage("too many files; put a smaller directory"),
            )));
            return;
        }
        let path = e.path();
        let shown = escape_bytes(path.as_os_str().as_encoded_bytes());
        let Ok(ft) = e.file_type() else { continue };
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            out.push(Err((
                shown,
                usage("name is not UTF-8; rename it to upload it"),
            )));
            continue;
        };
        if let Err(err) = check_name(&name) {
            out.push(Err((shown, usage(&format!("cannot be stored: {err}")))));
            continue;
        }
        let mut r = rel.clone();
        r.push(name);
        if ft.is_dir() {
            walk_local(&path, r, out);
        } else if ft.is_file() {
            out.push(Ok(Job {
                local: path,
                shown,
                rel: r,
            }));
        }
        // Links and special files are skipped: following a link could
        // upload something outside the directory the user named.
    }
}
