//! Share IDs and revoke tokens: 128 random bits each, shown once as 32
//! lowercase hex digits; the store keeps only their BLAKE3, so a copy of
//! the database opens no share and revokes none.

/// Random bytes per ID or token: 128 bits, beyond guessing even at a
/// million tries a second for the age of the universe.
pub const ID_BYTES: usize = 16;

/// Length of an ID or token as users see it.
pub const ID_HEX_LEN: usize = ID_BYTES * 2;

/// A fresh ID (or revoke token) from the OS RNG.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; ID_BYTES];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

/// Whether `s` has the shape of an ID: anything else is refused before
/// the store is asked, with the same answer as an unknown ID.
pub fn well_formed(s: &str) -> bool {
    s.len() == ID_HEX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the store keeps for an ID or token. A plain hash suffices: the
/// input has 128 bits of entropy, so there is nothing to brute-force.
pub fn id_hash(s: &str) -> [u8; 32] {
    *blake3::hash(s.as_bytes()).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_distinct_and_hashed() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(well_formed(&a) && well_formed(&b) && a != b);
        assert_ne!(id_hash(&a), id_hash(&b));
        assert!(!well_formed("../etc/passwd"));
        assert!(!well_formed(&a.to_uppercase()));
        assert!(!well_formed(&a[1..]));
    }
}
