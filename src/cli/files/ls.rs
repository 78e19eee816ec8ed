//! `sockit ls` and `sockit rm`: what a user holds, and removing it.

use std::process::ExitCode;

use sockit::client::transfer::{cancel, list, partials, remove, stat, walk};
use sockit::wire::path::escape_name;
use sockit::wire::{EntryInfo, EntryKind};

use super::each::{PerPath, each_path};
use super::{Common, Failures, connect};

/// Arguments of `sockit ls`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("Lines are `KIND SIZE MODIFIED NAME` (d for directories, whose names end in
/); names are escaped (\\n, \\x1b, \\u{{202e}}) so none can drive the terminal.
--json prints {{\"path\", \"entries\": [{{name, kind, size, mtime, blake3}}], \"truncated\"}}.
Long directories are fetched page by page (the server sends 10,000 names a page).

--partial lists your unfinished uploads instead (interrupted puts, which hold
quota until they are resumed, cancelled with `sockit rm --partial`, or swept
after 7 days): `p SIZE MODIFIED PATH (HELD bytes held)`, with whole paths.

{}

Examples:
  sockit ls
  sockit ls :docs --json
  sockit ls -r tcp://10.0.0.5:7878:
  sockit ls --partial", super::EXIT_HELP))]
pub struct LsArgs {
    /// The remote directory (or file) [default: your root].
    // The doc line names the default in words; clap's own `[default: :]`
    // would be a second, cryptic label.
    #[arg(
        value_name = "[[ADDR]:]DIR",
        default_value = ":",
        hide_default_value = true
    )]
    path: String,
    /// List everything below, with paths relative to DIR's parent.
    #[arg(short, long)]
    recursive: bool,
    /// List unfinished uploads at or below DIR (whole paths) instead.
    #[arg(long, conflicts_with = "recursive")]
    partial: bool,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `sockit rm`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("{}

--partial cancels the unfinished upload of each PATH instead (see `sockit ls
--partial`): what the server holds of it is deleted and its quota freed; a
published file of that name is untouched.

Examples:
  sockit rm :old.iso
  sockit rm -r :photos/2019
  sockit rm --partial :big.iso", super::EXIT_HELP))]
pub struct RmArgs {
    /// Remote files or directories.
    #[arg(required = true, value_name = "[[ADDR]:]PATH")]
    paths: Vec<String>,
    /// Remove directories with everything in them.
    #[arg(short, long)]
    recursive: bool,
    /// Cancel the unfinished upload of each PATH (not the published file).
    #[arg(long, conflicts_with = "recursive")]
    partial: bool,
    #[command(flatten)]
    common: Common,
}

fn line(e: &EntryInfo, name: &str) -> String {
    let dir = e.kind == EntryKind::Dir;
    format!(
        "{} {:>14} {} {}{}",
        if dir { "d" } else { "-" },
        e.size,
        super::super::utc(u64::try_from(e.mtime).unwrap_or(0)),
        escape_name(name),
        if dir { "/" } else { "" }
    )
}

/// Runs `sockit ls`.
pub async fn ls(a: LsArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let remote = c.remote(&a.path)?;
    let mut failures = Failures::default();
    let mut s = match connect(c, &remote.server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&remote.server.to_string(), f, c.json);
            return Ok(failures.exit());
        }
    };
    if a.partial {
        return ls_partial(&mut s.client, &remote, c, failures, &a.path).await;
    }
    let mut rows: Vec<(String, EntryInfo)> = Vec::new();
    let mut truncated = false;
    let result = async {
        if let Some(p) = &remote.path {
            let e = stat(&mut s.client, p).await?;
            if e.kind == EntryKind::File {
                rows.push((p.as_str().to_owned(), e));
                return Ok(());
            }
        }
        if a.recursive {
            truncated = walk(&mut s.client, remote.path.as_ref(), |p, e| {
                rows.push((p.as_str().to_owned(), e.clone()));
                Ok(())
            })
            .await?;
        } else {
            let (entries, cut) = list(&mut s.client, remote.path.as_ref()).await?;
            truncated = cut;
            rows.extend(entries.into_iter().map(|e| (e.name.clone(), e)));
        }
        Ok::<_, sockit::client::transfer::TransferError>(())
    }
    .await;
    if let Err(e) = result {
        failures.add(&a.path, e.into(), c.json);
        return Ok(failures.exit());
    }
    if c.json {
        let entries: Vec<_> = rows
            .iter()
            .map(|(n, e)| {
                serde_json::json!({"name": n, "kind": e.kind, "size": e.size,
                                   "mtime": e.mtime, "blake3": e.blake3})
            })
            .collect();
        let path = remote.path.as_ref().map_or("", |p| p.as_str());
        println!(
            "{}",
            serde_json::json!({"server": remote.server.to_string(), "path": path,
                               "entries": entries, "truncated": truncated})
        );
    } else {
        for (n, e) in &rows {
            println!("{}", line(e, n));
        }
        if truncated {
            eprintln!("sockit: the listing was cut short (too many entries in one directory)");
        }
    }
    Ok(failures.exit())
}

/// `sockit ls --partial`.
async fn ls_partial(
    client: &mut sockit::client::Client,
    remote: &super::Remote,
    c: &Common,
    mut failures: Failures,
    shown: &str,
) -> anyhow::Result<ExitCode> {
    let entries = match partials(client, remote.path.as_ref()).await {
        Ok(e) => e,
        Err(e) => {
            failures.add(shown, e.into(), c.json);
            return Ok(failures.exit());
        }
    };
    if c.json {
        let path = remote.path.as_ref().map_or("", |p| p.as_str());
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({"path": e.name, "size": e.size, "held": e.offset,
                                   "mtime": e.mtime, "running": e.running})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"server": remote.server.to_string(), "path": path,
                               "partial": list})
        );
    } else {
        for e in &entries {
            println!(
                "p {:>14} {} {} ({} bytes held{})",
                e.size,
                super::super::utc(u64::try_from(e.mtime).unwrap_or(0)),
                escape_name(&e.name),
                e.offset.unwrap_or(0),
                if e.running == Some(true) {
                    ", uploading now"
                } else {
                    ""
                }
            );
        }
    }
    Ok(failures.exit())
}

/// Runs `sockit rm`.
pub async fn rm(a: RmArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let what = PerPath {
        command: "rm",
        key: "removed",
        not_root: "name a file or directory; your root itself cannot be removed",
    };
    each_path(c, &a.paths, what, async |client, path| {
        if a.partial {
            let bytes = cancel(client, path).await?;
            if !c.json {
                println!(
                    "cancelled the unfinished upload of {path} ({bytes} bytes of quota freed)"
                );
            }
            return Ok(serde_json::json!({"path": path.as_str(), "partial": true, "bytes": bytes}));
        }
        let (files, dirs, bytes) = remove(client, path, a.recursive).await?;
        if !c.json {
            println!("removed {path} ({files} files, {dirs} directories, {bytes} bytes)");
        }
        Ok(serde_json::json!({"path": path.as_str(), "files": files, "dirs": dirs, "bytes": bytes}))
    })
    .await
}
