//! Session tokens the CLI keeps between runs, one per server, in the user's
//! config directory: `sockit login` writes one, later commands resume it.
//!
//! The file is `sessions.json` in `$SOCKIT_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/sockit`, else `~/.config/sockit`. The directory is made
//! 0700 and the file 0600, written to a temporary file, synced and renamed,
//! so a crash never leaves a half-written file and no other local user can
//! read a token.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientError};
use crate::net::Endpoint;
use crate::net::tls::Trust;
use crate::wire::AuthReply;

pub use super::config_dir::{config_dir, write_private};

/// Environment variable that overrides the config directory (tests, and
/// users who keep several identities apart).
pub const CONFIG_DIR_ENV: &str = "SOCKIT_CONFIG_DIR";

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The account the token belongs to.
    pub user: String,
    /// The session token (secret).
    pub token: String,
    /// When it ends, in Unix seconds.
    pub expires: u64,
}

/// The sessions file: server address -> session.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SessionsFile {
    servers: BTreeMap<String, Saved>,
}

/// Why the sessions file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No config directory could be found.
    #[error("no config directory: set {CONFIG_DIR_ENV}, XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The file is not what we write.
    #[error("{path} is damaged ({reason}); delete it and log in again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// No session is stored for this server.
    #[error("not logged in to {0}; run `sockit login {0} --user NAME`")]
    NotLoggedIn(String),
    /// The stored session was refused by the server.
    #[error(
        "the saved session for {addr} no longer works ({source}); run `sockit login {addr} --user NAME`"
    )]
    Refused {
        /// The server.
        addr: String,
        /// What the server said.
        #[source]
        source: ClientError,
    },
    /// The server could not be reached or broke the protocol.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A password would cross the network in the clear.
    #[error(
        "refusing to send a password to {addr} over plain TCP: anyone on the network path \
         could read it; connect with tls://{host} (the server listens with --listen tls://...), \
         or pass --insecure if you trust the network"
    )]
    Insecure {
        /// The server as given.
        addr: String,
        /// Its HOST:PORT, for the tls:// fix.
        host: String,
    },
}

/// The rule for sending a password: fine over TLS and Unix sockets, and
/// over plain TCP only when every address the host resolves to is loopback
/// (the bytes never leave the machine), or when the user said `insecure`.
pub fn password_path_ok(ep: &Endpoint, resolved: &[std::net::IpAddr], insecure: bool) -> bool {
    match ep {
        Endpoint::Tcp(_) => insecure || resolved.iter().all(|ip| ip.is_loopback()),
        Endpoint::Tls(_) | Endpoint::Unix(_) | Endpoint::Udp(_) => true,
    }
}

/// Checks [`password_path_ok`] before anything is dialed, resolving the
/// host. A host that does not resolve passes: the connect then fails with
/// its own message.
pub async fn check_password_path(ep: &Endpoint, insecure: bool) -> Result<(), CredentialsError> {
    let (Endpoint::Tcp(hp), false) = (ep, insecure) else {
        return Ok(());
    };
    let Ok(addrs) = ep.resolve().await else {
        return Ok(());
    };
    let ips: Vec<_> = addrs.iter().map(|a| a.ip()).collect();
    if password_path_ok(ep, &ips, insecure) {
        Ok(())
    } else {
        Err(CredentialsError::Insecure {
            addr: ep.to_string(),
            host: hp.to_string(),
        })
    }
}

/// The sessions file of this user.
#[derive(Debug, Clone)]
pub struct Credentials {
    path: PathBuf,
}

impl Credentials {
    /// The file in the default config directory (see the module docs).
    pub fn from_env() -> Result<Self, CredentialsError> {
        Ok(Self::in_dir(&config_dir()?))
    }

    /// The file `sessions.json` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("sessions.json"),
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The session stored for `server`, if any.
    pub fn get(&self, server: &Endpoint) -> Result<Option<Saved>, CredentialsError> {
        Ok(self.load()?.servers.remove(&server.to_string()))
    }

    /// Stores (or replaces) the session for `server`.
    pub fn put(&self, server: &Endpoint, saved: Saved) -> Result<(), CredentialsError> {
        let mut file = self.load()?;
        file.servers.insert(server.to_string(), saved);
        self.store(&file)
    }

    /// Forgets the session for `server`; returns what was stored.
    pub fn remove(&self, server: &Endpoint) -> Result<Option<Saved>, CredentialsError> {
        let mut file = self.load()?;
        let old = file.servers.remove(&server.to_string());
        if old.is_some() {
            self.store(&file)?;
        }
        Ok(old)
    }

    fn io_err(&self, source: io::Error) -> CredentialsError {
        CredentialsError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn load(&self) -> Result<SessionsFile, CredentialsError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Damaged {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SessionsFile::default()),
            Err(e) => Err(self.io_err(e)),
        }
    }

    fn store(&self, file: &SessionsFile) -> Result<(), CredentialsError> {
        let text = serde_json::to_vec_pretty(file).map_err(|e| self.io_err(io::Error::other(e)))?;
        write_private(&self.path, &text).map_err(|e| self.io_err(e))
    }
}

