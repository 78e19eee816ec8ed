//! The PROXY protocol (HAProxy's `send-proxy` v1 text line and
//! `send-proxy-v2` binary header): how a trusted TCP proxy in front of a
//! stream door says which client it carries.
//!
//! Only a peer inside a `--trusted-proxy` CIDR is read for a header (see
//! `net::serve`); anyone else's bytes go to the door untouched. The header
//! is read before anything else (before TLS on a tls:// listener, as HAProxy
//! sends it), never one byte past its end, within the first-frame timeout.
//! Spec: <https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longest v1 line, `\r\n` included (the spec's bound: `PROXY TCP6` with
/// two full IPv6 addresses and two 5-digit ports is 104 bytes).
pub const MAX_V1_LEN: usize = 107;

/// Most bytes a v2 header may carry after its 16-byte preamble (addresses
/// and TLVs; TLVs are skipped). HAProxy's own TLVs (ALPN, authority, unique
/// id, SSL details) fit well within this; the bound caps what a header can
/// make us read and hold.
pub const MAX_V2_BODY: usize = 1_024;

/// The v2 signature, the first 12 bytes of every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The v1 prefix.
const V1_PREFIX: &[u8] = b"PROXY ";

/// Shortest possible header (`PROXY UNKNOWN\r\n`, 15 bytes; v2 has at
/// least 16): the first read may take this much without reading past it.
const MIN_HEADER: usize = 15;

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The proxy speaks for this client.
    Client(SocketAddr),
    /// The proxy's own connection (v2 `LOCAL`, a health check; v1
    /// `UNKNOWN`; v2 `UNSPEC`): the immediate peer is the peer.
    Local,
}

/// Why a trusted peer's header was refused (the connection is closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadHeader {
    /// Neither `PROXY ` nor the v2 signature.
    NotAHeader,
    /// A v1 line longer than [`MAX_V1_LEN`] or a v2 body longer than
    /// [`MAX_V2_BODY`].
    TooLong,
    /// A header that does not parse.
    Malformed(&'static str),
    /// The connection ended inside the header.
    Truncated,
    /// The connection ended before its first byte (a proxy's connect-only
    /// health check, say).
    Empty,
}

impl fmt::Display for BadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadHeader::NotAHeader => f.write_str("a trusted proxy sent no PROXY protocol header"),
            BadHeader::TooLong => f.write_str("PROXY protocol header too long"),
            BadHeader::Malformed(why) => write!(f, "bad PROXY protocol header: {why}"),
            BadHeader::Truncated => f.write_str("connection closed inside the PROXY header"),
            BadHeader::Empty => f.write_str("connection closed before a PROXY header"),
        }
    }
}

impl std::error::Error for BadHeader {}

/// What the parser needs next, given the bytes read so far.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Read at most this many more bytes (reading them cannot pass the end
    /// of the header).
    Read(usize),
    /// A v1 line: read up to and including the next `\n`, at most this many.
    Line(usize),
    /// The header is complete.
    Done(Origin),
}

/// Whether `got` starts like a header (first bytes checked as they come).
pub fn looks_like_header(got: &[u8]) -> bool {
    let n = got.len().min(V1_PREFIX.len());
    let m = got.len().min(V2_SIGNATURE.len());
    got[..n] == V1_PREFIX[..n] || got[..m] == V2_SIGNATURE[..m]
}

fn step(got: &[u8]) -> Result<Step, BadHeader> {
    if !looks_like_header(got) {
        return Err(BadHeader::NotAHeader);
    }
    if got.len() < MIN_HEADER {
        return Ok(Step::Read(MIN_HEADER - got.len()));
    }
    if got.starts_with(V1_PREFIX) {
        if got.ends_with(b"\n") {
            return parse_v1(got).map(Step::Done);
        }
        if got.len() >= MAX_V1_LEN {
            return Err(BadHeader::TooLong);
        }
        return Ok(Step::Line(MAX_V1_LEN - got.len()));
    }
    if got.len() < 16 {
        return Ok(Step::Read(16 - got.len()));
    }
    let body = usize::from(u16::from_be_bytes([got[14], got[15]]));
    if body > MAX_V2_BODY {
        return Err(BadHeader::TooLong);
    }
    match (16 + body).checked_sub(got.len()) {
        Some(0) => parse_v2(got).map(Step::Done),
        Some(more) => Ok(Step::Read(more)),
        None => Err(BadHeader::Malformed("read past the header")),
    }
}

