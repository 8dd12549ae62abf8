#!/usr/bin/env bash
# vigil on one machine: a Redis master with two replicas, three vigil nodes
# watching it, and a failover you can watch.
#
#   make demo                     # or: bash scripts/demo.sh
#   DEMO_KEEP=1 make demo         # keep the temporary directory (configs, logs)
#
# What it does, in order:
#   1. installs redis-server/redis-cli if missing (scripts/install-deps.sh)
#      and builds bin/vigil (make build);
#   2. starts redis-server on three free ports (from 6390 up) in a temporary
#      directory: one master, two replicas;
#   3. starts three vigil nodes (bin/vigil run -c vigil-N.yaml) watching that
#      master with quorum 2, down-after 2s, failover-timeout 30s; nodes 2
#      and 3 join node 1's gossip address;
#   4. waits until every node sees the 2 replicas and its 2 peers, and shows
#      `bin/vigil status`;
#   5. kills the master with kill -9 and waits until all three nodes answer
#      the new master to SENTINEL GET-MASTER-ADDR-BY-NAME, then prints the
#      event timeline of all three nodes (seconds since the kill);
#   6. restarts the old master (same port, same directory) and waits until
#      vigil has turned it into a replica of the new master;
#   7. stops everything it started, by pid, and removes the directory, also
#      on Ctrl-C or an error.
#
# Non-interactive, works as root, takes about 15 s once bin/vigil is built.
set -euo pipefail
export LC_ALL=C # a "." in $EPOCHREALTIME, plain sort order

root=$(cd "$(dirname "$0")/.." && pwd)
vigil="$root/bin/vigil"
master_name=mymaster

# Settings of the demo cluster.
down_after=2s
failover_timeout=30s
quorum=2

# Deadlines, in seconds, for each wait.
discover_deadline=30
failover_deadline=30
rejoin_deadline=30

# --- output -------------------------------------------------------------------
step_no=0
step() {
	step_no=$((step_no + 1))
	printf '\n==> [%d/7] %s\n' "$step_no" "$*"
}
say() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    /'; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}
# progress TEXT [PREFIX]: rewrite one status line (PREFIX TEXT) on a
# terminal; elsewhere print a line only when TEXT changes.
last_progress=""
progress() {
	local line=${2:+$2  }$1
	line=${line%"${line##*[! ]}"} # no trailing blanks
	if [[ -t 1 ]]; then
		printf '\r\033[K    %s' "$line"
	elif [[ $1 != "$last_progress" ]]; then
		printf '    %s\n' "$line"
	fi
	last_progress=$1
}
progress_done() {
	if [[ -t 1 && -n $last_progress ]]; then
		printf '\n'
	fi
	last_progress=""
}

# now_ms: milliseconds since the epoch, in $now.
now_ms() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME/./}
		now=$((10#$t / 1000))
	else
		now=$(date +%s%3N)
	fi
}
# seconds MS: "1.234" for a duration in milliseconds.
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# running PID: the process exists and has not exited (an exited child that
# was not reaped yet still answers kill -0).
running() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# --- cleanup: stop what we started, by pid, and remove the temp dir -------
# procs maps a name to the pid of a process this script started and that
# is still running; a process is removed from it once it has been waited for.
declare -A procs=()
workdir=""
cleanup() {
	local status=$? name pid deadline
	trap - EXIT INT TERM
	progress_done
	if ((status == 130 || status == 143)); then
		printf '\ndemo: interrupted; stopping everything\n' >&2
	elif ((status != 0)) && [[ -n $workdir ]]; then
		for log in "$workdir"/vigil-*/vigil.log; do
			[[ -f $log ]] || continue
			printf '\n--- last lines of %s\n' "$log" >&2
			tail -n 15 "$log" >&2
		done
	fi
	# SIGTERM first (vigil leaves the gossip cluster gracefully), then
	# SIGKILL whatever is still there after 5 s.
	for name in "${!procs[@]}"; do
		kill "${procs[$name]}" 2>/dev/null || true
	done
	deadline=$((SECONDS + 5))
	for name in "${!procs[@]}"; do
		pid=${procs[$name]}
		while running "$pid" && ((SECONDS < deadline)); do
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $workdir ]]; then
		if [[ ${DEMO_KEEP:-0} == 1 ]]; then
			printf '\ndemo: kept %s (configs, logs, state)\n' "$workdir"
		else
			rm -rf "$workdir"
		fi
	fi
	if ((status == 0)); then
		printf '\ndemo: stopped the %d processes it had started\n' "${#procs[@]}"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME LOGFILE COMMAND...: run COMMAND in the background, remember
