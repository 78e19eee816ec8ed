//! End-to-end encrypted shares (`sockit share FILE --e2e`): the sealed
//! format, pure and with no I/O. docs/PROTOCOL.md ("End-to-end encrypted
//! shares") is the exact description; `tests/vectors/e2e.json` pins it.
//!
//! The sender draws a 256-bit link key that travels only in the link's
//! `#fragment`; the server stores and serves ciphertext and a sealed
//! metadata blob (name, size, SHA-256 of the plaintext) it cannot read.
//!
//! ```text
//! file   = header || record_0 || ... || record_{n-1}
//! header = "SOCKE2E" 0x01 | record size (u32 BE) | salt (16 bytes)
//! record = AES-256-GCM(Kc, nonce_i, chunk_i, aad_i)       (len_i + 16 bytes)
//! nonce_i = Nb XOR (0u32 || i as u64 BE)
//! aad_i  = i (u64 BE) || len_i (u32 BE) || final (u8: 1 on the last record)
//! Kc, Nb = HKDF-SHA256(key, salt, "sockit-e2e/1 content key" | "... nonce")
//! ```
//! Binding the index, the length and the final flag in every record makes
//! reordering, swapping, truncation and extension fail authentication,
//! as in RFC 8188 (which marks the last record in its padding instead).

pub mod fetch;
mod header;
mod meta;
pub mod upload;

pub use header::Header;
pub use meta::{MAX_SEALED_META, Metadata, open_meta, seal_meta};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

/// The first seven bytes of every sealed file.
pub const MAGIC: &[u8; 7] = b"SOCKE2E";

/// The format version, the header's eighth byte.
pub const VERSION: u8 = 1;

/// Bytes of the header: magic, version, record size, salt.
pub const HEADER_LEN: usize = 28;

/// Bytes of the AES-GCM tag that ends every record.
pub const TAG_LEN: usize = 16;

/// Plaintext bytes per record the sender writes: 64 KiB (as Firefox Send)
/// keeps the 16-byte tag overhead at 0.02% and a browser's per-record
/// WebCrypto call cheap, and bounds what a receiver holds to one record.
pub const RECORD: u32 = 64 * 1024;

/// Largest record size a receiver accepts: bounds its memory whatever a
/// hostile header says.
pub const MAX_RECORD: u32 = 1 << 20;

/// Bytes of a link key.
pub const KEY_LEN: usize = 32;

const CONTENT_KEY_INFO: &[u8] = b"sockit-e2e/1 content key";
const CONTENT_NONCE_INFO: &[u8] = b"sockit-e2e/1 content nonce";

/// Why a sealed share could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eError {
    /// The `#fragment` is not a key.
    #[error(
        "the link's #key is not 64 hex digits; copy the whole link as `sockit share --e2e` printed it"
    )]
    BadKey,
    /// The key does not open the metadata: wrong or damaged key.
    #[error(
        "the link's #key does not open this share (a wrong or incomplete key); copy the whole link as `sockit share --e2e` printed it"
    )]
    WrongKey,
    /// The header is not ours or names a version or size we refuse.
    #[error("not a sockit end-to-end encrypted file: {0}")]
    Header(String),
    /// A record failed authentication.
    #[error(
        "record {index} failed authentication: the server's copy was altered, truncated or reordered; nothing kept"
    )]
    Record {
        /// The record's index.
        index: u64,
    },
    /// The ciphertext's size does not match the sealed metadata.
    #[error(
        "the server's copy is {got} bytes but the sealed metadata implies {expected}: truncated or padded; nothing kept"
    )]
    Size {
        /// From the metadata.
        expected: u64,
        /// What the server has.
        got: u64,
    },
    /// The plaintext does not hash to the metadata's SHA-256.
    #[error(
        "SHA-256 mismatch: the sealed metadata says {expected}, the content hashes to {got}; nothing kept"
    )]
    Hash {
        /// From the metadata.
        expected: String,
        /// Ours.
        got: String,
    },
}

