#!/usr/bin/env bash
# A first demo of vigil on one machine (placeholder: to be extended with more
# vigil nodes and a scripted failover).
#
#   scripts/demo.sh              # or: make demo
#   DEMO_SECONDS=60 scripts/demo.sh
#   DEMO_KEEP=1 scripts/demo.sh  # keep the temporary directory and its logs
#
# It builds bin/vigil, starts a Redis master on 127.0.0.1:6390 with two
# replicas on 6391 and 6392, writes a vigil config watching that master, and
# runs one vigil node in the foreground for DEMO_SECONDS (default 30). Every
# process it started is stopped on exit, including on Ctrl-C or an error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${DEMO_SECONDS:-30}
master_port=6390
replica_ports=(6391 6392)

log() { printf 'demo: %s\n' "$*" >&2; }

# --- cleanup: stop what we started, by pid, and remove the temp dir -------
pids=()
workdir=""
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $workdir ]]; then
		if [[ ${DEMO_KEEP:-0} == 1 ]]; then
			log "kept $workdir"
		else
			rm -rf "$workdir"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # run cleanup through the EXIT trap

# --- build and dependencies -------------------------------------------------
make -C "$root" --no-print-directory deps build

# --- refuse to run over someone else's servers ------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$master_port" "${replica_ports[@]}"; do
	if port_in_use "$port"; then
		log "port $port is already in use; stop whatever listens there first"
		exit 1
	fi
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")
log "working in $workdir"

# --- Redis: one master, two replicas ----------------------------------------
# start_redis PORT [MASTER_PORT]: a throwaway redis-server in $workdir/redis-PORT.
start_redis() {
	local port=$1 dir="$workdir/redis-$1"
	local args=(--port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no
		--protected-mode no --save "" --appendonly no
		--repl-diskless-sync-delay 0 --logfile "$dir/redis.log")
	if [[ $# -ge 2 ]]; then
		args+=(--replicaof 127.0.0.1 "$2")
	fi
	mkdir -p "$dir"
	redis-server "${args[@]}" &
	pids+=("$!")
}

# wait_until SECONDS WHAT COMMAND...: poll COMMAND every 0.1s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out waiting for $what"
			exit 1
		fi
		sleep 0.1
	done
}

start_redis "$master_port"
wait_until 10 "master on $master_port" redis-cli -p "$master_port" ping
for port in "${replica_ports[@]}"; do
	start_redis "$port" "$master_port"
	wait_until 10 "replica on $port" redis-cli -p "$port" ping
done
replicas_online() {
	redis-cli -p "$master_port" info replication | grep -q "^connected_slaves:${#replica_ports[@]}"
}
wait_until 20 "replicas to sync" replicas_online
log "redis master 127.0.0.1:$master_port, replicas ${replica_ports[*]/#/127.0.0.1:}"

# --- vigil config -----------------------------------------------------------
# One node for now; a real deployment runs three or more (the lead will add
# them here, joined through gossip.join).
config="$workdir/vigil-1.yaml"
mkdir -p "$workdir/vigil-1"
cat >"$config" <<EOF
node:
  id: vigil-1
  listen: 127.0.0.1:26390
  data-dir: $workdir/vigil-1
gossip:
  bind: 127.0.0.1:27390
  join: []
log:
  level: info
  format: text
masters:
  mymaster:
    addr: "127.0.0.1:$master_port"
    quorum: 2
    down-after: 5s
    failover-timeout: 60s
    parallel-syncs: 1
EOF
log "config $config:"
sed 's/^/  /' "$config" >&2

# --- run vigil in the foreground for a while --------------------------------
log "running bin/vigil for ${seconds}s (Ctrl-C to stop early)"
"$root/bin/vigil" run --config "$config" &
vigil_pid=$!
pids+=("$vigil_pid")
status=0
# timeout(1) would also do, but a background job plus a deadline lets the
# EXIT trap reach vigil by pid on Ctrl-C.
deadline=$((SECONDS + seconds))
while kill -0 "$vigil_pid" 2>/dev/null && ((SECONDS < deadline)); do
	sleep 0.5
done
if kill -0 "$vigil_pid" 2>/dev/null; then
	log "time is up; stopping vigil"
else
	wait "$vigil_pid" || status=$?
	log "vigil exited early with status $status"
fi
exit "$status"
