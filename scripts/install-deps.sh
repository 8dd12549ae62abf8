#!/usr/bin/env bash
# Installs what vigil's tests need beyond Go: the Debian packages redis-server
# (the redis-server binary) and redis-tools (redis-cli, redis-benchmark).
#
#   scripts/install-deps.sh              # redis-server, redis-cli
#   scripts/install-deps.sh --sentinel   # also redis-sentinel, for `make bench`
#
# - A fast no-op when the binaries are already on PATH.
# - Otherwise runs `apt-get update` once and installs only what is missing
#   (needs root, or sudo). Works on a fresh Debian bookworm with no init
#   system: package scripts are told not to start services while we install.
# - Either way, makes sure no system Redis service (the packages' own
#   redis-server on 6379, or redis-sentinel) is left running: tests start
#   their own servers on free ports. Set KEEP_SYSTEM_REDIS=1 to leave a
#   running system service alone.
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*" >&2; }

with_sentinel=0
for arg in "$@"; do
	case $arg in
	--sentinel) with_sentinel=1 ;;
	*)
		log "unknown argument $arg (usage: $0 [--sentinel])"
		exit 2
		;;
	esac
done

# as_root runs a command as root, through sudo when we are not root.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root (or sudo) to run: $*"
		exit 1
	fi
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if ((with_sentinel)); then
	# The benchmark compares vigil with redis-sentinel and measures discovery
	# throughput with redis-benchmark (package redis-tools).
	command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
	if ! command -v redis-benchmark >/dev/null 2>&1 && [[ ! " ${missing[*]} " =~ " redis-tools " ]]; then
		missing+=(redis-tools)
	fi
fi

if ((${#missing[@]} > 0)); then
	if ! command -v apt-get >/dev/null 2>&1; then
		log "missing ${missing[*]} and apt-get is not available; install Redis 7 by hand"
		exit 1
	fi
	# Debian's invoke-rc.d asks /usr/sbin/policy-rc.d whether a package may
	# start its service; exit code 101 means "no". Put one in place for the
	# duration of the install unless the system already has one.
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		trap 'as_root rm -f "$policy"' EXIT
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# stop_service stops the system service $1 if it is running. Under systemd it
# asks systemctl; otherwise it looks at the pid file the Debian init script
# uses and runs that script (invoke-rc.d would obey policy-rc.d and refuse).
stop_service() {
	local name=$1 pidfile=$2 pid
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		if systemctl is-active --quiet "$name" 2>/dev/null; then
			log "stopping system service $name"
			as_root systemctl stop "$name"
		fi
		return 0
	fi
	[[ -s $pidfile ]] || return 0
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 0
	log "stopping system service $name (pid $pid)"
	if [[ -x /etc/init.d/$name ]]; then
		as_root "/etc/init.d/$name" stop >/dev/null
	else
		as_root kill "$pid"
	fi
}

if [[ ${KEEP_SYSTEM_REDIS:-0} != 1 ]]; then
	stop_service redis-server /run/redis/redis-server.pid
	stop_service redis-sentinel /run/sentinel/redis-sentinel.pid
fi

redis-server --version >&2
if ((with_sentinel)); then
	redis-sentinel --version >&2
fi
