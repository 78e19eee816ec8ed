//! The server's settings and services, from the resolved arguments.

use std::sync::Arc;

use anyhow::Context;
use sockit::net::Gate;
use sockit::server::{ChatDoorOpts, FramedDoorOpts, ServerOpts, WebDoorOpts};

use super::{ServeArgs, data_lock};

impl ServeArgs {
    /// The server-wide limits and timings these arguments ask for, with the
    /// access rules in `gate` (which a reload swaps). Fails on a value out
    /// of range, naming its flag.
    pub(super) fn server_opts(&self, gate: Arc<Gate>) -> anyhow::Result<ServerOpts> {
        Ok(ServerOpts {
            idle_timeout: crate::cli::seconds("--idle-timeout", self.idle_timeout, true)?,
            max_line: self.max_line,
            max_conns: self.max_conns,
            grace: crate::cli::seconds("--grace", self.grace, false)?,
            shards: self.threads.unwrap_or_else(crate::cli::cpus).max(1),
            busy_poll: std::time::Duration::from_micros(self.busy_poll),
            gate,
            tls: None,
            handshake_timeout: self.tls.handshake_timeout()?,
            memory: self.memory.budget()?,
            write_timeout: self.memory.write_timeout()?,
            framed: FramedDoorOpts {
                limits: sockit::wire::Limits {
                    max_body: self.max_body,
                    max_header: self.limits.max_header()?,
                },
                frame_timeout: self.memory.frame_timeout()?,
                guest_max_body: self.memory.guest_max_body(),
            },
            chat: ChatDoorOpts {
                idle: crate::cli::seconds("--chat-idle", self.chat_idle, true)?,
                lease: crate::cli::seconds("--chat-lease", self.chat_lease, true)?,
            },
            web: WebDoorOpts {
                ping: crate::cli::seconds("--web-ping", self.web_ping, false)?,
                hosts: self.web_guard.hosts(),
                session_idle: self.web_guard.session_idle()?,
            },
        })
    }
}

/// Opens the data directory's stores, and counts the accounts (so the
/// banner can say how to create the first one).
pub(super) async fn open_services(
    a: &ServeArgs,
) -> anyhow::Result<(
    sockit::service::Services,
    Option<usize>,
    Option<data_lock::DataLock>,
)> {
    if let Some(warning) = sockit::fsutil::loose_dir_warning(&a.data) {
        tracing::warn!("{warning}");
    }
    sockit::fsutil::create_private_dir_all(&a.data).with_context(|| {
        format!(
            "creating data directory {}; choose another with --data DIR",
            a.data.display()
        )
    })?;
    let lock = data_lock::take(&a.data)?;
    let accounts = a.accounts.open(&a.data, a.store.backend()).await?;
    let users = {
        let accounts = accounts.clone();
        tokio::task::spawn_blocking(move || accounts.list_users())
            .await
            .context("counting accounts")??
            .len()
    };
    let chat = a
        .chat
        .open(
            &a.data,
            (a.store.backend(), a.store.sync_commit()?),
            accounts.clone(),
        )
        .await?;
    let files = a
        .files
        .open(&a.data, &a.store.backend(), a.max_body)
        .await?;
    let shares = a
        .shares
        .open(&a.data, &a.store.backend(), files.as_ref())
        .await?;
    if let Some(s) = &shares {
        // A locked owner's links stop on every node at once: each lookup
        // asks the (shared) account store, as a login would.
        let acc = accounts.clone();
        s.set_owner_locked(std::sync::Arc::new(move |id: i64| {
            acc.owner_locked(id).map_err(|e| e.to_string())
        }));
    }
    let services = sockit::service::Services {
        accounts: Some(accounts),
        chat: Some(chat),
        files,
        shares,
    };
    Ok((services, Some(users), Some(lock)))
}
