//! Who of each room is on the other nodes of a cluster, for the heralds
//! (see `herald::remote`): the same presence rows `who` reads, for many
//! rooms in one query, bounded per room.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use postgres::Client;

use super::event::MemberInfo;
use super::history_pg::door_kind;

/// One room's members on the other nodes.
#[derive(Debug, Default)]
pub(super) struct RemoteView {
    /// One entry per person (name and guest flag), at most the cap asked.
    pub members: Vec<MemberInfo>,
    /// Their sessions, all counted (for the large-room rule).
    pub sessions: usize,
}

/// The members of `rooms` on nodes other than `node` heard from within
/// `ttl`: per room, at most `cap` people (by name) and the count of
/// every session.
pub(super) fn remote_views(
    c: &mut Client,
    node: &str,
    rooms: &[&str],
    (ttl, cap): (Duration, usize),
) -> Result<HashMap<Arc<str>, RemoteView>, postgres::Error> {
    let rows = c.query(
        "SELECT room, name, guest, door, sessions::bigint FROM (
             SELECT p.room, p.name, p.guest, min(p.door) AS door,
                    sum(count(*)) OVER (PARTITION BY p.room) AS sessions,
                    row_number() OVER (PARTITION BY p.room ORDER BY p.name, p.guest) AS rn
             FROM chat_presence p JOIN chat_nodes n USING (node)
             WHERE p.room = ANY($1) AND p.node <> $2
               AND n.seen_at > now() - make_interval(secs => $3)
             GROUP BY p.room, p.name, p.guest) AS x
         WHERE rn <= $4",
        &[
            &rooms,
            &node,
            &ttl.as_secs_f64(),
            &i64::try_from(cap).unwrap_or(i64::MAX),
        ],
    )?;
    let mut out: HashMap<Arc<str>, RemoteView> = HashMap::new();
    for r in &rows {
        let view = out.entry(Arc::from(r.get::<_, &str>(0))).or_default();
        view.members.push(MemberInfo {
            name: Arc::from(r.get::<_, &str>(1)),
            guest: r.get(2),
            door: door_kind(r.get(3)),
        });
        view.sessions = usize::try_from(r.get::<_, i64>(4)).unwrap_or(usize::MAX);
    }
    Ok(out)
}
