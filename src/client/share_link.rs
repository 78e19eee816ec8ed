//! `sockit get LINK`: fetching a share link (`http://HOST/s/ID`) with no
//! account, verified and resumable. A small HTTP/1.1 client of the web
//! door's `/s/ID/info` and `/s/ID/file` (docs/PROTOCOL.md, share links):
//! bytes land in `DEST.sockit-part`, a rerun continues with `Range`, and
//! the whole file's BLAKE3 is compared with the link's before the file is
//! renamed into place.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod fetch;

pub use fetch::{fetch, part_of, target};

/// Longest response head read: a share's headers are a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

/// Largest `/info` body read.
const MAX_INFO: u64 = 64 * 1024;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `HOST:PORT` to connect to.
    pub authority: String,
    /// The share's ID.
    pub id: String,
    /// The `#fragment`, when there is one (an end-to-end link's key).
    pub fragment: Option<String>,
}

impl Link {
    /// Parses `http://HOST[:PORT]/s/ID` (a trailing `/` or query is
    /// ignored; a `#fragment` is kept apart).
    pub fn parse(s: &str) -> Result<Link, LinkError> {
        if s.starts_with("https://") {
            return Err(LinkError::BadLink(format!(
                "{s}: https links are not fetched by this sockit yet; open it in a browser or use curl"
            )));
        }
        let rest = s.strip_prefix("http://").ok_or_else(|| {
            LinkError::BadLink(format!("{s}: not a share link (http://HOST/s/ID)"))
        })?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (rest, None),
        };
        let rest = rest.split('?').next().unwrap_or(rest);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let id = path.trim_end_matches('/').strip_prefix("s/").unwrap_or("");
        if host.is_empty() || !crate::service::shares::ids::well_formed(id) {
            return Err(LinkError::BadLink(format!(
                "{s}: not a share link (http://HOST/s/ID with a 32-digit hex ID)"
            )));
        }
        let authority = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        Ok(Link {
            authority,
            id: id.to_owned(),
            fragment: fragment.filter(|f| !f.is_empty()),
        })
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
}

/// An open response: status, `Content-Length`, and the body's reader.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) length: Option<u64>,
    pub(crate) body: BufReader<TcpStream>,
}

pub(crate) async fn request(
    link: &Link,
    path: &str,
    range_from: u64,
    timeout: Duration,
) -> Result<Response, LinkError> {
    let net = |doing| move |source| LinkError::Net { doing, source };
    let conn = tokio::time::timeout(timeout, TcpStream::connect(&link.authority))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
        .and_then(|r| r)
        .map_err(net("connecting"))?;
    let _ = conn.set_nodelay(true);
    let mut conn = BufReader::new(conn);
    let range = if range_from > 0 {
        format!("Range: bytes={range_from}-\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "GET /s/{}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sockit/{}\r\n{range}Connection: close\r\n\r\n",
        link.id,
        link.authority,
        env!("CARGO_PKG_VERSION")
    );
    conn.get_mut()
        .write_all(head.as_bytes())
        .await
        .map_err(net("sending the request"))?;
    let mut status = 0u16;
    let mut length = None;
    let mut read = 0usize;
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(timeout, conn.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
            .and_then(|r| r)
            .map_err(net("reading the answer"))?;
        read += n;
        if n == 0 || read > MAX_HEAD {
            return Err(net("reading the answer")(std::io::Error::other(
                "the server's answer ended early or its head is too long",
            )));
        }
        let line = line.trim_end();
        if status == 0 {
            status = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| net("reading the answer")(std::io::Error::other("not HTTP")))?;
        } else if line.is_empty() {
            break;
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok();
            }
        }
    }
    Ok(Response {
        status,
        length,
        body: conn,
    })
}

/// Reads an error answer's `message` (JSON) or text, bounded.
pub(crate) async fn refusal(mut r: Response) -> LinkError {
    let mut buf = Vec::new();
    let _ = (&mut r.body).take(MAX_INFO).read_to_end(&mut buf).await;
    let message = serde_json::from_slice::<serde_json::Value>(&buf)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&buf).trim().to_owned());
    LinkError::Status {
        status: r.status,
        message: format!("HTTP {}: {message}", r.status),
    }
}

/// `/s/ID/info`.
pub async fn info(link: &Link, timeout: Duration) -> Result<LinkInfo, LinkError> {
    let mut r = request(link, "/info", 0, timeout).await?;
    if r.status != 200 {
        return Err(refusal(r).await);
    }
    let mut buf = Vec::new();
    (&mut r.body)
        .take(MAX_INFO)
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
        assert!(Link::parse(&format!("ftp://h/s/{id}")).is_err());
        assert!(Link::parse(&format!("https://h/s/{id}")).is_err());
    }
}
