//! `sockit put`, `get`, `ls`, `rm`: the user's files on a framed server.
//!
//! Remote operands are written like scp's, with a colon: `:PATH` on the
//! default server, `tcp://HOST:PORT:PATH` or `unix:///SOCK:PATH` on
//! another. Paths on the server never contain `:` (the store refuses it),
//! so the last colon always separates the server from the path. `get`,
//! `ls` and `rm` only take remote operands, so there the colon is optional;
//! `put`'s last operand is the destination only when it has the colon,
//! which keeps `sockit put a b` meaning "upload a and b".

mod each;
mod get;
mod ls;
mod organize;
pub(super) mod progress;
mod put;

pub use get::{GetArgs, run as get};
pub use ls::{LsArgs, RmArgs, ls, rm};
pub use organize::{MkdirArgs, MvArgs, run_mkdir as mkdir, run_mv as mv};
pub use put::{PutArgs, run as put};

use std::process::ExitCode;
use std::time::Duration;

use sockit::client::Client;
use sockit::client::credentials::{Credentials, CredentialsError, connect_logged_in_any};
use sockit::client::transfer::{TransferError, chunk_for};
use sockit::net::Endpoint;
use sockit::wire::ErrorCode;
use sockit::wire::path::RelPath;

/// Exit statuses, documented in every command's --help.
pub const EXIT_HELP: &str =
    "Exit status (the table of `sockit --help`): 0 success; 1 refused by the
server for another reason (quota, size, busy, bad path, disk full) or an
unsafe reply; 2 usage or local error; 3 not logged in or session refused;
4 not found; 5 conflict (exists, use --force; wrong kind; directory not
empty); 6 verification failed (nothing kept); 7 network (cannot connect, or
the connection dropped: run the same command again to resume).
With several operands the first failure's status is returned.";

/// Flags every file command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The server for operands that name none; repeat it (or give a comma
    /// list) for several nodes, tried in turn [default: $SOCKIT_SERVER or
    /// tcp://127.0.0.1:7878].
    #[arg(long, value_name = "ADDR")]
    server: Vec<crate::cli::server_addr::ServerList>,
    /// Print one JSON object (a summary) instead of lines, and no progress.
    #[arg(long)]
    json: bool,
    /// Give up on an unresponsive server after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
    #[command(flatten)]
    tls: crate::cli::tls_opts::ClientTlsArgs,
}

/// A remote operand: which server, and which path (`None` is the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The server.
    pub server: Endpoint,
    /// The path below the user's root.
    pub path: Option<RelPath>,
}

/// True when `arg` is written as a remote operand (`:PATH` or `SCHEME://...`).
pub fn is_remote(arg: &str) -> bool {
    arg.starts_with(':') || arg.contains("://")
}

impl Common {
    /// The servers for operands that name none, in the order tried.
    fn default_servers(&self) -> anyhow::Result<Vec<Endpoint>> {
        let given: Vec<Endpoint> = self
            .server
            .iter()
            .flat_map(|l| l.0.iter().cloned())
            .collect();
        crate::cli::server_addr::resolve(&given)
    }

    fn default_server(&self) -> anyhow::Result<Endpoint> {
        Ok(self.default_servers()?.remove(0))
    }

    /// The nodes to try for an operand on `server`: the whole default list
    /// when `server` is its first (an operand that named no server), else
    /// just `server`.
    fn nodes_for(&self, server: &Endpoint) -> Vec<Endpoint> {
        match self.default_servers() {
            Ok(list) if list.first() == Some(server) => list,
            _ => vec![server.clone()],
        }
    }

    /// Parses a remote operand (see the module docs).
    pub fn remote(&self, arg: &str) -> anyhow::Result<Remote> {
        let (server, path) = if arg.contains("://") {
            let (addr, path) = arg.rsplit_once(':').unwrap_or((arg, ""));
            let server: Endpoint = addr.parse().map_err(|e| {
                anyhow::anyhow!(
                    "{arg:?}: {e}; write the server and the path as tcp://HOST:PORT:PATH \
                     (tcp://HOST:PORT: for your root)"
                )
            })?;
            (server, path)
        } else {
            (self.default_server()?, arg.strip_prefix(':').unwrap_or(arg))
        };
        let trimmed = path.trim_end_matches('/');
        let path = if trimmed.is_empty() {
            None
        } else {
            Some(RelPath::parse(trimmed).map_err(|e| {
                anyhow::anyhow!(
                    "bad remote path {}: {e}",
                    sockit::wire::path::escape_name(trimmed)
                )
            })?)
        };
        Ok(Remote { server, path })
    }

    /// True with --json.
    pub fn json(&self) -> bool {
        self.json
    }

    /// --timeout.
    pub fn timeout(&self) -> anyhow::Result<Duration> {
        super::seconds("--timeout", self.timeout, true)
    }
}

/// A logged-in connection and the chunk size its server allows.
pub struct Session {
    /// The connection.
    pub client: Client,
    /// Bytes per chunk.
    pub chunk: usize,
}

