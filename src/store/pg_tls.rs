//! TLS to PostgreSQL, chosen in the `--store` URL as with libpq:
//! `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`)
//! and `sslrootcert=FILE` (the CA that signed the server's certificate).
//!
//! | sslmode | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers TLS | against `sslrootcert` if given, else not |
//! | `require` | always | against `sslrootcert` if given, else not |
//! | `verify-ca` | always | signed by `sslrootcert` |
//! | `verify-full` | always | signed by `sslrootcert` and naming the host |
//!
//! Only `verify-full` stops a man in the middle who can present some other
//! certificate; SECURITY.md says so. A Unix-socket host never uses TLS
//! (PostgreSQL does not offer it there).
//!
//! The `postgres` crate's [`Config`] knows neither `verify-*` nor
//! `sslrootcert`, so [`split`] takes them out of the URL, and the policy
//! travels beside the parsed config in one value, `store::pg::PgTarget`:
//! every connection a node opens to that server (pooled, listening,
//! migrating) is made from it, so none can miss the policy.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::{Client, Config, NoTls, Socket};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::tls::{CertCheck, client_config};

/// The TLS parameters found in a URL, and the URL without the ones the
/// `postgres` crate does not parse.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Split {
    /// The URL left for [`Config`]'s parser.
    pub url: String,
    /// How the certificate is checked when TLS is used.
    pub check: CertCheck,
}

/// Why a URL's TLS parameters cannot be used.
pub(super) fn split(url: &str) -> Result<Split, String> {
    let uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (head, params, sep) = if uri {
        match url.split_once('?') {
            Some((h, q)) => (h.to_owned(), q.split('&').map(str::to_owned).collect(), "&"),
            None => (url.to_owned(), Vec::new(), "&"),
        }
    } else {
        let words: Vec<String> = url.split_whitespace().map(str::to_owned).collect();
        (String::new(), words, " ")
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for p in params {
        match p.split_once('=') {
            Some(("sslmode", v)) => mode = Some(decode(v)),
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(decode(v))),
            _ => kept.push(p),
        }
    }
    let check = match (mode.as_deref(), root) {
        (Some(m @ ("verify-ca" | "verify-full")), None) => {
            return Err(format!(
                "sslmode={m} needs sslrootcert=FILE (the CA certificate that signed the \
                 server's), e.g. ?sslmode={m}&sslrootcert=/etc/ssl/pg-ca.pem"
            ));
        }
        (Some("disable"), Some(_)) => {
            return Err("sslrootcert is set but sslmode=disable turns TLS off; \
                        drop one of them"
                .into());
        }
        (m, Some(roots)) => CertCheck::Ca {
            roots,
            name: m == Some("verify-full"),
        },
        (_, None) => CertCheck::EncryptOnly,
    };
    // What the crate parses: verify-* are `require` plus our own check.
    let crate_mode = match mode.as_deref() {
        Some("verify-ca" | "verify-full") => Some("require"),
        m => m,
    };
    if let Some(m) = crate_mode {
        kept.push(format!("sslmode={m}"));
    }
    let url = if uri {
        if kept.is_empty() {
            head
        } else {
            format!("{head}?{}", kept.join(sep))
        }
    } else {
        kept.join(sep)
    };
    Ok(Split { url, check })
}

/// `%XX` escapes decoded (a path in a URL may be written `%2Fetc%2F...`).
fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds the client configuration `check` asks for (reads the CA file:
/// at start, so a bad file is reported then).
pub(super) fn policy(check: &CertCheck) -> Result<Arc<ClientConfig>, String> {
    client_config(check).map_err(|e| format!("--store TLS: {e}"))
}

/// Opens a connection to `cfg`'s server, with TLS as `tls` says unless
/// the URL turned it off (`sslmode=disable`).
pub(super) fn connect(cfg: &Config, tls: &Arc<ClientConfig>) -> Result<Client, postgres::Error> {
    if cfg.get_ssl_mode() == SslMode::Disable {
        return cfg.connect(NoTls);
    }
    cfg.connect(Rustls(tls.clone()))
}

/// The connector the `postgres` crate asks for one TLS session per
/// connection.
#[derive(Clone)]
struct Rustls(Arc<ClientConfig>);

impl MakeTlsConnect<Socket> for Rustls {
    type Stream = Tls;
    type TlsConnect = Handshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Handshake> {
        // Empty for a Unix socket, where TLS is never started.
        let name = ServerName::try_from(domain.to_owned()).ok();
        Ok(Handshake {
            config: self.0.clone(),
            name,
        })
    }
}

/// One pending handshake.
struct Handshake {
    config: Arc<ClientConfig>,
    name: Option<ServerName<'static>>,
}

impl TlsConnect<Socket> for Handshake {
    type Stream = Tls;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Tls>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no host name to check TLS against",
                )
            })?;
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await?;
            Ok(Tls(Box::new(tls)))
        })
    }
}

/// A TLS connection to PostgreSQL.
struct Tls(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for Tls {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require_and_the_root_leaves_the_url() {
        let s = split("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&x=1")
            .expect("split");
        assert_eq!(s.url, "postgres://u@h/db?x=1&sslmode=require");
        assert_eq!(
            s.check,
            CertCheck::Ca {
                roots: "/tmp/ca.pem".into(),
                name: true
            }
        );
        let s = split("host=h sslmode=verify-ca sslrootcert=/ca.pem").expect("split");
        assert_eq!(s.url, "host=h sslmode=require");
        assert_eq!(
            s.check,
            CertCheck::Ca {
                roots: "/ca.pem".into(),
                name: false
            }
        );
    }

    #[test]
    fn plain_urls_pass_through_and_bad_combinations_are_named() {
        let s = split("postgres://u@h/db").expect("split");
        assert_eq!(
            (s.url.as_str(), s.check),
            ("postgres://u@h/db", CertCheck::EncryptOnly)
        );
        let s = split("postgres://u@h/db?sslmode=disable").expect("split");
        assert_eq!(s.url, "postgres://u@h/db?sslmode=disable");
        let e = split("postgres://u@h/db?sslmode=verify-full").expect_err("no root");
        assert!(e.contains("needs sslrootcert=FILE"), "{e}");
        let e = split("postgres://h/d?sslmode=disable&sslrootcert=/c").expect_err("contradiction");
        assert!(e.contains("sslmode=disable"), "{e}");
    }
}
