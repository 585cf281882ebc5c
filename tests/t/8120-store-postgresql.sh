#!/bin/sh
# postgresql:// stores against a real server (scripts/server-postgres.sh,
# which prints DH_TEST_PG_URL and PGPASSFILE): the conformance suite, psql
# sees the same keys, credentials come from .pgpass like psql's, and clear
# errors for a server that is down, a refused password, a missing database
# or table and a connection dropped mid-operation.
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_PG_URL:-}" ]; then
	echo "not ok 1 - DH_TEST_PG_URL is not set: run eval \"\$(scripts/server-postgres.sh start)\" (scripts/test does)"
	echo "1..1"
	exit 1
fi
# a fresh table per run: the conformance suite needs an empty store
t=t_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
url="$DH_TEST_PG_URL?table=$t"
hostport=${DH_TEST_PG_URL#postgresql://}
hostport=${hostport#*@}
hostport=${hostport%%/*}
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$DH_TEST_PG_URL" -c "$1"; }
trap 'sql "drop table if exists ${t}, ${t}_conf" >/dev/null 2>&1; cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT

test_expect_success 'conformance suite on a fresh table (two processes race 1000 CAS each)' '
	test-store "$DH_TEST_PG_URL?table=${t}_conf" >log 2>&1 || { cat log; false; } &&
	! grep "^not ok" log &&
	test $(grep -c "^ok" log) -ge 100
'

test_expect_success 'dh-store -c creates the table: key text, value bytea' '
	dh-store -c "$url" put format <<-\EOF &&
	dh 1
	EOF
	sql "select data_type from information_schema.columns where table_name = '"'$t'"' order by ordinal_position" >types &&
	printf "text\nbytea\n" >expect && test_cmp expect types
'

test_expect_success 'psql lists the same keys as dh-store' '
	printf one | dh-store "$url" node-put >n1 &&
	printf two | dh-store "$url" node-put >n2 &&
	dh-store "$url" cas heads/db - $(cat n2) &&
	sql "select key from $t order by key" >sql &&
	dh-store "$url" list | sort >ours &&
	test_cmp sql ours &&
	test $(wc -l <ours) -eq 4 &&
	grep "^nodes/$(cut -c1-2 n1)/$(cut -c3- n1)\$" sql &&
	sql "select value from $t where key = '"'heads/db'"'" >v &&
	echo "\\\\x$(od -An -tx1 n2 | tr -d " \n" | sed "s/0a\$//")" >expect && test_cmp expect v
'

test_expect_success 'a value written by psql is read by dh-store, bytes intact' '
	sql "insert into $t values ('"'k/x'"', '"'\\x00ff0a'"')" &&
	dh-store "$url" get k/x | od -An -tx1 | tr -d " " >got &&
	echo 00ff0a >expect && test_cmp expect got
'

test_expect_success 'postgres:// is the same store' '
	dh-store "postgres://${DH_TEST_PG_URL#postgresql://}?table=$t" get format >f &&
	echo "dh 1" >expect && test_cmp expect f
'

test_expect_success 'PGHOST, PGPORT, PGUSER and PGDATABASE fill what the URI leaves out' '
	PGHOST=${hostport%:*} PGPORT=${hostport#*:} PGUSER=dh PGDATABASE=dh_test \
		dh-store "postgresql:///?table=$t" get format >f &&
	echo "dh 1" >expect && test_cmp expect f
'

test_expect_success 'the password comes from .pgpass or PGPASSWORD, as for psql' '
	test -n "${PGPASSFILE:-}" && test -f "$PGPASSFILE" &&
	pw=$(cut -d: -f5 "$PGPASSFILE") &&
	test_expect_code 1 env PGPASSFILE=$TRASH/none dh-store "$url" list 2>err &&
	grep "no password supplied" err &&
	env PGPASSFILE=$TRASH/none PGPASSWORD="$pw" dh-store "$url" has format
'

test_expect_success 'a refused password: clear error, password never shown' '
	test_expect_code 1 dh-store "postgresql://dh:Wr0ngSecret@$hostport/dh_test?table=$t" list 2>err &&
	grep "password authentication failed" err &&
	grep "store .postgresql://dh:\*\*\*@$hostport/dh_test?table=$t." err &&
	! grep Wr0ngSecret err
'

test_expect_success 'a server that is down: clear error naming the store, exit 1' '
	test_expect_code 1 dh-store "postgresql://dh@127.0.0.1:1/dh_test" list 2>err &&
	grep "^dh-store: postgresql: cannot connect to store .postgresql://dh@127.0.0.1:1/dh_test.: .*refused" err
'

test_expect_success 'a missing database' '
	test_expect_code 1 dh-store "postgresql://dh@$hostport/no_such_db" list 2>err &&
	grep "database \"no_such_db\" does not exist" err
'

test_expect_success 'a missing table is an error without -c, and is not created' '
	test_expect_code 1 dh-store "$DH_TEST_PG_URL?table=${t}_none" list 2>err &&
	grep "no table \"${t}_none\" in store" err &&
	sql "select to_regclass('"'${t}_none'"') is null" >r && echo t >expect && test_cmp expect r
'

test_expect_success 'bad parameters and table names are usage errors' '
	test_expect_code 2 dh-store "$DH_TEST_PG_URL?tabel=x" list 2>err &&
	grep "unknown parameter .tabel." err &&
	test_expect_code 2 dh-store "$DH_TEST_PG_URL?table=x;drop" list 2>err &&
	grep "bad table name" err
'

test_expect_success 'a connection dropped mid-operation: clear error, nothing written, head unmoved' '
	mkfifo in &&
	# a name of its own: tests running beside this one have dh-store sessions too
	ln -s "$DH_BUILD/cmd/dh-store" dh-store-drop$$ &&
	{ if ./dh-store-drop$$ "$url" put k/dropped in 2>err; then echo 0; else echo $?; fi >rc; } &
	i=0; while [ $i -lt 100 ] && [ "$(sql "select count(*) from pg_stat_activity where application_name = '"'dh-store-drop$$'"'")" = 0 ]; do
		sleep 0.1; i=$((i + 1)); done &&
	sql "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '"'dh-store-drop$$'"'" >/dev/null &&
	echo data >in &&
	wait &&
	echo 1 >expect && test_cmp expect rc &&
	grep "cannot write .k/dropped. in store .$url.: connection to the server lost" err &&
	test_expect_code 4 dh-store "$url" has k/dropped &&
	dh-store "$url" head >h && test_cmp n2 h
'

test_expect_success 'a program that keeps SIGPIPE is not killed when the server hangs up mid-write' '
	mkfifo go
	{ if store-put-later "$url" k/big 16777216 <go >ready 2>err2; then echo 0; else echo $?; fi >rc2; } &
	exec 9>go &&
	i=0; while [ $i -lt 100 ] && ! grep -q ready ready; do sleep 0.1; i=$((i + 1)); done &&
	sql "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '"'store-put-later'"'" >out &&
	grep t out &&
	echo go >&9 && exec 9>&- &&
	wait &&
	echo 1 >expect && test_cmp expect rc2 &&
	grep "cannot write .k/big. in store" err2
'

test_expect_success 'a head CAS conflict exits 3 and changes nothing' '
	test_expect_code 3 dh-store "$url" cas heads/db $(cat n1) $(cat n1) 2>err &&
	grep "compare-and-swap" err &&
	dh-store "$url" head >h && test_cmp n2 h
'

test_done
