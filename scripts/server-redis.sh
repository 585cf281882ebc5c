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
	port=$(free_port)
	redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
		--daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 </dev/null &
	echo $! >"$DH_SERVERS_RUN/$name.pid"
	echo "127.0.0.1:$port" >"$DH_SERVERS_RUN/$name.match"
	echo "$dir" >"$DH_SERVERS_RUN/$name.dir"
	if ! wait_for 20 sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG"; then
		tail -n 20 "$dir/redis.log" >&2 || true
		"$0" stop
		die "redis-server did not answer on 127.0.0.1:$port"
	fi
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
