//! One address syntax for every command: `tcp://`, `udp://`, `unix://` and
//! `tls://` (TCP carrying TLS).
//!
//! A bare `HOST:PORT` means TCP, because that is what nc, telnet and every
//! course's first client mean by an address.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// The accepted forms, shown in every parse error so the fix is on screen.
pub const ACCEPTED_FORMS: &str = "tcp://HOST:PORT, udp://HOST:PORT, tls://HOST:PORT, \
unix:///abs/path, unix://relative/path, or HOST:PORT (TCP); IPv6 hosts go in brackets: tcp://[::1]:8888";

/// The transport an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP stream over IPv4 or IPv6.
    Tcp,
    /// UDP datagrams over IPv4 or IPv6.
    Udp,
    /// Unix-domain stream socket (AF_UNIX, SOCK_STREAM).
    Unix,
    /// TLS over a TCP stream.
    Tls,
}

impl Transport {
    /// The URL scheme of this transport.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
            Transport::Tls => "tls",
        }
    }
}

/// A parsed address: where to listen or where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp://HOST:PORT` (or a bare `HOST:PORT`).
    Tcp(HostPort),
    /// `udp://HOST:PORT`.
    Udp(HostPort),
    /// `unix://PATH`; `unix:///abs` is absolute, `unix://rel` relative.
    Unix(PathBuf),
    /// `tls://HOST:PORT`: TCP, with TLS on top.
    Tls(HostPort),
}

/// A host (name or literal IP, without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP literal; IPv6 literals are kept without brackets.
    pub host: String,
    /// Port number; 0 asks the OS for a free one when listening.
    pub port: u16,
}

/// Why an address could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("bad address {input:?}: {reason}; accepted forms: {ACCEPTED_FORMS}")]
pub struct AddrError {
    input: String,
    reason: &'static str,
}

impl Endpoint {
    /// The transport of this endpoint.
    pub fn transport(&self) -> Transport {
        match self {
            Endpoint::Tcp(_) => Transport::Tcp,
            Endpoint::Udp(_) => Transport::Udp,
            Endpoint::Unix(_) => Transport::Unix,
            Endpoint::Tls(_) => Transport::Tls,
        }
    }

    /// The host and port of an IP endpoint (`None` for Unix paths).
    pub fn host_port(&self) -> Option<&HostPort> {
        match self {
            Endpoint::Tcp(hp) | Endpoint::Udp(hp) | Endpoint::Tls(hp) => Some(hp),
            Endpoint::Unix(_) => None,
        }
    }

    /// An endpoint for a socket address already resolved (e.g. the bound one).
    pub fn from_socket_addr(transport: Transport, addr: SocketAddr) -> Endpoint {
        let hp = HostPort {
            host: addr.ip().to_string(),
            port: addr.port(),
        };
        match transport {
            Transport::Udp => Endpoint::Udp(hp),
            Transport::Tls => Endpoint::Tls(hp),
            Transport::Tcp | Transport::Unix => Endpoint::Tcp(hp),
        }
    }

    /// Resolves the host (names included: `localhost` works) to socket addresses.
    ///
    /// Fails for Unix endpoints, which have no IP address.
    pub async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let hp = match self {
            Endpoint::Tcp(hp) | Endpoint::Udp(hp) | Endpoint::Tls(hp) => hp,
            Endpoint::Unix(p) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} is a unix path, not an IP address", p.display()),
                ));
            }
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((hp.host.as_str(), hp.port))
            .await?
            .collect();
        if addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("host {} has no addresses", hp.host),
            ));
        }
        Ok(addrs)
    }
}

impl FromStr for Endpoint {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| AddrError {
            input: input.to_string(),
            reason,
        };
        let (scheme, rest) = match input.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("tcp".to_string(), input),
        };
        match scheme.as_str() {
            "tcp" => parse_host_port(rest).map(Endpoint::Tcp).map_err(err),
            "udp" => parse_host_port(rest).map(Endpoint::Udp).map_err(err),
            "tls" => parse_host_port(rest).map(Endpoint::Tls).map_err(err),
            "unix" => {
                if rest.is_empty() {
                    return Err(err("a unix address needs a path"));
                }
                if rest.contains('\0') {
                    return Err(err("a unix path cannot contain NUL"));
                }
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            _ => Err(err("unknown scheme")),
        }
    }
}

fn parse_host_port(s: &str) -> Result<HostPort, &'static str> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("missing ']' after IPv6 host")?;
        let port = after.strip_prefix(':').ok_or("missing :PORT after ]")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not an IPv6 address inside [ ]");
        }
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or("missing :PORT")?;
        if host.contains(':') {
            return Err("IPv6 hosts must be written in brackets");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("missing host");
    }
    if host.contains('/') || host.contains(char::is_whitespace) {
        return Err("host contains '/' or spaces");
    }
    let port = port.parse::<u16>().map_err(|_| "port must be 0-65535")?;
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(hp) => write!(f, "tcp://{hp}"),
            Endpoint::Udp(hp) => write!(f, "udp://{hp}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tls(hp) => write!(f, "tls://{hp}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    #[test]
    fn forms_round_trip() {
        for s in [
            "tcp://127.0.0.1:8888",
            "udp://0.0.0.0:0",
            "tcp://[::1]:8888",
            "udp://[::]:53",
            "tcp://localhost:80",
            "unix:///tmp/echo.sock",
            "unix://echo.sock",
            "tls://127.0.0.1:7443",
            "tls://[::1]:0",
        ] {
            assert_eq!(ep(s).to_string(), s);
        }
    }

    #[test]
    fn bare_host_port_is_tcp() {
        assert_eq!(ep("example.com:7").to_string(), "tcp://example.com:7");
        assert_eq!(ep("[::1]:7").transport(), Transport::Tcp);
    }

    #[test]
    fn relative_and_absolute_unix_paths() {
        assert_eq!(
            ep("unix:///run/x.sock"),
            Endpoint::Unix("/run/x.sock".into())
        );
        assert_eq!(ep("unix://x.sock"), Endpoint::Unix("x.sock".into()));
    }

    #[test]
    fn bad_addresses_show_the_accepted_forms() {
        for s in [
            "tcp://host",
            "tcp://:80",
            "tcp://::1:80",
            "tcp://[::1]80",
            "tcp://[nope]:80",
            "sctp://h:1",
            "tcp://h:99999",
            "unix://",
            "tls://nohost",
            "tls://[::1]",
            "",
        ] {
            let e = s.parse::<Endpoint>().unwrap_err().to_string();
            assert!(e.contains("accepted forms"), "{s}: {e}");
            assert!(e.contains("unix:///abs/path"), "{s}: {e}");
            assert!(e.contains("tls://HOST:PORT"), "{s}: {e}");
        }
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(ep("UDP://1.2.3.4:5").transport(), Transport::Udp);
    }
}
