//! `sockit user`: manage the accounts in a data directory (add, passwd,
//! del, list, lock, unlock), also while a server is running on it.
//!
//! Passwords never come from the command line (it shows in `ps` and shell
//! history): they are prompted without echo, or read from stdin.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use sockit::service::accounts::{
    self, Accounts, AccountsConfig, AccountsError, HashParams, UserInfo,
};
use sockit::service::files::{self, FileError, FileStore, FilesConfig};
use sockit::store::Backend;

use super::password::{self, Source};
use super::utc;

/// Arguments of `sockit user`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit user add alice                       prompts for the password twice
  printf '%s\\n' \"$PW\" | sockit user add alice --password-stdin
  sockit user passwd alice                    new password; alice's sessions end
  sockit user list                            name, created, last login, status
  sockit user list --json                     the same as a JSON array
  sockit user lock alice                      refuse her logins, end her sessions,
                                              stop her share and upload links (403)
  sockit user unlock alice                    undo a lock or a lockout after failed
                                              logins; her unexpired links work again
  sockit user del alice --data /srv/sockit    in another data directory;
                                              also removes alice's files
  sockit user lock alice --store postgres://sockit@db.internal:5432/sockit
                                              on a cluster: her sessions end on
                                              every node within a second

Names: 1 to 32 letters, digits, `_`, `-` or `.`, starting with a letter or a
digit; no `~`; unique ignoring case. Passwords: 8 to 1024 bytes.
Safe to run while `sockit serve` uses the same --data directory.")]
pub struct UserArgs {
    /// Data directory holding sockit.db: the same as `sockit serve --data`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./sockit-data",
        global = true
    )]
    data: PathBuf,
    /// The cluster's PostgreSQL, as `sockit serve --store` takes it
    /// (postgres://USER@HOST/DB): act on the accounts every node shares
    /// instead of those in --data.
    #[arg(long, value_name = "URL", global = true, value_parser = parse_store)]
    store: Option<Backend>,
    /// What to do.
    #[command(subcommand)]
    action: Action,
}

/// The account commands.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create an account.
    Add {
        /// The account name.
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Set a new password; the account's sessions end.
    Passwd {
        /// The account name.
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete an account, end its sessions, and remove its files and
    /// partial uploads (at once, or by the running server within a second).
    /// Its id is never given to another account.
    Del {
        /// The account name.
        name: String,
    },
    /// Show every account: name, created, last login, locked.
    List {
        /// Print a JSON array of {name, created, last_login, locked,
        /// locked_until} (times in unix seconds) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse the account's logins and end its sessions.
    Lock {
        /// The account name.
        name: String,
    },
    /// Lift a lock, and any temporary lockout after failed logins.
    Unlock {
        /// The account name.
        name: String,
    },
}

/// Where the new password comes from, and how it is hashed.
#[derive(Debug, clap::Args)]
struct PasswordSource {
    /// Read the password from the first line of stdin (for scripts)
    /// instead of prompting; the trailing newline is dropped.
    #[arg(long)]
    password_stdin: bool,
    /// argon2id cost of the new hash, as `sockit serve --argon2` takes it
    /// [default: m=19456,t=2,p=1]; the server rehashes at the next login
    /// if its own setting differs.
    #[arg(long, value_name = "PARAMS", value_parser = super::accounts::parse_hash_params)]
    argon2: Option<HashParams>,
}

impl PasswordSource {
    fn read(&self, name: &str) -> anyhow::Result<String> {
        let source = if self.password_stdin {
            Source::Stdin
        } else {
            Source::Prompt
        };
        password::read(source, &format!("password for {name}: "), true)
    }
}

/// Runs `sockit user`: all of it is blocking (SQLite, argon2, prompts).
pub async fn run(a: UserArgs) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || run_blocking(a))
        .await
        .context("the user command's thread failed")?
}

