//! The gate every peer passes: the access lists, the per-IP connection
//! cap and the live first-frame timeout, which a reload (SIGHUP) may swap
//! while serving, and the datagram size limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::acl::Acl;
use super::limits::{DEFAULT_FIRST_FRAME_TIMEOUT, DEFAULT_MAX_CONNS_PER_IP, PeerKey};
use super::refusals::{RefusalLog, Say};

/// The rules a reload may change while serving.
#[derive(Debug, Clone)]
pub struct GateRules {
    /// Who may connect or send.
    pub acl: Acl,
    /// Most open stream connections per [`PeerKey`]; 0 = no cap.
    pub max_conns_per_ip: usize,
    /// How long a framed connection may take to send its first frame.
    pub first_frame_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` the web door believes (see
    /// `net::forwarded`) and whose TCP connections to the stream doors
    /// start with a PROXY protocol header (see `net::proxy_header`); empty:
    /// the immediate peer is the client.
    pub trusted_proxies: Vec<super::Cidr>,
}

impl Default for GateRules {
    fn default() -> Self {
        GateRules {
            acl: Acl::default(),
            max_conns_per_ip: DEFAULT_MAX_CONNS_PER_IP,
            first_frame_timeout: DEFAULT_FIRST_FRAME_TIMEOUT,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a peer was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The access lists deny it.
    Denied,
    /// Its address already holds `--max-conns-per-ip` connections.
    Busy,
}

impl Refused {
    /// The reason as logged.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Denied => "denied by the access list",
            Refused::Busy => "too many connections from this address",
        }
    }

    /// The reason as a metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Denied => "denied",
            Refused::Busy => "per_ip_cap",
        }
    }
}

/// The gate in front of every door; shared by all listeners.
#[derive(Debug)]
pub struct Gate {
    rules: RwLock<Arc<GateRules>>,
    /// Open stream connections per key; entries leave at zero, so the map
    /// holds at most one entry per open connection.
    open: Mutex<HashMap<PeerKey, usize>>,
    log: Mutex<RefusalLog>,
    /// Largest datagram the datagram doors serve (fixed at start: it sizes
    /// their receive buffers).
    max_datagram: usize,
    oversize: AtomicU64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(GateRules::default(), super::serve::MAX_DATAGRAM)
    }
}

/// A connection's place in the per-IP count; dropping it frees the place.
#[derive(Debug)]
pub struct PeerSlot {
    gate: Arc<Gate>,
    key: Option<PeerKey>,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = lock(&self.gate.open);
        if let Some(n) = open.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data stays consistent under every panic point (plain counters).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gate {
    /// A gate with `rules`, serving datagrams of at most `max_datagram` bytes.
    pub fn new(rules: GateRules, max_datagram: usize) -> Gate {
        Gate {
            rules: RwLock::new(Arc::new(rules)),
            open: Mutex::new(HashMap::new()),
            log: Mutex::new(RefusalLog::default()),
            max_datagram,
            oversize: AtomicU64::new(0),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<GateRules> {
        self.rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in new rules. Open connections stay, even if now denied or
    /// over a lowered cap: a reload never drops sessions.
    pub fn set_rules(&self, rules: GateRules) {
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rules);
    }

    /// Whether the access lists let `ip` in (datagram doors ask per datagram).
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .acl
            .permits(ip)
    }

    /// Admits a new stream peer (`None`: a Unix socket peer, always let in
    /// and never counted), or says why not.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<PeerSlot, Refused> {
        let Some(ip) = ip else {
            return Ok(PeerSlot {
                gate: self.clone(),
                key: None,
            });
        };
        let rules = self.rules();
        if !rules.acl.permits(ip) {
            return Err(Refused::Denied);
        }
        let key = PeerKey::of(ip);
        let mut open = lock(&self.open);
        let n = open.entry(key).or_default();
        if rules.max_conns_per_ip > 0 && *n >= rules.max_conns_per_ip {
            // n >= 1 here, so no empty entry is left behind.
            return Err(Refused::Busy);
        }
        *n += 1;
        Ok(PeerSlot {
            gate: self.clone(),
            key: Some(key),
        })
    }

    /// Whether `ip` is a trusted proxy (`--trusted-proxy`): its stream
    /// connections start with a PROXY protocol header naming the client.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.rules().trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// Open stream connections counted under `ip`'s key.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        lock(&self.open).get(&PeerKey::of(ip)).copied().unwrap_or(0)
    }

    /// The per-IP cap for datagram chat members: `--max-conns-per-ip`
    /// when lower than the door's own `fallback`, which applies when the
    /// cap is off.
    pub fn member_cap(&self, fallback: usize) -> usize {
        match self.rules().max_conns_per_ip {
            0 => fallback,
            n => n.min(fallback),
        }
    }

    /// The first-frame timeout in force.
    pub fn first_frame_timeout(&self) -> Duration {
        self.rules().first_frame_timeout
    }

    /// Largest datagram served.
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Logs a refusal, at most once per address per few seconds.
    pub fn log_refusal(&self, door: &'static str, ip: IpAddr, why: Refused) {
        crate::ops::metrics::refusal(door, why.label());
        match lock(&self.log).note(ip, Instant::now()) {
            Say::Nothing => {}
            Say::Line { quiet } => {
                tracing::info!(door, peer = %ip, quiet, "refused: {}", why.reason())
            }
            Say::Many { quiet } => {
                tracing::info!(
                    door,
                    quiet,
                    "refused peers from many addresses (last: {ip}): {}",
                    why.reason()
                )
            }
        }
    }

    /// Logs a trusted proxy's connection closed for want of a valid PROXY
    /// header, at the refusal log's pace (a proxy not set to send one
    /// shows up here).
    pub fn log_bad_proxy(&self, door: &str, proxy: IpAddr, why: &dyn std::fmt::Display) {
        if lock(&self.log).note(proxy, Instant::now()) != Say::Nothing {
            tracing::warn!(door, peer = %proxy, "closed a trusted proxy's connection: {why}");
        }
    }

    /// Counts a datagram over [`Gate::max_datagram`] (dropped unanswered)
    /// and logs it at the refusal log's pace.
    pub fn note_oversize(&self, door: &'static str, ip: IpAddr) {
        crate::ops::metrics::refusal(door, "oversize");
        let total = self.oversize.fetch_add(1, Ordering::Relaxed) + 1;
        if lock(&self.log).note(ip, Instant::now()) != Say::Nothing {
            tracing::info!(door, peer = %ip, total, max = self.max_datagram, "dropped oversize datagram");
        }
    }

    /// Datagrams dropped for size since start.
    pub fn oversize_dropped(&self) -> u64 {
        self.oversize.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn gate(cap: usize) -> Arc<Gate> {
        let rules = GateRules {
            max_conns_per_ip: cap,
            ..GateRules::default()
        };
        Arc::new(Gate::new(rules, 100))
    }

    #[test]
    fn cap_counts_v4_hosts_and_v6_slash_64s() {
        let g = gate(2);
        let a = g.admit(ip("10.0.0.1")).unwrap();
        let _b = g.admit(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(
            g.admit(ip("10.0.0.1")).unwrap_err(),
            Refused::Busy,
            "mapped counts as v4"
        );
        assert!(
            g.admit(ip("10.0.0.2")).is_ok(),
            "another host has its own count"
        );
        let _c = g.admit(ip("2001:db8:0:1::1")).unwrap();
        let _d = g.admit(ip("2001:db8:0:1::2")).unwrap();
        assert_eq!(
            g.admit(ip("2001:db8:0:1:ffff::9")).unwrap_err(),
            Refused::Busy
        );
        assert!(g.admit(ip("2001:db8:0:2::1")).is_ok(), "another /64");
        drop(a);
        assert!(g.admit(ip("10.0.0.1")).is_ok(), "a close frees the place");
    }

    #[test]
    fn zero_means_no_cap_and_unix_peers_pass() {
        let g = gate(0);
        let held: Vec<_> = (0..5000)
            .map(|_| g.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(g.open_from("127.0.0.1".parse().unwrap()), 5000);
        drop(held);
        assert_eq!(g.open_from("127.0.0.1".parse().unwrap()), 0);
        assert!(lock(&g.open).is_empty(), "entries leave at zero");
        let g = gate(1);
        g.set_rules(GateRules {
            acl: Acl::new([], ["0.0.0.0/0".parse().unwrap()]),
            ..GateRules::default()
        });
        assert!(g.admit(None).is_ok());
        assert!(g.admit(None).is_ok());
    }

    #[test]
    fn reloaded_rules_apply_to_new_peers() {
        let g = gate(10);
        let open = g.admit(ip("192.0.2.1")).unwrap();
        g.set_rules(GateRules {
            acl: Acl::new([], ["192.0.2.0/24".parse().unwrap()]),
            ..GateRules::default()
        });
        assert_eq!(g.admit(ip("192.0.2.1")).unwrap_err(), Refused::Denied);
        assert!(!g.permits("192.0.2.7".parse().unwrap()));
        drop(open);
    }

    #[test]
    fn member_cap_takes_the_lower() {
        assert_eq!(gate(0).member_cap(64), 64);
        assert_eq!(gate(3).member_cap(64), 3);
        assert_eq!(gate(1000).member_cap(64), 64);
    }
}
