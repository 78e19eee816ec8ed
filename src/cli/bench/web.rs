//! `sockit bench`'s targets: an echo-like service, or a web door's
//! WebSocket, logged in through `POST /api/login` before the run.

use sockit::client::bench::ws::{WebTarget, web_login};
use sockit::net::Endpoint;

use super::BenchArgs;

/// What `sockit bench` loads.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// An echo-like service.
    Net(Endpoint),
    /// A web door's WebSocket.
    Web(WebTarget),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("ws://") || s.starts_with("wss://") {
            s.parse().map(Target::Web)
        } else {
            s.parse().map(Target::Net).map_err(|e| format!("{e}"))
        }
    }
}

/// Logs in to the web door through `POST /api/login` and returns the
/// target with its session cookie.
pub(super) async fn web_session(
    mut web: WebTarget,
    a: &BenchArgs,
    trust: &sockit::net::tls::Trust,
) -> anyhow::Result<WebTarget> {
    use anyhow::Context;
    let Some(user) = a.user.clone() else {
        anyhow::bail!(
            "{}: the web door's /ws starts logged in; give --user NAME (password from SOCKIT_PASSWORD, a prompt or --password-stdin)",
            web.url
        );
    };
    sockit::client::credentials::check_password_path(&web.endpoint, false)
        .await
        .map_err(|e| {
            anyhow::anyhow!("{e}").context(format!("{}: use wss:// for other hosts", web.url))
        })?;
    let source = if a.password_stdin {
        crate::cli::password::Source::Stdin
    } else {
        crate::cli::password::Source::EnvOrPrompt
    };
    let prompt = format!("password for {user} at {}: ", web.url);
    let pass =
        tokio::task::spawn_blocking(move || crate::cli::password::read(source, &prompt, false))
            .await
            .context("reading the password")??;
    let timeout = crate::cli::seconds("--connect-timeout", a.connect_timeout, true)?;
    let conn = sockit::net::dial_with(&web.endpoint, timeout, trust).await?;
    let cookie = tokio::time::timeout(timeout, web_login(conn, &web, &user, &pass))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{}: the web login did not answer within {timeout:?}",
                web.url
            )
        })?
        .map_err(|e| anyhow::anyhow!("{}: {e}", web.url))?;
    web.cookie = Some(cookie);
    Ok(web)
}
