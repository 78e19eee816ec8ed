//! Which framed servers a client command talks to: one rule for every
//! command that uses an account (`login`, `logout`, `whoami`, `chat`,
//! `say`, `history`, `put`, `get`, `ls`, `rm`) and for `call`.
//!
//! In order: the addresses given on the command line (the positional
//! `[ADDR]`, or `--server ADDR`, repeated or comma-separated), then
//! `$SOCKIT_SERVER` (one address or a comma list), then `servers = [..]`
//! in `client.toml` in the config directory, then the framed listener
//! `sockit serve` opens by default. So `export
//! SOCKIT_SERVER=tls://host:7879` once, and `login`, `chat` and `put` all
//! go there, and a session stored by `login` is found by `put`.
//!
//! Several addresses are the nodes of one cluster: they are tried in turn
//! ([`sockit::client::failover`]) and a one-line message says which node a
//! command fell over to.

use std::path::Path;

use sockit::client::failover::Skipped;
use sockit::net::Endpoint;

/// The server when none is named: where `sockit serve` listens by default.
pub const DEFAULT_SERVER: &str = "tcp://127.0.0.1:7878";

/// Environment variable naming the server (or servers) for every client command.
pub const SERVER_ENV: &str = "SOCKIT_SERVER";

/// The client's config file in the config directory; its `servers` key
/// lists the nodes tried when neither the command line nor the
/// environment names any.
pub const CLIENT_CONFIG: &str = "client.toml";

/// Most addresses in one list: a cluster behind one client is a handful
/// of nodes, and each unreachable one costs up to a connect timeout.
pub const MAX_SERVERS: usize = 16;

/// One command-line value: an address, or several separated by commas.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerList(pub Vec<Endpoint>);

impl std::str::FromStr for ServerList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_list(s).map(ServerList)
    }
}

/// Parses `tcp://a:1,tcp://b:2` (or one address).
fn parse_list(s: &str) -> Result<Vec<Endpoint>, String> {
    let list = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<Endpoint>().map_err(|e| format!("{p:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(format!(
            "no address in {s:?}; write one like {DEFAULT_SERVER}"
        ));
    }
    Ok(list)
}

/// The `[ADDR]` / `--server` pair of a client command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// The framed server (tcp://, tls:// or unix://), or several nodes
    /// separated by commas, tried in turn [default: $SOCKIT_SERVER, else
    /// `servers` in client.toml, else tcp://127.0.0.1:7878].
    #[arg(value_name = "ADDR")]
    addr: Option<ServerList>,
    /// The framed server, as a flag (the same as ADDR); repeat it (or
    /// give a comma list) to name several nodes, tried in turn.
    #[arg(long, value_name = "ADDR", conflicts_with = "addr")]
    server: Vec<ServerList>,
}

impl ServerArgs {
    /// The servers this command talks to, in the order tried (see the
    /// module docs); never empty.
    pub fn resolve(&self) -> anyhow::Result<Vec<Endpoint>> {
        let given: Vec<Endpoint> = self
            .addr
            .iter()
            .chain(&self.server)
            .flat_map(|l| l.0.iter().cloned())
            .collect();
        resolve(&given)
    }
}

/// The servers named on the command line, else `$SOCKIT_SERVER`, else
/// `client.toml`, else the default; never empty.
pub fn resolve(given: &[Endpoint]) -> anyhow::Result<Vec<Endpoint>> {
    let file = match sockit::client::config_dir::config_dir() {
        Ok(dir) => from_file(&dir.join(CLIENT_CONFIG))?,
        Err(_) => None,
    };
    resolve_with(given, std::env::var(SERVER_ENV).ok().as_deref(), file)
}

/// The `servers` key of the client config file, if the file exists.
fn from_file(path: &Path) -> anyhow::Result<Option<Vec<Endpoint>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("reading {}: {e}", path.display()),
    };
    parse_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// What the client config file says: `servers = ["tcp://a:7878", ..]`.
fn parse_file(text: &str) -> Result<Option<Vec<Endpoint>>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        servers: Option<Vec<String>>,
    }
    let f: File = toml::from_str(text).map_err(|e| {
        format!(
            "{}; the file holds one key, servers = [\"{DEFAULT_SERVER}\", ..]",
            e.message().trim()
        )
    })?;
    match f.servers {
        None => Ok(None),
        Some(list) => parse_list(&list.join(","))
            .map(Some)
            .map_err(|e| format!("servers: {e}")),
    }
}

