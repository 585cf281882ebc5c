#!/bin/sh
# Round trips to real PostgreSQL and Redis servers: a cold point query
# costs at most (tree depth + 2) of them (the head, the commit carrying the
# schema, the roots, then one node per level below the root), counted by the
# count plugin and, for Redis, by the server's own command counter; dh-sync
# asks about and reads many nodes per round trip; a Redis write that fails
# after put_many returned still stops the head from moving.
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_PG_URL:-}" ] || [ -z "${DH_TEST_REDIS_URL:-}" ]; then
	echo "not ok 1 - DH_TEST_PG_URL or DH_TEST_REDIS_URL is not set: run scripts/servers start (scripts/test does)"
	echo "1..1"
	exit 1
fi
t=r_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
hp=${DH_TEST_REDIS_URL#redis://}
hp=${hp#*@}
hp=${hp%%/*}
host=${hp%:*}
port=${hp#*:}
pg="$DH_TEST_PG_URL?table=$t"
rd="redis://$hp/4?prefix=$t/"
rcli() { redis-cli -h "$host" -p "$port" "$@"; }
trap 'psql -X -q "$DH_TEST_PG_URL" -c "drop table if exists $t, ${t}_c" >/dev/null 2>&1;
	rcli -n 4 --scan --pattern "$t*" | xargs -r rcli -n 4 del >/dev/null 2>&1;
	[ -f "$TRASH/monitor.pid" ] && kill $(cat "$TRASH/monitor.pid") 2>/dev/null;
	rcli acl deluser "ro$$" >/dev/null 2>&1;
	cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT
DH_BACKEND_PATH=$DH_BUILD/tests/plugins
export DH_BACKEND_PATH

uri_escape() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/&/%26/g' -e 's/+/%2B/g' -e 's/=/%3D/g' -e 's/?/%3F/g' -e 's/#/%23/g'
}
counted() { echo "count:?store=$(uri_escape "$1")&log=$TRASH/log"; }
# round trips in the count log: a "many" line and the key lines it announces count once
round_trips() {
	awk '$1 == "many" { rt++; skip = $3; next } skip > 0 { skip--; next } $1 != "open" && $1 != "close" { rt++ }
		END { print rt + 0 }' log
}

test_expect_success 'a file database whose trees have a few levels, synced to postgresql and redis' '
	people_db a 40000 &&
	dump-datoms a --info >info &&
	depth=$(sed -n "s/^depth eavt \([0-9]*\) .*/\1/p" info) &&
	test "$depth" -ge 3 &&
	echo $depth >depth &&
	dh-query -o tsv a "[:find ?e . :where [?e :name \"p20007\"]]" >id &&
	dh-sync -q a "$pg" && dh-sync -q a "$rd"
'

test_expect_success 'a point query on one entity: at most depth + 2 round trips on every backend' '
	q="[:find ?a :where [$(cat id) :age ?a]]" &&
	echo 27 >expect &&
	for s in a "$pg" "$rd"; do
		: >log &&
		dh-query -o tsv "$(counted "$s")" "$q" >out && test_cmp expect out &&
		rt=$(round_trips) &&
		echo "# $s: $rt round trips, depth $(cat depth)" &&
		test "$rt" -ge $(cat depth) && test "$rt" -le $(( $(cat depth) + 2 )) || return 1
	done
'

test_expect_success 'the same found by its unique name: two lookups, at most 2 x depth + 1 round trips' '
	q="[:find ?a :where [?e :name \"p20007\"] [?e :age ?a]]" &&
	echo 27 >expect &&
	for s in a "$pg" "$rd"; do
		: >log &&
		dh-query -o tsv "$(counted "$s")" "$q" >out && test_cmp expect out &&
		test $(round_trips) -le $(( 2 * $(cat depth) + 1 )) || return 1
	done
'

test_expect_success 'the Redis server sees one command per round trip the count plugin counts' '
	redis-cli -h "$host" -p "$port" monitor >mon &
	echo $! >monitor.pid &&
	i=0; while [ $i -lt 100 ] && ! grep -q "^OK" mon; do sleep 0.1; i=$((i + 1)); done &&
	# a marker command before and after the query: the monitor stream lags
	# the commands, so count only once the marker has come through
	mark() {
		rcli -n 4 get "$t/mark$1" >/dev/null &&
		i=0; while [ $i -lt 100 ] && ! grep -q "\"$t/mark$1\"\$" mon; do sleep 0.1; i=$((i + 1)); done &&
		grep -q "\"$t/mark$1\"\$" mon
	} &&
	q="[:find ?a :where [$(cat id) :age ?a]]" &&
	mark 1 &&
	n0=$(grep -c "\"$t/" mon) &&
	: >log &&
	dh-query -o tsv "$(counted "$rd")" "$q" >/dev/null &&
	mark 2 &&
	kill $(cat monitor.pid) && rm monitor.pid &&
	# the commands on our keys between the markers (less the second marker)
	cmds=$(( $(grep -c "\"$t/" mon) - n0 - 1 )) &&
	echo "# server: $cmds commands on the store; count plugin: $(round_trips) round trips" &&
	test $cmds -eq $(round_trips)
'

test_expect_success 'dh-sync asks and reads many nodes per round trip' '
	for s in "$pg" "$rd"; do
		: >log &&
		dh-sync --stats "$s" "$(counted "$TRASH/back-$$")" 2>stats &&
		nodes=$(sed -n "s/.*: \([0-9]*\) nodes (.*copied.*/\1/p" stats) &&
		test "$nodes" -gt 500 &&
		asks=$(grep -c "^many has" log) &&
		echo "# $nodes nodes copied: $asks has_many calls, $(grep -c "^has " log) keys asked about" &&
		test $((asks * 20)) -le "$nodes" &&
		rm -rf "$TRASH/back" "$TRASH/back-$$" || return 1
	done
'

test_expect_success 'reading back from postgresql and redis: many nodes per get_many' '
	# one bulk transaction: no chain of commits sharing most of their nodes
	dh-create c &&
	{ echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
		{:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" &&
	  awk "BEGIN { printf \"[\"; for (i = 1; i <= 40000; i++) printf \"{:name \\\"p%d\\\" :age %d}\", i, i % 90; print \"]\" }"; } |
		dh-transact -o none c &&
	dh-sync -q c "${pg}_c" && dh-sync -q c "${rd%/}_c/" &&
	for s in "${pg}_c" "${rd%/}_c/"; do
		: >log &&
		dh-sync --stats "$(counted "$s")" "$TRASH/readback" 2>stats || { cat stats; false; } &&
		nodes=$(sed -n "s/.*: \([0-9]*\) nodes (.*copied.*/\1/p" stats) &&
		reads=$(grep -c "^many get" log) &&
		echo "# $nodes nodes in $reads get_many calls" &&
		# a get_many per level of the node graph (head, commit, roots, ...
		# leaves), not per node: a handful for the whole database
		test "$reads" -le 8 && test $((reads * 5)) -le "$nodes" &&
		dh-verify -q "$TRASH/readback" && rm -rf "$TRASH/readback" || return 1
	done
'

test_expect_success 'a Redis write refused after put_many returned: the sync fails, the head is not created' '
	rcli acl setuser "ro$$" on ">pw$$" "~*" "&*" "+@all" "-mset" >/dev/null &&
	test_expect_code 1 dh-sync a "redis://ro$$:pw$$@$hp/4?prefix=$t-ro/" 2>err &&
	grep "NOPERM" err &&
	test -z "$(rcli -n 4 --scan --pattern "$t-ro/heads/*")"
'

test_done
