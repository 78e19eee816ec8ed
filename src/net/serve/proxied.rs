//! Connections from trusted proxies: the PROXY protocol header read
//! within the first-frame timeout, and the client it names admitted (or
//! refused) in the proxy's place.

use std::io;
use std::time::Duration;

use super::Shared;
use super::refuse::{Busy, refuse, reset};
use crate::net::conn::Conn;
use crate::net::gate::{PeerSlot, Refused};
use crate::net::proxy_header;

/// Whether a trusted proxy's connection must start with a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProxyHeader {
    /// Stream doors: no header, no service.
    Required,
    /// The web door: a header if the first bytes start one.
    Optional,
}

/// What a trusted proxy's connection needs to be admitted after its
/// header is read.
pub(super) struct Proxied {
    pub(super) door: &'static str,
    pub(super) busy: Busy,
    pub(super) shared: Shared,
    pub(super) mode: ProxyHeader,
}

/// How long the web door waits before looking again at a trusted peer's
/// first bytes when too few have come to tell a PROXY header from a
/// request (rare: both arrive whole in the first segment).
const PEEK_AGAIN: Duration = Duration::from_millis(5);

impl Proxied {
    /// Reads the PROXY header of a trusted proxy's connection, within the
    /// first-frame timeout, and admits the client it names; `None` when the
    /// connection was closed instead (no valid header, or the client is
    /// refused).
    pub(super) async fn open(self, conn: Conn) -> Option<(Conn, PeerSlot)> {
        let Conn::Tcp(mut s) = conn else {
            return None;
        };
        let proxy = s.peer_addr().ok()?;
        let gate = &self.shared.gate;
        let within = gate.first_frame_timeout();
        let read = async {
            if self.mode == ProxyHeader::Optional && !starts_with_header(&s).await? {
                return Ok(proxy_header::Origin::Local);
            }
            proxy_header::read(&mut s).await
        };
        let origin = match tokio::time::timeout(within, read).await {
            Ok(Ok(origin)) => origin,
            // Nothing sent at all: a connect-only health check, not news.
            Ok(Err(proxy_header::ReadError::Bad(proxy_header::BadHeader::Empty))) => {
                tracing::debug!("closed before a PROXY header");
                return None;
            }
            Ok(Err(e)) => {
                gate.log_bad_proxy(self.door, proxy.ip(), &e);
                return None;
            }
            Err(_) => {
                let e = "no PROXY protocol header within the first-frame timeout";
                gate.log_bad_proxy(self.door, proxy.ip(), &e);
                return None;
            }
        };
        let client = match origin {
            proxy_header::Origin::Client(a) => a,
            proxy_header::Origin::Local => proxy,
        };
        tracing::Span::current().record("client", tracing::field::display(client));
        let conn = Conn::Proxied(s, client);
        match gate.admit(Some(client.ip())) {
            Ok(place) => Some((conn, place)),
            Err(why) => {
                gate.log_refusal(self.door, client.ip(), why);
                match why {
                    Refused::Busy => refuse(conn, &self.busy, &self.shared),
                    Refused::Denied => reset(conn),
                }
                None
            }
        }
    }
}

/// Whether a connection's first bytes start a PROXY header (looked at, not
/// taken). `false` at once for anything else, such as an HTTP request or
/// a TLS hello.
async fn starts_with_header(s: &tokio::net::TcpStream) -> io::Result<bool> {
    let mut first = [0u8; proxy_header::V2_SIGNATURE.len()];
    loop {
        let n = s.peek(&mut first).await?;
        if n == 0 || !proxy_header::looks_like_header(&first[..n]) {
            return Ok(false);
        }
        // "PROXY " takes 6 bytes to tell from "POST /"; the v2 signature
        // 5 to tell from blank lines ("\r\n\r\n\0").
        let need = if first[0] == b'\r' { 5 } else { 6 };
        if n >= need {
            return Ok(true);
        }
        tokio::time::sleep(PEEK_AGAIN).await;
    }
}
