#!/usr/bin/env bash
# The fault and abuse suite: the floods, the UDP reflection factors, the
# memory, login, quota and guest-storage attacks (set SOCKIT_BEFORE=PATH to
# run the memory attacks against another binary too, for before/after RSS)
# and the kill -9 rounds, one
# after the other (never at once: each measures the server alone), then one
# summary table. Loopback only, bounded in time (about 5 minutes with the
# defaults on a 2-CPU machine). Each script also writes its own JSON to
# bench/out/abuse-*.json; the exit status is non-zero if any check failed.
#
# usage: bench/abuse/run.sh [--quick]
#   --quick  a tenth of the load (1,000 connections, 100,000 datagrams,
#            200 slowloris connections, 30 guests for 10 s, 1 kill round
#            with small files)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
cargo build --release --quiet || exit 1
export SOCKIT="${SOCKIT:-${CARGO_TARGET_DIR:-target}/release/sockit}"

if [ "${1:-}" = "--quick" ]; then
    conn=(--conns 1000 --pace 1000); dgram=(--count 100000 --pace 20000)
    loris=(--conns 200); kill=(1 --min-mib 16 --max-mib 48); mem=(--hold 3)
    reflect=(--members 16 --joins 64 --renames 50 --messages 50 --fill 4200)
    guests=(--guests 30 --seconds 10); fill=(--fill 6600 --fill-seconds 30)
else
    conn=(); dgram=(); loris=(); kill=(); reflect=(); guests=(); fill=(); mem=()
fi

status=0
python3 "$here/conn_flood.py" "${conn[@]}" || status=1
python3 "$here/datagram_flood.py" "${dgram[@]}" || status=1
python3 "$here/udp_reflect.py" "${reflect[@]}" || status=1
python3 "$here/slowloris.py" "${loris[@]}" || status=1
python3 "$here/guest_rooms.py" "${guests[@]}" || status=1
python3 "$here/login_table_fill.py" "${fill[@]}" || status=1
python3 "$here/memory_flood.py" "${mem[@]}" || status=1
"$here/kill9.sh" "${kill[@]}" || status=1
python3 "$here/quota_race.py" || status=1

python3 - <<'PY'
import json, pathlib
out = pathlib.Path("bench/out")
def load(name):
    try:
        return json.loads((out / f"abuse-{name}.json").read_text())
    except (OSError, ValueError):
        return None
def p99(d):
    return f"{d.get('p99_us')} us" if d and d.get("p99_us") is not None else "?"
def mib(k):
    return f"{k / 1024:.0f} MiB" if k else "?"
rows = []
c = load("conn_flood")
for p in (c or {}).get("passes", []):
    rows.append((f"conn_flood {p['pass']}", f"held {p['held_at_end']}/{p['attempted']}, "
                 f"refused {p['outcomes']['refused'] + p['outcomes']['closed']}",
                 f"{p99(p['ping_idle'])} -> {p99(p['ping_under_flood'])} (x{p['p99_ratio']})",
                 f"{mib(p['rss_kib']['before'])} -> {mib(p['rss_kib']['peak_during'])}, "
                 f"{p['bytes_per_conn']} B/conn"))
d = load("datagram_flood")
if d:
    rows.append(("datagram_flood", f"{d['sent']} sent at {d['sent_per_s']}/s; echo "
                 f"{'ok' if d['echo_answers_after'] else 'FAILED'}, chat "
                 f"{'ok' if d['chat_delivers_after'] else 'FAILED'}",
                 f"{p99(d['ping_idle'])} -> {p99(d['ping_under_flood'])} (x{d['p99_ratio']})",
                 f"{mib(d['rss_kib']['before'])} -> {mib(d['rss_kib']['peak_during'])}"))
s = load("slowloris")
if s:
    rows.append(("slowloris", f"{s['held_after_timeout']}/{s['conns']} held "
                 f"{s['checked_after_s']} s in (timeout {s['first_frame_timeout_s']})",
                 f"{p99(s['ping_idle'])} -> {p99(s['ping_under_attack'])} (x{s['p99_ratio']})",
                 f"{mib(s['rss_kib']['before'])} -> {mib(s['rss_kib']['peak_during'])}"))
r = load("udp_reflect")
if r:
    rows.append(("udp_reflect", "; ".join(f"{x['attack'].split(':')[0]} x{x['factor']}"
                                          for x in r["results"]) +
                 f"; after the fill a real client {r['fill']['real_client']}", "", ""))
g = load("guest_rooms")
if g:
    h = g["history"]
    rows.append(("guest_rooms", f"{g['guests']} guests, one address, {g['seconds']} s: "
                 f"{h.get('rooms')} rooms, {h.get('messages')} messages, "
                 f"{(h.get('bytes_on_disk') or 0) / 2**20:.1f} MiB on disk", "",
                 f"{mib(g['rss_kib']['before'])} -> {mib(g['rss_kib']['peak_during'])}"))
f = load("login_table_fill")
if f:
    rows.append(("login_table_fill", f"{f['fill_attempted']} failures ({f['fill_failures_per_s']}/s), "
                 f"then {f['guesses_checked']}/{f['guesses']} guesses checked; right password "
                 f"from a fresh address: {f['right_password_fresh_address']}, from the owner's: "
                 f"{f['right_password_owner_address']}", "", f"{mib(f['rss_kib'])}"))
m = load("memory_flood")
for name, runs in ((m or {}).get("results") or {}).items():
    for label, r in runs.items():
        if r:
            rows.append((f"memory {name} ({label})",
                         f"sent {r['outcome']['sent']}, cut {r['outcome']['cut']}, "
                         f"refused {r['outcome']['refused']}", "",
                         f"{mib(r['rss_kib']['before'])} -> {mib(r['rss_kib']['peak'])}, "
                         f"{mib(r['rss_kib']['end_of_hold'])} at the end"))
k = load("kill9")
if k:
    m = k["summary"]
    rows.append(("kill9", f"{m['rounds']} rounds: chat acked {m['acknowledged']}, lost "
                 f"{m['lost']}; puts intact {m['puts_intact']}/{m['puts']} "
                 f"(resumed {m['puts_resumed']}); gets intact {m['gets_intact']}/{m['gets']} "
                 f"(resumed {m['gets_resumed']}); temporaries {m['temporaries_after_sweep']}; "
                 f"problems {len(m['problems'])}", "", ""))
q = load("quota_race")
if q:
    r, e = q["race"], q["entries"]
    rows.append(("quota_race", f"{r['uploads']} concurrent puts of {r['size']} B under "
                 f"--quota {r['quota']}: {r['published']} published, {r['stored_bytes']} B "
                 f"stored; {e['published']}/{e['files']} empty files under 1K", "", ""))
head = ("test", "outcome", "ping p99 idle -> attack", "server RSS")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
print("\nfault and abuse suite")
for r in [head] + rows:
    print("  " + "  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)).rstrip())
PY
exit $status