/// Connects to `server` as the account `sockit login` stored, and checks
/// that it serves files. Not logged in or refused: exit status 3.
pub async fn connect(c: &Common, server: &Endpoint) -> Result<Session, Failure> {
    let creds = Credentials::from_env().map_err(|e| Failure::other(e.into()))?;
    let nodes = crate::cli::server_addr::with_trust(&c.tls, c.nodes_for(server))
        .await
        .map_err(Failure::other)?;
    let timeout = c.timeout().map_err(Failure::usage)?;
    let mut client = match connect_logged_in_any(&creds, &nodes, timeout).await {
        Ok(l) => {
            crate::cli::server_addr::report_fallover(&l.skipped, &l.server);
            l.client
        }
        Err(e @ (CredentialsError::NotLoggedIn(_) | CredentialsError::Refused { .. })) => {
            return Err(Failure {
                code: 3,
                message: e.to_string(),
            });
        }
        Err(e) => return Err(Failure::other(e.into())),
    };
    let hello = client.hello().await.map_err(|e| Failure::other(e.into()))?;
    let has_files = hello
        .get("features")
        .and_then(|f| f.as_array())
        .is_some_and(|f| f.iter().any(|v| v.as_str() == Some("file")));
    if !has_files {
        return Err(Failure {
            code: 1,
            message: format!("{server} serves no files (started with --no-files?)"),
        });
    }
    let max_body = hello
        .get("limits")
        .and_then(|l| l.get("max_body"))
        .and_then(|m| m.as_u64());
    Ok(Session {
        client,
        chunk: chunk_for(max_body),
    })
}

/// One failure, with its exit status and the line to print.
#[derive(Debug)]
pub struct Failure {
    /// The exit status (see [`EXIT_HELP`]).
    pub code: u8,
    /// What went wrong, one line.
    pub message: String,
}

impl Failure {
    fn usage(e: anyhow::Error) -> Self {
        Failure {
            code: crate::cli::exit::USAGE,
            message: crate::cli::exit::one_line(&e),
        }
    }

    fn other(e: anyhow::Error) -> Self {
        Failure {
            code: crate::cli::exit::status(&e),
            message: crate::cli::exit::one_line(&e),
        }
    }
}

impl From<TransferError> for Failure {
    fn from(e: TransferError) -> Self {
        let code = match &e {
            TransferError::Client(c) => match c.error_code() {
                Some(ErrorCode::Unauthenticated | ErrorCode::InvalidToken) => 3,
                Some(ErrorCode::NotFound) => 4,
                Some(ErrorCode::Conflict) => 5,
                Some(ErrorCode::VerifyFailed) => 6,
                // Any other refusal, a code this build does not know too.
                _ if c.code().is_some() => 1,
                _ if crate::cli::exit::is_network(c) => crate::cli::exit::NETWORK,
                _ => 2,
            },
            TransferError::Local { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                4
            }
            TransferError::Local { .. } => 2,
            TransferError::LocalExists { .. } => 5,
            TransferError::Verify { .. } => 6,
            TransferError::Unsafe(_) | TransferError::Protocol(_) => 1,
        };
        let message = match &e {
            // The server's own line names cause and fix; drop our prefix.
            TransferError::Client(sockit::client::ClientError::Server { message, .. }) => {
                message.clone()
            }
            // The connection broke: say that a rerun picks up where it was.
            _ if code == crate::cli::exit::NETWORK => {
                format!(
                    "the connection to the server broke ({e}); run the same command again to resume"
                )
            }
            _ => e.to_string(),
        };
        Failure { code, message }
    }
}

/// Collects per-operand failures: each is printed as it happens, and the
/// first one's status becomes the command's.
#[derive(Debug, Default)]
pub struct Failures {
    first: Option<u8>,
    /// Every failure, for the JSON summary.
    pub list: Vec<serde_json::Value>,
}

impl Failures {
    /// Records and prints (unless `json`) a failure about `what`.
    pub fn add(&mut self, what: &str, f: Failure, json: bool) {
        if !json {
            // A message that already starts with the operand names it once.
            let message = f
                .message
                .strip_prefix(&format!("{what}: "))
                .unwrap_or(&f.message);
            eprintln!("sockit: {what}: {message}");
        }
        self.first.get_or_insert(f.code);
        self.list.push(serde_json::json!({
            "operand": what, "status": f.code, "error": f.message,
        }));
    }

    /// The exit status.
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.first.unwrap_or(0))
    }
}

/// Rate as text: `123.4 MB/s`.
fn rate(bytes: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{:.1} MB/s", bytes as f64 / secs / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common() -> Common {
        Common {
            server: Vec::new(),
            json: false,
            timeout: 1.0,
            tls: Default::default(),
        }
    }

    #[test]
    fn remote_operands() {
        let c = common();
        let r = c.remote("tcp://10.0.0.5:7000:docs/a.txt").unwrap();
        assert_eq!(r.server.to_string(), "tcp://10.0.0.5:7000");
        assert_eq!(r.path.unwrap().as_str(), "docs/a.txt");
        let r = c.remote("tls://h.example:7001:a").unwrap();
        assert_eq!(r.server.to_string(), "tls://h.example:7001");
        let r = c.remote("tcp://[::1]:7000:").unwrap();
        assert_eq!(r.path, None);
        assert_eq!(c.remote(":docs/").unwrap().path.unwrap().as_str(), "docs");
        assert_eq!(c.remote("docs/x").unwrap().path.unwrap().as_str(), "docs/x");
        assert_eq!(c.remote(":").unwrap().path, None);
        // A forgotten trailing colon is a clear error, not port-as-path.
        assert!(c.remote("tcp://h:7878").is_err());
        assert!(c.remote(":../etc/passwd").is_err());
        assert!(is_remote(":x") && is_remote("unix:///s.sock:") && !is_remote("a.txt"));
    }
}
