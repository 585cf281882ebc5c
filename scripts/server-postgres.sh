#!/bin/sh
# server-postgres.sh start|stop - a throwaway PostgreSQL cluster on 127.0.0.1
# for the tests and benchmarks: a free port, data in a temporary directory,
# superuser `dh` with a random password (TCP connections need it: scram),
# database `dh_test`.  As root the server runs as the `postgres` user
# (initdb refuses root).  `start` waits until it answers and prints
#   export DH_TEST_PG_URL=postgresql://dh@127.0.0.1:PORT/dh_test
#   export PGPASSFILE=<a .pgpass file holding the password>
# (again while it is up: the same lines); `stop` stops only the cluster this
# checkout started.  Installs nothing: scripts/install-deps --test does.
set -eu
name=postgres
. "$(dirname "$0")/lib-server.sh"

case "${1:-}" in
start)
	if running; then
		cat "$DH_SERVERS_RUN/$name.env"
		exit 0
	fi
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$bin" ] && [ -x "$bin/initdb" ] && command -v psql >/dev/null 2>&1 ||
		die "PostgreSQL server and psql not found: run scripts/install-deps --test"
	mkdir -p "$DH_SERVERS_RUN"
	rm -f "$DH_SERVERS_RUN/$name".*
	dir=$(mktemp -d "${TMPDIR:-/tmp}/dh-postgres.XXXXXX")
	chmod 755 "$dir"
	port=$(free_port)
	secret=$(random_secret)
	asuser=
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' user to run the server"
		chown postgres: "$dir"
		asuser="runuser -u postgres --"
	fi
	echo "$dir" >"$DH_SERVERS_RUN/$name.dir"
	printf '%s\n' "$secret" >"$DH_SERVERS_RUN/$name.pw"
	[ -z "$asuser" ] || chown postgres: "$DH_SERVERS_RUN/$name.pw"
	if ! $asuser "$bin/initdb" -D "$dir/data" -U dh --pwfile="$DH_SERVERS_RUN/$name.pw" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C -N >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		rm -f "$DH_SERVERS_RUN/$name.pw"
		die "initdb failed"
	fi
	rm -f "$DH_SERVERS_RUN/$name.pw"
	# a port found free can be taken before the server binds it: try another
	tries=0
	while ! $asuser "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -o \
		"-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" \
		start >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -ge 3 ]; then
			tail -n 20 "$dir/postgres.log" >&2
			"$0" stop
			die "pg_ctl start failed"
		fi
		say "port $port: cannot start, trying another"
		port=$(free_port)
	done
	head -n 1 "$dir/data/postmaster.pid" >"$DH_SERVERS_RUN/$name.pid"
	echo "$dir/data" >"$DH_SERVERS_RUN/$name.match"
	wait_for 20 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { "$0" stop; die "postgres did not answer"; }
	psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U dh -d postgres -c 'CREATE DATABASE dh_test' >&2 ||
		{ "$0" stop; die "cannot create database dh_test"; }
	(umask 077 && printf '127.0.0.1:%s:*:dh:%s\n' "$port" "$secret" >"$DH_SERVERS_RUN/$name.pgpass")
	{
		echo "export DH_TEST_PG_URL=postgresql://dh@127.0.0.1:$port/dh_test"
		echo "export PGPASSFILE=$DH_SERVERS_RUN/$name.pgpass"
	} >"$DH_SERVERS_RUN/$name.env"
	say "up on 127.0.0.1:$port, data in $dir"
	cat "$DH_SERVERS_RUN/$name.env"
	;;
stop)
	# SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for clients)
	stop_pid INT
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
