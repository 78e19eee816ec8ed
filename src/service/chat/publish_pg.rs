//! A writer batch's commit on PostgreSQL as one call of a server-side
//! function, `sockit_chat_publish` (Centrifugo's model): take the outbox
//! lock, look up the idempotency keys, raise each room's top by its number
//! of new messages, insert them with the seqs in between, remember their
//! keys, and `pg_notify` the other nodes (the payload names the
//! committing node, whose own feed need not wake), all inside the one
//! statement's own transaction.
//!
//! Why a function: the commit holds the outbox lock from its first
//! statement to its WAL flush, and every node's commits queue on that lock
//! (docs/SCALING.md). Sent statement by statement (and each one parsed
//! first) a batch took about ten round trips under the lock; as one
//! prepared call it takes one, so the lock is held for little more than
//! the flush. The rules are those of the statement-by-statement version
//! it replaces: seqs are taken from the room's meta row in the same
//! transaction as the insert, so a room's seqs are contiguous and commit
//! in seq order; the outbox lock makes message ids commit in id order;
//! keys are looked up under the lock, so no other node commits the same
//! key meanwhile.

use postgres::{Client, Statement};

use super::history_pg::{NOTIFY_CHANNEL, get_u64, sql_int};

/// The schema step (PostgreSQL migration 8): the function.
///
/// Messages come as parallel arrays in batch order; what comes back is,
/// per message (`o_ord`, 1-based), its seq and whether it was posted now
/// (`true`) or is the resend of a key already given that seq (`false`).
/// A room new to the database gets a random 16-hex-digit epoch, as
/// `history::new_epoch` makes.
pub(super) const MIGRATION: &str = "
CREATE OR REPLACE FUNCTION sockit_chat_publish(
    p_rooms TEXT[], p_names TEXT[], p_guests BOOLEAN[], p_texts TEXT[], p_keys TEXT[],
    p_ts BIGINT, p_expires BIGINT, p_node TEXT, p_channel TEXT)
RETURNS TABLE (o_ord BIGINT, o_seq BIGINT, o_fresh BOOLEAN)
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM 1 FROM chat_outbox_lock WHERE id = 1 FOR UPDATE;
    RETURN QUERY
    WITH m AS (
        SELECT u.ord, u.room, u.name, u.guest, u.text, u.key, k.seq AS stored
        FROM unnest(p_rooms, p_names, p_guests, p_texts, p_keys)
             WITH ORDINALITY AS u(room, name, guest, text, key, ord)
        LEFT JOIN chat_keys k
            ON u.key IS NOT NULL AND k.room = u.room AND k.name = u.name
               AND k.key = u.key AND k.expires > p_ts
    ),
    f AS (
        SELECT m.*,
               row_number() OVER (PARTITION BY m.room ORDER BY m.ord) AS rn,
               count(*) OVER (PARTITION BY m.room) AS n
        FROM m WHERE m.stored IS NULL
    ),
    tops AS (
        INSERT INTO chat_rooms AS r (name, top, epoch)
        SELECT f.room, max(f.n),
               substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)
        FROM f GROUP BY f.room ORDER BY f.room
        ON CONFLICT (name) DO UPDATE SET top = r.top + excluded.top
        RETURNING r.name, r.top
    ),
    s AS (
        SELECT f.ord, f.room, f.name, f.guest, f.text, f.key, t.top - f.n + f.rn AS seq
        FROM f JOIN tops t ON t.name = f.room
    ),
    ins AS (
        INSERT INTO chat_messages (room, seq, ts, name, guest, text, node)
        SELECT s.room, s.seq, p_ts, s.name, s.guest, s.text, p_node FROM s ORDER BY s.ord
    ),
    keyed AS (
        INSERT INTO chat_keys (room, name, key, seq, expires)
        SELECT s.room, s.name, s.key, s.seq, p_expires FROM s WHERE s.key IS NOT NULL
        ON CONFLICT (room, name, key)
        DO UPDATE SET seq = excluded.seq, expires = excluded.expires
    )
    SELECT s.ord, s.seq, true FROM s
    UNION ALL
    SELECT m.ord, m.stored, false FROM m WHERE m.stored IS NOT NULL;
    PERFORM pg_notify(p_channel, p_node);
END
$fn$;";

/// The call, prepared once per connection (`PgConn::with_prepared`).
pub(super) const PUBLISH: &str = "SELECT o_ord, o_seq, o_fresh
     FROM sockit_chat_publish($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// One message to commit: where, who said what.
pub(super) struct NewMessage<'a> {
    pub room: &'a str,
    pub name: &'a str,
    pub guest: bool,
    pub text: &'a str,
    /// The sender's idempotency key (see `keys`).
    pub key: Option<&'a str>,
}

/// What became of one message of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Posted with this seq.
    Fresh(u64),
    /// A resend: its key was already given this seq.
    Stored(u64),
}

/// Commits `msgs` (of any rooms, each room's in the order given) in one
/// call of [`PUBLISH`], prepared as `st`; keys are kept until `expires`
/// (unix millis). What became of each message, in the order given.
pub(super) fn publish(
    c: &mut Client,
    st: &Statement,
    msgs: &[NewMessage<'_>],
    (ts, expires): (u64, u64),
    node: &str,
) -> Result<Vec<Option<Outcome>>, postgres::Error> {
    let rooms: Vec<&str> = msgs.iter().map(|m| m.room).collect();
    let names: Vec<&str> = msgs.iter().map(|m| m.name).collect();
    let guests: Vec<bool> = msgs.iter().map(|m| m.guest).collect();
    let texts: Vec<&str> = msgs.iter().map(|m| m.text).collect();
    let keys: Vec<Option<&str>> = msgs.iter().map(|m| m.key).collect();
    let rows = c.query(
        st,
        &[
            &rooms,
            &names,
            &guests,
            &texts,
            &keys,
            &sql_int(ts),
            &sql_int(expires),
            &node,
            &NOTIFY_CHANNEL,
        ],
    )?;
    let mut out = vec![None; msgs.len()];
    for r in rows {
        let ord: i64 = r.get(0);
        let seq = get_u64(r.get(1));
        let fresh: bool = r.get(2);
        let slot = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i));
        if let Some(slot) = slot {
            *slot = Some(if fresh {
                Outcome::Fresh(seq)
            } else {
                Outcome::Stored(seq)
            });
        }
    }
    Ok(out)
}
