//! A certificate's SHA-256 fingerprint, written `sha256:<64 hex digits>`:
//! what `sockit cert` prints, `--fingerprint` pins and known_hosts stores.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The SHA-256 of a certificate's DER encoding (the whole certificate, as
/// `openssl x509 -fingerprint -sha256` hashes it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a fingerprint could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "bad fingerprint {0:?}: write sha256: and 64 hex digits, as `sockit cert show` prints it \
     (openssl's AB:CD:.. form works too)"
)]
pub struct FingerprintError(String);

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    /// Accepts `sha256:HEX`, bare `HEX`, and openssl's colon-separated
    /// upper-case pairs, so a fingerprint can be pasted from either tool.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FingerprintError(s.to_owned());
        let t = s.trim();
        let hex_part = match t.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("sha256:") => t.get(7..).unwrap_or(""),
            _ => t,
        };
        let digits: String = hex_part.chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&digits, &mut out).map_err(|_| bad())?;
        Ok(Fingerprint(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let f = Fingerprint::of(b"not really a certificate");
        let text = f.to_string();
        assert!(
            text.starts_with("sha256:") && text.len() == 7 + 64,
            "{text}"
        );
        assert_eq!(text.parse::<Fingerprint>().unwrap(), f);
        let bare = text.trim_start_matches("sha256:");
        assert_eq!(bare.parse::<Fingerprint>().unwrap(), f);
        let openssl: Vec<String> = f.0.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(openssl.join(":").parse::<Fingerprint>().unwrap(), f);
        assert_eq!(text.to_uppercase().parse::<Fingerprint>().unwrap(), f);
    }

    #[test]
    fn wrong_lengths_and_digits_are_refused() {
        for s in ["", "sha256:", "sha256:abcd", "md5:00", &"g".repeat(64)] {
            let e = s.parse::<Fingerprint>().unwrap_err().to_string();
            assert!(e.contains("64 hex digits"), "{s}: {e}");
        }
    }
}
