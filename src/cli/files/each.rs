//! The per-operand loop of the commands that act on remote paths one by
//! one (`rm`, `mkdir`): resolve each operand, connect to its server, act,
//! gather what was done and what failed, print the `--json` summary.

use std::process::ExitCode;

use sockit::client::Client;
use sockit::wire::path::RelPath;

use super::{Common, Failure, Failures, connect};

/// How one command names itself and its results.
pub struct PerPath<'a> {
    /// The command, for `--json`'s `"command"`.
    pub command: &'a str,
    /// The key its results are listed under in `--json`.
    pub key: &'a str,
    /// Why an operand naming the root itself is refused (after the operand).
    pub not_root: &'a str,
}

/// Runs `act` on the path of every operand, each on a connection to its
/// server; an operand that fails is reported and the rest go on. `act`
/// prints its own line (unless `--json`) and returns its `--json` entry.
/// The exit status is that of the first failure.
pub async fn each_path<F>(
    c: &Common,
    operands: &[String],
    what: PerPath<'_>,
    mut act: F,
) -> anyhow::Result<ExitCode>
where
    F: AsyncFnMut(&mut Client, &RelPath) -> Result<serde_json::Value, Failure>,
{
    let mut failures = Failures::default();
    let mut done = Vec::new();
    for op in operands {
        let remote = c.remote(op)?;
        let Some(path) = remote.path else {
            anyhow::bail!("{op:?}: {}", what.not_root);
        };
        let mut s = match connect(c, &remote.server).await {
            Ok(s) => s,
            Err(f) => {
                failures.add(&remote.server.to_string(), f, c.json);
                continue;
            }
        };
        match act(&mut s.client, &path).await {
            Ok(entry) => done.push(entry),
            Err(f) => failures.add(&path.to_string(), f, c.json),
        }
    }
    if c.json {
        let mut summary = serde_json::json!({"command": what.command, "failures": failures.list});
        summary[what.key] = done.into();
        println!("{summary}");
    }
    Ok(failures.exit())
}