/// Parses a whole v1 line, `\r\n` included.
fn parse_v1(line: &[u8]) -> Result<Origin, BadHeader> {
    let text = line
        .strip_suffix(b"\r\n")
        .ok_or(BadHeader::Malformed("v1 line does not end in CRLF"))?;
    let text = std::str::from_utf8(text).map_err(|_| BadHeader::Malformed("v1 line not ASCII"))?;
    let mut words = text.split(' ');
    let _proxy = words.next();
    let family = words.next().unwrap_or("");
    if family == "UNKNOWN" {
        return Ok(Origin::Local);
    }
    let fields: Vec<&str> = words.collect();
    let [src, dst, sport, dport] = fields[..] else {
        return Err(BadHeader::Malformed("v1 needs 4 fields after the family"));
    };
    let ip: IpAddr = match family {
        "TCP4" => src
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| BadHeader::Malformed("v1 TCP4 source is not an IPv4 address"))?,
        "TCP6" => src
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| BadHeader::Malformed("v1 TCP6 source is not an IPv6 address"))?,
        _ => {
            return Err(BadHeader::Malformed(
                "v1 family is not TCP4, TCP6 or UNKNOWN",
            ));
        }
    };
    let port = parse_port(sport)?;
    let dst_ok = match family {
        "TCP4" => dst.parse::<Ipv4Addr>().is_ok(),
        _ => dst.parse::<Ipv6Addr>().is_ok(),
    };
    if !dst_ok {
        return Err(BadHeader::Malformed("v1 destination address"));
    }
    parse_port(dport)?;
    Ok(Origin::Client(SocketAddr::new(ip, port)))
}

fn parse_port(s: &str) -> Result<u16, BadHeader> {
    // The spec forbids leading zeros and signs; u16::from_str allows `+`.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(BadHeader::Malformed("v1 port"));
    }
    s.parse().map_err(|_| BadHeader::Malformed("v1 port"))
}

