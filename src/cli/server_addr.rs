//! Which framed server a client command talks to: one rule for every
//! command that uses an account (`login`, `logout`, `whoami`, `chat`,
//! `say`, `history`, `put`, `get`, `ls`, `rm`).
//!
//! In order: the address given on the command line (the positional
//! `[ADDR]`, or `--server ADDR`), then `$SOCKIT_SERVER`, then the framed
//! listener `sockit serve` opens by default. So `export
//! SOCKIT_SERVER=tls://host:7879` once, and `login`, `chat` and `put` all
//! go there, and a session stored by `login` is found by `put`.

use sockit::net::Endpoint;

/// The server when none is named: where `sockit serve` listens by default.
pub const DEFAULT_SERVER: &str = "tcp://127.0.0.1:7878";

/// Environment variable naming the server for every client command.
pub const SERVER_ENV: &str = "SOCKIT_SERVER";

/// The `[ADDR]` / `--server` pair of a client command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// The framed server (tcp://, tls:// or unix://) [default:
    /// $SOCKIT_SERVER, else tcp://127.0.0.1:7878].
    #[arg(value_name = "ADDR")]
    addr: Option<Endpoint>,
    /// The framed server, as a flag (the same as ADDR).
    #[arg(long, value_name = "ADDR", conflicts_with = "addr")]
    server: Option<Endpoint>,
}

impl ServerArgs {
    /// The server this command talks to (see the module docs).
    pub fn resolve(&self) -> anyhow::Result<Endpoint> {
        resolve(self.addr.as_ref().or(self.server.as_ref()))
    }
}

/// The server named on the command line, else `$SOCKIT_SERVER`, else the
/// default.
pub fn resolve(given: Option<&Endpoint>) -> anyhow::Result<Endpoint> {
    resolve_with(given, std::env::var(SERVER_ENV).ok().as_deref())
}

/// [`resolve`] with the environment's value passed in (testable).
fn resolve_with(given: Option<&Endpoint>, env: Option<&str>) -> anyhow::Result<Endpoint> {
    if let Some(ep) = given {
        return Ok(ep.clone());
    }
    match env {
        Some(s) if !s.trim().is_empty() => s.trim().parse().map_err(|e| {
            anyhow::anyhow!("${SERVER_ENV}={s:?}: {e}; set it to an address like {DEFAULT_SERVER}")
        }),
        _ => Ok(DEFAULT_SERVER.parse()?),
    }
}

/// Splits a leading address off a command's words (`say ADDR TEXT...`):
/// the first word is the server when it is written as one (`tcp://`,
/// `tls://`, `unix://`) and more words follow, so `say tcp://h:7878 hi`
/// sends "hi" to h, and `say 'see tcp://x'` still says the text.
pub fn split_leading_addr(words: &[String]) -> (Option<Endpoint>, &[String]) {
    match words {
        [first, rest @ ..] if !rest.is_empty() && looks_like_server(first) => {
            match first.parse::<Endpoint>() {
                Ok(ep) => (Some(ep), rest),
                Err(_) => (None, words),
            }
        }
        _ => (None, words),
    }
}

fn looks_like_server(word: &str) -> bool {
    ["tcp://", "tls://", "unix://"]
        .iter()
        .any(|scheme| word.starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    #[test]
    fn given_then_env_then_default() {
        let given = ep("tcp://10.0.0.5:7000");
        assert_eq!(
            resolve_with(Some(&given), Some("tcp://h:1")).unwrap(),
            given
        );
        assert_eq!(
            resolve_with(None, Some("tls://h.example:7879"))
                .unwrap()
                .to_string(),
            "tls://h.example:7879"
        );
        assert_eq!(
            resolve_with(None, Some("")).unwrap().to_string(),
            DEFAULT_SERVER
        );
        assert_eq!(
            resolve_with(None, None).unwrap().to_string(),
            DEFAULT_SERVER
        );
        let e = resolve_with(None, Some("nonsense://x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SOCKIT_SERVER") && e.contains(DEFAULT_SERVER),
            "{e}"
        );
    }

    #[test]
    fn say_words() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let words = w(&["tcp://127.0.0.1:7878", "hello", "there"]);
        let (addr, rest) = split_leading_addr(&words);
        assert_eq!(addr.unwrap().to_string(), "tcp://127.0.0.1:7878");
        assert_eq!(rest, &words[1..]);
        // A lone word is the message, even if it looks like an address.
        let words = w(&["tcp://127.0.0.1:7878"]);
        assert_eq!(split_leading_addr(&words).0, None);
        let words = w(&["hello", "tcp://127.0.0.1:7878"]);
        assert_eq!(split_leading_addr(&words).0, None);
        let words = w(&["http://example.org", "is", "up"]);
        assert_eq!(split_leading_addr(&words).0, None);
    }
}
