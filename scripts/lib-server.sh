# lib-server.sh - helpers for scripts/server-*.sh (sourced, POSIX sh).
#
# A test server listens on 127.0.0.1 only, keeps its data in a temporary
# directory and records what it started in a state directory private to
# this checkout ($DH_SERVERS_RUN, default ${TMPDIR:-/tmp}/dh-servers-<uid>-<n>),
# so `stop` stops only that and parallel checkouts never touch each other's
# servers.  stdout carries only `export NAME=value` lines; chatter goes to
# stderr.

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${DH_SERVERS_RUN:-}" ]; then
	DH_SERVERS_RUN=${TMPDIR:-/tmp}/dh-servers-$(id -u)-$(printf '%s' "$top" | cksum | cut -d' ' -f1)
fi

say() { printf '%s: %s\n' "$name" "$*" >&2; }
die() { say "$*"; exit 1; }

# running: the recorded server is alive and is the one we started
running() {
	[ -f "$DH_SERVERS_RUN/$name.pid" ] || return 1
	pid=$(cat "$DH_SERVERS_RUN/$name.pid")
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(cat "$DH_SERVERS_RUN/$name.match")"
}

# free_port: an unused TCP port on the loopback interface
free_port() {
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 + 20000 ))
		if command -v ss >/dev/null 2>&1; then
			ss -Htln "sport = :$p" | grep -q . || break
		else
			grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp || break
		fi
	done
	echo "$p"
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds
wait_for() {
	n=$(( $1 * 10 ))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# stop_pid SIGNAL: signal the recorded server, wait up to 20 s, then SIGKILL
stop_pid() {
	if running; then
		kill -s "$1" "$pid" 2>/dev/null || true
		n=200
		while [ -d "/proc/$pid" ] && [ "$n" -gt 0 ]; do
			[ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)" = Z ] && break
			sleep 0.1
			n=$((n - 1))
		done
		if [ "$n" -eq 0 ]; then
			say "pid $pid still running after 20 s: SIGKILL"
			kill -s KILL "$pid" 2>/dev/null || true
		fi
	fi
	dir=$(cat "$DH_SERVERS_RUN/$name.dir" 2>/dev/null || true)
	case "$dir" in
	*/dh-"$name".*) rm -rf -- "$dir" ;;
	esac
	rm -f "$DH_SERVERS_RUN/$name".*
}
