//! The accounts database schema, as ordered migrations (see [`crate::store`]).
//!
//! Steps are never edited once released: a change is a new step, so every
//! older `sockit.db` upgrades in place.

use crate::store::Migration;

/// Step 1: accounts. `name` keeps the spelling given at creation (NFC);
/// `name_key` (NFC + lowercase) makes names unique ignoring case. `phc` is
/// the argon2id PHC string. `locked` is the operator's lock.
pub const V1_USERS: Migration = Migration {
    version: 1,
    name: "users",
    sql: "CREATE TABLE users (
            id       INTEGER PRIMARY KEY,
            name     TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            phc      TEXT NOT NULL,
            created  INTEGER NOT NULL,
            locked   INTEGER NOT NULL DEFAULT 0
          );",
};

/// Step 2: sessions, keyed by the SHA-256 of the token (the token itself is
/// never stored). Deleting a user deletes its sessions.
pub const V2_SESSIONS: Migration = Migration {
    version: 2,
    name: "sessions",
    sql: "CREATE TABLE sessions (
            token_hash BLOB PRIMARY KEY,
            user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created    INTEGER NOT NULL,
            expires    INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX sessions_by_user ON sessions(user_id, created);
          CREATE INDEX sessions_by_expiry ON sessions(expires);",
};

/// Step 3: what the operator sees in `sockit user list`: the last login,
/// and a temporary lockout (`locked_until`, written by the server when it
/// locks a name out, informational). `unlocked_at` is when the operator
/// last ran `unlock`, which a server in another process reads to lift a
/// lockout it holds in memory.
pub const V3_LOGIN_TRACKING: Migration = Migration {
    version: 3,
    name: "users.last_login, lockout columns",
    sql: "ALTER TABLE users ADD COLUMN last_login INTEGER;
          ALTER TABLE users ADD COLUMN locked_until INTEGER;
          ALTER TABLE users ADD COLUMN unlocked_at INTEGER;",
};

/// Step 4: ids are never reused, and revocations reach live sessions.
///
/// `user_ids.next` is the id the next account gets; it only grows, so a
/// new account never takes a deleted account's id (and with it the files,
/// partial uploads or index rows still filed under that id). It starts
/// above every id in use; the server raises it further at start above any
/// id its file store still holds (a store deleted from before this step).
///
/// `revocations` is a log of revoked accounts (lock, delete, password
/// change): a server polls it and ends the account's live sessions, also
/// when `sockit user` ran in another process. Old rows are pruned.
///
/// `purges` lists deleted accounts whose files are still to be removed by
/// the process that holds the file store (the server, or `sockit user
/// del` itself when no server runs).
pub const V4_IDS_AND_REVOCATIONS: Migration = Migration {
    version: 4,
    name: "user_ids, revocations, purges",
    sql: "CREATE TABLE user_ids (next INTEGER NOT NULL);
          INSERT INTO user_ids (next) SELECT coalesce(max(id), 0) + 1 FROM users;
          CREATE TABLE revocations (
            seq     INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL,
            at      INTEGER NOT NULL
          );
          CREATE TABLE purges (
            user_id INTEGER PRIMARY KEY,
            at      INTEGER NOT NULL
          );",
};

/// Step 5: an account's creation time in milliseconds. A deleted name
/// may be registered again, and chat tells the new account from the old
/// one by it (direct messages it may read, messages it may edit): whole
/// seconds left the second of the re-registration ambiguous. Accounts
/// made before this step have none and read as the start of their
/// `created` second.
pub const V5_CREATED_MS: Migration = Migration {
    version: 5,
    name: "users.created_ms",
    sql: "ALTER TABLE users ADD COLUMN created_ms INTEGER;",
};

/// Every step, in order.
pub const MIGRATIONS: &[Migration] = &[
    V1_USERS,
    V2_SESSIONS,
    V3_LOGIN_TRACKING,
    V4_IDS_AND_REVOCATIONS,
    V5_CREATED_MS,
];
