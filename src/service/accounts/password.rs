//! Passwords: length rules and argon2id PHC strings.
//!
//! Everything here is CPU-heavy and blocking; the async API runs it on the
//! hashing pool ([`super::pool`]), the admin API on the caller's thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted when one is set: below this a guess list wins.
pub const MIN_PASSWORD_BYTES: usize = 8;

/// Longest password, in bytes: a rule of the `login` message, so it lives
/// in `wire` where the client reads it too.
pub use crate::wire::MAX_PASSWORD_BYTES;

/// Bytes of OS randomness per salt (128 bits, as the PHC format advises).
pub const SALT_BYTES: usize = 16;

/// argon2id cost parameters, as recorded in every PHC string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory per hash in KiB (OWASP: 19456 = 19 MiB).
    pub m_kib: u32,
    /// Passes over that memory (OWASP: 2).
    pub t: u32,
    /// Lanes (OWASP: 1; more lanes only help with threads we don't give it).
    pub p: u32,
}

impl Default for HashParams {
    /// The OWASP recommendation for argon2id: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            m_kib: 19456,
            t: 2,
            p: 1,
        }
    }
}

/// Checks a password being set (`add`, `passwd`): 8 to 1024 bytes.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.len();
    if n < MIN_PASSWORD_BYTES {
        return Err(format!(
            "the password has {n} bytes; use at least {MIN_PASSWORD_BYTES}"
        ));
    }
    if n > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password has {n} bytes; the limit is {MAX_PASSWORD_BYTES}"
        ));
    }
    Ok(())
}

/// Hashes and verifies with one set of parameters.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    params: HashParams,
}

impl Hasher {
    /// A hasher for `params`; refuses parameters argon2 cannot use.
    pub fn new(params: HashParams) -> Result<Self, String> {
        let p = Params::new(params.m_kib, params.t, params.p, None).map_err(|e| {
            format!(
                "argon2 parameters m={} t={} p={}: {e}",
                params.m_kib, params.t, params.p
            )
        })?;
        Ok(Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            params,
        })
    }

    /// A PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) with a
    /// fresh salt from the OS RNG.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|e| format!("OS random generator: {e}"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| format!("salt: {e}"))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("argon2: {e}"))
    }

    /// Whether `password` matches `phc`. A PHC string that does not parse
    /// counts as a mismatch (and is logged: the store holds something odd).
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        match PasswordHash::new(phc) {
            // verify_password uses the parameters recorded in the PHC string.
            Ok(h) => self.argon.verify_password(password.as_bytes(), &h).is_ok(),
            Err(e) => {
                tracing::error!(error = %e, "stored password hash does not parse");
                false
            }
        }
    }

    /// Whether `phc` was made with other parameters (or another algorithm)
    /// than this hasher's, so a successful login should store a new hash.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(p) = Params::try_from(&h) else {
            return true;
        };
        h.algorithm.as_str() != "argon2id"
            || h.version != Some(Version::V0x13.into())
            || p.m_cost() != self.params.m_kib
            || p.t_cost() != self.params.t
            || p.p_cost() != self.params.p
            || p.output_len() != Some(Params::DEFAULT_OUTPUT_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so tests hash in microseconds.
    const CHEAP: HashParams = HashParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };

    #[test]
    fn new_passwords_are_8_to_1024_bytes() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(1024)).is_ok());
        let e = check_new_password(&"x".repeat(1025)).unwrap_err();
        assert!(e.contains("1025") && e.contains("1024"), "{e}");
        // Bytes, not characters: 4 three-byte characters are 12 bytes.
        assert!(check_new_password("€€€€").is_ok());
    }

    #[test]
    fn hash_records_params_and_salt_differs() {
        let h = Hasher::new(CHEAP).unwrap();
        let a = h.hash("correct horse").unwrap();
        let b = h.hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(h.verify(&a, "correct horse"));
        assert!(!h.verify(&a, "correct horsE"));
        assert!(!h.verify("not a phc", "correct horse"));
        assert!(!a.contains("correct"));
    }

    #[test]
    fn rehash_is_needed_only_when_params_differ() {
        let old = Hasher::new(CHEAP).unwrap();
        let new = Hasher::new(HashParams {
            m_kib: 512,
            ..CHEAP
        })
        .unwrap();
        let phc = old.hash("password1").unwrap();
        assert!(!old.needs_rehash(&phc));
        assert!(new.needs_rehash(&phc));
        assert!(new.verify(&phc, "password1"), "old hashes still verify");
        assert!(new.needs_rehash("garbage"));
    }

    #[test]
    fn bad_params_are_refused() {
        assert!(
            Hasher::new(HashParams {
                m_kib: 1,
                t: 1,
                p: 1
            })
            .is_err()
        );
        assert!(
            Hasher::new(HashParams {
                m_kib: 256,
                t: 0,
                p: 1
            })
            .is_err()
        );
    }

    /// Prints the cost of one hash at the default (OWASP) parameters; run
    /// with `--ignored --nocapture` to measure. Not a benchmark: a figure
    /// for the operator's docs.
    #[test]
    #[ignore = "measurement, not a check"]
    fn default_params_hash_time() {
        let h = Hasher::new(HashParams::default()).unwrap();
        let _ = h.hash("warm up the allocator").unwrap();
        let start = std::time::Instant::now();
        let n = 5;
        for _ in 0..n {
            let _ = h.hash("correct horse battery staple").unwrap();
        }
        println!(
            "argon2id m=19456 t=2 p=1: {:?} per hash",
            start.elapsed() / n
        );
    }
}
