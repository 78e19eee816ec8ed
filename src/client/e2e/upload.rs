//! The sender's side of `sockit share FILE --e2e`: the local file is
//! sealed on a blocking thread while it is uploaded (the same pipelined
//! `file.put` as `sockit put`, a window of chunks in memory whatever the
//! size) into the sender's own store under [`E2E_DIR`], where it counts
//! against their quota like any file; the share is then created with the
//! sealed metadata. The server sees ciphertext, a random name and sizes.

use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::{Content, Header, LinkKey, Metadata, RECORD, seal_meta};
use crate::client::Client;
use crate::client::transfer::{
    Digests, Progress, PutOptions, PutOutcome, Source, TransferError, TransferResult, open_local,
    put_from,
};
use crate::wire::path::{RelPath, check_entry_name};

/// The folder of the sender's store that holds sealed uploads; hidden so
/// that it stays out of the way in listings that skip dot files (names
/// starting `.sockit` are reserved for the server itself).
pub const E2E_DIR: &str = ".e2e-shares";

/// A sealed upload, ready to be shared.
#[derive(Debug)]
pub struct Sealed {
    /// Where the ciphertext is in the sender's store.
    pub remote: RelPath,
    /// The link key: goes into the link's `#fragment` and nowhere else.
    pub key: LinkKey,
    /// The sealed metadata (name, size, SHA-256) for `share.create`.
    pub meta: Vec<u8>,
    /// What the plaintext was.
    pub plain: Metadata,
    /// The ciphertext's upload.
    pub put: PutOutcome,
}

fn rng(e: getrandom::Error) -> TransferError {
    TransferError::Protocol(format!("the system's random generator failed: {e}"))
}

/// Seals `local` while uploading it to a fresh random name under
/// [`E2E_DIR`]; `chunk` is the upload's chunk size.
pub async fn upload(
    client: &mut Client,
    local: &Path,
    chunk: usize,
    progress: &dyn Progress,
) -> TransferResult<Sealed> {
    let bad = |why: &str| TransferError::local(local)(std::io::Error::other(why.to_owned()));
    let name = local
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("the file's name is not UTF-8 text; rename it first"))?
        .to_owned();
    check_entry_name(&name).map_err(|e| {
        bad(&format!(
            "a name the receiver would refuse ({e}); rename it first"
        ))
    })?;
    let (file, meta) = open_local(local).await?;
    if !meta.is_file() {
        return Err(bad("not a regular file (--e2e shares one file)"));
    }
    let size = meta.len();
    let key = LinkKey::random().map_err(rng)?;
    let header = Header::random(RECORD).map_err(rng)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(rng)?;
    let stored = hex::encode(id);
    let remote = RelPath::parse(&format!("{E2E_DIR}/{stored}"))?;
    let (sha_tx, sha_rx) = oneshot::channel();
    let content = Content::new(&key, &header);
    let local_path = local.to_path_buf();
    let source = move |offset: u64, chunk: usize, tx: mpsc::Sender<Bytes>| -> Source {
        tokio::task::spawn_blocking(move || {
            if offset != 0 {
                return Err(TransferError::Protocol(
                    "the server claims part of a fresh sealed upload".into(),
                ));
            }
            let sha = seal_into(file, &local_path, (&header, &content, size), chunk, &tx)?;
            let _ = sha_tx.send(sha);
            Ok(sha.1)
        })
    };
    // A random fingerprint: a sealed upload is never resumed onto another.
    let fingerprint = format!("e2e:v1:{stored}");
    let opts = PutOptions {
        force: false,
        md5: false,
        chunk,
    };
    let sealed_size = header.sealed_size(size);
    let put = put_from(
        client,
        &remote,
        (sealed_size, fingerprint),
        opts,
        source,
        progress,
    )
    .await?;
    let (sha256, _) = sha_rx
        .await
        .map_err(|_| TransferError::Protocol("the sealing thread ended early".into()))?;
    let plain = Metadata {
        name,
        size,
        sha256: hex::encode(sha256),
    };
    let meta = seal_meta(&key, &plain).map_err(rng)?;
    Ok(Sealed {
        remote,
        key,
        meta,
        plain,
        put,
    })
}

/// Reads `file` record by record, seals each, and sends the ciphertext in
/// chunks of `chunk` bytes; returns the plaintext's SHA-256 and the
/// ciphertext's digests (what `file.put.end` checks).
fn seal_into(
    mut file: std::fs::File,
    path: &Path,
    (header, content, size): (&Header, &Content, u64),
    chunk: usize,
    tx: &mpsc::Sender<Bytes>,
) -> TransferResult<([u8; 32], Digests)> {
    let err = TransferError::local(path);
    let mut sha = Sha256::new();
    let mut b3 = blake3::Hasher::new();
    let mut out = Vec::with_capacity(chunk + RECORD as usize + super::TAG_LEN);
    out.extend_from_slice(&header.encode());
    let n = header.records(size);
    let mut plain = vec![0u8; header.record as usize];
    for i in 0..n {
        let len = header.plain_len(size, i) as usize;
        let buf = plain.get_mut(..len).unwrap_or_default();
        if let Err(e) = file.read_exact(buf) {
            return Err(TransferError::local(path)(
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    std::io::Error::other("the file shrank while being sealed")
                } else {
                    e
                },
            ));
        }
        sha.update(&*buf);
        out.extend_from_slice(&content.seal(i, i + 1 == n, buf));
        while out.len() >= chunk || (i + 1 == n && !out.is_empty()) {
            let take = out.len().min(chunk);
            let piece: Vec<u8> = out.drain(..take).collect();
            b3.update(&piece);
            if tx.blocking_send(Bytes::from(piece)).is_err() {
                // The uploader gave up: its own error says why, and
                // these digests are never used.
                let d = Digests {
                    blake3: b3.finalize(),
                    md5: None,
                };
                return Ok(([0; 32], d));
            }
        }
    }
    let mut extra = [0u8; 1];
    if matches!(file.read(&mut extra), Ok(1)) {
        return Err(err(std::io::Error::other(
            "the file grew while being sealed; share it again",
        )));
    }
    Ok((
        sha.finalize().into(),
        Digests {
            blake3: b3.finalize(),
            md5: None,
        },
    ))
}
