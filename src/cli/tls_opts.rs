//! TLS flags: the server's certificate (`sockit serve --tls-cert ...`), and
//! how every client checks a tls:// server (`--ca`, `--fingerprint`, else
//! known_hosts), shared by all client commands through one flattened struct.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sockit::client::known_hosts::KnownHostsFile;
use sockit::net::Endpoint;
use sockit::net::tls::{self, Fingerprint, Identity, Trust};

/// Environment fallback of `--ca`.
const CA_ENV: &str = "SOCKIT_CA";
/// Environment fallback of `--fingerprint`.
const FINGERPRINT_ENV: &str = "SOCKIT_FINGERPRINT";

/// The TLS flags of `sockit serve`.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// Certificate chain (PEM, leaf first) for tls:// listeners [default:
    /// DATA/tls/cert.pem, generated self-signed on first start].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Close a tls:// connection whose TLS handshake is not done within
    /// this many seconds (a peer that connects and says nothing).
    #[arg(long, value_name = "SECS", default_value_t = tls::HANDSHAKE_TIMEOUT.as_secs_f64())]
    tls_handshake_timeout: f64,
}

impl TlsArgs {
    /// The handshake bound, checked.
    pub fn handshake_timeout(&self) -> anyhow::Result<Duration> {
        super::seconds("--tls-handshake-timeout", self.tls_handshake_timeout, true)
    }

    /// The certificate tls:// listeners present: --tls-cert/--tls-key, or
    /// `DATA/tls`, generated for localhost and `hosts` when absent. Prints
    /// `tls certificate sha256:... (PATH)` for operators to hand out.
    pub async fn identity(&self, data: &Path, hosts: &[String]) -> anyhow::Result<Identity> {
        let (id, path) = self.load_identity(data, hosts).await?;
        println!("tls certificate {} ({})", id.fingerprint(), path.display());
        Ok(id)
    }

    /// Like [`TlsArgs::identity`], printing nothing: returns the identity
    /// and the certificate's path (`listen` prints them to stderr, since
    /// its stdout is data).
    pub async fn load_identity(
        &self,
        data: &Path,
        hosts: &[String],
    ) -> anyhow::Result<(Identity, PathBuf)> {
        let (cert, key, dir) = (
            self.tls_cert.clone(),
            self.tls_key.clone(),
            data.join("tls"),
        );
        let names = tls::names_with(hosts);
        let (id, path, created) = tokio::task::spawn_blocking(move || match (cert, key) {
            (Some(c), Some(k)) => Identity::load(&c, &k).map(|id| (id, c, false)),
            _ => tls::load_or_create(&dir, &names),
        })
        .await
        .context("the certificate thread failed")??;
        // A key that does not match the certificate fails the start, not
        // every connection.
        tls::ServerTls::new(&id, &[], tls::HANDSHAKE_TIMEOUT)
            .context("checking the certificate and key for tls:// listeners")?;
        if created {
            tracing::info!(path = %path.display(), "generated a self-signed TLS certificate");
        }
        Ok((id, path))
    }
}

/// How a client command checks a tls:// server; flattened into every
/// command that dials.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// For tls:// servers: verify the certificate's chain and name against
    /// the CA certificates in FILE (PEM) [env: SOCKIT_CA].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// For tls:// servers: accept only the certificate with this
    /// fingerprint, as `sockit cert show` prints it [env: SOCKIT_FINGERPRINT].
    /// Without --ca or --fingerprint the first certificate seen is trusted
    /// and remembered in known_hosts, as ssh does.
    #[arg(long, value_name = "sha256:HEX", conflicts_with = "ca")]
    fingerprint: Option<Fingerprint>,
}

impl ClientTlsArgs {
    /// The trust policy for dialing `server`: --ca, else --fingerprint,
    /// else SOCKIT_CA, else SOCKIT_FINGERPRINT, else known_hosts in the
    /// config directory. Only tls:// servers need one (others get `Unset`,
    /// so a missing config directory never stops a tcp:// command).
    pub async fn trust_for(&self, server: &Endpoint) -> anyhow::Result<Trust> {
        if !matches!(server, Endpoint::Tls(_)) {
            return Ok(Trust::Unset);
        }
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let ca = self.ca.clone().or_else(|| match self.fingerprint {
            Some(_) => None,
            None => env(CA_ENV).map(PathBuf::from),
        });
        if let Some(ca) = ca {
            let path = ca.clone();
            return tokio::task::spawn_blocking(move || Trust::from_ca_file(&path))
                .await
                .context("the CA thread failed")?
                .with_context(|| format!("reading the CA file {} (--ca)", ca.display()));
        }
        if let Some(fp) = self.fingerprint {
            return Ok(Trust::Pin(fp));
        }
        if let Some(text) = env(FINGERPRINT_ENV) {
            let fp = text
                .to_string_lossy()
                .parse()
                .with_context(|| format!("reading {FINGERPRINT_ENV}"))?;
            return Ok(Trust::Pin(fp));
        }
        let store = KnownHostsFile::from_env(true)?;
        Ok(Trust::FirstUse(Arc::new(store)))
    }
}
