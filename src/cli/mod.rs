//! Command-line interface: one module per subcommand, parsing and printing only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod accounts;
mod admin;
mod bench;
mod call;
mod cert;
mod chat;
mod chat_edit;
mod chat_term;
mod dm;
pub mod exit;
mod files;
mod lab;
mod login;
pub mod ops_opts;
mod password;
mod perf;
mod perf_udp;
mod ping;
mod pipe;
mod relay;
mod serve;
mod server_addr;
mod share;
mod share_e2e;
mod share_get;
mod share_key;
mod share_qr;
mod share_send;
mod tls_opts;
mod user;

/// sockit: a client/server socket toolkit for TCP, UDP and Unix sockets.
///
/// Addresses take one form everywhere: tcp://HOST:PORT, udp://HOST:PORT,
/// tls://HOST:PORT, unix:///abs/path or unix://relative/path; a bare
/// HOST:PORT means TCP.
/// IPv6 hosts go in brackets: tcp://[::1]:8888.
#[derive(Debug, Parser)]
#[command(
    name = "sockit",
    version,
    propagate_version = true,
    after_help = "Examples:
  sockit serve                                   echo on tcp+udp 127.0.0.1:8888, frames on :7878
  sockit serve --echo tcp://0.0.0.0:8888 --echo udp://0.0.0.0:8888 --upper tcp://127.0.0.1:9999
  sockit ping -c 5 udp://127.0.0.1:8888          round trips with loss and percentiles
  sockit bench --conns 100 --duration 10 tcp://127.0.0.1:8888
  echo hi | sockit connect tcp://127.0.0.1:8888  nc-style pipe
  sockit listen -k tcp://127.0.0.1:9000          accept clients, print what they send
  sockit call tcp://127.0.0.1:7878 '{\"type\":\"ping\"}'   one frame, replies as JSON lines
  sockit lab sticky                              see TCP merge and split messages
  sockit user add alice                          create an account (password prompted)
  sockit login --user alice; sockit put a.txt :docs; sockit ls :docs; sockit get :docs/a.txt
  sockit serve --listen tls://0.0.0.0:7879       the frame protocol over TLS (self-signed cert)
  sockit login tls://host:7879 --user alice      first use trusts and remembers the certificate

Logging: -v for debug, or RUST_LOG=sockit=trace. Run `sockit <command> --help` for details.

Exit status (every command):
  0 success
  1 refused by the server (wrong password, locked, quota, busy, bad path,
    disk full), or a check failed
  2 usage or local error (a bad flag or address, an unreadable local file)
  3 not logged in, or the stored session was refused: run `sockit login`
  4 not found
  5 conflict: exists (use --force), wrong kind, directory not empty
  6 verification failed (nothing kept)
  7 network: cannot connect, or the connection dropped (an interrupted put
    or get resumes when run again)"
)]
pub struct Cli {
    /// More log output on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub log: ops_opts::LogArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run services: echo, upper, the frame protocol, web and chat on any mix of addresses.
    // Boxed: the serve flags outweigh every other command's many times over.
    Serve(Box<serve::ServeArgs>),
    /// Measure round trips to an echo service, like ping(8).
    Ping(ping::PingArgs),
    /// Load-test an echo service: messages/s, MB/s, latency percentiles.
    Bench(bench::BenchArgs),
    /// Connect to an address and pipe stdin/stdout through it, like `ncat HOST PORT`.
    Connect(pipe::ConnectArgs),
    /// Listen on an address and pipe stdin/stdout to clients, like `ncat -l`.
    Listen(pipe::ListenArgs),
    /// Forward each client of one address to another, like socat.
    Relay(relay::RelayArgs),
    /// Measure TCP or UDP throughput against `sockit serve --perf`, like iperf3.
    Perf(perf::PerfArgs),
    /// Send frames of the sockit protocol and print the replies as JSON lines.
    Call(call::CallArgs),
    /// Experiments that show how sockets behave (sticky packets).
    Lab(lab::LabArgs),
    /// Manage accounts: add, passwd, del, list, lock, unlock.
    User(user::UserArgs),
    /// Chat in rooms shared with nc, UDP and browser users (interactive or scripted).
    Chat(chat::ChatArgs),
    /// Send one chat message to a room.
    Say(chat::SayArgs),
    /// Print a room's recent chat messages.
    History(chat::HistoryArgs),
    /// Direct messages: list conversations with unread counts, read one, or send.
    Dm(dm::DmArgs),
    /// Log in to a framed server; later commands against it use the session.
    Login(login::LoginArgs),
    /// End the session stored for a server, on the server and locally.
    Logout(login::SessionArgs),
    /// Show which account the stored session for a server speaks for.
    Whoami(login::SessionArgs),
    /// Upload files (directories with -r): resumable, verified, atomic.
    Put(files::PutArgs),
    /// Download a file (a directory with -r): resumable, verified.
    Get(files::GetArgs),
    /// List your files on a server.
    Ls(files::LsArgs),
    /// Remove your files on a server (directories with -r).
    Rm(files::RmArgs),
    /// TLS certificates: make one, show a fingerprint, forget a known host.
    Cert(cert::CertArgs),
    /// Operator tasks: migrate a single node's data into a cluster's PostgreSQL.
    Admin(admin::AdminArgs),
    /// Share a file by link with people who have no account; list and revoke shares.
    Share(share::ShareArgs),
    /// Send files into an upload link (http://HOST/u/ID), with no account.
    Send(share_send::SendArgs),
    /// Create directories in your files on a server.
    Mkdir(files::MkdirArgs),
    /// Move or rename one of your files or directories on a server.
    Mv(files::MvArgs),
    /// Edit one of your chat messages (within the edit window).
    Edit(chat_edit::EditArgs),
    /// Delete one of your chat messages (within the edit window).
    Delete(chat_edit::DeleteArgs),
    /// Search the chat rooms you can read.
    Search(chat_edit::SearchArgs),
}

