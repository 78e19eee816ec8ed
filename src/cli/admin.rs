//! `sockit admin`: operator tasks on a node's stored state. `migrate`
//! copies a single node's data directory into the cluster's PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sockit::service::migrate::{self, Copied};
use sockit::store::Backend;

/// Arguments of `sockit admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    action: Action,
}

/// The admin commands.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Copy a single node's data directory (accounts, sessions, chat
    /// history with its seqs and epochs, idempotency keys, files, share
    /// links) into the PostgreSQL a cluster shares; run it again and it
    /// copies nothing.
    #[command(after_help = "Examples:
  sockit admin migrate --to postgres://sockit@db.internal:5432/sockit
                              copy ./sockit-data, then start the nodes with --store
  sockit admin migrate --data /srv/sockit --to postgres://sockit@db.internal:5432/sockit --json

Run it before the nodes start on PostgreSQL. What PostgreSQL already holds
is left alone (a room it knows under another epoch, or an account name it
gives another id, is reported as a conflict, never overwritten). Files keep
their owner, path and hashes; unfinished uploads are not copied. Share links
(upload links with their log) keep their state and counts, and their number
unless PostgreSQL gave it to another share (then reported as renumbered).")]
    Migrate {
        /// The single node's data directory: the same as `sockit serve --data`.
        #[arg(long, value_name = "DIR", default_value = "./sockit-data")]
        data: PathBuf,
        /// The cluster's PostgreSQL, as `sockit serve --store` takes it.
        #[arg(long, value_name = "URL", value_parser = parse_pg)]
        to: Backend,
        /// Print what was copied as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_pg(s: &str) -> Result<Backend, String> {
    match Backend::parse(s).map_err(|e| e.to_string())? {
        Backend::Sqlite => {
            Err("--to takes a postgres:// URL; sqlite is where data comes from".into())
        }
        b => Ok(b),
    }
}

/// Runs `sockit admin`.
pub async fn run(a: AdminArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        Action::Migrate { data, to, json } => {
            let Backend::Postgres(cfg) = to else {
                anyhow::bail!("--to takes a postgres:// URL");
            };
            anyhow::ensure!(
                data.is_dir(),
                "no data directory {}; pass --data DIR (the one `sockit serve --data` used)",
                data.display()
            );
            let dir = data.clone();
            let copied = tokio::task::spawn_blocking(move || migrate::migrate(&dir, &cfg))
                .await
                .context("the migration's thread failed")?
                .with_context(|| format!("migrating {} to PostgreSQL", data.display()))?;
            if json {
                println!("{}", serde_json::to_string(&copied)?);
            } else {
                print_report(&data, &copied);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_report(data: &std::path::Path, c: &Copied) {
    let (a, h) = (&c.accounts, &c.chat);
    if c.is_empty() {
        println!(
            "nothing to copy: everything in {} is already in PostgreSQL",
            data.display()
        );
    } else {
        println!("copied {} to PostgreSQL:", data.display());
    }
    println!(
        "  accounts: {} copied, {} already there; sessions: {} copied",
        a.accounts, a.accounts_present, a.sessions
    );
    println!(
        "  chat: {} rooms copied, {} already there; {} messages, {} idempotency keys, {} read markers copied",
        h.rooms, h.rooms_present, h.messages, h.keys, h.reads
    );
    let f = &c.files;
    println!(
        "  files: {} copied ({} bytes), {} already there, {} skipped (links, special files, bad names, empty folders)",
        f.files, f.bytes, f.present, f.skipped
    );
    let s = &c.shares;
    println!(
        "  shares: {} copied ({} renumbered, their number was taken), {} already there; {} folder-share files",
        s.shares, s.renumbered, s.present, s.files
    );
    println!(
        "  upload links: {} copied with {} logged uploads",
        s.upload_links, s.uploads
    );
    if !a.conflicts.is_empty() {
        println!(
            "  left alone, PostgreSQL holds other accounts under these names or ids: {}",
            a.conflicts.join(", ")
        );
    }
    if !h.conflicts.is_empty() {
        println!(
            "  left alone, PostgreSQL holds other histories for these rooms: {}",
            h.conflicts.join(", ")
        );
    }
}