fn run_blocking(a: UserArgs) -> anyhow::Result<ExitCode> {
    let db = a.data.join(accounts::DB_FILE);
    let backend = a.store.clone().unwrap_or(Backend::Sqlite);
    let shared = backend.is_shared();
    if !shared && !matches!(a.action, Action::Add { .. }) && !db.exists() {
        if let Action::List { json } = a.action {
            // Nothing to list; don't create a database just to say so.
            print_list(&[], json)?;
            return Ok(ExitCode::SUCCESS);
        }
        bail!(
            "no accounts in {}: {} does not exist; add one with `sockit user add NAME` or pass --data DIR",
            a.data.display(),
            db.display()
        );
    }
    let hash = match &a.action {
        Action::Add { password, .. } | Action::Passwd { password, .. } => password.argon2,
        _ => None,
    };
    let accounts = open(&a.data, &backend, hash)?;
    match a.action {
        Action::Add { name, password } => {
            // Refuse a bad or taken name before asking for a password.
            if let Some(existing) = accounts.registered_name(&name)? {
                bail!(AccountsError::NameTaken(existing));
            }
            let pw = password.read(&name)?;
            // A store from before ids were reserved may hold files under
            // ids above the accounts'; the new account goes above them.
            if !shared {
                let high = files::highest_user_id(&a.data).with_context(|| {
                    format!("reading {}", a.data.join(files::FILES_DIR).display())
                })?;
                accounts.reserve_ids_through(high)?;
            }
            let u = accounts.add_user(&name, &pw)?;
            if shared {
                println!("user {} added to the cluster's PostgreSQL", u.name);
                return Ok(ExitCode::SUCCESS);
            }
            // Which store: a server started elsewhere has its own.
            let store = std::fs::canonicalize(&db).unwrap_or(db);
            println!(
                "user {} added to {} (serve with --data {})",
                u.name,
                store.display(),
                a.data.display()
            );
        }
        Action::Passwd { name, password } => {
            if accounts.registered_name(&name)?.is_none() {
                bail!(AccountsError::NoSuchUser(name));
            }
            let pw = password.read(&name)?;
            accounts.set_password(&name, &pw)?;
            println!("password of {name} changed; their sessions have ended");
        }
        Action::Del { name } => {
            accounts.delete_user(&name)?;
            println!("user {name} deleted; their sessions have ended");
            if shared {
                // The nodes hold the files: the first to poll the queue removes them.
                println!("their files and partial uploads are removed by the running nodes");
            } else {
                purge_files(&accounts, &a.data)?;
            }
        }
        Action::List { json } => print_list(&accounts.list_users()?, json)?,
        Action::Lock { name } => {
            accounts.lock_user(&name)?;
            println!("user {name} locked; their sessions have ended");
        }
        Action::Unlock { name } => {
            accounts.unlock_user(&name)?;
            println!("user {name} unlocked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the files and partial uploads of deleted accounts: here when
/// no server holds the file store, else the running server does it within
/// a second (it polls the queue `del` wrote).
fn purge_files(accounts: &Accounts, data: &Path) -> anyhow::Result<()> {
    if !data.join(files::FILES_DIR).exists() {
        // No file store ever: nothing to remove; the queue entry is dropped.
        accounts.run_purges_blocking(|_| true)?;
        return Ok(());
    }
    match FileStore::open(data, FilesConfig::default()) {
        Ok((store, _)) => {
            let failed = std::cell::Cell::new(None);
            accounts.run_purges_blocking(|id| match store.purge_user(id) {
                Ok(_) => true,
                Err(e) => {
                    failed.set(Some(e.to_string()));
                    false
                }
            })?;
            if let Some(e) = failed.into_inner() {
                bail!(
                    "the account is deleted but its files are not: {e}; run `sockit serve` on this --data to retry"
                );
            }
            println!("their files and partial uploads are removed");
        }
        Err(FileError::Busy { .. }) => {
            println!("their files and partial uploads are being removed by the running server");
        }
        Err(e) => bail!(
            "the account is deleted but its files are not: {e}; the next `sockit serve` on this --data removes them"
        ),
    }
    Ok(())
}

/// Opens the store with the server's default parameters (so new hashes
/// match what the server would write) unless `--argon2` says otherwise,
/// and a single hashing thread.
fn open(data: &Path, backend: &Backend, hash: Option<HashParams>) -> anyhow::Result<Accounts> {
    let cfg = AccountsConfig {
        hash_threads: 1,
        hash: hash.unwrap_or_default(),
        ..AccountsConfig::default()
    };
    Ok(Accounts::open_store(data, backend, cfg)?)
}

fn parse_store(s: &str) -> Result<Backend, String> {
    Backend::parse(s).map_err(|e| e.to_string())
}

fn print_list(users: &[UserInfo], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(users)?);
        return Ok(());
    }
    if users.is_empty() {
        println!("no users; add one with `sockit user add NAME`");
        return Ok(());
    }
    let width = users
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<width$}  {:<17}  {:<17}  STATUS",
        "NAME", "CREATED", "LAST LOGIN"
    );
    for u in users {
        let last = u.last_login.map_or_else(|| "never".to_string(), utc);
        let status = match (u.locked, u.locked_until) {
            (true, _) => "locked".to_string(),
            (false, Some(t)) => format!("locked out until {}", utc(t)),
            (false, None) => "active".to_string(),
        };
        println!(
            "{:<width$}  {:<17}  {:<17}  {status}",
            u.name,
            utc(u.created),
            last
        );
    }
    Ok(())
}
