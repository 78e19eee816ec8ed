//! Account-store flags shared by `serve` and `user`: session lifetime,
//! brute-force limits and the argon2id cost.

use std::path::Path;

use anyhow::Context;
use sockit::service::accounts::{Accounts, AccountsConfig, HashParams};
use sockit::store::Backend;

/// Flags that configure the account store.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountsArgs {
    /// How long a login session lasts, in seconds [default: 7 days].
    #[arg(long, value_name = "SECS")]
    session_ttl: Option<f64>,
    /// Failed logins per account name within 15 minutes before a temporary
    /// lockout [default: 5]; each repeat doubles the lockout, up to an hour.
    #[arg(long, value_name = "N")]
    login_max_failures: Option<u32>,
    /// The first temporary lockout, in seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    login_lockout: Option<f64>,
    /// argon2id cost as m=KIB,t=PASSES,p=LANES [default: m=19456,t=2,p=1,
    /// OWASP's recommendation]. Stored hashes with other parameters are
    /// rehashed at their owner's next login.
    #[arg(long, value_name = "PARAMS", value_parser = parse_hash_params)]
    argon2: Option<HashParams>,
}

impl AccountsArgs {
    /// The store's configuration: defaults, overridden by the flags given.
    pub fn config(&self) -> anyhow::Result<AccountsConfig> {
        let mut cfg = AccountsConfig::default();
        if let Some(s) = self.session_ttl {
            cfg.session_ttl = super::seconds("--session-ttl", s, true)?;
        }
        if let Some(n) = self.login_max_failures {
            anyhow::ensure!(n > 0, "--login-max-failures must be at least 1");
            cfg.account_max_failures = n;
        }
        if let Some(s) = self.login_lockout {
            cfg.lockout = super::seconds("--login-lockout", s, true)?;
        }
        if let Some(p) = self.argon2 {
            cfg.hash = p;
        }
        Ok(cfg)
    }

    /// Opens (creating or upgrading) the account store: in `data`, or the
    /// cluster's PostgreSQL when `backend` names one.
    pub async fn open(&self, data: &Path, backend: Backend) -> anyhow::Result<Accounts> {
        let cfg = self.config()?;
        let dir = data.to_owned();
        let shared = backend.is_shared();
        let opened = tokio::task::spawn_blocking(move || Accounts::open_store(&dir, &backend, cfg))
            .await
            .context("opening the account store")?;
        if shared {
            opened.context("opening the account store in PostgreSQL (--store)")
        } else {
            opened.with_context(|| format!("opening the account store in {}", data.display()))
        }
    }
}

/// Parses `m=19456,t=2,p=1` (any order, all three required).
pub fn parse_hash_params(s: &str) -> Result<HashParams, String> {
    let (mut m, mut t, mut p) = (None, None, None);
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE in {part:?}; e.g. m=19456,t=2,p=1"))?;
        let v: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("{k}={v:?} is not a whole number"))?;
        match k.trim() {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            other => {
                return Err(format!(
                    "unknown argon2 parameter {other:?}; use m, t and p"
                ));
            }
        }
    }
    match (m, t, p) {
        (Some(m_kib), Some(t), Some(p)) => Ok(HashParams { m_kib, t, p }),
        _ => Err("give all three: m=KIB,t=PASSES,p=LANES, e.g. m=19456,t=2,p=1".to_owned()),
    }
}
