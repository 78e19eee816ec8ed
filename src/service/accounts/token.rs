//! Session tokens: 256 random bits shown to the client once as hex; the
//! store keeps only their SHA-256, so a copy of the database opens no session.

use sha2::{Digest, Sha256};

/// Random bytes per token: 256 bits, beyond any guessing.
pub const TOKEN_BYTES: usize = 32;

/// Length of a token as the client sees it: lowercase hex.
pub const TOKEN_HEX_LEN: usize = TOKEN_BYTES * 2;

/// A fresh token from the OS RNG, as 64 lowercase hex characters.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

/// Whether `token` has the shape of one of ours; anything else is refused
/// before touching the store.
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_HEX_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the store keeps for a token: its SHA-256. A plain hash is enough
/// (no salt, no argon2) because the token has 256 bits of entropy.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Seconds since the Unix epoch, the unit of every time in the store.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_lowercase_hex_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(well_formed(&a) && well_formed(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_tokens_are_spotted() {
        let t = new_token().unwrap();
        assert!(!well_formed(&"A".repeat(64)), "uppercase is not ours");
        assert!(!well_formed(&t[1..]));
        assert!(!well_formed(&format!("{t}0")));
        assert!(!well_formed(&"g".repeat(64)));
        assert!(!well_formed(""));
    }

    #[test]
    fn stored_hash_is_sha256_of_the_hex() {
        let h = token_hash("00");
        assert_eq!(
            hex::encode(h),
            "f1534392279bddbf9d43dde8701cb5be14b82f76ec6607bf8d6ad557f60f304e"
        );
    }
}
