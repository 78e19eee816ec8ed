//! The server's certificate and key: loaded from PEM files, or generated
//! self-signed (rcgen) and written readable by their owner only.
//!
//! Everything here does file I/O or key generation: call it from a blocking
//! thread (`spawn_blocking`), never on an async worker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{Fingerprint, TlsError};

/// File names inside a certificate directory (`sockit cert new --out DIR`,
/// and `DATA/tls` of a server without `--tls-cert`).
pub const CERT_FILE: &str = "cert.pem";
/// See [`CERT_FILE`].
pub const KEY_FILE: &str = "key.pem";

/// The names every generated certificate carries, so a client on the same
/// machine verifies it by name as well as by fingerprint.
pub const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate chain (leaf first) and its private key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The chain the server presents, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key; shared, since rustls keys are not `Clone`.
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1
    /// or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
        let chain = read_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
            path: key.to_owned(),
            what: "a private key",
            reason: e.to_string(),
        })?;
        Ok(Identity {
            chain,
            key: Arc::new(key),
        })
    }

    /// The fingerprint of the leaf certificate: what clients pin.
    pub fn fingerprint(&self) -> Fingerprint {
        self.chain
            .first()
            .map(|c| Fingerprint::of(c))
            .unwrap_or(Fingerprint([0; 32]))
    }
}

/// Reads every certificate in a PEM file; at least one must be there.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |reason: String| TlsError::Pem {
        path: path.to_owned(),
        what: "certificates",
        reason,
    };
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| pem_err(e.to_string()))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

/// A freshly generated self-signed certificate, in PEM.
#[derive(Debug)]
pub struct Generated {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// The certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

/// Generates a self-signed ECDSA P-256 certificate for `names` (host names
/// or IP literals; IPs become IP SANs).
pub fn self_signed(names: &[String]) -> Result<Generated, TlsError> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok(Generated {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
        fingerprint: Fingerprint::of(ck.cert.der()),
    })
}

/// The names a certificate for `extra` hosts carries: [`LOCAL_NAMES`], then
/// each extra name once (an unspecified address such as `0.0.0.0` names no
/// host and is left out).
pub fn names_with(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = LOCAL_NAMES.iter().map(|s| s.to_string()).collect();
    for n in extra {
        let unspecified = n
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        if !unspecified && !n.is_empty() && !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

/// Writes `cert.pem` (0644) and `key.pem` (0600) into `dir`, creating it.
/// Refuses to replace existing files unless `overwrite`. The key is written
/// first, to a temporary name, and renamed: no reader ever sees half a key.
pub fn write_pair(dir: &Path, g: &Generated, overwrite: bool) -> Result<(), TlsError> {
    let cert = dir.join(CERT_FILE);
    let key = dir.join(KEY_FILE);
    if !overwrite {
        for p in [&cert, &key] {
            if p.exists() {
                return Err(TlsError::Exists(p.clone()));
            }
        }
    }
    crate::fsutil::create_private_dir_all(dir).map_err(|e| TlsError::io(dir, e))?;
    write_atomic(&key, g.key_pem.as_bytes(), crate::fsutil::PRIVATE_FILE)?;
    write_atomic(&cert, g.cert_pem.as_bytes(), crate::fsutil::PRIVATE_FILE)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    crate::fsutil::write_atomic(path, bytes, mode).map_err(|e| TlsError::io(path, e))
}

/// The identity in `dir` (`cert.pem`, `key.pem`), generated for `names`
/// when the directory holds neither file. Returns it, the certificate's
/// path, and whether it was generated now.
pub fn load_or_create(dir: &Path, names: &[String]) -> Result<(Identity, PathBuf, bool), TlsError> {
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    let created = !cert.exists() && !key.exists();
    if created {
        write_pair(dir, &self_signed(names)?, false)?;
    }
    Ok((Identity::load(&cert, &key)?, cert, created))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_pair_loads_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let names = names_with(&["example.test".into(), "0.0.0.0".into()]);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "example.test"]);
        let (id, path, created) = load_or_create(&tls, &names).unwrap();
        assert!(created);
        assert_eq!(path, tls.join(CERT_FILE));
        let mode = fs::metadata(tls.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second start reuses the same certificate.
        let (again, _, created) = load_or_create(&tls, &names).unwrap();
        assert!(!created);
        assert_eq!(again.fingerprint(), id.fingerprint());
    }

    #[test]
    fn existing_files_are_not_replaced_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let g = self_signed(&["localhost".into()]).unwrap();
        write_pair(dir.path(), &g, false).unwrap();
        let e = write_pair(dir.path(), &g, false).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        write_pair(dir.path(), &self_signed(&["x".into()]).unwrap(), true).unwrap();
        let id = Identity::load(&dir.path().join(CERT_FILE), &dir.path().join(KEY_FILE)).unwrap();
        assert_ne!(id.fingerprint(), g.fingerprint);
    }

    #[test]
    fn a_file_without_certificates_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        fs::write(&p, "hello\n").unwrap();
        let e = read_certs(&p).unwrap_err().to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }
}