/// [`resolve`] with the environment's value and the file's list passed in (testable).
fn resolve_with(
    given: &[Endpoint],
    env: Option<&str>,
    file: Option<Vec<Endpoint>>,
) -> anyhow::Result<Vec<Endpoint>> {
    let list = if !given.is_empty() {
        given.to_vec()
    } else if let Some(s) = env.filter(|s| !s.trim().is_empty()) {
        parse_list(s).map_err(|e| {
            anyhow::anyhow!("${SERVER_ENV}={s:?}: {e}; set it to an address like {DEFAULT_SERVER}")
        })?
    } else if let Some(list) = file {
        list
    } else {
        vec![DEFAULT_SERVER.parse()?]
    };
    if list.len() > MAX_SERVERS {
        anyhow::bail!(
            "{} server addresses given; at most {MAX_SERVERS} are tried, name fewer",
            list.len()
        );
    }
    Ok(list)
}

/// Each server with how its certificate is checked (tls:// only).
pub async fn with_trust(
    tls: &super::tls_opts::ClientTlsArgs,
    servers: Vec<Endpoint>,
) -> anyhow::Result<Vec<(Endpoint, sockit::net::tls::Trust)>> {
    let mut out = Vec::with_capacity(servers.len());
    for s in servers {
        let trust = tls.trust_for(&s).await?;
        out.push((s, trust));
    }
    Ok(out)
}

/// Says, on stderr, which server a command fell over to (nothing when
/// the first answered).
pub fn report_fallover(skipped: &[Skipped], used: &Endpoint) {
    if let Some(line) = sockit::client::failover::fell_over(skipped, used) {
        eprintln!("sockit: {line}");
    }
}

/// Splits a leading address off a command's words (`say ADDR TEXT...`):
/// the first word is the server when it is written as one (`tcp://`,
/// `tls://`, `unix://`) and more words follow, so `say tcp://h:7878 hi`
/// sends "hi" to h, and `say 'see tcp://x'` still says the text.
pub fn split_leading_addr(words: &[String]) -> (Option<Vec<Endpoint>>, &[String]) {
    match words {
        [first, rest @ ..] if !rest.is_empty() && looks_like_server(first) => {
            match parse_list(first) {
                Ok(list) => (Some(list), rest),
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

    fn one(v: anyhow::Result<Vec<Endpoint>>) -> String {
        let v = v.unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].to_string()
    }

    #[test]
    fn given_then_env_then_file_then_default() {
        let given = ep("tcp://10.0.0.5:7000");
        let file = Some(vec![ep("tcp://f:1")]);
        assert_eq!(
            one(resolve_with(
                std::slice::from_ref(&given),
                Some("tcp://h:1"),
                file.clone()
            )),
            given.to_string()
        );
        assert_eq!(
            one(resolve_with(
                &[],
                Some("tls://h.example:7879"),
                file.clone()
            )),
            "tls://h.example:7879"
        );
        assert_eq!(one(resolve_with(&[], Some(""), file.clone())), "tcp://f:1");
        assert_eq!(one(resolve_with(&[], None, None)), DEFAULT_SERVER);
        let e = resolve_with(&[], Some("nonsense://x"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SOCKIT_SERVER") && e.contains(DEFAULT_SERVER),
            "{e}"
        );
    }

    #[test]
    fn lists_from_flags_env_and_file_keep_their_order() {
        let l: ServerList = "tcp://a:1, tcp://b:2,unix:///run/s.sock".parse().unwrap();
        let names: Vec<String> = l.0.iter().map(Endpoint::to_string).collect();
        assert_eq!(names, ["tcp://a:1", "tcp://b:2", "unix:///run/s.sock"]);
        assert!("tcp://a:1,nonsense://b".parse::<ServerList>().is_err());
        assert!(",".parse::<ServerList>().is_err());
        let v = resolve_with(&[], Some("tcp://a:1,tcp://b:2"), None).unwrap();
        assert_eq!(v.len(), 2);
        let file = parse_file("servers = [\"tcp://n1:7878\", \"tcp://n2:7878\"]\n")
            .unwrap()
            .unwrap();
        assert_eq!(file[1].to_string(), "tcp://n2:7878");
        assert_eq!(parse_file("").unwrap(), None);
        let e = parse_file("server = 1").unwrap_err();
        assert!(e.contains("servers = ["), "{e}");
        let e = parse_file("servers = [\"x://y\"]").unwrap_err();
        assert!(e.starts_with("servers: "), "{e}");
        let many = vec![ep("tcp://a:1"); MAX_SERVERS + 1];
        assert!(resolve_with(&many, None, None).is_err());
    }

    #[test]
    fn say_words() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let words = w(&["tcp://127.0.0.1:7878", "hello", "there"]);
        let (addr, rest) = split_leading_addr(&words);
        assert_eq!(addr.unwrap()[0].to_string(), "tcp://127.0.0.1:7878");
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
