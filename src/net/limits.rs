//! Process-wide resource limits, the defaults of the per-peer ones, and
//! how peers are counted per address. The gate that enforces them is
//! `net::gate`.

use std::net::IpAddr;
use std::time::Duration;

/// Default cap on open stream connections per IPv4 address or IPv6 /64:
/// far above what one honest host or NAT opens (browsers open six per
/// site), far below the total cap, so one host cannot take every slot.
/// 0 turns the cap off (load tests from loopback need that).
pub const DEFAULT_MAX_CONNS_PER_IP: usize = 1000;

/// Default time a framed connection has to deliver its first complete
/// frame. Every sockit client sends `hello` at once; ten seconds covers a
/// slow link, while 2,000 half-open slowloris peers are let go long before
/// the five-minute idle timeout would free their slots.
pub const DEFAULT_FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Raises the soft open-file limit to the hard limit, so a server can hold
/// tens of thousands of connections and a load generator can open them
/// without the user remembering `ulimit -n`. Failure is harmless: we keep the
/// old limit and accept errors say what to do.
pub fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let raised = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
}

/// Where per-IP limits count a peer: its IPv4 address, or its IPv6 /64
/// (one host usually owns a whole /64, so counting single IPv6 addresses
/// would let it open 2^64 times the cap). IPv4-mapped peers count as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    /// An IPv4 address.
    V4(u32),
    /// The top 64 bits of an IPv6 address.
    V6(u64),
}

impl PeerKey {
    /// The key `ip` is counted under.
    pub fn of(ip: IpAddr) -> PeerKey {
        match ip.to_canonical() {
            IpAddr::V4(a) => PeerKey::V4(u32::from(a)),
            IpAddr::V6(a) => PeerKey::V6((u128::from(a) >> 64) as u64),
        }
    }
}
