//! Addresses for `connect`, `listen` and `relay`: a bare PORT on every
//! address (dual stack, -4/-6), HOST PORT in ncat's style, and TLS on the
//! listening side.

use std::time::Duration;

use anyhow::{Context, bail};
use sockit::net::Endpoint;

/// An IP family asked for with -4 or -6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn matches(self, ip: std::net::IpAddr) -> bool {
        ip.is_ipv4() == (self == Family::V4)
    }
}

/// Binds a bare PORT on every address: [::] (dual stack) unless -4, with
/// 0.0.0.0 as the fallback when the machine has IPv6 turned off.
async fn bind_any_port(
    port: &str,
    udp: bool,
    family: Option<Family>,
) -> anyhow::Result<sockit::net::Bound> {
    let port: u16 = port
        .parse()
        .with_context(|| format!("{port} is not a port number (0 to 65535)"))?;
    let scheme = if udp { "udp" } else { "tcp" };
    let at = |host: &str| -> anyhow::Result<Endpoint> {
        Ok(format!("{scheme}://{host}:{port}").parse()?)
    };
    if family == Some(Family::V4) {
        return Ok(sockit::net::bind(&at("0.0.0.0")?).await?);
    }
    match sockit::net::bind(&at("[::]")?).await {
        Ok(b) => Ok(b),
        Err(sockit::net::BindError::Io { .. }) if family.is_none() => {
            Ok(sockit::net::bind(&at("0.0.0.0")?).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The endpoint with its host replaced by its first address of `family`.
async fn pick_family(ep: Endpoint, family: Family) -> anyhow::Result<Endpoint> {
    let flag = if family == Family::V4 { "-4" } else { "-6" };
    let Some(hp) = ep.host_port() else {
        bail!("{flag} applies to IP addresses, not to {ep}");
    };
    let host = hp.host.clone();
    let addrs = ep
        .resolve()
        .await
        .with_context(|| format!("resolving {host}"))?;
    let Some(addr) = addrs.into_iter().find(|a| family.matches(a.ip())) else {
        bail!("{flag}: {host} has no address of that family; drop {flag} or give another host");
    };
    Ok(Endpoint::from_socket_addr(ep.transport(), addr))
}

/// Builds the endpoint from `ADDR [PORT]` and `-u`.
pub(in crate::cli) fn endpoint(
    addr: &str,
    port: Option<u16>,
    udp: bool,
) -> anyhow::Result<Endpoint> {
    let has_scheme = addr.contains("://");
    let text = match port {
        None => addr.to_string(),
        Some(_) if has_scheme => {
            bail!("{addr} already has a port; give either a full address or HOST PORT")
        }
        // An IPv6 literal needs brackets once a port follows it.
        Some(p) if addr.contains(':') && !addr.starts_with('[') => format!("[{addr}]:{p}"),
        Some(p) => format!("{addr}:{p}"),
    };
    let ep: Endpoint = text.parse()?;
    Ok(match ep {
        Endpoint::Tcp(hp) if udp && !has_scheme => Endpoint::Udp(hp),
        Endpoint::Udp(_) => ep,
        _ if udp => bail!(
            "-u makes a bare HOST:PORT use UDP, but {addr} names its transport; drop -u or write udp://HOST:PORT"
        ),
        _ => ep,
    })
}

/// Reads an optional seconds flag.
pub(in crate::cli) fn seconds(flag: &str, v: Option<f64>) -> anyhow::Result<Option<Duration>> {
    v.map(|s| crate::cli::seconds(flag, s, true)).transpose()
}

/// For a tls:// listening address: the endpoint shown as tls://, and the
/// acceptor with serve's certificate (--tls-cert/--tls-key, else
/// DATA/tls), whose fingerprint goes to stderr (stdout is data).
pub(in crate::cli) async fn listen_tls(
    written: &str,
    local: Endpoint,
    args: &crate::cli::tls_opts::TlsArgs,
    data: &std::path::Path,
) -> anyhow::Result<(Endpoint, Option<sockit::net::tls::ServerTls>)> {
    let hp = match local {
        Endpoint::Tcp(hp) if written.starts_with("tls://") => hp,
        other => return Ok((other, None)),
    };
    let (id, path) = args
        .load_identity(data, std::slice::from_ref(&hp.host))
        .await?;
    let tls = sockit::net::tls::ServerTls::new(&id, &[], args.handshake_timeout()?)
        .context("checking the certificate and key for tls://")?;
    eprintln!("tls certificate {} ({})", id.fingerprint(), path.display());
    Ok((Endpoint::Tls(hp), Some(tls)))
}

/// Binds a listening address as `listen` does: a bare PORT on every
/// address, -4/-6 applied to host names.
pub(in crate::cli) async fn bind_listen(
    addr: &str,
    port: Option<u16>,
    udp: bool,
    ipv4: bool,
    ipv6: bool,
) -> anyhow::Result<sockit::net::Bound> {
    let family = match (ipv4, ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let bare_port = port.is_none() && !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit());
    if bare_port {
        return bind_any_port(addr, udp, family).await;
    }
    let ep = endpoint(addr, port, udp)?;
    let ep = match family {
        Some(f) => pick_family(ep, f).await?,
        None => ep,
    };
    Ok(sockit::net::bind(&ep).await?)
}
