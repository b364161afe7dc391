#!/usr/bin/env bash
# `make sqlsmith`: Debian's sqlsmith sends random queries to a throwaway
# cluster that preloads the library, runs the worker and holds streams, tags,
# history, images, grants and credentials (populate.sql).  Rounds of
# SQLSMITH_ROUND queries (default 1000) alternate between a tenant (edit on
# one namespace, view on another) and a superuser, until SQLSMITH_SECONDS
# (default 300) have passed or SQLSMITH_QUERIES (default 100000) queries ran.
# No process may crash: the server log must show no process ended by a
# signal or abnormally, and the checkpointer must be the one the run started
# with.  Prints queries run, errors by kind and crashes; exits non-zero on a
# crash.  Round N uses --seed=N, so `sqlsmith --seed=N` replays it; a
# crashing query is also in the server log ("Failed process was running").
# Installs what is missing (as root); started by root, the server and
# sqlsmith run as postgres.  PG_CONFIG picks the PostgreSQL installation.
set -uo pipefail

cd "$(dirname "$0")/../.."
source test/install-deps.sh
PACKAGES+=(sqlsmith)
install_deps || exit 1
PG_CONFIG=${PG_CONFIG:-pg_config}
make -s PG_CONFIG="$PG_CONFIG" >/dev/null && make -s PG_CONFIG="$PG_CONFIG" install >/dev/null || exit 1
BIN=$("$PG_CONFIG" --bindir)
LIMIT=${SQLSMITH_SECONDS:-300}
MAX=${SQLSMITH_QUERIES:-100000}
ROUND=${SQLSMITH_ROUND:-1000}

if [ "$(id -u)" -eq 0 ]; then
	run_as() { runuser -u postgres -- "$@"; }
	owner=postgres
else
	run_as() { "$@"; }
	owner=$(id -un)
fi
WORK=$(mktemp -d /tmp/imagestream-sqlsmith.XXXXXX)
chown "$owner" "$WORK"
chmod 755 "$WORK"
LOG=$WORK/server.log
CONN="host=$WORK port=5432 dbname=postgres"
psql_as() { local user=$1; shift; run_as "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CONN user=$user" "$@"; }

stop() { run_as "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1; }
trap 'stop; echo "logs kept in $WORK"' EXIT

run_as "$BIN/initdb" -D "$WORK/data" -A trust -U "$owner" --no-sync >/dev/null || exit 1
# No registry named by a tag is allowed: every import, by a query or by the
# worker, fails at once (Forbidden) instead of waiting on the network.
cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = 5432
fsync = off
shared_preload_libraries = 'imagestream'
imagestream.allowed_registries = 'nothing.invalid'
imagestream.import_interval = '10s'
restart_after_crash = on
log_line_prefix = '%m [%p] %u '
EOF
run_as "$BIN/pg_ctl" -D "$WORK/data" -l "$LOG" -w start >/dev/null || { cat "$LOG"; exit 1; }
psql_as "$owner" -v superuser="$owner" -o /dev/null -f test/sqlsmith/populate.sql || exit 1
checkpointer() { psql_as "$owner" -At -c "SELECT backend_start FROM pg_stat_activity WHERE backend_type = 'checkpointer'"; }
started=$(checkpointer)

echo "== sqlsmith: up to ${LIMIT}s or $MAX queries, rounds of $ROUND (logs in $WORK)"
t0=$(date +%s)
round=0
total=0
while [ $((t0 + LIMIT - $(date +%s))) -gt 0 ] && [ "$total" -lt "$MAX" ]; do
	round=$((round + 1))
	if [ $((round % 2)) -eq 1 ]; then role=tenant; else role=$owner; fi
	n=$((MAX - total < ROUND ? MAX - total : ROUND))
	# the timeout is a safety net: a round ends by its query count
	run_as timeout -s INT $((LIMIT + 60)) sqlsmith --target="$CONN user=$role" --seed="$round" \
		--max-queries="$n" --exclude-catalog --verbose >"$WORK/round-$round.log" 2>&1
	ran=$(grep -E '^queries: [0-9]+' "$WORK/round-$round.log" | tail -n 1 | cut -d' ' -f2)
	total=$((total + ${ran:-0}))
	echo "round $round as $role (seed $round): ${ran:-0} queries"
	# back after a crash, and no statement of the round left running
	for _ in $(seq 1 60); do
		run_as "$BIN/pg_isready" -q -d "$CONN" && break
		sleep 1
	done
	psql_as "$owner" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null
done
seconds=$(($(date +%s) - t0))

# errors by kind: the last report of each round ("<count>\t<message>", cut by sqlsmith)
echo "== errors by kind (top 25)"
for f in "$WORK"/round-*.log; do
	awk '/^queries: [0-9]+/ { n = NR } { line[NR] = $0 } END { for (i = n; i <= NR; i++) print line[i] }' "$f"
done | awk -F'\t' '/^[0-9]+\t/ { count[$2] += $1; all += $1 }
	END { for (m in count) printf "%d\t%s\n", count[m], m; printf "%d\t(all errors)\n", all }' |
	sort -rn | head -n 26

crashes=$(grep -cE 'terminated by signal|was terminated by exception|server process .* exited with exit code' "$LOG")
worker_exits=$(grep -cE 'background worker .* exited with exit code' "$LOG")
if [ "$(checkpointer)" != "$started" ]; then restarted=yes; else restarted=no; fi
echo "== $total queries in $round rounds, ${seconds}s; crashes: $crashes; server restarted: $restarted; worker exits: $worker_exits"
grep -E -A1 'terminated by signal|was terminated by exception|server process .* exited with exit code' "$LOG"
trap - EXIT
stop
if [ "$crashes" -eq 0 ] && [ "$restarted" = no ]; then
	rm -rf "$WORK"
	exit 0
fi
echo "logs kept in $WORK"
exit 1