# its pid under NAME.
start() {
	local name=$1 logfile=$2
	shift 2
	"$@" >"$logfile" 2>&1 &
	procs[$name]=$!
}

# stop_now NAME SIGNAL: signal a process we started and reap it.
stop_now() {
	local pid=${procs[$1]}
	kill "-$2" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "procs[$1]"
}

# wait_until SECONDS WHAT COMMAND...: poll COMMAND every 0.1 s until it
# succeeds; fail after SECONDS.
wait_until() {
	local limit=$1 what=$2
	local deadline=$((SECONDS + limit))
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after $limit s waiting for $what"
		sleep 0.1
	done
}

# --- free ports -------------------------------------------------------------
taken=" "
# port_busy PORT: something listens on PORT (TCP) or holds it (UDP).
port_busy() {
	local hex f
	hex=$(printf ':%04X ' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		# Column 2 is local address:port, column 4 the state; 06 is
		# TIME_WAIT, which does not stop a listener.
		[[ -r $f ]] && awk -v p="$hex" 'index($2 " ", p) && $4 != "06" { found = 1 } END { exit !found }' "$f" && return 0
	done
	for f in /proc/net/udp /proc/net/udp6; do
		[[ -r $f ]] && awk -v p="$hex" 'index($2 " ", p) { found = 1 } END { exit !found }' "$f" && return 0
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
# free_port FROM: the first port >= FROM that is free and not yet chosen,
# in $port.
free_port() {
	port=$1
	while [[ $taken == *" $port "* ]] || port_busy "$port"; do
		port=$((port + 1))
		((port < 65536)) || die "no free port from $1 up"
	done
	taken+="$port "
}

# --- 1. dependencies and build ------------------------------------------------
printf 'vigil demo: a Redis master, two replicas, three vigil nodes, one failover\n'
step "dependencies and build"
make -C "$root" --no-print-directory deps build 2>&1 | indent
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || die "redis-server/redis-cli missing"
[[ -x $vigil ]] || die "$vigil was not built"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")

# --- 2. Redis -------------------------------------------------------------------
# pick_ports ARRAY FROM: three free ports from FROM up into ARRAY.
pick_ports() {
	local -n out=$1
	local from=$2 _
	out=()
	for _ in 1 2 3; do
		free_port "$from"
		out+=("$port")
		from=$port
	done
}
pick_ports redis_ports 6390
master_port=${redis_ports[0]}
replica_ports=("${redis_ports[@]:1}")
step "Redis: master 127.0.0.1:$master_port, replicas 127.0.0.1:${replica_ports[0]} and 127.0.0.1:${replica_ports[1]}"

# start_redis PORT: start (or restart) the redis-server of PORT from its
# config file in $workdir/redis-PORT. A config file lets vigil's
# CONFIG REWRITE persist REPLICAOF changes, as in production.
start_redis() {
	local dir="$workdir/redis-$1"
	start "redis-$1" "$dir/stdout.log" redis-server "$dir/redis.conf"
	wait_until 10 "redis-server on port $1" redis-cli -p "$1" ping
}
for p in "${redis_ports[@]}"; do
	dir="$workdir/redis-$p"
	mkdir -p "$dir"
	{
		echo "port $p"
		echo "bind 127.0.0.1"
		echo "protected-mode no"
		echo "daemonize no"
		echo "dir $dir"
		echo "logfile $dir/redis.log"
		echo 'save ""'
		echo "appendonly no"
		echo "repl-diskless-sync-delay 0"
		if [[ $p != "$master_port" ]]; then
			echo "replicaof 127.0.0.1 $master_port"
		fi
	} >"$dir/redis.conf"
	start_redis "$p"
done
synced() {
	redis-cli -p "$master_port" info replication | grep -q '^connected_slaves:2' || return 1
	local p
	for p in "${replica_ports[@]}"; do
		redis-cli -p "$p" info replication | grep -q '^master_link_status:up' || return 1
	done
}
wait_until 20 "the replicas to sync" synced
redis-cli -p "$master_port" set demo:greeting "written before the failover" >/dev/null
# After a diskless full sync the master streams to a replica only once the
# replica's first REPLCONF ACK arrives (up to a second later): wait until
# both replicas hold the write, so their offsets are right from the start.
# info_field PORT FIELD: one field of INFO replication.
info_field() {
	redis-cli -p "$1" info replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}
caught_up() {
	local p want
	want=$(info_field "$master_port" master_repl_offset)
	for p in "${replica_ports[@]}"; do
		(($(info_field "$p" slave_repl_offset) >= want)) || return 1
	done
}
wait_until 10 "the replicas to receive the write" caught_up
say "replicas in sync; SET demo:greeting on the master, replicated to both replicas"

# --- 3. vigil nodes -------------------------------------------------------------
pick_ports resp_ports 26390   # Sentinel-protocol (RESP) ports
pick_ports gossip_ports 27390 # gossip, TCP and UDP
step "three vigil nodes (quorum $quorum, down-after $down_after, failover-timeout $failover_timeout)"
for i in 1 2 3; do
	dir="$workdir/vigil-$i"
	mkdir -p "$dir"
	join="[]"
	if ((i > 1)); then
		join="[\"127.0.0.1:${gossip_ports[0]}\"]"
	fi
	cat >"$dir/vigil.yaml" <<-EOF
		node:
		  id: vigil-$i
		  listen: 127.0.0.1:${resp_ports[i - 1]}
		  data-dir: $dir/data
		gossip:
		  bind: 127.0.0.1:${gossip_ports[i - 1]}
		  join: $join
		log:
		  level: info
		  format: text
		masters:
		  $master_name:
		    addr: 127.0.0.1:$master_port
		    quorum: $quorum
		    down-after: $down_after
		    failover-timeout: $failover_timeout
		    parallel-syncs: 1
	EOF
	"$vigil" check-config "$dir/vigil.yaml" >/dev/null
	start "vigil-$i" "$dir/vigil.log" "$vigil" run -c "$dir/vigil.yaml"
	say "vigil-$i  RESP 127.0.0.1:${resp_ports[i - 1]}  gossip 127.0.0.1:${gossip_ports[i - 1]}  joins ${join}"
done
say "config of vigil-2 ($workdir/vigil-2/vigil.yaml):"
indent <"$workdir/vigil-2/vigil.yaml" | indent

# master_field PORT FIELD: one field of SENTINEL MASTER mymaster on a node.
master_field() {
	redis-cli -p "$1" sentinel master "$master_name" 2>/dev/null |
		awk -v f="$2" 'prev == f { print; exit } { prev = $0 }'
}
# discovered: every node sees 2 replicas, 2 peers, and a usable quorum.
discovered() {
	local i p line="" ok=0 reps peers
	for i in 1 2 3; do
		p=${resp_ports[i - 1]}
		reps=$(master_field "$p" num-slaves)
		peers=$(master_field "$p" num-other-sentinels)
		line+="vigil-$i: ${reps:-?} replicas ${peers:-?} peers   "
		if [[ $reps == 2 && $peers == 2 ]] && redis-cli -p "$p" sentinel ckquorum "$master_name" 2>/dev/null | grep -q '^OK 3 usable'; then
			ok=$((ok + 1))
		fi
	done
	progress "$line"
	((ok == 3))
}
started=$SECONDS
deadline=$((SECONDS + discover_deadline))
say "waiting for every node to see the 2 replicas and its 2 peers:"
until discovered; do
	for i in 1 2 3; do
		kill -0 "${procs[vigil-$i]}" 2>/dev/null || die "vigil-$i exited; see $workdir/vigil-$i/vigil.log"
	done
	((SECONDS < deadline)) || die "nodes did not discover each other within $discover_deadline s"
	sleep 0.2
done
progress_done
say "discovery complete after $((SECONDS - started)) s"

# --- 4. status --------------------------------------------------------------------
step "bin/vigil status -a 127.0.0.1:${resp_ports[0]}"
"$vigil" status -a "127.0.0.1:${resp_ports[0]}" | indent

# --- 5. kill the master ---------------------------------------------------------
# One event printer per node: redis-cli prints each Sentinel event as CSV
# ("pmessage","*","+sdown","master mymaster 127.0.0.1 6390"); the loop stamps
# it with the time it arrived and the node's name. A FIFO between the two
# keeps both pids in hand for the cleanup.
timeline="$workdir/timeline"
: >"$timeline"
stamp_events() {
	local node=$1 line kind pattern channel payload now
	while IFS= read -r line; do
		line=${line//\"/}
		IFS=, read -r kind pattern channel payload <<<"$line"
		[[ $kind == pmessage ]] || continue
		now_ms
		printf '%s %s %s %s\n' "$now" "$node" "$channel" "$payload" >>"$timeline"
	done
}
for i in 1 2 3; do
	fifo="$workdir/events-$i.fifo"
	mkfifo "$fifo"
	stamp_events "vigil-$i" <"$fifo" &
	procs[printer-$i]=$!
	redis-cli -p "${resp_ports[i - 1]}" --csv psubscribe '*' >"$fifo" 2>/dev/null &
	procs[events-$i]=$!
done
# Make sure the subscriptions are in place before the kill.
subscribed() {
	local i
	for i in 1 2 3; do
		redis-cli -p "${resp_ports[i - 1]}" client list | grep -q 'psub=1' || return 1
	done
}
wait_until 10 "the event subscriptions" subscribed

step "kill -9 the master 127.0.0.1:$master_port (pid ${procs[redis-$master_port]})"
now_ms
kill_ms=$now
stop_now "redis-$master_port" KILL

# agreed: every node answers the same new master; its port in $new_port.
agreed() {
	local i p addr line="" first=""
	for i in 1 2 3; do
		p=${resp_ports[i - 1]}
		addr=$(redis-cli -p "$p" sentinel get-master-addr-by-name "$master_name" 2>/dev/null | paste -sd: -)
		line+="vigil-$i: ${addr:-?}   "
		[[ -z $first ]] && first=$addr
		[[ $addr == "$first" && $addr != "127.0.0.1:$master_port" && -n $addr ]] || first=none
	done
	now_ms
	progress "$line" "+$(seconds $((now - kill_ms)))s"
	[[ $first != none ]] || return 1
	new_port=${first##*:}
}
say "waiting until all three nodes answer SENTINEL GET-MASTER-ADDR-BY-NAME with a new master:"
new_port=""
until agreed; do
	now_ms
	((now - kill_ms < failover_deadline * 1000)) || die "no agreement on a new master within $failover_deadline s"
	sleep 0.1
done
now_ms
elapsed=$((now - kill_ms))
progress_done
say "all three nodes answer 127.0.0.1:$new_port, $(seconds "$elapsed") s after the kill (down-after is $down_after)"

# Let the failover finish (+failover-end on the leader) before printing.
ended() { grep -q ' +failover-end ' "$timeline"; }
wait_until 15 "+failover-end" ended

# print_timeline SINCE_MS: the events stamped after SINCE_MS, in order, with
# seconds since the kill.
print_timeline() {
	sort -n -s -k1,1 "$timeline" | awk -v t0="$kill_ms" -v since="$1" '
		$1 > since {
			payload = ""
			for (i = 4; i <= NF; i++) payload = payload (i > 4 ? " " : "") $i
			printf "%+8.3fs  %-8s %-36s %s\n", ($1 - t0) / 1000, $2, $3, payload
		}'
}
say ""
say "timeline (seconds since the kill; events of all three nodes, as Pub/Sub on their RESP port):"
print_timeline 0 | indent
say "(+sdown comes 1-2 s after the kill: down-after counts from the last good PING reply,"
say " and PINGs go out once a second)"
printed_until=$(sort -n "$timeline" | tail -n 1 | cut -d' ' -f1)
say ""
say "GET demo:greeting on the new master: \"$(redis-cli -p "$new_port" get demo:greeting)\""

# --- 6. status after the failover ---------------------------------------------------
step "bin/vigil status -a 127.0.0.1:${resp_ports[1]} after the failover"
"$vigil" status -a "127.0.0.1:${resp_ports[1]}" | indent

# --- 7. the old master comes back ---------------------------------------------------
step "restart the old master on port $master_port (same directory, still configured as a master)"
now_ms
restart_ms=$now
start_redis "$master_port"
# rejoined: the old master reports role slave of the new master, link up.
rejoined() {
	local role
	role=$(redis-cli -p "$master_port" role 2>/dev/null | paste -sd' ' -)
	now_ms
	progress "ROLE: ${role:-?}" "+$(seconds $((now - restart_ms)))s"
	[[ $role == "slave 127.0.0.1 $new_port connected "* ]]
}
say "waiting until vigil makes it a replica of 127.0.0.1:$new_port (redis-cli -p $master_port ROLE):"
deadline=$((SECONDS + rejoin_deadline))
until rejoined; do
	((SECONDS < deadline)) || die "the old master did not rejoin within $rejoin_deadline s"
	sleep 0.1
done
now_ms
progress_done
say "rejoined as a replica $(seconds $((now - restart_ms))) s after the restart:"
redis-cli -p "$master_port" info replication | grep -E '^(role|master_host|master_port|master_link_status):' | tr -d '\r' | indent | indent
say "GET demo:greeting on the old master: \"$(redis-cli -p "$master_port" get demo:greeting)\""
say ""
say "events since the failover (+convert-to-slave is vigil re-pointing the old master):"
print_timeline "$printed_until" | indent
say ""
say "bin/vigil status -a 127.0.0.1:${resp_ports[2]}:"
"$vigil" status -a "127.0.0.1:${resp_ports[2]}" | indent | indent

printf '\ndemo: failover in %s s; stopping everything\n' "$(seconds "$elapsed")"
