//! The receiver's side of an end-to-end encrypted link (`sockit get`):
//! the key opens the sealed metadata (name, size, SHA-256), then the
//! ciphertext is read record by record, each one authenticated before its
//! plaintext is written to `DEST.sockit-part`. An interrupted fetch resumes
//! at the first record not yet written (a `Range` from that record's
//! offset; `DEST.sockit-part.e2e` remembers the header). The whole
//! plaintext's SHA-256 is checked before the rename; any authentication
//! failure removes the partial file, so nothing is left claiming success.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Content, E2eError, HEADER_LEN, Header, LinkKey, Metadata, TAG_LEN, open_meta};
use crate::client::share_link::{Link, LinkError, LinkInfo, part_of, refusal, request, target};

/// What a fetch produced.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the plaintext is now.
    pub target: PathBuf,
    /// The opened metadata.
    pub meta: Metadata,
    /// Ciphertext bytes received this time.
    pub received: u64,
}

/// What `DEST.sockit-part.e2e` remembers of an interrupted fetch.
#[derive(serde::Serialize, serde::Deserialize)]
struct Resume {
    /// The ciphertext's BLAKE3 (the server's `/info`): another content
    /// starts over.
    share: String,
    /// The sealed file's header (hex).
    header: String,
}

fn side_of(part: &Path) -> PathBuf {
    let mut p = part.as_os_str().to_owned();
    p.push(".e2e");
    PathBuf::from(p)
}

/// Opens the link's metadata with `key`.
pub fn open(info: &LinkInfo, key: &LinkKey) -> Result<Metadata, LinkError> {
    let blob = info
        .e2e
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| E2eError::Header("the server's metadata is not hex".into()))?;
    Ok(open_meta(key, &blob)?)
}

/// Fetches and decrypts the share into `dest` (a file, or a directory
/// that receives the sealed name). `progress` is told plaintext bytes held.
pub async fn fetch(
    link: &Link,
    info: &LinkInfo,
    key: &LinkKey,
    (dest, force): (&Path, bool),
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<Fetched, LinkError> {
    let meta = open(info, key)?;
    let target = target(dest, &meta.name)?;
    if !force && std::fs::symlink_metadata(&target).is_ok() {
        return Err(LinkError::Exists(target));
    }
    let part = part_of(&target);
    let side = side_of(&part);
    let local = |path: &Path| {
        let path = path.to_owned();
        move |source| LinkError::Local { path, source }
    };
    // A partial of this same ciphertext resumes at its first missing record.
    let known = std::fs::read(&side)
        .ok()
        .and_then(|b| serde_json::from_slice::<Resume>(&b).ok())
        .filter(|r| r.share == info.blake3)
        .and_then(|r| hex::decode(r.header).ok())
        .and_then(|h| Header::parse(&h).ok());
    let mut file = open_part(&part).map_err(local(&part))?;
    let have = file.metadata().map_err(local(&part))?.len();
    let (mut header, mut next) = match known {
        Some(h) if have <= meta.size => (
            Some(h),
            (have / u64::from(h.record)).min(h.records(meta.size)),
        ),
        _ => (None, 0),
    };
    let mut received = 0u64;
    let n = header.map_or(0, |h| h.records(meta.size));
    if header.is_none() || next < n {
        let from = header.map_or(0, |h| h.offset(next));
        let r = request(link, "/file", from, timeout).await?;
        if !(r.status == 200 || (from > 0 && r.status == 206)) {
            return Err(refusal(r).await);
        }
        let mut body = r.body;
        let net = |source| LinkError::Net {
            doing: "reading the file (run the same command again to resume)",
            source,
        };
        if r.status == 200 {
            // The whole file from its header on.
            let mut hb = [0u8; HEADER_LEN];
            read_exact(&mut body, &mut hb, timeout).await.map_err(net)?;
            received += HEADER_LEN as u64;
            header = Some(Header::parse(&hb).map_err(|e| discard(&part, &side, e))?);
            next = 0;
        }
        let h =
            header.ok_or_else(|| discard(&part, &side, E2eError::Header("no header".into())))?;
        let expected = h.sealed_size(meta.size);
        if info.file_size != expected {
            let e = E2eError::Size {
                expected,
                got: info.file_size,
            };
            return Err(discard(&part, &side, e));
        }
        let resume = Resume {
            share: info.blake3.clone(),
            header: hex::encode(h.encode()),
        };
        std::fs::write(&side, serde_json::to_vec(&resume).unwrap_or_default())
            .map_err(local(&side))?;
        let written = next * u64::from(h.record);
        file.set_len(written).map_err(local(&part))?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(written)).map_err(local(&part))?;
        let content = Content::new(key, &h);
        let n = h.records(meta.size);
        let mut sealed = vec![0u8; h.record as usize + TAG_LEN];
        let mut held = written;
        for i in next..n {
            let len = h.plain_len(meta.size, i);
            let buf = sealed.get_mut(..len as usize + TAG_LEN).unwrap_or_default();
            read_exact(&mut body, buf, timeout).await.map_err(net)?;
            received += buf.len() as u64;
            let plain = content
                .open(i, i + 1 == n, len, buf)
                .map_err(|e| discard(&part, &side, e))?;
            file.write_all(&plain).map_err(local(&part))?;
            held += plain.len() as u64;
            progress(held);
        }
    }
    file.sync_all().map_err(local(&part))?;
    drop(file);
    let got = sha256_of(&part).await.map_err(local(&part))?;
    if got != meta.sha256 {
        let e = E2eError::Hash {
            expected: meta.sha256.clone(),
            got,
        };
        return Err(discard(&part, &side, e));
    }
    std::fs::rename(&part, &target).map_err(local(&target))?;
    let _ = std::fs::remove_file(&side);
    Ok(Fetched {
        target,
        meta,
        received,
    })
}

/// The partial plaintext, created 0600.
fn open_part(part: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .read(true)
        .truncate(false)
        .mode(0o600)
        .open(part)
}

/// Removes the partial plaintext and its note: content that failed
/// authentication is not worth resuming.
fn discard(part: &Path, side: &Path, e: E2eError) -> LinkError {
    let _ = std::fs::remove_file(part);
    let _ = std::fs::remove_file(side);
    LinkError::E2e(e)
}

async fn read_exact(
    body: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut [u8],
    timeout: Duration,
) -> std::io::Result<()> {
    tokio::time::timeout(timeout, body.read_exact(buf))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
        .map(|_| ())
}

/// SHA-256 of a local file, on the blocking pool.
async fn sha256_of(path: &Path) -> std::io::Result<String> {
    let p = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut h = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&p)?, &mut h)?;
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(std::io::Error::other)?
}
