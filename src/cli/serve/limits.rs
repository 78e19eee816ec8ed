//! Limit and access flags of `sockit serve`: the per-IP cap, the
//! first-frame timeout, allow/deny lists, header and datagram sizes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sockit::net::limits::{DEFAULT_FIRST_FRAME_TIMEOUT, DEFAULT_MAX_CONNS_PER_IP};
use sockit::net::serve::MAX_DATAGRAM;
use sockit::net::{Acl, Cidr, GateRules};
use sockit::wire::DEFAULT_MAX_HEADER;

/// Smallest `--max-header`: room for a login or a file request with a long
/// path; anything smaller breaks ordinary requests, not attacks.
const MIN_HEADER: usize = 1024;

/// Largest `--max-header`: one frame header is parsed as one JSON value in
/// memory; 16 MiB already lets 1,000 peers pin 16 GiB.
const MAX_HEADER: usize = 16 * 1024 * 1024;

/// Flags that limit and filter peers.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits and access")]
pub struct LimitArgs {
    /// Most stream connections open at once from one IPv4 address or IPv6
    /// /64, across all listeners; 0 = no cap. A peer over it is closed at
    /// once (the framed door sends a `too_many_connections` error first,
    /// upper and chat-lines one line). Datagram chat members per address
    /// are capped at the lower of this and 64.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNS_PER_IP)]
    max_conns_per_ip: usize,
    /// Seconds a framed connection has, from connecting, to send one whole
    /// frame; then it is closed (against slowloris). On the web door it is
    /// the time each request head may take and the longest a keep-alive
    /// connection may sit quiet. The line doors (echo, upper, chat-lines)
    /// have no such deadline, since people type slowly: --idle-timeout and
    /// --chat-idle apply there.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_FIRST_FRAME_TIMEOUT.as_secs_f64())]
    first_frame_timeout: f64,
    /// Admit only peers in this network (CIDR, or a bare address for one
    /// host); repeatable. Once any allow rule exists, everyone else is
    /// refused. IPv4-mapped IPv6 peers match IPv4 rules; Unix-socket peers
    /// are always admitted.
    #[arg(long, value_name = "CIDR")]
    allow: Vec<Cidr>,
    /// Refuse peers in this network (CIDR or address); repeatable; wins
    /// over --allow. Refused stream peers are closed before any byte is
    /// read; refused datagrams are dropped unanswered.
    #[arg(long, value_name = "CIDR")]
    deny: Vec<Cidr>,
    /// Read more allow rules from FILE: one CIDR per line, `#` comments,
    /// blank lines skipped. Re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    allowfile: Option<PathBuf>,
    /// Read more deny rules from FILE (same format). Re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    denyfile: Option<PathBuf>,
    /// A reverse proxy in this network (CIDR or address) is trusted to say
    /// who its client is; repeatable. The web door then takes the client's
    /// address from `X-Forwarded-For` (the rightmost hop that is not a
    /// trusted proxy) when the request comes from such a proxy, and login
    /// throttling counts that address. A Unix-socket peer counts as
    /// 127.0.0.1 here; without a trust for it, Unix-socket web clients
    /// share no per-address login count (each name still has its own).
    /// TCP connections from such a proxy to the stream doors must start
    /// with a PROXY protocol header (HAProxy send-proxy v1 or
    /// send-proxy-v2) within --first-frame-timeout, or are closed; the
    /// client it names is then capped, checked by --allow/--deny and
    /// throttled (the web door takes a header when one comes, else
    /// X-Forwarded-For). Peers outside these networks are never read for
    /// a header.
    /// Example: --trusted-proxy 127.0.0.1 behind nginx on this machine;
    /// --trusted-proxy 10.0.0.5 behind HAProxy with send-proxy-v2.
    #[arg(long, value_name = "CIDR")]
    trusted_proxy: Vec<Cidr>,
    /// Largest frame header accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_HEADER)]
    max_header: usize,
    /// Largest datagram that echo, upper and chat-udp serve, in bytes (at
    /// most 65507, the IPv4 UDP limit); larger ones are dropped unanswered
    /// and counted.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_DATAGRAM)]
    max_datagram: usize,
}

impl LimitArgs {
    /// The rules a reload may swap: access lists (reading the rule files;
    /// blocking), per-IP cap, first-frame timeout.
    pub fn rules(&self) -> anyhow::Result<GateRules> {
        let mut allow = self.allow.clone();
        let mut deny = self.deny.clone();
        if let Some(f) = &self.allowfile {
            allow.extend(rule_file("--allowfile", f)?);
        }
        if let Some(f) = &self.denyfile {
            deny.extend(rule_file("--denyfile", f)?);
        }
        Ok(GateRules {
            acl: Acl::new(allow, deny),
            max_conns_per_ip: self.max_conns_per_ip,
            trusted_proxies: self.trusted_proxy.clone(),
            first_frame_timeout: crate::cli::seconds(
                "--first-frame-timeout",
                self.first_frame_timeout,
                true,
            )?,
        })
    }

    /// `--max-header`, checked.
    pub fn max_header(&self) -> anyhow::Result<usize> {
        let n = self.max_header;
        if !(MIN_HEADER..=MAX_HEADER).contains(&n) {
            anyhow::bail!("--max-header {n}: give {MIN_HEADER} to {MAX_HEADER} bytes");
        }
        Ok(n)
    }

    /// `--max-datagram`, checked.
    pub fn max_datagram(&self) -> anyhow::Result<usize> {
        let n = self.max_datagram;
        if !(1..=MAX_DATAGRAM).contains(&n) {
            anyhow::bail!("--max-datagram {n}: give 1 to {MAX_DATAGRAM} bytes");
        }
        Ok(n)
    }
}

fn rule_file(flag: &str, path: &Path) -> anyhow::Result<Vec<Cidr>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {flag} {}", path.display()))?;
    sockit::net::acl::parse_rules(&text).with_context(|| format!("{flag} {}", path.display()))
}
