//! The two logs every node of a cluster reads as outboxes (`seq > last
//! seen`), and the purge queue: revocations (lock, delete, password
//! change, logout) and login-throttle events. See `db_pg` for the schema.
//!
//! A `BIGSERIAL` alone would let a row with a smaller seq commit after a
//! larger one (and be skipped by a reader that had moved past it), so
//! every insert into a log first takes that log's transaction-scoped
//! advisory lock: seq order is commit order.

use postgres::{Client, GenericClient, Transaction};

use super::db::to_sql;
use super::db_pg::NOTIFY_CHANNEL;

/// Advisory lock keys of the two logs ("sockrv", "sockth" in ASCII).
const REVOCATION_LOCK: i64 = 0x736f_636b_7276;
const THROTTLE_LOCK: i64 = 0x736f_636b_7468;

/// How long log rows are kept: far longer than any node's poll interval
/// or the throttle's window, short enough that the logs stay small.
const LOG_KEEP_SECS: u64 = 3600;

/// A revocation that ends the account's sessions (lock, delete, password).
pub const KIND_REVOKE: &str = "revoke";
/// One session ended by logout: its connections re-check their token; a
/// connection without a token (line door) is not ended by it.
pub const KIND_LOGOUT: &str = "logout";

/// One login outcome on some node, for every other node's throttle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleEvent {
    /// Position in the log.
    pub seq: i64,
    /// The name's key.
    pub name_key: String,
    /// The client's address, if it had one.
    pub ip: Option<std::net::IpAddr>,
    /// The name is held by an account.
    pub known: bool,
    /// A success (else a failure).
    pub ok: bool,
}

/// Appends to the revocation log (in seq = commit order), wakes the other
/// nodes, and prunes old entries.
pub fn log_revocation(
    tx: &mut Transaction<'_>,
    user_id: i64,
    now: u64,
    kind: &str,
) -> Result<(), postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REVOCATION_LOCK])?;
    tx.execute(
        "INSERT INTO acct_revocations (user_id, at, kind) VALUES ($1, $2, $3)",
        &[&user_id, &to_sql(now), &kind],
    )?;
    tx.execute(
        "DELETE FROM acct_revocations WHERE at < $1",
        &[&to_sql(now.saturating_sub(LOG_KEEP_SECS))],
    )?;
    tx.execute("SELECT pg_notify($1, '')", &[&NOTIFY_CHANNEL])?;
    Ok(())
}

/// The newest revocation's sequence number (0 when none).
pub fn last_revocation(c: &mut Client) -> Result<i64, postgres::Error> {
    Ok(
        c.query_one("SELECT coalesce(max(seq), 0) FROM acct_revocations", &[])?
            .get(0),
    )
}

/// Revocations after `seq`, oldest first, as (seq, user id).
pub fn revocations_since(c: &mut Client, seq: i64) -> Result<Vec<(i64, i64)>, postgres::Error> {
    let rows = c.query(
        "SELECT seq, user_id FROM acct_revocations WHERE seq > $1 ORDER BY seq",
        &[&seq],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Whether the account is gone, locked, or was revoked (not merely logged
/// out of one session) at or after `since`.
pub fn revoked_since(c: &mut Client, user_id: i64, since: u64) -> Result<bool, postgres::Error> {
    Ok(c.query_one(
        "SELECT NOT EXISTS (SELECT 1 FROM acct_users WHERE id = $1 AND NOT locked)
             OR EXISTS (SELECT 1 FROM acct_revocations
                        WHERE user_id = $1 AND at >= $2 AND kind = $3)",
        &[&user_id, &to_sql(since), &KIND_REVOKE],
    )?
    .get(0))
}

/// Deleted accounts whose files are still to be removed.
pub fn pending_purges(c: &mut Client) -> Result<Vec<i64>, postgres::Error> {
    let rows = c.query("SELECT user_id FROM acct_purges ORDER BY user_id", &[])?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The files of deleted account `id` are gone.
pub fn purge_done(c: &mut Client, id: i64) -> Result<(), postgres::Error> {
    c.execute("DELETE FROM acct_purges WHERE user_id = $1", &[&id])
        .map(drop)
}

/// Appends a login outcome to the shared throttle log (in seq = commit
/// order), pruning old rows.
pub fn log_throttle(
    c: &mut Client,
    node: &str,
    name_key: &str,
    ip: Option<std::net::IpAddr>,
    known: bool,
    ok: bool,
    now: u64,
) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&THROTTLE_LOCK])?;
    let ip = ip.map(|ip| ip.to_string());
    tx.execute(
        "INSERT INTO acct_throttle (node, name_key, ip, known, ok, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&node, &name_key, &ip, &known, &ok, &to_sql(now)],
    )?;
    tx.execute(
        "DELETE FROM acct_throttle WHERE at < $1",
        &[&to_sql(now.saturating_sub(LOG_KEEP_SECS))],
    )?;
    tx.commit()
}

/// The newest throttle event's sequence number (0 when none).
pub fn last_throttle(c: &mut Client) -> Result<i64, postgres::Error> {
    Ok(
        c.query_one("SELECT coalesce(max(seq), 0) FROM acct_throttle", &[])?
            .get(0),
    )
}

/// Throttle events after `seq` logged by nodes other than `node`, oldest
/// first, at most `limit`.
pub fn throttle_since(
    c: &mut impl GenericClient,
    seq: i64,
    node: &str,
    limit: i64,
) -> Result<(i64, Vec<ThrottleEvent>), postgres::Error> {
    let rows = c.query(
        "SELECT seq, node, name_key, ip, known, ok FROM acct_throttle
         WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&seq, &limit],
    )?;
    let mut last = seq;
    let mut out = Vec::new();
    for r in &rows {
        last = r.get(0);
        if r.get::<_, &str>(1) == node {
            continue;
        }
        out.push(ThrottleEvent {
            seq: last,
            name_key: r.get(2),
            ip: r.get::<_, Option<&str>>(3).and_then(|s| s.parse().ok()),
            known: r.get(4),
            ok: r.get(5),
        });
    }
    Ok((last, out))
}
