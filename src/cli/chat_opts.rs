//! Chat flags of `sockit serve`: the word filter and flood control.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sockit::service::accounts::Accounts;
use sockit::service::chat::{ChatConfig, ChatHub, FilterRule, LocalHub};

/// Flags that configure the chat hub.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// A word-filter rule, on every chat door: FROM=TO replaces the whole
    /// word FROM (any case) by TO; FROM=!block refuses messages containing
    /// it; repeatable.
    #[arg(long, value_name = "FROM=TO", value_parser = parse_rule)]
    chat_filter: Vec<FilterRule>,
    /// Messages per second each chat member may send, sustained [default: 5].
    #[arg(long, value_name = "N")]
    chat_rate: Option<f64>,
    /// Messages a chat member may send in one burst [default: 10].
    #[arg(long, value_name = "N")]
    chat_burst: Option<u32>,
    /// Undelivered events a chat member may fall behind before it is cut
    /// off, as NATS does with slow consumers [default: 4096].
    #[arg(long, value_name = "N")]
    chat_queue: Option<usize>,
}

fn parse_rule(s: &str) -> Result<FilterRule, String> {
    FilterRule::parse(s).map_err(|e| e.to_string())
}

impl ChatArgs {
    /// The hub's configuration: defaults overridden by the flags given.
    pub fn config(&self) -> anyhow::Result<ChatConfig> {
        let mut cfg = ChatConfig {
            filter: self.chat_filter.clone(),
            ..ChatConfig::default()
        };
        if let Some(r) = self.chat_rate {
            anyhow::ensure!(
                r.is_finite() && r > 0.0,
                "--chat-rate must be a positive number of messages per second"
            );
            cfg.rate_per_sec = r;
        }
        if let Some(q) = self.chat_queue {
            anyhow::ensure!(q >= 16, "--chat-queue must be at least 16 events");
            cfg.queue_capacity = q;
        }
        if let Some(b) = self.chat_burst {
            anyhow::ensure!(b > 0, "--chat-burst must be at least 1");
            cfg.burst = b;
        }
        Ok(cfg)
    }

    /// Opens the hub (history in DATA/chat.db); guests may not take the
    /// names of `accounts`.
    pub async fn open(&self, data: &Path, accounts: Accounts) -> anyhow::Result<Arc<dyn ChatHub>> {
        let cfg = self.config()?;
        let dir = data.to_owned();
        let hub =
            tokio::task::spawn_blocking(move || LocalHub::open(&dir, cfg, Arc::new(accounts)))
                .await
                .context("opening the chat history")?
                .with_context(|| format!("opening the chat history in {}", data.display()))?;
        Ok(hub)
    }
}
