//! The little HTTP/1.1 a link needs: one request per connection
//! (`Connection: close`; a `GET /s/ID...` with an optional
//! `Range: bytes=N-`, or an upload link's `POST`/`PUT`), a bounded head
//! read for the status and `Content-Length`, and an error body read
//! (bounded) for its one-line `message`.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::{Link, LinkError};
use crate::net::stream::Stream;

/// Longest response head read: a share's headers are a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

/// Largest error body read.
const MAX_INFO: u64 = 64 * 1024;

/// An open response: status, `Content-Length`, and the body's reader.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) length: Option<u64>,
    pub(crate) body: BufReader<Stream>,
}

/// `GET /s/ID{path}` (or `/u/ID{path}` of an upload link), from byte
/// `range_from` on.
pub(crate) async fn request(
    link: &Link,
    path: &str,
    range_from: u64,
    timeout: Duration,
) -> Result<Response, LinkError> {
    let range = if range_from > 0 {
        format!("Range: bytes={range_from}-\r\n")
    } else {
        String::new()
    };
    let conn = open(link, &head(link, "GET", path, &range), timeout).await?;
    read_head(conn, timeout).await
}

/// A request head for `METHOD /s/ID{path}` (`/u/` for an upload link)
/// with the `extra` header lines (each ending in CRLF).
pub(crate) fn head(link: &Link, method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} /{}/{}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sockit/{}\r\n{extra}Connection: close\r\n\r\n",
        if link.upload { "u" } else { "s" },
        link.id,
        link.authority,
        env!("CARGO_PKG_VERSION")
    )
}

/// Connects and sends `head`; the caller may send a body next.
pub(crate) async fn open(
    link: &Link,
    head: &str,
    timeout: Duration,
) -> Result<BufReader<Stream>, LinkError> {
    let mut conn = BufReader::new(link.connect(timeout).await?);
    conn.get_mut()
        .write_all(head.as_bytes())
        .await
        .map_err(|source| LinkError::Net {
            doing: "sending the request",
            source,
        })?;
    Ok(conn)
}

/// Reads the response head (status, `Content-Length`); the body follows.
pub(crate) async fn read_head(
    mut conn: BufReader<Stream>,
    timeout: Duration,
) -> Result<Response, LinkError> {
    let net = |doing| move |source| LinkError::Net { doing, source };
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
