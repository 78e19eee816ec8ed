//! `sockit user`: manage the accounts in a data directory (add, passwd,
//! del, list, lock, unlock), also while a server is running on it.
//!
//! Passwords never come from the command line (it shows in `ps` and shell
//! history): they are prompted without echo, or read from stdin.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use sockit::service::accounts::{
    self, Accounts, AccountsConfig, AccountsError, MAX_PASSWORD_BYTES, UserInfo,
};

/// Arguments of `sockit user`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit user add alice                       prompts for the password twice
  printf '%s\\n' \"$PW\" | sockit user add alice --password-stdin
  sockit user passwd alice                    new password; alice's sessions end
  sockit user list                            name, created, last login, status
  sockit user list --json                     the same as a JSON array
  sockit user lock alice                      refuse her logins, end her sessions
  sockit user unlock alice                    undo a lock or a lockout after failed logins
  sockit user del alice --data /srv/sockit    in another data directory

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
    /// Delete an account and its sessions.
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

/// Where the password comes from.
#[derive(Debug, clap::Args)]
struct PasswordSource {
    /// Read the password from the first line of stdin (for scripts)
    /// instead of prompting; the trailing newline is dropped.
    #[arg(long)]
    password_stdin: bool,
}

/// Runs `sockit user`: all of it is blocking (SQLite, argon2, prompts).
pub async fn run(a: UserArgs) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || run_blocking(a))
        .await
        .context("the user command's thread failed")?
}

fn run_blocking(a: UserArgs) -> anyhow::Result<ExitCode> {
    let db = a.data.join(accounts::DB_FILE);
    if !matches!(a.action, Action::Add { .. }) && !db.exists() {
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
    let accounts = open(&a.data)?;
    match a.action {
        Action::Add { name, password } => {
            // Refuse a bad or taken name before asking for a password.
            if let Some(existing) = accounts.registered_name(&name)? {
                bail!(AccountsError::NameTaken(existing));
            }
            let pw = read_password(&name, &password)?;
            let u = accounts.add_user(&name, &pw)?;
            println!("user {} added", u.name);
        }
        Action::Passwd { name, password } => {
            if accounts.registered_name(&name)?.is_none() {
                bail!(AccountsError::NoSuchUser(name));
            }
            let pw = read_password(&name, &password)?;
            accounts.set_password(&name, &pw)?;
            println!("password of {name} changed; their sessions have ended");
        }
        Action::Del { name } => {
            accounts.delete_user(&name)?;
            println!("user {name} deleted");
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

/// Opens the store with the server's default parameters (so new hashes
/// match what the server would write) and a single hashing thread.
fn open(data: &Path) -> anyhow::Result<Accounts> {
    let cfg = AccountsConfig {
        hash_threads: 1,
        ..AccountsConfig::default()
    };
    Ok(Accounts::open(data, cfg)?)
}

/// The new password: from stdin with `--password-stdin`, else prompted
/// twice without echo on a terminal.
fn read_password(name: &str, src: &PasswordSource) -> anyhow::Result<String> {
    if src.password_stdin {
        return password_line(std::io::stdin().lock());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so the password cannot be prompted; \
             pipe it in with --password-stdin"
        );
    }
    let first = rpassword::prompt_password(format!("password for {name}: "))
        .context("reading the password from the terminal")?;
    let again = rpassword::prompt_password("repeat the password: ")
        .context("reading the password from the terminal")?;
    if first != again {
        bail!("the two passwords differ; run the command again");
    }
    Ok(first)
}

/// One line of `input`, without its `\n` (or `\r\n`). Reads at most a
/// little more than the longest password, so a huge stdin costs nothing.
fn password_line(input: impl BufRead) -> anyhow::Result<String> {
    let limit = u64::try_from(MAX_PASSWORD_BYTES + 2).unwrap_or(u64::MAX);
    let mut buf = Vec::new();
    input
        .take(limit)
        .read_until(b'\n', &mut buf)
        .context("reading the password from stdin")?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > MAX_PASSWORD_BYTES {
        bail!("the password on stdin is longer than {MAX_PASSWORD_BYTES} bytes; use a shorter one");
    }
    String::from_utf8(buf).map_err(|_| {
        anyhow::anyhow!(
            "the password on stdin is not valid UTF-8; check the terminal's or file's encoding"
        )
    })
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

/// Unix seconds as `YYYY-MM-DD HH:MMZ` (UTC), without a date crate:
/// Howard Hinnant's days-to-civil algorithm.
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13Z");
    }

    #[test]
    fn password_line_strips_one_newline_and_checks_utf8() {
        assert_eq!(password_line(&b"secret pw\n"[..]).unwrap(), "secret pw");
        assert_eq!(
            password_line(&b"secret pw\r\nmore\n"[..]).unwrap(),
            "secret pw"
        );
        assert_eq!(password_line(&b"no newline"[..]).unwrap(), "no newline");
        assert_eq!(
            password_line(&b" spaces kept \n"[..]).unwrap(),
            " spaces kept "
        );
        assert!(
            password_line(&b"\xff\xfe bad\n"[..])
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        let long = vec![b'x'; MAX_PASSWORD_BYTES + 10];
        assert!(
            password_line(&long[..])
                .unwrap_err()
                .to_string()
                .contains("longer")
        );
    }
}
