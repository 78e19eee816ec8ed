//! Access lists as ncat has them: `--allow` and `--deny` CIDR rules.
//!
//! The rule: a peer is denied if it matches a deny entry, or if any allow
//! entry exists and it matches none. IPv4-mapped IPv6 peers
//! (`::ffff:10.1.2.3`, what a dual-stack listener reports for IPv4
//! clients) match IPv4 rules. A tiny parser of our own rather than the
//! `ipnet` crate: the whole need is "address/prefix", and a lookup that
//! stays fast with thousands of rules from a deny file.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network: an address with its prefix length. A bare address is a
/// network of one (/32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cidr {
    /// An IPv4 network; host bits are zero.
    V4 {
        /// The network address.
        net: u32,
        /// Prefix length, 0..=32.
        prefix: u8,
    },
    /// An IPv6 network; host bits are zero.
    V6 {
        /// The network address.
        net: u128,
        /// Prefix length, 0..=128.
        prefix: u8,
    },
}

/// Why a rule or a rule file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    /// The text is not `ADDRESS` or `ADDRESS/PREFIX`.
    #[error("{rule:?} is not an IP address or CIDR network (e.g. 10.0.0.0/8, 2001:db8::/32)")]
    BadRule {
        /// The text as given.
        rule: String,
    },
    /// The prefix is longer than the address.
    #[error("{rule:?}: the prefix must be at most /{max}")]
    BadPrefix {
        /// The text as given.
        rule: String,
        /// 32 or 128.
        max: u8,
    },
    /// A line of a rule file is bad.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        source: Box<AclError>,
    },
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// The network of `ip` with `prefix` bits (host bits cleared; a
    /// too-long prefix is clamped). IPv4-mapped IPv6 addresses become IPv4.
    pub fn new(ip: IpAddr, prefix: u8) -> Cidr {
        match ip {
            IpAddr::V4(a) => {
                let prefix = prefix.min(32);
                Cidr::V4 {
                    net: u32::from(a) & mask32(prefix),
                    prefix,
                }
            }
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Cidr::new(IpAddr::V4(v4), prefix - 96),
                _ => {
                    let prefix = prefix.min(128);
                    Cidr::V6 {
                        net: u128::from(a) & mask128(prefix),
                        prefix,
                    }
                }
            },
        }
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip.to_canonical()) {
            (Cidr::V4 { net, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(prefix) == net,
            (Cidr::V6 { net, prefix }, IpAddr::V6(a)) => u128::from(a) & mask128(prefix) == net,
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = AclError;

    fn from_str(s: &str) -> Result<Cidr, AclError> {
        let bad = || AclError::BadRule { rule: s.to_owned() };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        // Brackets are how IPv6 hosts appear in our addresses; accept them.
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => {
                        return Err(AclError::BadPrefix {
                            rule: s.to_owned(),
                            max,
                        });
                    }
                }
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr::new(ip, prefix))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Cidr::V4 { net, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(net)),
            Cidr::V6 { net, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(net)),
        }
    }
}

/// Reads a rule file's text: one CIDR per line; `#` starts a comment;
/// blank lines are skipped. Errors name the line.
pub fn parse_rules(text: &str) -> Result<Vec<Cidr>, AclError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let rule = line.split('#').next().unwrap_or("").trim();
        if rule.is_empty() {
            continue;
        }
        out.push(rule.parse().map_err(|e| AclError::Line {
            line: i + 1,
            source: Box::new(e),
        })?);
    }
    Ok(out)
}

/// A set of networks with a lookup that costs one hash probe per distinct
/// prefix length, not one comparison per rule: a deny file of 100,000
/// addresses is as fast as one of ten.
#[derive(Debug, Clone, Default)]
struct NetSet {
    v4: Vec<(u8, HashSet<u32>)>,
    v6: Vec<(u8, HashSet<u128>)>,
    len: usize,
}

impl NetSet {
    fn insert(&mut self, c: Cidr) {
        let fresh = match c {
            Cidr::V4 { net, prefix } => bucket(&mut self.v4, prefix).insert(net),
            Cidr::V6 { net, prefix } => bucket(&mut self.v6, prefix).insert(net),
        };
        self.len += usize::from(fresh);
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|(p, s)| s.contains(&(a & mask32(*p))))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|(p, s)| s.contains(&(a & mask128(*p))))
            }
        }
    }
}

fn bucket<T>(buckets: &mut Vec<(u8, HashSet<T>)>, prefix: u8) -> &mut HashSet<T> {
    let i = match buckets.iter().position(|(p, _)| *p == prefix) {
        Some(i) => i,
        None => {
            buckets.push((prefix, HashSet::new()));
            buckets.len() - 1
        }
    };
    &mut buckets[i].1
}

/// Allow and deny rules, as the accept loops check them.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    allow: NetSet,
    deny: NetSet,
}

impl Acl {
    /// The rules; duplicates count once.
    pub fn new(allow: impl IntoIterator<Item = Cidr>, deny: impl IntoIterator<Item = Cidr>) -> Acl {
        let mut acl = Acl::default();
        allow.into_iter().for_each(|c| acl.allow.insert(c));
        deny.into_iter().for_each(|c| acl.deny.insert(c));
        acl
    }

    /// Whether a peer at `ip` may connect or send.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !self.deny.contains(ip) && (self.allow.len == 0 || self.allow.contains(ip))
    }

    /// How many distinct allow rules there are.
    pub fn allow_len(&self) -> usize {
        self.allow.len
    }

    /// How many distinct deny rules there are.
    pub fn deny_len(&self) -> usize {
        self.deny.len
    }
}

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;
