//! `sockit get LINK`: fetching a share link (`http://HOST/s/ID`) with no
//! account, verified and resumable. A small HTTP/1.1 client of the web
//! door's `/s/ID/info` and `/s/ID/file` (docs/PROTOCOL.md, share links):
//! bytes land in `DEST.sockit-part`, a rerun continues with `Range`, and
//! the whole file's BLAKE3 is compared with the link's before the file is
//! renamed into place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
}

/// A parsed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `HOST:PORT` to connect to.
    pub authority: String,
    /// The share's ID.
    pub id: String,
}

impl Link {
    /// Parses `http://HOST[:PORT]/s/ID` (a trailing `/`, query or
    /// `#fragment` is ignored).
    pub fn parse(s: &str) -> Result<Link, LinkError> {
        if s.starts_with("https://") {
            return Err(LinkError::BadLink(format!(
                "{s}: https links are not fetched by this sockit yet; open it in a browser or use curl"
            )));
        }
        let rest = s.strip_prefix("http://").ok_or_else(|| {
            LinkError::BadLink(format!("{s}: not a share link (http://HOST/s/ID)"))
        })?;
        let rest = rest.split(['#', '?']).next().unwrap_or(rest);
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
}

/// An open response: status, `Content-Length`, and the body's reader.
struct Response {
    status: u16,
    length: Option<u64>,
    body: BufReader<TcpStream>,
}

async fn request(
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
async fn refusal(mut r: Response) -> LinkError {
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

/// Where `get LINK DEST` puts the file: DEST itself, or DEST/NAME when
/// DEST is a directory. The server's name must be one plain name.
pub fn target(dest: &Path, name: &str) -> Result<PathBuf, LinkError> {
    crate::wire::path::check_entry_name(name).map_err(|e| {
        LinkError::BadLink(format!(
            "the server named the file {}: {e}; refusing it",
            crate::wire::path::escape_name(name)
        ))
    })?;
    Ok(if dest.is_dir() {
        dest.join(name)
    } else {
        dest.to_owned()
    })
}

/// The partial file next to `target`.
pub fn part_of(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(".sockit-part");
    PathBuf::from(p)
}

/// Downloads the share into `target`, continuing a partial file of the
/// same content (its BLAKE3 is kept beside it), then verifying the whole.
/// `progress` is told the bytes held after each step. Returns the bytes
/// received this time (less than the size when a partial was continued).
///
/// Local file I/O is plain `std::fs` on the caller's task: this runs in
/// the CLI, one download at a time, where nothing else waits on the
/// runtime; the final hash runs on the blocking pool.
pub async fn fetch(
    link: &Link,
    info: &LinkInfo,
    target: &Path,
    force: bool,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64, LinkError> {
    use std::io::{Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let local = |path: &Path| {
        let path = path.to_owned();
        move |source| LinkError::Local { path, source }
    };
    if !force && std::fs::symlink_metadata(target).is_ok() {
        return Err(LinkError::Exists(target.to_owned()));
    }
    let part = part_of(target);
    let mut meta = part.as_os_str().to_owned();
    meta.push(".blake3");
    let meta = PathBuf::from(meta);
    // A partial of another content starts over.
    let same = std::fs::read_to_string(&meta).is_ok_and(|m| m.trim() == info.blake3);
    let mut have = match std::fs::metadata(&part) {
        Ok(m) if same && m.len() <= info.file_size => m.len(),
        _ => 0,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .mode(0o600)
        .open(&part)
        .map_err(local(&part))?;
    file.set_len(have).map_err(local(&part))?;
    std::fs::write(&meta, &info.blake3).map_err(local(&meta))?;
    let mut received = 0u64;
    if have < info.file_size {
        let r = request(link, "/file", have, timeout).await?;
        if !(r.status == 200 || (have > 0 && r.status == 206)) {
            return Err(refusal(r).await);
        }
        if r.status == 200 {
            // The server sent the whole file: start over.
            have = 0;
            file.set_len(0).map_err(local(&part))?;
        }
        let expect = info.file_size - have;
        if r.length.is_some_and(|l| l != expect) {
            return Err(LinkError::Net {
                doing: "reading the file",
                source: std::io::Error::other("the server sent an unexpected length"),
            });
        }
        file.seek(std::io::SeekFrom::Start(have))
            .map_err(local(&part))?;
        let mut body = r.body.take(expect);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = tokio::time::timeout(timeout, body.read(&mut buf))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
                .and_then(|r| r)
                .map_err(|source| LinkError::Net {
                    doing: "reading the file (run the same command again to resume)",
                    source,
                })?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            file.write_all(chunk).map_err(local(&part))?;
            have += n as u64;
            received += n as u64;
            progress(have);
        }
        if have != info.file_size {
            return Err(LinkError::Net {
                doing: "reading the file (run the same command again to resume)",
                source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            });
        }
    }
    file.sync_all().map_err(local(&part))?;
    drop(file);
    let p = part.clone();
    let got = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(&p)?)?;
        Ok(h.finalize().to_hex().to_string())
    })
    .await
    .map_err(|e| LinkError::Local {
        path: part.clone(),
        source: std::io::Error::other(e),
    })?
    .map_err(local(&part))?;
    if got != info.blake3 {
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&meta);
        return Err(LinkError::Verify {
            expected: info.blake3.clone(),
            got,
        });
    }
    std::fs::rename(&part, target).map_err(local(target))?;
    let _ = std::fs::remove_file(&meta);
    Ok(received)
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
