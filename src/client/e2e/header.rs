//! The sealed file's header (magic, version, record size, salt) and the
//! layout it implies: how many records, how long each, where each starts.

use super::{E2eError, HEADER_LEN, MAGIC, MAX_RECORD, TAG_LEN, VERSION};

/// A sealed file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Plaintext bytes per record (the last may be shorter).
    pub record: u32,
    /// The HKDF salt, random per file.
    pub salt: [u8; 16],
}

impl Header {
    /// A header with a fresh salt.
    pub fn random(record: u32) -> Result<Header, getrandom::Error> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)?;
        Ok(Header { record, salt })
    }

    /// Its bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..7].copy_from_slice(MAGIC);
        h[7] = VERSION;
        h[8..12].copy_from_slice(&self.record.to_be_bytes());
        h[12..].copy_from_slice(&self.salt);
        h
    }

    /// Reads a header, refusing another magic, version or a record size
    /// outside 1..=[`MAX_RECORD`].
    pub fn parse(b: &[u8]) -> Result<Header, E2eError> {
        let b: &[u8; HEADER_LEN] = b
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| E2eError::Header("shorter than its header".into()))?;
        let (magic, rest) = b.split_at(7);
        if magic != MAGIC {
            return Err(E2eError::Header("wrong magic".into()));
        }
        let (version, rest) = rest.split_at(1);
        if version != [VERSION] {
            return Err(E2eError::Header(format!(
                "format version {} (this sockit reads {VERSION}); update sockit",
                version.first().copied().unwrap_or(0)
            )));
        }
        let (record, salt) = rest.split_at(4);
        let record = u32::from_be_bytes(record.try_into().unwrap_or_default());
        if record == 0 || record > MAX_RECORD {
            return Err(E2eError::Header(format!(
                "a record size of {record} bytes (1 to {MAX_RECORD} allowed)"
            )));
        }
        Ok(Header {
            record,
            salt: salt.try_into().unwrap_or_default(),
        })
    }

    /// Records of a plaintext of `size` bytes: at least one (an empty file
    /// is one empty final record).
    pub fn records(&self, size: u64) -> u64 {
        size.div_ceil(u64::from(self.record)).max(1)
    }

    /// Plaintext bytes of record `index` of a `size`-byte plaintext.
    pub fn plain_len(&self, size: u64, index: u64) -> u32 {
        let r = u64::from(self.record);
        let left = size.saturating_sub(index.saturating_mul(r));
        // At most `record`, a u32.
        u32::try_from(left.min(r)).unwrap_or(self.record)
    }

    /// Where record `index` starts in the sealed file.
    pub fn offset(&self, index: u64) -> u64 {
        HEADER_LEN as u64 + index.saturating_mul(u64::from(self.record) + TAG_LEN as u64)
    }

    /// The sealed file's size for a `size`-byte plaintext.
    pub fn sealed_size(&self, size: u64) -> u64 {
        HEADER_LEN as u64 + size + self.records(size) * TAG_LEN as u64
    }
}
