#!/bin/sh
# server-redis.sh start|stop - a throwaway redis-server on 127.0.0.1 for the
# tests and benchmarks: a free port, no persistence, data in a temporary
# directory.  `start` waits until it answers and prints
#   export DH_TEST_REDIS_URL=redis://127.0.0.1:PORT
# (running it again while it is up prints the same line); `stop` stops only
# the server this checkout started.  Installs nothing: scripts/install-deps
# --test does.
set -eu
name=redis
. "$(dirname "$0")/lib-server.sh"

case "${1:-}" in
start)
	if running; then
		cat "$DH_SERVERS_RUN/$name.env"
		exit 0
	fi
	command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
		die "redis-server and redis-cli not found: run scripts/install-deps --test"
	mkdir -p "$DH_SERVERS_RUN"
	rm -f "$DH_SERVERS_RUN/$name".*
	dir=$(mktemp -d "${TMPDIR:-/tmp}/dh-redis.XXXXXX")
	echo "$dir" >"$DH_SERVERS_RUN/$name.dir"
	# a port found free can be taken before the server binds it: try another
	tries=0
	while :; do
		port=$(free_port)
		redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
			--daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$DH_SERVERS_RUN/$name.pid"
		echo "127.0.0.1:$port" >"$DH_SERVERS_RUN/$name.match"
		# ours answers (not another server that took the port), or died
		n=200
		while [ -d "/proc/$pid" ] && [ "$n" -gt 0 ] &&
			! redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | grep -q "^process_id:$pid"; do
			sleep 0.1
			n=$((n - 1))
		done
		redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | grep -q "^process_id:$pid" && break
		tries=$((tries + 1))
		if [ "$tries" -ge 3 ]; then
			tail -n 20 "$dir/redis.log" >&2 || true
			"$0" stop
			die "redis-server did not answer on 127.0.0.1:$port"
		fi
		kill "$pid" 2>/dev/null || true
		say "port $port: no answer, trying another"
	done
	echo "export DH_TEST_REDIS_URL=redis://127.0.0.1:$port" >"$DH_SERVERS_RUN/$name.env"
	say "up on 127.0.0.1:$port, data in $dir"
	cat "$DH_SERVERS_RUN/$name.env"
	;;
stop)
	stop_pid TERM
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
