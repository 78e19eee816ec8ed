//! SIGHUP: re-read the config file and the rule files, swap in the new
//! access lists and live limits without dropping a session.
//!
//! Live: `--allow`, `--deny`, the rule files, `--max-conns-per-ip` and
//! `--first-frame-timeout`, for connections and datagrams from then on
//! (open connections stay, even when now denied). Everything else
//! (listeners, data directory, sizes) needs a restart: a changed value is
//! named in a warning and the old one kept. A reload that fails (a bad
//! file) logs the cause and keeps the old rules.

use std::sync::Arc;

use clap::ArgMatches;
use sockit::net::{Gate, GateRules};
use tokio::signal::unix::Signal;

/// Keys a reload applies while serving.
const LIVE: [&str; 7] = [
    "trusted-proxy",
    "allow",
    "deny",
    "allowfile",
    "denyfile",
    "max-conns-per-ip",
    "first-frame-timeout",
];

/// Reloads on every SIGHUP, for the life of the process. `cli` is the
/// command line (it still beats the file), `running` what the server
/// started with.
pub async fn watch(mut hangups: Signal, cli: ArgMatches, running: ArgMatches, gate: Arc<Gate>) {
    while hangups.recv().await.is_some() {
        let cli = cli.clone();
        // Reads files: off the async workers.
        let loaded = tokio::task::spawn_blocking(move || load(&cli)).await;
        match loaded {
            Ok(Ok((rules, m))) => {
                let stale = restart_only_changes(&running, &m);
                if !stale.is_empty() {
                    tracing::warn!(
                        "reload: {} changed but need a restart; still using the old values",
                        stale.join(", ")
                    );
                }
                let (allow, deny) = (rules.acl.allow_len(), rules.acl.deny_len());
                let per_ip = rules.max_conns_per_ip;
                let first_frame = rules.first_frame_timeout;
                gate.set_rules(rules);
                tracing::info!(
                    max_conns_per_ip = per_ip,
                    ?first_frame,
                    "reloaded: {allow} allow, {deny} deny rules"
                );
            }
            Ok(Err(e)) => tracing::error!(
                "reload failed, keeping the old rules: {}",
                crate::cli::exit::one_line(&e)
            ),
            Err(e) => tracing::error!("reload failed, keeping the old rules: {e}"),
        }
    }
}

fn load(cli: &ArgMatches) -> anyhow::Result<(GateRules, ArgMatches)> {
    let (args, m) = super::resolve(cli)?;
    Ok((args.gate_rules()?, m))
}

/// Keys outside [`LIVE`] whose effective value differs.
fn restart_only_changes(old: &ArgMatches, new: &ArgMatches) -> Vec<String> {
    let cmd = super::command();
    let before = super::config::settings(&cmd, old);
    let after = super::config::settings(&cmd, new);
    before
        .into_iter()
        .zip(after)
        .filter(|((k, _, a), (_, _, b))| !LIVE.contains(k) && a != b)
        .map(|((k, _, _), _)| k.to_owned())
        .collect()
}
