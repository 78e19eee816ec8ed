//! `sockit get LINK`: fetching a share link (`http(s)://HOST/s/ID`) with
//! no account, verified and resumable. A small HTTP/1.1 client of the web
//! door's `/s/ID/info` and `/s/ID/file` (docs/PROTOCOL.md, share links):
//! bytes land in `DEST.sockit-part`, a rerun continues with `Range`, and
//! the whole file's BLAKE3 is compared with the link's before the file is
//! renamed into place.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::net::stream::Stream;
use crate::net::tls::{self, Trust};
use crate::net::{Conn, Endpoint};

mod dir;
mod fetch;
mod http;
mod send;

pub use dir::fetch_dir;
pub use fetch::{One, fetch, fetch_one, part_of, target};
pub(crate) use http::{refusal, request};
pub use send::{Sent, send};

/// Largest `/info` body read: a folder share lists up to 10,000 files
/// with their paths (at most a few hundred bytes each in practice).
const MAX_DIR_INFO: u64 = 16 * 1024 * 1024;

/// Why fetching a link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not a link this client fetches.
    #[error("{0}")]
    BadLink(String),
    /// The server answered with an error status.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's line.
        message: String,
    },
    /// The connection failed or the answer was not HTTP as expected.
    #[error("{doing}: {source}")]
    Net {
        /// What was being done.
        doing: &'static str,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake of an `https://` link failed (the hint says why).
    #[error("{0}")]
    Tls(String),
    /// DEST exists.
    #[error("{} exists; use --force to replace it", .0.display())]
    Exists(PathBuf),
    /// The bytes do not hash to the link's BLAKE3.
    #[error("BLAKE3 mismatch: the link says {expected}, the bytes hash to {got}; nothing kept")]
    Verify {
        /// The link's.
        expected: String,
        /// Ours.
        got: String,
    },
    /// An end-to-end encrypted share did not open (`client::e2e`).
    #[error(transparent)]
    E2e(#[from] crate::client::e2e::E2eError),
}

/// A parsed link.
#[derive(Debug, Clone)]
pub struct Link {
    /// `HOST:PORT` to connect to.
    pub authority: String,
    /// The share's ID.
    pub id: String,
    /// An upload link (`/u/ID`), which `sockit send` writes to, rather
    /// than a share (`/s/ID`) to fetch.
    pub upload: bool,
    /// The `#fragment`, when there is one (an end-to-end link's key).
    pub fragment: Option<String>,
    /// An `https://` link: TLS, its certificate checked as `trust` says.
    pub tls: bool,
    /// How an `https://` server's certificate is checked (the CLI's
    /// `--ca`, `--fingerprint`, else known_hosts, as for `tls://`); set by
    /// the caller after [`Link::parse`].
    pub trust: Trust,
}

impl Link {
    /// Parses `http(s)://HOST[:PORT]/s/ID`, or `/u/ID` for an upload link
    /// (a trailing `/` or query is ignored; a `#fragment` is kept apart).
    pub fn parse(s: &str) -> Result<Link, LinkError> {
        let (rest, tls) = match (s.strip_prefix("http://"), s.strip_prefix("https://")) {
            (Some(r), _) => (r, false),
            (_, Some(r)) => (r, true),
            _ => {
                return Err(LinkError::BadLink(format!(
                    "{s}: not a share link (http://HOST/s/ID or https://HOST/s/ID)"
                )));
            }
        };
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (rest, None),
        };
        let rest = rest.split('?').next().unwrap_or(rest);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_end_matches('/');
        let (id, upload) = match (path.strip_prefix("s/"), path.strip_prefix("u/")) {
            (Some(id), _) => (id, false),
            (_, Some(id)) => (id, true),
            _ => ("", false),
        };
        if host.is_empty() || !crate::service::shares::ids::well_formed(id) {
            return Err(LinkError::BadLink(format!(
                "{s}: not a share link (http://HOST/s/ID with a 32-digit hex ID)"
            )));
        }
        let authority = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
            host.to_owned()
        } else {
            format!("{host}:{}", if tls { 443 } else { 80 })
        };
        Ok(Link {
            authority,
            id: id.to_owned(),
            fragment: fragment.filter(|f| !f.is_empty()),
            upload,
            tls,
            trust: Trust::Unset,
        })
    }

    /// The server as a `tls://` endpoint, for choosing its trust.
    pub fn endpoint(&self) -> Result<Endpoint, LinkError> {
        let scheme = if self.tls { "tls" } else { "tcp" };
        format!("{scheme}://{}", self.authority)
            .parse()
            .map_err(|e| LinkError::BadLink(format!("{e}")))
    }

    /// Connects, with TLS for an `https://` link.
    async fn connect(&self, timeout: Duration) -> Result<Stream, LinkError> {
        let net = |doing| move |source| LinkError::Net { doing, source };
        let conn = tokio::time::timeout(timeout, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
            .and_then(|r| r)
            .map_err(net("connecting"))?;
        let _ = conn.set_nodelay(true);
        let Endpoint::Tls(hp) = self.endpoint()? else {
            return Ok(Stream::from(Conn::from(conn)));
        };
        let shake = tls::handshake(conn, &hp, &self.trust);
        match tokio::time::timeout(timeout, shake).await {
            Ok(Ok((s, _))) => Ok(Stream::TlsClient(Box::new(s))),
            Ok(Err(e)) => Err(LinkError::Tls(e.hint)),
            Err(_) => Err(net("the TLS handshake")(
                std::io::ErrorKind::TimedOut.into(),
            )),
        }
    }
}

