//! `sockit login`, `logout`, `whoami`: sessions of the frame protocol, kept
//! in the user's config directory so later commands run as that account.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sockit::client::credentials::{
    Credentials, CredentialsError, Saved, check_password_path, connect_logged_in_any,
};
use sockit::client::failover;
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::net::tls::Trust;
use sockit::wire::{AuthReply, AuthRequest};

use super::password::{self, Source};

/// Flags every session command shares.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
    /// Give up on the server after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit login`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The password is asked for without echo, or read from SOCKIT_PASSWORD, or
with --password-stdin from one line of stdin; never from the command line.
Several nodes (a comma list, repeated --server, $SOCKIT_SERVER or `servers` in
client.toml) are tried in turn; the session is stored under the node that
answered. The session token is stored for this server in ~/.config/sockit/sessions.json
(mode 0600; SOCKIT_CONFIG_DIR or XDG_CONFIG_HOME move it), and later commands
against the same server use it.
Over plain tcp:// the password is sent only to this machine (loopback);
use tls:// for other hosts, or --insecure on a network you trust.
Exit status: 0 logged in, 1 refused (wrong name or password, locked, throttled), 2 other errors.

Examples:
  sockit login --user alice
  sockit login tls://10.0.0.5:7879 --user alice
  sockit login tls://10.0.0.5:7879,tls://10.0.0.6:7879 --user alice
      the first node of a cluster that answers takes the login; its session
      serves every node of the list (cluster nodes share sessions)
  sockit login tls://chat.example.org:7879 --user alice --ca company-ca.pem
  printf '%s\\n' \"$PASS\" | sockit login --user alice --password-stdin"
)]
pub struct LoginArgs {
    #[command(flatten)]
    common: Common,
    /// The account name.
    #[arg(long, short)]
    user: String,
    /// Read the password from one line of stdin.
    #[arg(long)]
    password_stdin: bool,
    /// Send the password over plain TCP to a host that is not this machine
    /// (refused by default: anyone on the path could read it; use tls://).
    #[arg(long)]
    insecure: bool,
}

/// Arguments of `sockit logout` and `sockit whoami`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit whoami
  sockit logout tcp://10.0.0.5:7878")]
pub struct SessionArgs {
    #[command(flatten)]
    common: Common,
}

fn timeout(c: &Common) -> anyhow::Result<Duration> {
    super::seconds("--timeout", c.timeout, true)
}

/// Prints a refusal from the server and returns exit status 1, or passes
/// other errors up.
fn refused(e: ClientError, what: &str) -> anyhow::Result<ExitCode> {
    match e {
        ClientError::Server { message, .. } => {
            eprintln!("sockit: {what} refused: {message}");
            Ok(ExitCode::from(super::exit::REFUSED))
        }
        e => Err(e.into()),
    }
}

/// The addresses of a list of servers.
fn servers_only(servers: &[(Endpoint, Trust)]) -> Vec<Endpoint> {
    servers.iter().map(|(s, _)| s.clone()).collect()
}

/// How `server`'s certificate is checked.
fn trust_of(servers: &[(Endpoint, Trust)], server: &Endpoint) -> Trust {
    servers
        .iter()
        .find(|(s, _)| s == server)
        .map_or(Trust::Unset, |(_, t)| t.clone())
}

