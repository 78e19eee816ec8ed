//! `sockit cert`: make a self-signed certificate, show a fingerprint (of a
//! file, or of what a server presents), and forget a known_hosts entry.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;
use sockit::client::known_hosts::KnownHostsFile;
use sockit::net::Endpoint;
use sockit::net::tls::{self, Fingerprint, KnownHosts, Trust};

/// Arguments of `sockit cert`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit cert new --out /etc/sockit --name chat.example.org --name 10.0.0.5
      cert.pem and key.pem (mode 0600) for `sockit serve --tls-cert
      /etc/sockit/cert.pem --tls-key /etc/sockit/key.pem`; clients use
      `--ca /etc/sockit/cert.pem` or `--fingerprint` with the printed value
  sockit cert show ./sockit-data/tls/cert.pem      the fingerprint to hand out
  sockit cert show tls://chat.example.org:7879     what the server presents
  sockit cert forget chat.example.org:7879         after the server got a new
      certificate on purpose; the next connection trusts the new one

Clients check tls:// servers by --ca FILE, else --fingerprint sha256:HEX,
else known_hosts in the config directory (trust on first use, as ssh does).")]
pub struct CertArgs {
    /// What to do.
    #[command(subcommand)]
    action: Action,
}

/// The certificate commands.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Write a new self-signed certificate (cert.pem) and key (key.pem).
    New {
        /// Directory to write into (created if needed).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// A host name or IP the certificate names, besides localhost,
        /// 127.0.0.1 and ::1; repeatable.
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
        /// Replace existing cert.pem and key.pem.
        #[arg(long)]
        force: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the SHA-256 fingerprint of a PEM certificate file, or of the
    /// certificate a tls:// server presents (trusting nothing).
    Show {
        /// A PEM file, or tls://HOST:PORT.
        #[arg(value_name = "FILE|tls://HOST:PORT")]
        source: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Give up on the server after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        timeout: f64,
    },
    /// Remove a server from known_hosts, so the next connection trusts the
    /// certificate it then presents.
    Forget {
        /// The server, as HOST:PORT or tls://HOST:PORT.
        #[arg(value_name = "HOST:PORT")]
        server: Endpoint,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `sockit cert`.
pub async fn run(a: CertArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        Action::New {
            out,
            names,
            force,
            json,
        } => new(out, names, force, json).await,
        Action::Show {
            source,
            json,
            timeout,
        } => {
            let timeout = super::seconds("--timeout", timeout, true)?;
            show(&source, json, timeout).await
        }
        Action::Forget { server, json } => forget(&server, json).await,
    }
}

async fn new(
    out: PathBuf,
    names: Vec<String>,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let names = tls::names_with(&names);
    let (dir, all) = (out.clone(), names.clone());
    let g = tokio::task::spawn_blocking(move || {
        let g = tls::self_signed(&all)?;
        tls::write_pair(&dir, &g, force)?;
        anyhow::Ok(g)
    })
    .await
    .context("the certificate thread failed")??;
    let (cert, key) = (out.join(tls::CERT_FILE), out.join(tls::KEY_FILE));
    if json {
        let v = json!({"cert": cert, "key": key, "fingerprint": g.fingerprint.to_string(), "names": names});
        println!("{v}");
    } else {
        println!(
            "wrote {} and {} (key mode 0600)",
            cert.display(),
            key.display()
        );
        println!("certificate {} for {}", g.fingerprint, names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(source: &str, json: bool, timeout: Duration) -> anyhow::Result<ExitCode> {
    let (fp, known) = if source.contains("://") {
        let ep: Endpoint = source.parse()?;
        let Endpoint::Tls(hp) = &ep else {
            bail!("{source}: only tls:// servers present certificates; give tls://HOST:PORT");
        };
        let fp = presented(&ep, hp, timeout).await?;
        let store = KnownHostsFile::from_env(false)?;
        let key = hp.to_string();
        let known = tokio::task::spawn_blocking(move || store.lookup(&key))
            .await
            .context("the known_hosts thread failed")??;
        let verdict = match known {
            Some(k) if k.fingerprint == fp => format!("trusted ({})", k.whence),
            Some(k) => format!("DIFFERENT from {} ({})", k.fingerprint, k.whence),
            None => "not in known_hosts".to_owned(),
        };
        (fp, Some(verdict))
    } else {
        let path = PathBuf::from(source);
        let certs = tokio::task::spawn_blocking(move || tls::read_certs(&path))
            .await
            .context("the certificate thread failed")??;
        let leaf = certs
            .first()
            .map_or(Fingerprint([0; 32]), |c| Fingerprint::of(c));
        (leaf, None)
    };
    if json {
        println!(
            "{}",
            json!({"source": source, "fingerprint": fp.to_string(), "known_hosts": known})
        );
    } else {
        match known {
            Some(k) => println!("{fp} ({source}; known_hosts: {k})"),
            None => println!("{fp} ({source})"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The fingerprint a server presents, after a handshake that trusts
/// nothing and sends nothing.
async fn presented(
    ep: &Endpoint,
    hp: &sockit::net::HostPort,
    timeout: Duration,
) -> anyhow::Result<Fingerprint> {
    let look = async {
        let tcp = tokio::net::TcpStream::connect((hp.host.as_str(), hp.port))
            .await
            .with_context(|| format!("connecting to {ep}"))?;
        let (mut tls, fp) = tls::handshake(tcp, hp, &Trust::Inspect)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to {ep}: {}", e.hint))?;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
        anyhow::Ok(fp)
    };
    tokio::time::timeout(timeout, look).await.map_err(|_| {
        anyhow::anyhow!("connecting to {ep}: no TLS handshake within {timeout:?}; raise --timeout")
    })?
}

async fn forget(server: &Endpoint, json: bool) -> anyhow::Result<ExitCode> {
    let Some(hp) = server.host_port() else {
        bail!("{server}: known_hosts holds HOST:PORT servers; give one");
    };
    let key = hp.to_string();
    let store = KnownHostsFile::from_env(false)?;
    let path = store.path().to_owned();
    let k = key.clone();
    let gone = tokio::task::spawn_blocking(move || store.forget(&k))
        .await
        .context("the known_hosts thread failed")??;
    if json {
        println!("{}", json!({"server": key, "removed": gone, "file": path}));
    } else if gone > 0 {
        println!("forgot {key} in {}", path.display());
    } else {
        eprintln!("sockit: {key} is not in {}", path.display());
    }
    Ok(if gone > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
