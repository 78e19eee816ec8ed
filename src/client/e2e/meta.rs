//! The sealed metadata of an end-to-end encrypted share: the file's name,
//! size and SHA-256, which the server keeps beside the share (hex) but
//! cannot read.
//!
//! ```text
//! blob = 0x01 || nonce (12 random bytes) || AES-256-GCM(Km, nonce, json, "sockit-e2e/1 metadata")
//! Km   = HKDF-SHA256(key, salt = empty, info = "sockit-e2e/1 metadata key")
//! json = {"name": "...", "size": N, "sha256": "hex"}
//! ```
//! A key of its own (not the content's) so that the two never share a
//! nonce space; the nonce is random because the blob is sealed once.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use serde::{Deserialize, Serialize};

use super::{E2eError, LinkKey, VERSION, derive};

/// Largest sealed metadata blob in bytes, as the server accepts it: a
/// 255-byte name with every character escaped in JSON still fits.
pub const MAX_SEALED_META: usize = 2048;

const META_KEY_INFO: &[u8] = b"sockit-e2e/1 metadata key";
const META_AAD: &[u8] = b"sockit-e2e/1 metadata";

/// What a receiver learns once the key opens the share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The file's name (one plain name; checked before it is used).
    pub name: String,
    /// Plaintext bytes.
    pub size: u64,
    /// SHA-256 of the plaintext (hex).
    pub sha256: String,
}

fn cipher(key: &LinkKey) -> Aes256Gcm {
    let k: [u8; 32] = derive(key, &[], META_KEY_INFO);
    Aes256Gcm::new(&k.into())
}

/// Seals `m` with a fresh random nonce.
pub fn seal_meta(key: &LinkKey, m: &Metadata) -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce)?;
    Ok(seal_meta_with(key, m, nonce))
}

/// Seals `m` under a given nonce (test vectors).
pub fn seal_meta_with(key: &LinkKey, m: &Metadata, nonce: [u8; 12]) -> Vec<u8> {
    // Serialising a struct of a string and numbers cannot fail.
    let json = serde_json::to_vec(m).unwrap_or_default();
    let sealed = cipher(key)
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &json,
                aad: META_AAD,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(13 + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Opens a sealed metadata blob: [`E2eError::WrongKey`] when the key does
/// not open it (or it was altered).
pub fn open_meta(key: &LinkKey, blob: &[u8]) -> Result<Metadata, E2eError> {
    let (version, rest) = blob
        .split_first()
        .ok_or_else(|| E2eError::Header("empty metadata".into()))?;
    if *version != VERSION {
        return Err(E2eError::Header(format!(
            "metadata version {version} (this sockit reads {VERSION}); update sockit"
        )));
    }
    if rest.len() < 12 + super::TAG_LEN || blob.len() > MAX_SEALED_META {
        return Err(E2eError::Header("metadata of a wrong size".into()));
    }
    let (nonce, sealed) = rest.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().unwrap_or_default();
    let json = cipher(key)
        .decrypt(
            &nonce.into(),
            Payload {
                msg: sealed,
                aad: META_AAD,
            },
        )
        .map_err(|_| E2eError::WrongKey)?;
    serde_json::from_slice(&json)
        .map_err(|e| E2eError::Header(format!("metadata that is not the expected JSON: {e}")))
}