/// Parses a whole v2 header (preamble and body).
fn parse_v2(h: &[u8]) -> Result<Origin, BadHeader> {
    let (ver_cmd, fam, body) = (h[12], h[13], &h[16..]);
    if ver_cmd >> 4 != 2 {
        return Err(BadHeader::Malformed("v2 version is not 2"));
    }
    match ver_cmd & 0x0f {
        0 => return Ok(Origin::Local),
        1 => {}
        _ => {
            return Err(BadHeader::Malformed(
                "v2 command is neither LOCAL nor PROXY",
            ));
        }
    }
    match fam {
        // UNSPEC: the proxy could not say; the real endpoints stand.
        0x00 => Ok(Origin::Local),
        0x11 => {
            let a: [u8; 12] = body
                .get(..12)
                .and_then(|b| b.try_into().ok())
                .ok_or(BadHeader::Malformed("v2 TCP4 addresses too short"))?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let port = u16::from_be_bytes([a[8], a[9]]);
            Ok(Origin::Client(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        0x21 => {
            let a: [u8; 36] = body
                .get(..36)
                .and_then(|b| b.try_into().ok())
                .ok_or(BadHeader::Malformed("v2 TCP6 addresses too short"))?;
            let mut src = [0u8; 16];
            src.copy_from_slice(&a[..16]);
            let port = u16::from_be_bytes([a[32], a[33]]);
            Ok(Origin::Client(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(src)),
                port,
            )))
        }
        _ => Err(BadHeader::Malformed(
            "v2 family is not TCP over IPv4 or IPv6",
        )),
    }
}

/// Reads one PROXY header from `s`, never past its end. The caller bounds
/// the time (the first-frame timeout).
pub async fn read(s: &mut TcpStream) -> Result<Origin, ReadError> {
    let mut got = Vec::with_capacity(MAX_V1_LEN);
    let mut scratch = [0u8; MAX_V1_LEN];
    loop {
        let take = match step(&got)? {
            Step::Done(origin) => return Ok(origin),
            Step::Read(n) => n,
            Step::Line(max) => {
                // Look without taking, then take up to the end of the line.
                let n = s.peek(&mut scratch[..max]).await?;
                if n == 0 {
                    return Err(BadHeader::Truncated.into());
                }
                match scratch[..n].iter().position(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None => n,
                }
            }
        };
        let start = got.len();
        got.resize(start + take, 0);
        let n = s.read(&mut got[start..]).await?;
        if n == 0 && start == 0 {
            return Err(BadHeader::Empty.into());
        }
        if n == 0 {
            return Err(BadHeader::Truncated.into());
        }
        got.truncate(start + n);
    }
}

/// Why no header could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The bytes were not a valid header.
    #[error("{0}")]
    Bad(#[from] BadHeader),
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` through the parser as the reader would.
    fn parse(bytes: &[u8]) -> Result<(Origin, usize), BadHeader> {
        let mut got = Vec::new();
        let mut rest = bytes;
        loop {
            let take = match step(&got)? {
                Step::Done(o) => return Ok((o, got.len())),
                Step::Read(n) => n,
                Step::Line(max) => {
                    let window = &rest[..rest.len().min(max)];
                    match window.iter().position(|&b| b == b'\n') {
                        Some(i) => i + 1,
                        None => window.len(),
                    }
                }
            };
            let take = take.min(rest.len());
            if take == 0 {
                return Err(BadHeader::Truncated);
            }
            got.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    fn sa(s: &str) -> Origin {
        Origin::Client(s.parse().unwrap())
    }

    #[test]
    fn v1_lines_name_the_client_and_stop_at_crlf() {
        let line = b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 7000\r\nhello";
        assert_eq!(parse(line), Ok((sa("198.51.100.7:40000"), line.len() - 5)));
        let line = b"PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n";
        assert_eq!(parse(line), Ok((sa("[2001:db8::7]:1"), line.len())));
        assert_eq!(parse(b"PROXY UNKNOWN\r\nxyz"), Ok((Origin::Local, 15)));
        let longest = format!(
            "PROXY TCP6 {0} {0} 65535 65535\r\n",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert!(longest.len() <= MAX_V1_LEN);
        assert!(parse(longest.as_bytes()).is_ok());
    }

    #[test]
    fn bad_v1_lines_are_refused() {
        for bad in [
            &b"PROXY TCP4 198.51.100.7 192.0.2.1 40000\r\n"[..],
            b"PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(BadHeader::Malformed(_))),
                "{bad:?}"
            );
        }
        let long = [b"PROXY ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(parse(&long), Err(BadHeader::TooLong));
        assert_eq!(parse(b"PROXY TCP4 1.2"), Err(BadHeader::Truncated));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(BadHeader::NotAHeader));
        assert_eq!(parse(b"PROXX"), Err(BadHeader::NotAHeader));
    }

    #[test]
    fn v2_headers_name_the_client_skip_tlvs_and_stop_at_their_length() {
        let mut body = vec![203, 0, 113, 9, 192, 0, 2, 1, 0x9c, 0x40, 0x1b, 0x58];
        body.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2']); // an ALPN TLV
        let mut h = v2(1, 0x11, &body);
        let len = h.len();
        h.extend_from_slice(b"after");
        assert_eq!(parse(&h), Ok((sa("203.0.113.9:40000"), len)));
        let mut body = vec![0u8; 36];
        body[..16].copy_from_slice(&"2001:db8::9".parse::<Ipv6Addr>().unwrap().octets());
        body[32..34].copy_from_slice(&443u16.to_be_bytes());
        assert_eq!(
            parse(&v2(1, 0x21, &body)).unwrap().0,
            sa("[2001:db8::9]:443")
        );
        assert_eq!(parse(&v2(0, 0x00, &[])), Ok((Origin::Local, 16)));
        assert_eq!(parse(&v2(1, 0x00, &[])).unwrap().0, Origin::Local);
    }

    #[test]
    fn bad_v2_headers_are_refused() {
        assert_eq!(
            parse(&v2(1, 0x11, &vec![0; MAX_V2_BODY + 1])),
            Err(BadHeader::TooLong)
        );
        assert!(matches!(
            parse(&v2(1, 0x11, &[1, 2, 3])),
            Err(BadHeader::Malformed(_))
        ));
        assert!(matches!(
            parse(&v2(2, 0x11, &[0; 12])),
            Err(BadHeader::Malformed(_))
        ));
        assert!(matches!(
            parse(&v2(1, 0x12, &[0; 12])),
            Err(BadHeader::Malformed(_))
        ));
        let mut h = v2(1, 0x11, &[0; 12]);
        h[12] = 0x11;
        assert!(matches!(parse(&h), Err(BadHeader::Malformed(_))));
        assert_eq!(
            parse(&v2(1, 0x11, &[0; 12])[..20]),
            Err(BadHeader::Truncated)
        );
        assert_eq!(
            parse(b"\r\n\r\n\0\r\nQUIX\n\x21\x11\0\x0c"),
            Err(BadHeader::NotAHeader)
        );
    }
}