/// Runs `sockit login`.
pub async fn login(a: LoginArgs) -> anyhow::Result<ExitCode> {
    let servers = a.common.server.resolve()?;
    // Before the prompt: a refusal must not cost the user their typing.
    for s in &servers {
        check_password_path(s, a.insecure).await?;
    }
    let source = if a.password_stdin {
        Source::Stdin
    } else {
        Source::EnvOrPrompt
    };
    let prompt = format!("password for {} at {}: ", a.user, servers[0]);
    let pass = tokio::task::spawn_blocking(move || password::read(source, &prompt, false))
        .await
        .context("reading the password")??;
    let creds = Credentials::from_env()?;
    let servers = super::server_addr::with_trust(&a.common.tls, servers).await?;
    let wait = timeout(&a.common)?;
    // The first node that answers takes the login; the session is stored
    // under its address (later commands given the same list find it).
    let (mut client, addr, skipped) = failover::in_turn(&servers_only(&servers), |s| {
        let trust = trust_of(&servers, &s);
        async move { Client::connect_with(&s, wait, &trust).await }
    })
    .await?;
    super::server_addr::report_fallover(&skipped, &addr);
    let (user, token, expires) = match client.login(&a.user, &pass).await {
        Ok(AuthReply::Login {
            user,
            token,
            expires,
        }) => (user, token, expires),
        Ok(other) => anyhow::bail!("unexpected reply to login: {other:?}"),
        Err(e) => return refused(e, "login"),
    };
    creds.put(
        &addr,
        Saved {
            user: user.clone(),
            token,
            expires,
        },
    )?;
    if a.common.json {
        println!(
            "{}",
            serde_json::json!({"server": addr.to_string(), "user": user, "expires": expires})
        );
    } else {
        println!("login successful: {user} at {}", addr);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `sockit whoami`.
pub async fn whoami(a: SessionArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let creds = Credentials::from_env()?;
    let servers = super::server_addr::with_trust(&c.tls, c.server.resolve()?).await?;
    let (mut client, addr) = match connect_logged_in_any(&creds, &servers, timeout(c)?).await {
        Ok(l) => {
            super::server_addr::report_fallover(&l.skipped, &l.server);
            (l.client, l.server)
        }
        Err(e @ (CredentialsError::NotLoggedIn(_) | CredentialsError::Refused { .. })) => {
            eprintln!("sockit: {e}");
            return Ok(ExitCode::from(super::exit::NOT_LOGGED_IN));
        }
        Err(e) => return Err(e.into()),
    };
    match client.auth(AuthRequest::Whoami {}).await {
        Ok(AuthReply::Whoami { user, expires }) => {
            if c.json {
                println!(
                    "{}",
                    serde_json::json!({"server": addr.to_string(), "user": user, "expires": expires})
                );
            } else {
                println!("{user} at {} (session ends {})", addr, super::utc(expires));
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(other) => anyhow::bail!("unexpected reply to whoami: {other:?}"),
        Err(e) => refused(e, "whoami"),
    }
}

/// Runs `sockit logout`: revokes the token on the server and forgets it.
pub async fn logout(a: SessionArgs) -> anyhow::Result<ExitCode> {
    let c = &a.common;
    let servers = c.server.resolve()?;
    let addr = servers[0].clone();
    let creds = Credentials::from_env()?;
    // Revoke on the server first; forget locally in every case, so a dead
    // server or an already-revoked token never leaves a usable secret here.
    // With several nodes, the session is revoked through the first that
    // answers (a cluster's sessions are shared) and forgotten for each.
    let servers = super::server_addr::with_trust(&c.tls, servers).await?;
    let revoked = match connect_logged_in_any(&creds, &servers, timeout(c)?).await {
        Ok(mut l) => l
            .client
            .auth(AuthRequest::Logout {})
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from),
        Err(CredentialsError::NotLoggedIn(addr)) => {
            eprintln!("sockit: not logged in to {addr}");
            return Ok(ExitCode::from(super::exit::NOT_LOGGED_IN));
        }
        Err(CredentialsError::Refused { .. }) => Ok(()),
        Err(e) => Err(anyhow::Error::from(e)),
    };
    let mut saved = None;
    for (s, _) in &servers {
        saved = saved.or(creds.remove(s)?);
    }
    if let Err(e) = revoked {
        eprintln!(
            "sockit: forgot the local session, but the server could not revoke it: {}",
            super::exit::one_line(&e)
        );
        return Ok(ExitCode::from(2));
    }
    let user = saved.map(|s| s.user).unwrap_or_default();
    if c.json {
        println!(
            "{}",
            serde_json::json!({"server": addr.to_string(), "user": user, "logged_out": true})
        );
    } else {
        println!("logged out: {user} at {}", addr);
    }
    Ok(ExitCode::SUCCESS)
}
