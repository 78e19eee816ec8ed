//! The memory budget: how many bytes of frame bodies and replies peers may
//! make the server buffer at once, in total and per address.
//!
//! A door charges a large body when its header arrives (before the bytes
//! do) and holds the [`Charge`] until the reply to it has been written, so
//! what peers that send big frames and never read can pin is bounded by
//! the budget, not by the connection count. Small frames (requests, chat
//! lines) are not charged: their buffers are bounded per connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use super::limits::PeerKey;

/// Default total budget: 256 MiB is what a small VPS can spare for
/// in-flight frames without swapping, and room for 32 concurrent
/// maximum-size (8 MiB) bodies.
pub const DEFAULT_MEM_BUDGET: usize = 256 * 1024 * 1024;

/// Default share of the budget one address (IPv4, or IPv6 /64) may hold:
/// a quarter, so at least four addresses must collude to spend it all, and
/// one honest client still has room for several 8 MiB file chunks.
pub const DEFAULT_MEM_PER_IP: usize = 64 * 1024 * 1024;

/// The budget, shared by every connection of a server.
#[derive(Debug)]
pub struct MemBudget {
    /// Most bytes charged at once, over all peers.
    total: usize,
    /// Most bytes charged at once to one address.
    per_ip: usize,
    /// What is charged now.
    state: Mutex<Charged>,
}

#[derive(Debug, Default)]
struct Charged {
    /// Bytes charged over all peers.
    used: usize,
    /// Bytes charged per address; Unix peers have no address and share
    /// only the total.
    by_ip: HashMap<PeerKey, usize>,
}

/// Why a charge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Spent {
    /// The whole budget is in use.
    #[error(
        "the server is holding its most bytes of large frames ({limit} bytes); retry in a few seconds"
    )]
    Total {
        /// The total budget.
        limit: usize,
    },
    /// This address's share is in use.
    #[error(
        "your address holds its share of the server's frame memory ({limit} bytes); finish or close other transfers first"
    )]
    PerIp {
        /// The per-address share.
        limit: usize,
    },
}

impl MemBudget {
    /// A budget of `total` bytes, at most `per_ip` of them for one address.
    pub fn new(total: usize, per_ip: usize) -> Arc<MemBudget> {
        Arc::new(MemBudget {
            total,
            per_ip,
            state: Mutex::new(Charged::default()),
        })
    }

    /// Charges `bytes` to `ip` (no per-address share for `None`), or says
    /// which limit is spent. The charge is returned when it is dropped.
    pub fn try_charge(self: &Arc<Self>, ip: Option<IpAddr>, bytes: usize) -> Result<Charge, Spent> {
        let key = ip.map(PeerKey::of);
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.used.saturating_add(bytes) > self.total {
            return Err(Spent::Total { limit: self.total });
        }
        if let Some(k) = key {
            let held = st.by_ip.get(&k).copied().unwrap_or(0);
            if held.saturating_add(bytes) > self.per_ip {
                return Err(Spent::PerIp { limit: self.per_ip });
            }
            st.by_ip.insert(k, held + bytes);
        }
        st.used += bytes;
        Ok(Charge {
            budget: self.clone(),
            key,
            bytes,
        })
    }

    /// Bytes charged now, over all peers.
    pub fn used(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .used
    }
}

impl Default for MemBudget {
    fn default() -> Self {
        MemBudget {
            total: DEFAULT_MEM_BUDGET,
            per_ip: DEFAULT_MEM_PER_IP,
            state: Mutex::new(Charged::default()),
        }
    }
}

/// Bytes charged to the budget, given back on drop.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<MemBudget>,
    key: Option<PeerKey>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut st = self
            .budget
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.used = st.used.saturating_sub(self.bytes);
        if let Some(k) = self.key {
            if let Some(held) = st.by_ip.get_mut(&k) {
                *held = held.saturating_sub(self.bytes);
                if *held == 0 {
                    st.by_ip.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn per_ip_share_then_total_and_drop_returns_bytes() {
        let b = MemBudget::new(100, 60);
        let a1 = b.try_charge(A, 50).expect("within both");
        assert_eq!(b.try_charge(A, 20).unwrap_err(), Spent::PerIp { limit: 60 });
        let b1 = b
            .try_charge(B, 50)
            .expect("another address has its own share");
        assert_eq!(
            b.try_charge(None, 1).unwrap_err(),
            Spent::Total { limit: 100 }
        );
        drop(a1);
        assert_eq!(b.used(), 50);
        let _a2 = b.try_charge(A, 50).expect("given back on drop");
        drop(b1);
        assert_eq!(b.used(), 50);
    }
}