impl Cli {
    /// Worker threads for the async runtime: `serve` decides (see its
    /// `--threads`); clients use one per CPU.
    pub fn worker_threads(&self) -> usize {
        match &self.command {
            // Stream connections run on serve's own shards (--threads); the
            // main runtime only accepts, answers datagrams and runs services.
            Command::Serve(a) => a.threads.unwrap_or_else(cpus).max(1),
            _ => cpus(),
        }
    }
}

/// CPUs this process may use.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The longest duration any flag takes: far beyond any real timeout, and
/// small enough that adding it to "now" can never overflow a clock.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Turns a seconds flag into a duration: finite, not negative, at most a
/// year, and above zero when `positive` (a zero timeout would close
/// everything at once).
pub fn seconds(flag: &str, v: f64, positive: bool) -> anyhow::Result<std::time::Duration> {
    let ok = (0.0..=MAX_SECONDS).contains(&v) && (!positive || v > 0.0);
    if !ok {
        let what = if positive {
            "a positive"
        } else {
            "a non-negative"
        };
        anyhow::bail!(
            "{flag} {v}: give {what} number of seconds, at most {MAX_SECONDS:.0} (a year)"
        );
    }
    Ok(std::time::Duration::from_secs_f64(v))
}

/// Runs the chosen subcommand; the exit code is the command's verdict.
/// `matches` are what `cli` was parsed from (`serve` needs to know which
/// flags were given, to lay them over its config file).
pub async fn dispatch(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(_) => match matches.subcommand_matches("serve") {
            Some(m) => serve::run(m.clone()).await,
            None => anyhow::bail!("the command line has no `serve`"),
        },
        Command::Ping(a) => ping::run(a).await,
        Command::Bench(a) => bench::run(a).await,
        Command::Connect(a) => pipe::connect(a).await,
        Command::Listen(a) => pipe::listen(a).await,
        Command::Relay(a) => relay::run(a).await,
        Command::Perf(a) => perf::run(a).await,
        Command::Call(a) => call::run(a).await,
        Command::Lab(a) => lab::run(a).await,
        Command::User(a) => user::run(a).await,
        Command::Chat(a) => chat::chat(a).await,
        Command::Say(a) => chat::say(a).await,
        Command::History(a) => chat::history(a).await,
        Command::Dm(a) => dm::dm(a).await,
        Command::Login(a) => login::login(a).await,
        Command::Logout(a) => login::logout(a).await,
        Command::Whoami(a) => login::whoami(a).await,
        Command::Put(a) => files::put(a).await,
        Command::Get(a) => files::get(a).await,
        Command::Ls(a) => files::ls(a).await,
        Command::Rm(a) => files::rm(a).await,
        Command::Cert(a) => cert::run(a).await,
        Command::Admin(a) => admin::run(a).await,
        Command::Share(a) => share::run(a).await,
        Command::Send(a) => share_send::run(a).await,
        Command::Mkdir(a) => files::mkdir(a).await,
        Command::Mv(a) => files::mv(a).await,
        Command::Edit(a) => chat_edit::edit(a).await,
        Command::Delete(a) => chat_edit::delete(a).await,
        Command::Search(a) => chat_edit::search(a).await,
    }
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
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00Z");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13Z");
    }
}
