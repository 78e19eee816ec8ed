//! `sockit mkdir` and `sockit mv`: new folders, moves and renames in your
//! files on a server.

use std::process::ExitCode;

use sockit::client::transfer::{mkdir, rename, stat};
use sockit::wire::EntryKind;
use sockit::wire::path::RelPath;

use super::each::{PerPath, each_path};
use super::{Common, Failures, connect};

/// Arguments of `sockit mkdir`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("Each new directory counts 4 KiB against your quota.
--json prints {{\"command\": \"mkdir\", \"created\": [{{path, dirs}}], \"failures\"}}.

{}

Examples:
  sockit mkdir :photos
  sockit mkdir -p :photos/2024/summer", super::EXIT_HELP))]
pub struct MkdirArgs {
    /// Remote directories to create.
    #[arg(required = true, value_name = "[[ADDR]:]DIR")]
    paths: Vec<String>,
    /// Create missing parents too; an existing directory is then no error.
    #[arg(short, long)]
    parents: bool,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `sockit mv`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("Moves or renames a file or directory on the server, in one step. When TO
is an existing directory (or ends in /), FROM moves into it under its own
name. Nothing is ever replaced: a TO that exists is a conflict (status 5);
remove it first. TO's parent directory must exist (sockit mkdir -p).
--json prints {{\"command\": \"mv\", \"from\", \"to\", \"kind\"}}.

{}

Examples:
  sockit mv :draft.txt :final.txt
  sockit mv :report.txt :docs/", super::EXIT_HELP))]
pub struct MvArgs {
    /// What to move.
    #[arg(value_name = "[[ADDR]:]FROM")]
    from: String,
    /// Where it goes, on the same server (`:PATH`).
    #[arg(value_name = "[:]TO")]
    to: String,
    #[command(flatten)]
    common: Common,
}

/// Runs `sockit mkdir`.
pub async fn run_mkdir(a: MkdirArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let what = PerPath {
        command: "mkdir",
        key: "created",
        not_root: "name the directory to create below your root",
    };
    each_path(c, &a.paths, what, async |client, path| {
        let dirs = mkdir(client, path, a.parents).await?;
        if !c.json {
            println!("created {path}/ ({dirs} directories new)");
        }
        Ok(serde_json::json!({"path": path.as_str(), "dirs": dirs}))
    })
    .await
}

/// Runs `sockit mv`.
pub async fn run_mv(a: MvArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let from = c.remote(&a.from)?;
    let Some(src) = from.path else {
        anyhow::bail!(
            "{:?}: name a file or directory; your root cannot move",
            a.from
        );
    };
    let to_arg = if a.to.starts_with(':') || a.to.contains("://") {
        a.to.clone()
    } else {
        format!(":{}", a.to)
    };
    let into_dir = a.to.ends_with('/');
    let to = if to_arg.contains("://") {
        let t = c.remote(&to_arg)?;
        if t.server != from.server {
            anyhow::bail!(
                "{:?} and {:?} are on different servers; mv works within one (use get and put)",
                a.from,
                a.to
            );
        }
        t.path
    } else {
        c.remote(&to_arg)?.path
    };
    let mut failures = Failures::default();
    let mut s = match connect(c, &from.server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&from.server.to_string(), f, c.json);
            return Ok(failures.exit());
        }
    };
    // Into a directory: TO/FROM's name, when TO is the root, ends in / or
    // is a directory now.
    let into = match &to {
        None => true,
        Some(t) => {
            into_dir
                || stat(&mut s.client, t)
                    .await
                    .is_ok_and(|e| e.kind == EntryKind::Dir)
        }
    };
    let dst = match to {
        Some(t) if !into => t,
        t => {
            let joined = t.map_or_else(
                || src.file_name().to_owned(),
                |t| format!("{t}/{}", src.file_name()),
            );
            RelPath::parse(&joined).map_err(|e| anyhow::anyhow!("{joined:?}: {e}"))?
        }
    };
    let result = rename(&mut s.client, &src, &dst)
        .await
        .map(|kind| (dst, kind));
    match result {
        Ok((dst, kind)) => {
            if c.json {
                println!(
                    "{}",
                    serde_json::json!({"command": "mv", "from": src.as_str(), "to": dst.as_str(), "kind": kind})
                );
            } else {
                let slash = if kind == EntryKind::Dir { "/" } else { "" };
                println!("moved {src}{slash} to {dst}{slash}");
            }
        }
        Err(e) => failures.add(&src.to_string(), e.into(), c.json),
    }
    Ok(failures.exit())
}
