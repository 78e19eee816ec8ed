//! `sockit send LINK FILE...`: one file into an upload link
//! (`http(s)://HOST/u/ID`), with no account, resumable and verified. The
//! file's BLAKE3 is computed first; `POST /u/ID/files` says where it lands
//! (another name when it clashes) and how much of it the server already
//! holds; `PUT /u/ID/files/NAME` sends the rest. The server publishes it
//! only once every byte is there and hashes to that BLAKE3, so a run that
//! broke off continues where the server's copy ends when run again.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{head, open, read_head};
use super::{Link, LinkError, refusal};

/// Bytes read from the local file and written per step.
const STEP: usize = 256 * 1024;

/// Largest answer body read from a begin or a finished upload.
const MAX_ANSWER: u64 = 64 * 1024;

/// Times a begin is retried when the server says the name or the offset
/// moved under us (another sender took the name between begin and send).
const ATTEMPTS: usize = 4;

/// A file sent.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Sent {
    /// The name it landed under in the link's folder.
    pub name: String,
    /// Its size.
    pub file_size: u64,
    /// Its BLAKE3 (hex), as the server verified it.
    pub blake3: String,
    /// Bytes sent this time (less than the size when a partial was resumed).
    #[serde(default)]
    pub sent: u64,
}

#[derive(serde::Deserialize)]
struct Begun {
    name: String,
    offset: u64,
}

fn local(path: &Path) -> impl Fn(std::io::Error) -> LinkError + '_ {
    move |source| LinkError::Local {
        path: path.to_owned(),
        source,
    }
}

/// `%XX`-encodes all but the unreserved characters of one path segment.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The size and BLAKE3 of `file`, on the blocking pool.
async fn hash_file(file: &Path) -> Result<(u64, String), LinkError> {
    let f = file.to_owned();
    let r = tokio::task::spawn_blocking(move || {
        let mut h = blake3::Hasher::new();
        let mut src = std::fs::File::open(&f)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = src.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(buf.get(..n).unwrap_or_default());
            size += n as u64;
        }
        Ok::<_, std::io::Error>((size, h.finalize().to_hex().to_string()))
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r);
    r.map_err(local(file))
}

/// Reads a bounded JSON answer.
async fn answer<T: serde::de::DeserializeOwned>(
    mut r: super::http::Response,
    doing: &'static str,
) -> Result<T, LinkError> {
    let mut buf = Vec::new();
    (&mut r.body)
        .take(MAX_ANSWER)
        .read_to_end(&mut buf)
        .await
        .map_err(|source| LinkError::Net { doing, source })?;
    serde_json::from_slice(&buf).map_err(|e| LinkError::Net {
        doing,
        source: std::io::Error::other(e),
    })
}

/// Sends `file` into the upload link; `progress` is told the bytes the
/// server holds after each step.
pub async fn send(
    link: &Link,
    file: &Path,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<Sent, LinkError> {
    if !link.upload {
        return Err(LinkError::BadLink(
            "this is a share link, which gives a file: `sockit get LINK` fetches it; send takes an upload link (/u/ID)".into(),
        ));
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| local(file)(std::io::Error::other("not a file name sockit can send")))?
        .to_owned();
    crate::wire::path::check_entry_name(&name)
        .map_err(|e| local(file)(std::io::Error::other(e)))?;
    let (size, blake3) = hash_file(file).await?;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // The server said the name or offset moved (or another
            // connection still holds the file): give it a moment.
            tokio::time::sleep(Duration::from_millis(300 << attempt)).await;
        }
        let body =
            serde_json::json!({"name": name, "file_size": size, "blake3": blake3}).to_string();
        let extra = format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        let mut conn = open(link, &head(link, "POST", "/files", &extra), timeout).await?;
        conn.get_mut()
            .write_all(body.as_bytes())
            .await
            .map_err(|source| LinkError::Net {
                doing: "sending the request",
                source,
            })?;
        let r = read_head(conn, timeout).await?;
        if r.status != 200 {
            return Err(refusal(r).await);
        }
        let begun: Begun = answer(r, "reading where the file lands").await?;
        if begun.offset > size {
            return Err(LinkError::Net {
                doing: "reading where the file lands",
                source: std::io::Error::other("the server claims more bytes than the file has"),
            });
        }
        progress(begun.offset);
        let extra = format!(
            "X-Sockit-Offset: {}\r\nX-Sockit-Size: {size}\r\nX-Sockit-Blake3: {blake3}\r\nContent-Length: {}\r\n",
            begun.offset,
            size - begun.offset
        );
        let path = format!("/files/{}", encode(&begun.name));
        let mut conn = open(link, &head(link, "PUT", &path, &extra), timeout).await?;
        let mut src = std::fs::File::open(file).map_err(local(file))?;
        src.seek(SeekFrom::Start(begun.offset))
            .map_err(local(file))?;
        let mut buf = vec![0u8; STEP];
        let mut at = begun.offset;
        let mut broke = None;
        while at < size {
            let want = usize::try_from(size - at).unwrap_or(STEP).min(STEP);
            let piece = buf.get_mut(..want).unwrap_or_default();
            src.read_exact(piece).map_err(local(file))?;
            let w = tokio::time::timeout(timeout, conn.get_mut().write_all(piece)).await;
            match w {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    broke = Some(e);
                    break;
                }
                Err(_) => {
                    broke = Some(std::io::ErrorKind::TimedOut.into());
                    break;
                }
            }
            at += want as u64;
            progress(at);
        }
        // The server may have answered early (a refusal) and closed: its
        // answer says more than the broken write.
        let r = match read_head(conn, timeout).await {
            Ok(r) => r,
            Err(e) => {
                return Err(broke.map_or(e, |source| LinkError::Net {
                    doing: "sending the file (run again to resume)",
                    source,
                }));
            }
        };
        match r.status {
            201 => {
                let mut sent: Sent = answer(r, "reading the server's verdict").await?;
                sent.sent = size - begun.offset;
                return Ok(sent);
            }
            409 => continue,
            _ => return Err(refusal(r).await),
        }
    }
    Err(LinkError::Status {
        status: 409,
        message: "the server kept moving the file's name or offset; try again".into(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_encoded_for_the_path() {
        assert_eq!(super::encode("a b (1).txt"), "a%20b%20%281%29.txt");
        assert_eq!(super::encode("é#?"), "%C3%A9%23%3F");
    }
}
