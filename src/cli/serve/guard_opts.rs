//! Memory and deadline flags of `sockit serve`: the budget for large
//! frames, the guest body limit, frame and write deadlines; and the host
//! names the web door answers to.

use std::sync::Arc;

use sockit::door::framed::{DEFAULT_FRAME_TIMEOUT, DEFAULT_GUEST_MAX_BODY, DEFAULT_WRITE_TIMEOUT};
use sockit::net::MemBudget;
use sockit::net::budget::{DEFAULT_MEM_BUDGET, DEFAULT_MEM_PER_IP};

/// Flags that bound what peers can make the server hold.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Memory and deadlines")]
pub struct MemoryArgs {
    /// Most bytes of large frame bodies (16 KiB and up) and their replies
    /// the server holds at once, over all peers. A frame that would go over
    /// is refused with a `server_busy` error frame and the connection
    /// closed; retrying a little later works.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MEM_BUDGET)]
    mem_budget: usize,
    /// The share of --mem-budget one IPv4 address or IPv6 /64 may hold.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MEM_PER_IP)]
    mem_per_ip: usize,
    /// Largest frame body accepted before a login, in bytes (--max-body
    /// applies after it: only file writes need large bodies, and they need
    /// a login). A larger one gets `body_too_large` and the connection closes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_GUEST_MAX_BODY)]
    max_body_guest: usize,
    /// Seconds a frame may take to arrive whole, from its first byte, plus
    /// one second per 16 KiB of its body; then the peer gets a
    /// `frame_timeout` error frame and is closed (a peer one byte short of
    /// a frame does not hold its buffer until --idle-timeout).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_FRAME_TIMEOUT.as_secs_f64())]
    frame_timeout: f64,
    /// Seconds a reply the socket did not take at once may take to be
    /// written whole (echo, upper and framed doors); a peer that does not
    /// read its replies is cut off and what was buffered for it freed.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WRITE_TIMEOUT.as_secs_f64())]
    write_timeout: f64,
}

impl MemoryArgs {
    /// The budget these flags describe.
    pub fn budget(&self) -> anyhow::Result<Arc<MemBudget>> {
        if self.mem_per_ip > self.mem_budget {
            anyhow::bail!(
                "--mem-per-ip ({}) is larger than --mem-budget ({}); lower it or raise the budget",
                self.mem_per_ip,
                self.mem_budget
            );
        }
        Ok(MemBudget::new(self.mem_budget, self.mem_per_ip))
    }

    /// `--max-body-guest`.
    pub fn guest_max_body(&self) -> usize {
        self.max_body_guest
    }

    /// `--frame-timeout`.
    pub fn frame_timeout(&self) -> anyhow::Result<std::time::Duration> {
        crate::cli::seconds("--frame-timeout", self.frame_timeout, true)
    }

    /// `--write-timeout`.
    pub fn write_timeout(&self) -> anyhow::Result<std::time::Duration> {
        crate::cli::seconds("--write-timeout", self.write_timeout, true)
    }
}

/// Flags of the web door's hardening.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Web")]
pub struct WebGuardArgs {
    /// A host name the web page is served under (as browsers send it in
    /// `Host`); repeatable. Besides these, only the listener's own IP
    /// address and, on loopback, `localhost` are answered; any other name
    /// gets 421 (a guard against DNS rebinding). Example: --web-host
    /// chat.example.org
    #[arg(long, value_name = "NAME")]
    web_host: Vec<String>,
    /// Seconds a web session may go unused (no page load, API call or open
    /// WebSocket) before its cookie is refused and the page asks for a
    /// login again.
    #[arg(long, value_name = "SECS", default_value_t = sockit::door::web::DEFAULT_SESSION_IDLE.as_secs_f64())]
    web_session_idle: f64,
}

impl WebGuardArgs {
    /// `--web-host`.
    pub fn hosts(&self) -> Vec<String> {
        self.web_host.clone()
    }

    /// `--web-session-idle`.
    pub fn session_idle(&self) -> anyhow::Result<std::time::Duration> {
        crate::cli::seconds("--web-session-idle", self.web_session_idle, true)
    }
}
