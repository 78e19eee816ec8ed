//! Chat flags of `sockit serve`: the word filter and flood control.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sockit::service::accounts::Accounts;
use sockit::service::chat::{ChatConfig, ChatHub, FilterRule, LocalHub};
use sockit::store::Backend;

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
    /// Messages per second shared by all guests from one address (IPv4
    /// address or IPv6 /64), on top of each member's limit; never below
    /// --chat-rate [default: 20].
    #[arg(long, value_name = "N")]
    chat_guest_ip_rate: Option<f64>,
    /// Burst of the per-address guest budget; never below --chat-burst
    /// [default: 60].
    #[arg(long, value_name = "N")]
    chat_guest_ip_burst: Option<u32>,
    /// Most rooms the server holds (with history or members); a join
    /// creating one more gets `rooms_full`; 0: no limit [default: 10000].
    #[arg(long, value_name = "N")]
    chat_rooms_max: Option<usize>,
    /// New rooms one address may create per hour (and at once); past it a
    /// join creating a room gets `room_quota`; 0: no limit [default: 30].
    #[arg(long, value_name = "N")]
    chat_room_creates: Option<u32>,
    /// Seconds a room with no members stays in memory before it is
    /// evicted (its history stays on disk) [default: 300].
    #[arg(long, value_name = "SECS")]
    chat_room_idle: Option<f64>,
    /// Days of chat history kept; older messages are deleted; 0 keeps
    /// them forever [default: 30].
    #[arg(long, value_name = "DAYS")]
    chat_history_days: Option<f64>,
    /// Most messages kept per room (the oldest go first); 0: no limit
    /// [default: 10000].
    #[arg(long, value_name = "N")]
    chat_history_room_max: Option<u64>,
    /// Most disk the chat history may use, e.g. 256M or 2G (the oldest
    /// messages go first); 0: no limit [default: 256M].
    #[arg(long, value_name = "SIZE", value_parser = super::filestore::parse_size)]
    chat_history_max: Option<u64>,
    /// Seconds between two retention passes (history limits and idle
    /// rooms), run in the background [default: 60].
    #[arg(long, value_name = "SECS")]
    chat_prune_every: Option<f64>,
    /// Seconds after sending during which an account may edit or delete
    /// its message; 0 turns editing off [default: 600, Zulip's].
    #[arg(long, value_name = "SECS")]
    chat_edit_window: Option<f64>,
    /// Seconds a chat member must stay in a room before its join is
    /// announced (a leave is told only if the join was); the joins and
    /// leaves of one such window are shown as one quiet line; 0 announces
    /// each at once [default: 5].
    #[arg(long, value_name = "SECS")]
    chat_presence_grace: Option<f64>,
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
        self.retention(&mut cfg)?;
        Ok(cfg)
    }

    /// The per-address budgets, room limits and history retention.
    fn retention(&self, cfg: &mut ChatConfig) -> anyhow::Result<()> {
        if let Some(r) = self.chat_guest_ip_rate {
            anyhow::ensure!(
                r.is_finite() && r > 0.0,
                "--chat-guest-ip-rate must be a positive number of messages per second"
            );
            cfg.guest_ip_rate = r;
        }
        if let Some(b) = self.chat_guest_ip_burst {
            anyhow::ensure!(b > 0, "--chat-guest-ip-burst must be at least 1");
            cfg.guest_ip_burst = b;
        }
        if let Some(n) = self.chat_rooms_max {
            cfg.rooms_max = n;
        }
        if let Some(n) = self.chat_room_creates {
            cfg.room_creates_per_hour = n;
        }
        if let Some(s) = self.chat_room_idle {
            cfg.room_idle = crate::cli::seconds("--chat-room-idle", s, false)?;
        }
        if let Some(days) = self.chat_history_days {
            anyhow::ensure!(
                days.is_finite() && (0.0..=36_500.0).contains(&days),
                "--chat-history-days {days}: give a number of days from 0 (keep forever) to 36500"
            );
            cfg.history_max_age =
                (days > 0.0).then(|| std::time::Duration::from_secs_f64(days * 86_400.0));
        }
        if let Some(n) = self.chat_history_room_max {
            cfg.history_room_max = n;
        }
        if let Some(n) = self.chat_history_max {
            cfg.history_max_bytes = n;
        }
        if let Some(s) = self.chat_prune_every {
            cfg.prune_every = crate::cli::seconds("--chat-prune-every", s, true)?;
        }
        if let Some(s) = self.chat_edit_window {
            cfg.edit_window = crate::cli::seconds("--chat-edit-window", s, false)?;
        }
        if let Some(s) = self.chat_presence_grace {
            cfg.presence_grace = crate::cli::seconds("--chat-presence-grace", s, false)?;
        }
        Ok(())
    }

    /// Opens the hub (history in DATA/chat.db, or in the PostgreSQL of
    /// `--store`); guests may not take the names of `accounts`.
    pub async fn open(
        &self,
        data: &Path,
        (store, sync_commit): (Backend, bool),
        accounts: Accounts,
    ) -> anyhow::Result<Arc<dyn ChatHub>> {
        let cfg = ChatConfig {
            sync_commit,
            ..self.config()?
        };
        let dir = data.to_owned();
        let shared = store.is_shared();
        let hub = tokio::task::spawn_blocking(move || {
            LocalHub::open_store(&dir, store, cfg, Arc::new(accounts))
        })
        .await
        .context("opening the chat history")?;
        let hub = if shared {
            hub.context("opening the chat history in PostgreSQL (--store)")?
        } else {
            hub.with_context(|| format!("opening the chat history in {}", data.display()))?
        };
        sockit::ops::watch_chat(Arc::downgrade(&hub) as std::sync::Weak<_>);
        Ok(hub)
    }
}
