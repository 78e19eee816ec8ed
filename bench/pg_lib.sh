# bench/pg_lib.sh - a throw-away PostgreSQL for the benchmarks; sourced by
# bench/files_pg_compare.sh, share_pg_compare.sh, cluster_fanout.sh and
# sync_commit_compare.sh (not run on its own).
#
#   pg_start DIR LOGDIR [-c name=value ...]
#       initdb in DIR/pgdata and start the newest /usr/lib/postgresql/*/bin
#       on a Unix socket in that directory only (no TCP port), with its
#       default durability (fsync and synchronous commit on) unless the
#       -c options say otherwise; as the user nobody when run as root
#       (PostgreSQL refuses root). Waits until it accepts connections.
#       Sets PGBIN, PGDATA, PGPID and PGURL (what `--store` takes).
#   pg_psql SQL      one statement through psql, unaligned output
#   pg_stop          fast shutdown, waits for the server to exit
#
# The caller removes DIR; call pg_stop first (e.g. in its EXIT trap).

as_pg() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

pg_start() {
  local dir="$1" log="$2"; shift 2
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -x "$PGBIN/postgres" ] || { echo "PostgreSQL not found: apt-get install -y postgresql-15" >&2; return 2; }
  PGDATA="$dir/pgdata"; mkdir "$PGDATA"
  if [ "$(id -u)" = 0 ]; then chmod 755 "$dir"; chown nobody "$PGDATA"; fi
  as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U sockit -E UTF8 >"$log/initdb.log"
  as_pg "$PGBIN/postgres" -D "$PGDATA" -k "$PGDATA" -c listen_addresses= "$@" \
    >"$log/postgres.log" 2>&1 &
  PGPID=$!
  for _ in $(seq 400); do grep -q 'ready to accept connections' "$log/postgres.log" && break; sleep 0.05; done
  grep -q 'ready to accept connections' "$log/postgres.log" \
    || { echo "postgres did not start; see $log/postgres.log" >&2; return 1; }
  PGURL="postgres://sockit@localhost/postgres?host=$PGDATA"
}

pg_psql() {
  as_pg "$PGBIN/psql" -h "$PGDATA" -U sockit -d postgres -Atc "$1"
}

pg_stop() {
  if [ -n "${PGPID:-}" ]; then
    kill -INT "$PGPID" 2>/dev/null || true # SIGINT: PostgreSQL's fast shutdown
    wait "$PGPID" 2>/dev/null || true
    PGPID=
  fi
}
