# lib.sh - helpers for scripts/server-{s3,dynamodb,gcs}.sh.  POSIX sh, sourced.
#
# A server script's `start` runs its emulator on 127.0.0.1 on a free port
# with its data in a fresh temporary directory, waits until it answers and
# prints `export DH_TEST_...=...` lines on stdout (nothing else goes to
# stdout).  State lives in $DH_SERVERS_RUN (default: a directory under
# $TMPDIR named after this checkout, so two checkouts do not meet):
#   NAME.pids  "pid pattern" lines: the processes this script started
#   NAME.dir   its temporary directory
#   NAME.env   the export lines, re-printed when start finds it running
# `stop` signals only the recorded pids whose command line still matches.
emu_here=$(cd "$(dirname "$0")" && pwd)
emu_top=$(cd "$emu_here/.." && pwd)
emu_modules="$emu_here/node_modules"
: "${DH_SERVERS_RUN:=${TMPDIR:-/tmp}/dh-servers-$(id -u)-$(printf %s "$emu_top" | cksum | cut -d' ' -f1)}"

emu_log() { printf '%s\n' "$DH_NAME: $*" >&2; }
emu_die() { emu_log "$*"; exit 1; }

# emu_alive PID PATTERN: the process lives and its command line has PATTERN
emu_alive() {
	[ -d "/proc/$1" ] || return 1
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ "$st" != Z ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# emu_running NAME: every recorded process of NAME is alive
emu_running() {
	[ -f "$DH_SERVERS_RUN/$1.pids" ] || return 1
	while read -r pid pat; do
		emu_alive "$pid" "$pat" || return 1
	done <"$DH_SERVERS_RUN/$1.pids"
	return 0
}

# emu_record NAME PID PATTERN: remember a process to stop later
emu_record() {
	mkdir -p "$DH_SERVERS_RUN"
	echo "$2 $3" >>"$DH_SERVERS_RUN/$1.pids"
}

# emu_node_modules: the npm packages of scripts/package.json, installed if missing
emu_node_modules() {
	command -v node >/dev/null 2>&1 || emu_die "node not found: run scripts/install-deps --test"
	if [ ! -d "$emu_modules" ]; then
		command -v npm >/dev/null 2>&1 || emu_die "npm not found: run scripts/install-deps --test"
		emu_log "installing the npm test servers (npm ci in scripts/)"
		(cd "$emu_here" && npm ci --no-audit --no-fund --loglevel=error >&2) || emu_die "npm ci failed"
	fi
}

# emu_wait_line SECONDS FILE: wait for "listening on 127.0.0.1:PORT" in FILE, print PORT
emu_wait_line() {
	i=0
	while [ "$i" -lt $(($1 * 10)) ]; do
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" 2>/dev/null | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# emu_wait SECONDS CMD...: poll CMD until it succeeds
emu_wait() {
	i=0 lim=$(($1 * 10))
	shift
	while [ "$i" -lt "$lim" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# emu_start_begin NAME: reuse a running server (print its env, exit) or clean up
emu_start_begin() {
	if emu_running "$1"; then
		cat "$DH_SERVERS_RUN/$1.env"
		exit 0
	fi
	emu_stop "$1" 2>/dev/null
	mkdir -p "$DH_SERVERS_RUN"
}

# emu_emit NAME LINE...: print the export lines and keep them
emu_emit() {
	n=$1
	shift
	: >"$DH_SERVERS_RUN/$n.env"
	for l; do printf '%s\n' "$l" | tee -a "$DH_SERVERS_RUN/$n.env"; done
}

# emu_stop NAME: stop what NAME's start started, remove its temporary directory
emu_stop() {
	if [ -f "$DH_SERVERS_RUN/$1.pids" ]; then
		while read -r pid pat; do
			if emu_alive "$pid" "$pat"; then
				kill "$pid" 2>/dev/null
				i=0
				while emu_alive "$pid" "$pat" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
				emu_alive "$pid" "$pat" && kill -9 "$pid" 2>/dev/null
			fi
		done <"$DH_SERVERS_RUN/$1.pids"
	fi
	if [ -f "$DH_SERVERS_RUN/$1.dir" ]; then
		d=$(cat "$DH_SERVERS_RUN/$1.dir")
		case "$d" in */dh-emu-*) rm -rf -- "$d" ;; esac
	fi
	rm -f "$DH_SERVERS_RUN/$1.pids" "$DH_SERVERS_RUN/$1.dir" "$DH_SERVERS_RUN/$1.env"
}