/// Connects to `server` (checking a tls:// server's certificate as `trust`
/// says) and resumes the session `sockit login` stored for it. Returns the
/// client and the account name.
pub async fn connect_logged_in(
    creds: &Credentials,
    server: &Endpoint,
    timeout: Duration,
    trust: &Trust,
) -> Result<(Client, String), CredentialsError> {
    let saved = creds
        .get(server)?
        .ok_or_else(|| CredentialsError::NotLoggedIn(server.to_string()))?;
    resume_on(server, &saved, timeout, trust).await
}

impl super::failover::Unreachable for CredentialsError {
    fn unreachable(&self) -> bool {
        matches!(self, CredentialsError::Client(c) if c.unreachable())
    }
}

/// A logged-in connection made by [`connect_logged_in_any`].
#[derive(Debug)]
pub struct LoggedIn {
    /// The connection.
    pub client: Client,
    /// The account name.
    pub user: String,
    /// The server that answered.
    pub server: Endpoint,
    /// The servers tried before it, unreachable.
    pub skipped: Vec<super::failover::Skipped>,
}

/// [`connect_logged_in`] over several servers (the nodes of one cluster),
/// tried in turn: an unreachable node is skipped, the first that answers
/// is used. Each node is given the session stored for it, else the one
/// stored for the first listed node that has one: a cluster's nodes share
/// sessions, so a token from `sockit login` on one node works on all.
pub async fn connect_logged_in_any(
    creds: &Credentials,
    servers: &[(Endpoint, Trust)],
    timeout: Duration,
) -> Result<LoggedIn, CredentialsError> {
    let list: Vec<Endpoint> = servers.iter().map(|(s, _)| s.clone()).collect();
    let file = creds.load()?;
    let shared = list.iter().find_map(|s| file.servers.get(&s.to_string()));
    if shared.is_none() {
        let names: Vec<String> = list.iter().map(Endpoint::to_string).collect();
        return Err(CredentialsError::NotLoggedIn(names.join(" or ")));
    }
    let ((client, user), server, skipped) = super::failover::in_turn(&list, |server| {
        let saved = file.servers.get(&server.to_string()).or(shared).cloned();
        let trust = servers
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, t)| t.clone())
            .unwrap_or(Trust::Unset);
        async move {
            let saved = saved.ok_or_else(|| CredentialsError::NotLoggedIn(server.to_string()))?;
            resume_on(&server, &saved, timeout, &trust).await
        }
    })
    .await?;
    Ok(LoggedIn {
        client,
        user,
        server,
        skipped,
    })
}

/// Connects to `server` and resumes `saved` there.
async fn resume_on(
    server: &Endpoint,
    saved: &Saved,
    timeout: Duration,
    trust: &Trust,
) -> Result<(Client, String), CredentialsError> {
    let mut client = Client::connect_with(server, timeout, trust).await?;
    match client.resume(&saved.token).await {
        Ok(AuthReply::Resume { user, .. }) => Ok((client, user)),
        Ok(other) => Err(ClientError::Unexpected(format!("{other:?}")).into()),
        Err(e @ ClientError::Server { .. }) => Err(CredentialsError::Refused {
            addr: server.to_string(),
            source: e,
        }),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_private_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_dir(&dir.path().join("cfg"));
        let ep: Endpoint = "tcp://127.0.0.1:7878".parse().unwrap();
        assert_eq!(creds.get(&ep).unwrap(), None);
        let saved = Saved {
            user: "alice".into(),
            token: "ab".repeat(32),
            expires: 9,
        };
        creds.put(&ep, saved.clone()).unwrap();
        assert_eq!(creds.get(&ep).unwrap(), Some(saved.clone()));
        let mode = fs::metadata(creds.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = fs::metadata(dir.path().join("cfg"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        assert_eq!(creds.remove(&ep).unwrap(), Some(saved));
        assert_eq!(creds.get(&ep).unwrap(), None);
    }

    #[test]
    fn passwords_cross_the_network_only_inside_tls() {
        let ep = |s: &str| s.parse::<Endpoint>().unwrap();
        let (lo, lan) = ("127.0.0.1".parse().unwrap(), "192.0.2.7".parse().unwrap());
        assert!(password_path_ok(&ep("tcp://localhost:1"), &[lo], false));
        assert!(!password_path_ok(&ep("tcp://h:1"), &[lan], false));
        assert!(!password_path_ok(&ep("tcp://h:1"), &[lo, lan], false));
        assert!(password_path_ok(&ep("tcp://h:1"), &[lan], true));
        assert!(password_path_ok(&ep("tls://h:1"), &[lan], false));
        assert!(password_path_ok(&ep("unix://x.sock"), &[], false));
    }

    #[tokio::test]
    async fn the_refusal_names_both_fixes_before_dialing() {
        // A documentation address (TEST-NET-3): resolved, never dialed.
        let ep: Endpoint = "tcp://203.0.113.9:7878".parse().unwrap();
        let e = check_password_path(&ep, false)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls://203.0.113.9:7878"), "{e}");
        assert!(e.contains("--insecure"), "{e}");
        check_password_path(&ep, true).await.unwrap();
        let lo: Endpoint = "tcp://127.0.0.1:7878".parse().unwrap();
        check_password_path(&lo, false).await.unwrap();
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_dir(dir.path());
        fs::write(creds.path(), b"{not json").unwrap();
        let ep: Endpoint = "tcp://127.0.0.1:1".parse().unwrap();
        let e = creds.get(&ep).unwrap_err().to_string();
        assert!(e.contains("delete it and log in again"), "{e}");
    }
}
