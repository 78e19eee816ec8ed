//! Share-link flags of `sockit serve`: the limits the server forces on
//! every share, and the address links start with; and the sweeper that
//! ends what ran out and removes ended end-to-end shares' ciphertext
//! while the server runs.

use std::path::Path;

use anyhow::Context;
use sockit::service::files::FileStore;
use sockit::service::shares::{self, SWEEP_PERIOD, Shares, SharesConfig, parse_duration};
use sockit::service::unix_now;
use sockit::store::Backend;

/// Flags that configure share links.
#[derive(Debug, Clone, clap::Args)]
pub struct SharesArgs {
    /// Lifetime of a share that asks for none (90s, 30m, 12h, 3d, 2w)
    /// [default: 1d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    share_expiry: Option<u64>,
    /// Longest lifetime a share may ask for [default: 30d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    share_max_expiry: Option<u64>,
    /// Downloads of a share that asks for no number [default: 1].
    #[arg(long, value_name = "N")]
    share_downloads: Option<u64>,
    /// Most downloads a share may ask for [default: 100].
    #[arg(long, value_name = "N")]
    share_max_downloads: Option<u64>,
    /// Shares one user may create in any hour [default: 60].
    #[arg(long, value_name = "N")]
    share_creates_per_hour: Option<u64>,
    /// Most bytes an upload link may take in, and what one that names no
    /// --max-size gets (K, M, G, T are binary) [default: 1G].
    #[arg(long, value_name = "SIZE", value_parser = super::filestore::parse_size)]
    share_upload_max_size: Option<u64>,
    /// Most files an upload link may take in, and its default [default: 100].
    #[arg(long, value_name = "N")]
    share_upload_max_files: Option<u64>,
    /// Uploads one client address may run at once through upload links
    /// [default: 4].
    #[arg(long, value_name = "N")]
    share_uploads_per_ip: Option<u32>,
    /// Upload requests one client address may make through upload links
    /// per minute [default: 120].
    #[arg(long, value_name = "N")]
    share_upload_rate: Option<u32>,
    /// Uploads running at once through all upload links [default: 64].
    #[arg(long, value_name = "N")]
    share_uploads_total: Option<u32>,
    /// What share links start with, as receivers reach this server
    /// (https://files.example.com) [default: the first --web listener's
    /// address].
    #[arg(long, value_name = "URL")]
    share_url: Option<String>,
    /// Serve no share links (no `share` family, nothing under /s/).
    #[arg(long)]
    no_shares: bool,
}

impl SharesArgs {
    /// Opens `DATA/shares.db`, or the shares tables in the PostgreSQL of
    /// `--store` (unless --no-shares or there is no file store to share
    /// from), and starts the sweeper.
    pub async fn open(
        &self,
        data: &Path,
        backend: &Backend,
        files: Option<&FileStore>,
    ) -> anyhow::Result<Option<Shares>> {
        let Some(files) = files.filter(|_| !self.no_shares) else {
            return Ok(None);
        };
        let d = SharesConfig::default();
        let cfg = SharesConfig {
            default_expiry: self.share_expiry.unwrap_or(d.default_expiry),
            max_expiry: self.share_max_expiry.unwrap_or(d.max_expiry),
            default_downloads: self.share_downloads.unwrap_or(d.default_downloads),
            max_downloads: self.share_max_downloads.unwrap_or(d.max_downloads),
            creates_per_hour: self.share_creates_per_hour.unwrap_or(d.creates_per_hour),
            tombstone: d.tombstone,
            upload_max_bytes: self.share_upload_max_size.unwrap_or(d.upload_max_bytes),
            upload_max_files: self.share_upload_max_files.unwrap_or(d.upload_max_files),
            uploads_per_ip: self.share_uploads_per_ip.unwrap_or(d.uploads_per_ip),
            upload_rate_per_ip: self.share_upload_rate.unwrap_or(d.upload_rate_per_ip),
            uploads_total: self.share_uploads_total.unwrap_or(d.uploads_total),
        };
        let dir = data.to_path_buf();
        let b = backend.clone();
        let s = tokio::task::spawn_blocking(move || Shares::open_store(&dir, &b, cfg))
            .await
            .context("opening the shares store")?
            .with_context(|| match backend {
                Backend::Sqlite => format!("opening {} in {}", shares::SHARES_DB, data.display()),
                Backend::Postgres(_) => "opening the shares in PostgreSQL (--store)".to_owned(),
            })?;
        if let Some(url) = &self.share_url {
            s.set_base_url(url);
        }
        tokio::spawn(sweep_every(s.clone(), files.clone()));
        Ok(Some(s))
    }

    /// True when the operator set the links' address.
    pub fn has_url(&self) -> bool {
        self.share_url.is_some()
    }
}

/// Every [`SWEEP_PERIOD`] for as long as the server runs, starting now:
/// shares past their expiry end, old tombstones go (lookups never do this
/// housekeeping), and ended end-to-end shares' ciphertext
/// is removed, whether or not anyone visits a link (on a cluster every
/// node sweeps; what one removed the others find gone).
async fn sweep_every(shares: Shares, files: FileStore) {
    let mut tick = tokio::time::interval(SWEEP_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (s, f) = (shares.clone(), files.clone());
        match tokio::task::spawn_blocking(move || s.sweep(&f, unix_now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "ended end-to-end shares' ciphertext removed"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "sweeping ended shares failed; retrying later")
            }
            Err(e) => tracing::warn!(error = %e, "the shares sweep stopped"),
        }
    }
}

/// Unless --share-url set it, links start with the first web listener's
/// address (`tcp://` becomes `http://`, `tls://` `https://`).
pub fn link_base(
    args: &SharesArgs,
    shares: Option<&Shares>,
    listeners: &[sockit::server::Listener],
) -> anyhow::Result<()> {
    let Some(shares) = shares else {
        return Ok(());
    };
    if args.has_url() {
        return Ok(());
    }
    for l in listeners.iter().filter(|l| l.service.name() == "web") {
        let ep = l.local_endpoint()?.to_string();
        let url = if let Some(rest) = ep.strip_prefix("tcp://") {
            format!("http://{rest}")
        } else if let Some(rest) = ep.strip_prefix("tls://") {
            format!("https://{rest}")
        } else {
            continue;
        };
        shares.set_base_url(&url);
        return Ok(());
    }
    Ok(())
}