/// What `/s/ID/info` says.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LinkInfo {
    /// The file's name.
    pub name: String,
    /// Its size.
    pub file_size: u64,
    /// Its BLAKE3 (hex).
    pub blake3: String,
    /// Expiry, Unix seconds.
    pub expires: u64,
    /// Downloads left.
    pub downloads_left: u64,
    /// An end-to-end encrypted share's sealed metadata (hex); `name`,
    /// `file_size` and `blake3` are then the ciphertext's.
    #[serde(default)]
    pub e2e: Option<String>,
    /// `file`, or `dir` for a folder share.
    #[serde(default)]
    pub kind: String,
    /// A folder share's files, in order (`/s/ID/files/N`).
    #[serde(default)]
    pub files: Vec<crate::service::shares::SharedFile>,
}

impl LinkInfo {
    /// Whether the link is a folder share.
    pub fn is_dir(&self) -> bool {
        self.kind == "dir"
    }
}

/// `/s/ID/info`.
pub async fn info(link: &Link, timeout: Duration) -> Result<LinkInfo, LinkError> {
    if link.upload {
        return Err(LinkError::BadLink(
            "this is an upload link, which takes files rather than giving one: `sockit send LINK FILE...`".into(),
        ));
    }
    let mut r = request(link, "/info", 0, timeout).await?;
    if r.status != 200 {
        return Err(refusal(r).await);
    }
    let mut buf = Vec::new();
    (&mut r.body)
        .take(MAX_DIR_INFO)
        .read_to_end(&mut buf)
        .await
        .map_err(|source| LinkError::Net {
            doing: "reading the share's details",
            source,
        })?;
    serde_json::from_slice(&buf).map_err(|e| LinkError::Net {
        doing: "reading the share's details",
        source: std::io::Error::other(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_people_paste() {
        let id = "0123456789abcdef0123456789abcdef";
        let l = Link::parse(&format!("http://127.0.0.1:8080/s/{id}")).unwrap();
        assert_eq!(l.authority, "127.0.0.1:8080");
        assert_eq!(l.id, id);
        let l = Link::parse(&format!("http://files.example/s/{id}/#k")).unwrap();
        assert_eq!(l.authority, "files.example:80");
        assert_eq!(l.fragment.as_deref(), Some("k"));
        assert_eq!(
            Link::parse(&format!("http://h/s/{id}?x#"))
                .unwrap()
                .fragment,
            None
        );
        let l = Link::parse(&format!("http://[::1]:9/s/{id}")).unwrap();
        assert_eq!(l.authority, "[::1]:9");
        assert_eq!(
            Link::parse(&format!("http://[::1]/s/{id}"))
                .unwrap()
                .authority,
            "[::1]:80"
        );
        assert!(Link::parse("http://h/s/../etc").is_err());
        let l = Link::parse(&format!("http://h:1/u/{id}/")).unwrap();
        assert!(l.upload && l.id == id);
        assert!(!Link::parse(&format!("http://h:1/s/{id}")).unwrap().upload);
        assert!(Link::parse(&format!("http://h/x/{id}")).is_err());
        assert!(Link::parse(&format!("ftp://h/s/{id}")).is_err());
        let l = Link::parse(&format!("https://files.example/s/{id}")).unwrap();
        assert_eq!((l.authority.as_str(), l.tls), ("files.example:443", true));
    }
}
