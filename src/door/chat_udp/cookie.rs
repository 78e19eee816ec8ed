//! Return routability: the stateless cookie a datagram source echoes to
//! prove it receives what is sent to its address (as DTLS HelloVerify and
//! QUIC Retry do).
//!
//! A cookie is the first [`COOKIE_BYTES`] of a keyed BLAKE3 MAC (a keyed
//! hash, used as HMAC is) over the source address and the current time
//! window, in lowercase hex. The key is random and lives only in memory,
//! so the server holds nothing per source to check a cookie, and a restart
//! invalidates every cookie (clients get a fresh one and resend). A cookie
//! is accepted in the window it was made in and the next one: it lives
//! between one and two [`COOKIE_WINDOW`]s.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Length of a time window. A cookie is echoed a round trip after it is
/// sent; a minute is generous for that and short enough that a cookie
/// seen by an on-path observer soon stops working.
pub const COOKIE_WINDOW: Duration = Duration::from_secs(60);

/// MAC bytes in a cookie: 80 bits cannot be guessed within its two-minute
/// life, and the reply `{"cookie":"<20 hex digits>"}` (33 bytes) fits in
/// the 3x budget of the shortest join, `{"name":"a"}` (12 bytes).
pub const COOKIE_BYTES: usize = 10;

/// Makes and checks cookies.
pub struct Cookies {
    key: [u8; 32],
    start: Instant,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies").finish_non_exhaustive()
    }
}

impl Cookies {
    /// A cookie maker with a fresh random key.
    pub fn new() -> Result<Cookies, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Cookies::with_key(key))
    }

    /// A cookie maker with a given key (tests).
    pub fn with_key(key: [u8; 32]) -> Cookies {
        Cookies {
            key,
            start: Instant::now(),
        }
    }

    fn window(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        elapsed.as_secs() / COOKIE_WINDOW.as_secs()
    }

    fn mac(&self, peer: SocketAddr, window: u64) -> [u8; COOKIE_BYTES] {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        match peer.ip() {
            std::net::IpAddr::V4(ip) => h.update(&[4]).update(&ip.octets()),
            std::net::IpAddr::V6(ip) => h.update(&[6]).update(&ip.octets()),
        };
        h.update(&peer.port().to_be_bytes());
        h.update(&window.to_be_bytes());
        let mut out = [0u8; COOKIE_BYTES];
        out.copy_from_slice(&h.finalize().as_bytes()[..COOKIE_BYTES]);
        out
    }

    /// The cookie for `peer` now.
    pub fn issue(&self, peer: SocketAddr) -> String {
        hex(&self.mac(peer, self.window()))
    }

    /// True when `cookie` was issued to `peer` in this window or the last.
    pub fn check(&self, peer: SocketAddr, cookie: &str) -> bool {
        let now = self.window();
        [Some(now), now.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|w| constant_time_eq(hex(&self.mac(peer, w)).as_bytes(), cookie.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not reveal how many
/// leading characters of a guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_cookie_fits_its_address_and_lives_one_to_two_windows() {
        let c = Cookies::with_key([7; 32]);
        let bob: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let cookie = c.issue(bob);
        assert_eq!(cookie.len(), 2 * COOKIE_BYTES);
        assert!(c.check(bob, &cookie));
        // Another port, another address, another key: no.
        assert!(!c.check("192.0.2.1:4001".parse().unwrap(), &cookie));
        assert!(!c.check("192.0.2.2:4000".parse().unwrap(), &cookie));
        assert!(!Cookies::with_key([8; 32]).check(bob, &cookie));
        assert!(!c.check(bob, ""));
        assert!(!c.check(bob, &cookie[1..]));
        tokio::time::advance(COOKIE_WINDOW).await;
        assert!(c.check(bob, &cookie), "still good in the next window");
        tokio::time::advance(COOKIE_WINDOW).await;
        assert!(!c.check(bob, &cookie), "stale after two windows");
    }
}
