//! Download coverage on a cluster: which bytes of a share each downloader
//! was sent, kept in PostgreSQL (`share_coverage`) rather than in one
//! node's memory, so a download started on node A and resumed on node B
//! counts once, at the response that completes it, wherever that is.
//!
//! One transaction per response that ends (never per chunk): lock the
//! share's row (`FOR UPDATE`, so two nodes' responses for one share merge
//! one after the other), merge the span with the same rule as one node
//! ([`super::coverage::merge`]), and either count the download and drop
//! the row, or store the merged spans. Bounded as in memory: at most
//! [`MAX_RANGES`] intervals a row (beyond, the download counts), and
//! [`MAX_TRACKED`] rows in all, the least recently touched evicted first
//! (rows another node holds locked are skipped, never waited on); rows of
//! a share go when it ends (trigger) or is deleted (cascade).

use postgres::Client;

use super::coverage::{MAX_RANGES, MAX_TRACKED, merge};
use super::db::to_sql;
use super::db_pg::count_download;

type R<T> = Result<T, postgres::Error>;

/// Records `[start, end)` of share `num` (of `size` bytes) as sent to
/// `who`; true when that completed a download, which is counted in the
/// same transaction (and may consume the share). A share no longer
/// available records nothing.
pub(crate) fn served(
    c: &mut Client,
    num: i64,
    who: &str,
    (start, end): (u64, u64),
    size: u64,
    now: u64,
) -> R<bool> {
    let mut tx = c.transaction()?;
    let live = tx.query_opt(
        "SELECT 1 FROM share_links WHERE num = $1 AND state = 'available' FOR UPDATE",
        &[&num],
    )?;
    if live.is_none() {
        return Ok(false);
    }
    let row = tx.query_opt(
        "SELECT spans FROM share_coverage WHERE num = $1 AND who = $2",
        &[&num, &who],
    )?;
    let fresh = row.is_none();
    let mut spans = match row {
        Some(r) => unflatten(&r.try_get::<_, Vec<i64>>(0)?),
        None => Vec::new(),
    };
    let complete = merge(&mut spans, start, end, size);
    if complete {
        tx.execute(
            "DELETE FROM share_coverage WHERE num = $1 AND who = $2",
            &[&num, &who],
        )?;
        count_download(&mut tx, num, now)?;
    } else {
        if fresh {
            evict(&mut tx)?;
        }
        tx.execute(
            "INSERT INTO share_coverage (num, who, spans, touched)
             VALUES ($1, $2, $3, nextval('share_coverage_ticks'))
             ON CONFLICT (num, who) DO UPDATE
                 SET spans = EXCLUDED.spans, touched = EXCLUDED.touched",
            &[&num, &who, &flatten(&spans)],
        )?;
    }
    tx.commit()?;
    Ok(complete)
}

/// Makes room for one more row: deletes the least recently touched rows
/// beyond [`MAX_TRACKED`] - 1.
fn evict(tx: &mut postgres::Transaction<'_>) -> R<()> {
    let keep = i64::try_from(MAX_TRACKED).unwrap_or(i64::MAX) - 1;
    tx.execute(
        "DELETE FROM share_coverage WHERE ctid IN (
             SELECT ctid FROM share_coverage ORDER BY touched
             LIMIT greatest((SELECT count(*) FROM share_coverage) - $1, 0)
             FOR UPDATE SKIP LOCKED)",
        &[&keep],
    )?;
    Ok(())
}

/// Intervals as one flat array `[s0, e0, s1, e1, ...]` (at most
/// 2 x ([`MAX_RANGES`] + 1) numbers: a row past that counts and goes).
fn flatten(spans: &[(u64, u64)]) -> Vec<i64> {
    spans
        .iter()
        .flat_map(|&(s, e)| [to_sql(s), to_sql(e)])
        .collect()
}

/// The inverse of [`flatten`]; a stored array is never longer than
/// [`MAX_RANGES`] + 1 intervals, and a longer one is cut there.
fn unflatten(flat: &[i64]) -> Vec<(u64, u64)> {
    flat.chunks_exact(2)
        .take(MAX_RANGES + 1)
        .map(|p| (super::db::from_sql(p[0]), super::db::from_sql(p[1])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_trip_through_the_array() {
        let spans = vec![(0, 5), (9, 1 << 40)];
        assert_eq!(unflatten(&flatten(&spans)), spans);
        assert_eq!(
            unflatten(&[1, 2, 3]),
            vec![(1, 2)],
            "an odd tail is dropped"
        );
    }
}
