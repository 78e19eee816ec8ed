//! The gate anonymous uploaders pass through upload links: per client
//! address a rate of requests per minute and a number of uploads running
//! at once, and a total of uploads running through all links. What it
//! tracks is bounded ([`MAX_TRACKED_UPLOADERS`] addresses); when full, a
//! new address waits until an idle one can be forgotten.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{ShareError, ShareResult, Shares, lock};

/// Client addresses tracked at once: about 40 bytes each, under a MB.
pub const MAX_TRACKED_UPLOADERS: usize = 16_384;

/// Length of the rate window, in seconds.
const WINDOW: u64 = 60;

/// One address's standing.
#[derive(Debug, Clone, Copy, Default)]
struct Standing {
    /// Uploads it runs now.
    running: u32,
    /// Start of its current minute, Unix seconds.
    window: u64,
    /// Requests in that minute.
    requests: u32,
}

/// Every tracked address, and the uploads running in total.
#[derive(Debug, Default)]
pub(super) struct Gate {
    by_ip: HashMap<IpAddr, Standing>,
    running: u32,
}

/// A running upload's place, held until it is dropped.
#[derive(Debug)]
pub struct UploaderPass {
    shares: Shares,
    ip: Option<IpAddr>,
}

impl Drop for UploaderPass {
    fn drop(&mut self) {
        let mut g = lock(&self.shares.inner.gate);
        g.running = g.running.saturating_sub(1);
        if let Some(s) = self.ip.and_then(|ip| g.by_ip.get_mut(&ip)) {
            s.running = s.running.saturating_sub(1);
        }
    }
}

impl Shares {
    /// Counts one request from `ip` through an upload link (`None`: an
    /// address no limit applies to, a Unix-socket peer); with `run`, also
    /// takes a running upload's place, returned as a pass to hold while
    /// it runs. Refused (`Limit`, 429) past the rate, the per-address or
    /// the total running cap.
    pub fn admit_uploader(
        &self,
        ip: Option<IpAddr>,
        run: bool,
        now: u64,
    ) -> ShareResult<Option<UploaderPass>> {
        let cfg = &self.inner.config;
        let mut g = lock(&self.inner.gate);
        if run && g.running >= cfg.uploads_total {
            return Err(ShareError::Limit(format!(
                "{} uploads are running on this server, its limit; try again in a minute",
                g.running
            )));
        }
        if let Some(ip) = ip {
            if !g.by_ip.contains_key(&ip) && g.by_ip.len() >= MAX_TRACKED_UPLOADERS {
                g.by_ip
                    .retain(|_, s| s.running > 0 || s.window.saturating_add(WINDOW) > now);
                if g.by_ip.len() >= MAX_TRACKED_UPLOADERS {
                    return Err(ShareError::Limit(
                        "too many uploaders right now; try again in a minute".into(),
                    ));
                }
            }
            let s = g.by_ip.entry(ip).or_default();
            if s.window.saturating_add(WINDOW) <= now {
                s.window = now;
                s.requests = 0;
            }
            if s.requests >= cfg.upload_rate_per_ip {
                return Err(ShareError::Limit(format!(
                    "more than {} upload requests from your address this minute; try again in a minute",
                    cfg.upload_rate_per_ip
                )));
            }
            if run && s.running >= cfg.uploads_per_ip {
                return Err(ShareError::Limit(format!(
                    "{} uploads from your address are running, this server's limit; wait for one to end",
                    s.running
                )));
            }
            s.requests += 1;
            if run {
                s.running += 1;
            }
        }
        if !run {
            return Ok(None);
        }
        g.running += 1;
        Ok(Some(UploaderPass {
            shares: self.clone(),
            ip,
        }))
    }
}
