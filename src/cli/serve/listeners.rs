//! Which services `serve` runs where: the listener flags as (service,
//! address) pairs, whether the set needs a data directory, and the banner's
//! hint when listener flags replaced the defaults.

use sockit::net::Endpoint;
use sockit::server::Service;

use super::{DEFAULTS, ServeArgs};

impl ServeArgs {
    /// Every listener asked for, with its service.
    pub(super) fn listeners(&self) -> Vec<(Service, Endpoint)> {
        let mut specs: Vec<(Service, Endpoint)> = Vec::new();
        let each =
            |s: Service, v: &[Endpoint]| v.iter().map(|e| (s, e.clone())).collect::<Vec<_>>();
        specs.extend(each(Service::Echo, &self.echo));
        specs.extend(each(Service::Upper, &self.upper));
        specs.extend(each(Service::Framed, &self.listen));
        specs.extend(each(Service::Web, &self.web));
        specs.extend(each(Service::ChatLines, &self.chat_lines));
        specs.extend(each(Service::ChatUdp, &self.chat_udp));
        specs.extend(each(Service::Perf, &self.perf));
        specs
    }
}

/// True when every listener is echo or upper over plain sockets: such a
/// server needs no data directory (TLS needs one for its certificate).
pub(super) fn is_stateless(specs: &[(Service, Endpoint)]) -> bool {
    specs.iter().all(|(s, ep)| {
        matches!(s, Service::Echo | Service::Upper) && !matches!(ep, Endpoint::Tls(_))
    })
}

/// The banner's hint when listener flags replaced the defaults: which
/// default services are not running, and the flags that bring them back.
/// `None` when every default service runs somewhere.
pub(super) fn dropped_defaults(specs: &[(Service, Endpoint)]) -> Option<String> {
    let missing: Vec<String> = DEFAULTS
        .iter()
        .filter(|(flag, _)| {
            let service = default_service(flag);
            !specs.iter().any(|(s, _)| *s == service)
        })
        .map(|(flag, addr)| format!("--{flag} {addr}"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "hint: listener flags replace all the defaults; not running: {} (add them to keep them)",
        missing.join(" ")
    ))
}

/// The service a `DEFAULTS` flag starts.
fn default_service(flag: &str) -> Service {
    match flag {
        "echo" => Service::Echo,
        "listen" => Service::Framed,
        _ => Service::Web,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: Service, ep: &str) -> (Service, Endpoint) {
        (s, ep.parse().unwrap())
    }

    #[test]
    fn hint_names_the_dropped_defaults() {
        let chat_only = [
            spec(Service::ChatLines, "tcp://0.0.0.0:2323"),
            spec(Service::ChatUdp, "udp://0.0.0.0:9999"),
        ];
        let hint = dropped_defaults(&chat_only).unwrap();
        assert!(hint.contains("--listen tcp://127.0.0.1:7878"), "{hint}");
        assert!(hint.contains("--web tcp://127.0.0.1:8080"), "{hint}");
        assert!(hint.contains("replace all the defaults"), "{hint}");
        let all: Vec<_> = DEFAULTS
            .iter()
            .map(|(f, a)| spec(default_service(f), a))
            .collect();
        assert_eq!(dropped_defaults(&all), None);
        assert!(is_stateless(&[spec(Service::Upper, "udp://127.0.0.1:0")]));
        assert!(!is_stateless(&[spec(Service::Echo, "tls://127.0.0.1:0")]));
        assert!(!is_stateless(&chat_only));
    }
}