/// A link key: 32 random bytes, written as 64 lowercase hex digits after
/// the link's `#`. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey(pub [u8; KEY_LEN]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A fresh key from the OS's generator.
    pub fn random() -> Result<LinkKey, getrandom::Error> {
        let mut k = [0u8; KEY_LEN];
        getrandom::fill(&mut k)?;
        Ok(LinkKey(k))
    }

    /// Reads a `#fragment` (with or without the `#`).
    pub fn from_fragment(s: &str) -> Result<LinkKey, E2eError> {
        let s = s.trim().trim_start_matches('#');
        let mut k = [0u8; KEY_LEN];
        hex::decode_to_slice(s, &mut k).map_err(|_| E2eError::BadKey)?;
        Ok(LinkKey(k))
    }

    /// The fragment, without the `#`.
    pub fn to_fragment(&self) -> String {
        hex::encode(self.0)
    }
}

/// HKDF-SHA256 of the link key.
fn derive<const N: usize>(key: &LinkKey, salt: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // N is 12 or 32, far below HKDF's 255 x 32 bytes: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(salt), &key.0).expand(info, &mut out);
    out
}

/// The content keys of one sealed file: seals and opens its records.
pub struct Content {
    cipher: Aes256Gcm,
    nonce_base: [u8; 12],
}

impl Content {
    /// The keys for `header`'s file under `key`.
    pub fn new(key: &LinkKey, header: &Header) -> Content {
        let k: [u8; 32] = derive(key, &header.salt, CONTENT_KEY_INFO);
        Content {
            cipher: Aes256Gcm::new(&k.into()),
            nonce_base: derive(key, &header.salt, CONTENT_NONCE_INFO),
        }
    }

    fn nonce(&self, index: u64) -> [u8; 12] {
        let mut n = self.nonce_base;
        for (b, i) in n[4..].iter_mut().zip(index.to_be_bytes()) {
            *b ^= i;
        }
        n
    }

    fn aad(index: u64, len: usize, last: bool) -> [u8; 13] {
        let mut a = [0u8; 13];
        a[..8].copy_from_slice(&index.to_be_bytes());
        a[8..12].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        a[12] = u8::from(last);
        a
    }

    /// Seals record `index` (its plaintext `plain`, `last` on the final one).
    pub fn seal(&self, index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
        let aad = Content::aad(index, plain.len(), last);
        let msg = Payload {
            msg: plain,
            aad: &aad,
        };
        // AES-GCM refuses only plaintexts over 64 GiB; a record is <= 1 MiB.
        self.cipher
            .encrypt(&self.nonce(index).into(), msg)
            .unwrap_or_default()
    }

    /// Opens record `index`, which must hold `len` plaintext bytes.
    pub fn open(
        &self,
        index: u64,
        last: bool,
        len: u32,
        sealed: &[u8],
    ) -> Result<Vec<u8>, E2eError> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if sealed.len() != len.saturating_add(TAG_LEN) {
            return Err(E2eError::Record { index });
        }
        let aad = Content::aad(index, len, last);
        self.cipher
            .decrypt(
                &self.nonce(index).into(),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| E2eError::Record { index })
    }
}

/// Seals a whole plaintext held in memory (test vectors, small files).
pub fn seal_all(key: &LinkKey, header: &Header, plain: &[u8]) -> Vec<u8> {
    let c = Content::new(key, header);
    let n = header.records(plain.len() as u64);
    let mut out = header.encode().to_vec();
    for (i, chunk) in (0..n).zip(split(plain, header.record)) {
        out.extend_from_slice(&c.seal(i, i + 1 == n, chunk));
    }
    out
}

/// Opens a whole sealed file of a `size`-byte plaintext held in memory.
pub fn open_all(key: &LinkKey, sealed: &[u8], size: u64) -> Result<Vec<u8>, E2eError> {
    let h = Header::parse(sealed)?;
    let expected = h.sealed_size(size);
    if sealed.len() as u64 != expected {
        return Err(E2eError::Size {
            expected,
            got: sealed.len() as u64,
        });
    }
    let c = Content::new(key, &h);
    let n = h.records(size);
    let mut out = Vec::new();
    let mut rest = sealed.get(HEADER_LEN..).unwrap_or_default();
    for i in 0..n {
        let len = h.plain_len(size, i);
        let (rec, tail) = rest.split_at((len as usize + TAG_LEN).min(rest.len()));
        out.extend_from_slice(&c.open(i, i + 1 == n, len, rec)?);
        rest = tail;
    }
    Ok(out)
}

/// `plain` in records of `record` bytes; one empty record for no bytes.
fn split(plain: &[u8], record: u32) -> Vec<&[u8]> {
    if plain.is_empty() {
        return vec![plain];
    }
    plain.chunks(record as usize).collect()
}

#[cfg(test)]
mod tests;
