//! The cluster: several `sockit serve` nodes sharing one throw-away
//! PostgreSQL (tests/common/pg.rs), each a real process on port 0.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::Pg;

#[test]
fn throwaway_postgres_starts_answers_and_restarts() {
    let mut pg = Pg::start();
    assert_eq!(pg.psql("SELECT 1 + 1"), "2");
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    pg.restart();
    assert_eq!(pg.psql("SELECT x FROM t"), "7");
}
