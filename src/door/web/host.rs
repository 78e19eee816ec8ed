//! Which `Host` names the web door answers to (against DNS rebinding).
//!
//! A page on `evil.example` whose name is made to resolve to our address
//! sends `Host: evil.example` and an `Origin` that matches it, so the
//! Origin check alone lets it in; refusing unknown names closes that.
//! Allowed: IP literals equal to the address the connection came in on
//! (no rebinding goes through an IP literal), `localhost` when that
//! address is loopback or the listener is a Unix socket, and the names
//! given with `--web-host`.

use std::net::IpAddr;
use std::sync::Arc;

/// The names one connection may use.
#[derive(Debug, Clone)]
pub struct HostRule {
    /// The local address the peer connected to (`None`: a Unix socket).
    local: Option<IpAddr>,
    /// The `--web-host` names, lower-case, without a trailing dot.
    names: Arc<[String]>,
}

impl HostRule {
    /// The rule for a connection to `local` on a server configured with
    /// `names` (as given to `--web-host`).
    pub fn new(local: Option<IpAddr>, names: Arc<[String]>) -> HostRule {
        HostRule { local, names }
    }

    /// Normalises `--web-host` values for [`HostRule::new`].
    pub fn names(given: &[String]) -> Arc<[String]> {
        given
            .iter()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .collect()
    }

    /// `Ok` when `host` (a `Host` header or URI authority, with or without
    /// a port) names this server; else the one-line refusal.
    pub fn check(&self, host: Option<&str>) -> Result<(), String> {
        let Some(host) = host else {
            return Err("request without a Host header; send Host: NAME".to_owned());
        };
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if self.allows(&name) {
            return Ok(());
        }
        Err(format!(
            "this server does not answer to the name {name:?} (a DNS rebinding guard); \
             use its address, or start it with --web-host {name}"
        ))
    }

    fn allows(&self, name: &str) -> bool {
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return self
                .local
                .is_some_and(|l| l.to_canonical() == ip.to_canonical());
        }
        if name == "localhost" {
            return self.local.is_none_or(|l| l.to_canonical().is_loopback());
        }
        self.names.iter().any(|n| n == name)
    }
}

/// `host` without its `:port`, brackets of an IPv6 literal kept.
fn strip_port(host: &str) -> &str {
    if let Some(end) = host.find(']') {
        return &host[..=end];
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(local: Option<&str>, names: &[&str]) -> HostRule {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        HostRule::new(local.map(|l| l.parse().unwrap()), HostRule::names(&names))
    }

    #[test]
    fn loopback_listener_answers_to_its_address_and_localhost_only() {
        let r = rule(Some("127.0.0.1"), &[]);
        assert!(r.check(Some("127.0.0.1:8080")).is_ok());
        assert!(r.check(Some("127.0.0.1")).is_ok());
        assert!(r.check(Some("LocalHost:8080")).is_ok());
        assert!(r.check(Some("localhost.")).is_ok());
        let err = r.check(Some("evil.example:8080")).unwrap_err();
        assert!(err.contains("--web-host evil.example"), "{err}");
        assert!(r.check(Some("10.0.0.1:8080")).is_err());
        assert!(r.check(None).is_err());
    }

    #[test]
    fn configured_names_and_ipv6_literals() {
        let r = rule(Some("::1"), &["Chat.Example.ORG."]);
        assert!(r.check(Some("[::1]:8080")).is_ok());
        assert!(r.check(Some("chat.example.org:443")).is_ok());
        assert!(r.check(Some("[::2]:8080")).is_err());
        let public = rule(Some("192.0.2.7"), &[]);
        assert!(public.check(Some("192.0.2.7:80")).is_ok());
        assert!(
            public.check(Some("localhost")).is_err(),
            "not a loopback bind"
        );
        let unix = rule(None, &["chat.example.org"]);
        assert!(unix.check(Some("chat.example.org")).is_ok());
        assert!(unix.check(Some("localhost")).is_ok());
        assert!(unix.check(Some("127.0.0.1")).is_err());
    }
}
